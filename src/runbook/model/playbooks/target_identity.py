"""A playbook target's identity: the key its lock is taken on.

Two playbooks may name one machine differently (``web1`` with address ``web1.example`` in
one, ``WEB1.example.`` in another; ``10.0.0.1`` and ``::ffff:10.0.0.1``), so a lock keyed
on the target's name lets both work on it at once. The lock is keyed on the machine its
address reaches instead, written one way:

- the host part only: a URL's scheme, path and port, and ``user@`` and ``:port`` around a
  host are dropped. A lock is on a machine, and a playbook that restarts or drains a host
  affects every service on it, so ``deploy@web1:22`` and ``web1`` are one target (two
  services on one host lock each other out: refusing is safe, sharing is the bug);
- an IP address in its canonical form (``ipaddress``): IPv6 compressed and lower-case, an
  IPv4-mapped IPv6 address as its IPv4 address, and IPv4 written as the C resolver reads
  it (``010.0.0.1`` is octal, ``0x0a000001`` hex), since that is what ``ssh`` or ``curl``
  would connect to;
- a host name lower-cased, without its trailing dot, internationalized names as IDNA
  (``bücher.example`` and ``xn--bcher-kva.example`` are one), any other text case-folded;
- the target's name, read the same way, when the address is blank; and ``sha256:<hex>``
  of the key when it is longer than the store's key column.

Names are not resolved: a short name and its FQDN (``web1``, ``web1.example``), or a CNAME
and its target, are different keys. Write addresses one way, or as IP addresses.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
from typing import Final
from urllib.parse import urlsplit

#: The longest key the store keeps (``target_locks.target``).
MAX_KEY: Final = 255

# What the C resolver's inet_aton takes as an IPv4 address: one to four parts, each decimal,
# octal (a leading 0) or hex (0x); ``10.1`` is 10.0.0.1 and ``167772161`` is 10.0.0.1 too.
_INET_ATON: Final = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")
_PORT: Final = re.compile(r"[0-9]*")
_ROUNDS: Final = 4


def target_lock_key(address: str, name: str) -> str:
    """The lock key of a target with this ``address`` (its ``name`` when it has none)."""
    key = address.strip() or name.strip()
    # IDNA's NFKC can make a new host of a name (``²`` is ``2``, an IPv4 address then):
    # read it again until it stays the same, so a key is its own key.
    for _ in range(_ROUNDS):
        host = _host(key).strip()
        again = _canonical(host) if host else key.casefold()
        if again == key:
            break
        key = again
    if len(key) > MAX_KEY:
        return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


def _host(address: str) -> str:
    """The host part of an address: no scheme, user, port or path."""
    if "://" in address:
        try:
            parts = urlsplit(address)
            host = parts.hostname
        except ValueError:  # a malformed IPv6 literal or port: use the text as written
            return address
        return host if host else address
    userless = address.rpartition("@")[2]
    if userless.startswith("["):  # [v6]:port
        inside, closed, _ = userless[1:].partition("]")
        return inside if closed else userless
    host, colon, port = userless.rpartition(":")
    if colon and host and ":" not in host and _PORT.fullmatch(port):
        return host  # host:port (an IPv6 address has more than one colon)
    return userless


def _canonical(host: str) -> str:
    ip = _ip(host)
    if ip is not None:
        return ip
    lowered = host.lower()
    name = lowered.rstrip(".") or lowered
    try:
        return name.encode("idna").decode("ascii").lower()
    except UnicodeError:  # not a host name (a label too long, empty, …): the text itself
        return name.casefold()


def _ip(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        if not _INET_ATON.fullmatch(text.lower()):
            return None
        try:
            return socket.inet_ntoa(socket.inet_aton(text))
        except OSError:  # a part out of range: a name, then
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
