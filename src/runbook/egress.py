"""One egress policy for every outbound HTTP request: webhooks, sensors, notifications.

The policy allows ``http`` and ``https`` only. It resolves the host once and refuses
loopback, link-local, private (RFC 1918), shared (CGNAT), unique-local, unspecified,
multicast and other non-public addresses, including the same addresses written as
IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 addresses. Then it connects to the address
it checked (no second DNS lookup that a rebinding resolver could answer differently). It sends
the real ``Host`` header and, for https, verifies the certificate against the host name. It
follows no redirects, times out, and caps the response body.

Private targets (an internal Grafana, a webhook receiver on the LAN) are allowed only when
``runbook.toml`` lists them::

    [egress]
    allow_private = ["grafana.internal", "10.20.0.0/16"]

or when ``RUNBOOK_EGRESS_ALLOW`` names them (comma-separated): exact host names, IP addresses
or CIDR networks.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from runbook.errors import EgressError
from runbook.model.repository import CONFIG_FILE, find_root

if TYPE_CHECKING:
    from runbook.model.settings_sections import EgressSettings

ALLOW_ENV: Final = "RUNBOOK_EGRESS_ALLOW"
USER_AGENT: Final = "runbook-egress/1"
DEFAULT_PORTS: Final = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_HOST_PATTERN: Final = re.compile(r"[a-z0-9._-]+|[0-9a-f:.]+")
_METHOD_PATTERN: Final = re.compile(r"[A-Z]{1,20}")
_CONTROL: Final = re.compile(r"[\x00-\x20\x7f]")
_HEADER_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CHUNK: Final = 65_536
#: apprise schemes (and their ``…s`` TLS forms) that always POST to the host in their URL:
#: generic webhooks and self-hosted services, where an internal address would be an SSRF.
_HOSTED_SCHEMES: Final = frozenset(
    f"{base}{s}"
    for base in (
        *("json", "form", "xml", "apprise", "workflow", "gotify", "mmost", "rocket", "ncloud"),
        *("nctalk", "hassio", "kodi", "xbmc", "emby", "jellyfin", "mastodon", "toot", "misskey"),
        *("signal", "synology", "smseagle", "bark", "enigma2", "evolution", "humhub", "parsep"),
        *("pjet", "session", "sogs"),
    )
    for s in ("", "s")
)

_CGNAT: Final = ipaddress.IPv4Network("100.64.0.0/10")
_RFC1918: Final = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_ULA: Final = ipaddress.IPv6Network("fc00::/7")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")


def refusal_reason(address: IPAddress) -> str | None:
    """Why the policy refuses ``address`` (e.g. ``"loopback address 127.0.0.1"``), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = refusal_reason(embedded)
            return f"{inner} (written as {address})" if inner else None
    kind = _address_kind(address)
    return f"{kind} {address}" if kind else None


def _address_kind(address: IPAddress) -> str | None:
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified address"),
        (address.is_loopback, "loopback address"),
        (address.is_link_local, "link-local address"),
        (address.is_multicast, "multicast address"),
        (address in _CGNAT, "shared (CGNAT) address"),
        (address in _ULA, "unique-local address"),
        (any(address in network for network in _RFC1918), "private address"),
        (
            isinstance(address, ipaddress.IPv6Address) and address.is_site_local,
            "site-local address",
        ),
        (not address.is_global, "non-public address"),
    )
    return next((kind for hit, kind in checks if hit), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in a mapped, compatible, NAT64 or 6to4 IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if (address in _NAT64 or address in _IPV4_COMPATIBLE) and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """Where outbound HTTP may go, how long it may take, and how much it may bring back."""

    allow_private: tuple[str, ...] = ()
    timeout: float = 10.0
    max_body: int = 1_048_576

    def check_url(self, url: str) -> tuple[str, str, int, str]:
        """Check ``url`` and resolve its host: ``(scheme, host, port, pinned_ip)``.

        Raises EgressError (naming the URL without query or userinfo, and the reason) for a
        scheme other than http/https, a malformed URL, a host that does not resolve, or a
        host any of whose addresses is non-public and not allowed by ``allow_private``.
        """
        if _CONTROL.search(url):
            raise EgressError(url, "the URL contains whitespace or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as error:
            raise EgressError(url, f"malformed URL ({error})") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            shown = f"scheme {scheme!r}" if scheme else "no scheme"
            raise EgressError(url, f"{shown} is not allowed (http and https only)")
        host = (parts.hostname or "").rstrip(".")
        with contextlib.suppress(UnicodeError):  # an international name, in its DNS form
            host = host if host.isascii() else host.encode("idna").decode("ascii")
        if not host or _HOST_PATTERN.fullmatch(host) is None:
            raise EgressError(url, f"invalid host {host!r}" if host else "no host")
        port = port if port is not None else DEFAULT_PORTS[scheme]
        if port == 0:
            raise EgressError(url, "port 0 is not a valid port")
        addresses = self._resolve(url, host, port)
        if not self._host_allowed(host):
            for address in addresses:
                reason = refusal_reason(address)
                if reason is not None and not self._address_allowed(address):
                    raise EgressError(url, reason)
        return scheme, host, port, str(addresses[0])

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one request through the policy: ``(status, body)``.

        Connects to the checked address only, follows no redirects (a 3xx comes back as is),
        verifies TLS always, and raises EgressError on refusal, timeout (each socket operation
        waits at most what is left of ``timeout`` for the whole exchange), connection or TLS
        failure, or a body larger than ``max_body``.
        """
        if _METHOD_PATTERN.fullmatch(method) is None:
            raise ValueError(f"invalid HTTP method {method!r}")
        scheme, host, port, ip = self.check_url(url)
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            raise EgressError(url, "credentials in the URL are not sent; use a header")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        send = {
            "Host": _host_header(host, port, scheme),
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            "Connection": "close",
        }
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            send["Content-Type"] = "application/json"
        for name, value in (headers or {}).items():
            if _HEADER_CONTROL.search(name) or _HEADER_CONTROL.search(value) or ":" in name:
                # Name the header, never its value: it is often a credential.
                raise EgressError(url, f"header {name.strip()[:40]!r} has forbidden characters")
            for existing in [k for k in send if k.lower() == name.lower()]:
                del send[existing]
            send[name] = value
        return self._exchange(url, scheme, host, ip, port, method, target, body, send)

    def _exchange(
        self,
        url: str,
        scheme: str,
        host: str,
        ip: str,
        port: int,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
    ) -> tuple[int, bytes]:
        deadline = time.monotonic() + self.timeout
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = _PinnedHTTPSConnection(ip, port, host, self.timeout)
        else:
            connection = http.client.HTTPConnection(ip, port, timeout=self.timeout)
        try:
            connection.connect()
            _arm(connection, deadline)
            connection.request(method, target, body=body, headers=headers)
            _arm(connection, deadline)
            response = connection.getresponse()
            length = response.getheader("Content-Length", "")
            if length.isdigit() and int(length) > self.max_body:
                raise EgressError(url, self._too_big(), refused=False)
            chunks: list[bytes] = []
            size = 0
            while True:
                _arm(connection, deadline)
                chunk = response.read1(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_body:
                    raise EgressError(url, self._too_big(), refused=False)
                chunks.append(chunk)
            return response.status, b"".join(chunks)
        except TimeoutError:
            raise EgressError(url, f"timed out after {self.timeout:g} s", refused=False) from None
        except ssl.SSLError as error:
            raise EgressError(url, f"TLS failure: {error.reason or error}", refused=False) from None
        except OSError as error:
            reason = f"connection failed: {error.strerror or error}"
            raise EgressError(url, reason, refused=False) from None
        except http.client.HTTPException as error:
            reason = f"malformed HTTP response ({type(error).__name__})"
            raise EgressError(url, reason, refused=False) from None
        finally:
            connection.close()

    def _too_big(self) -> str:
        return f"response body larger than the cap of {self.max_body} bytes"

    def _resolve(self, url: str, host: str, port: int) -> list[IPAddress]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            reason = f"cannot resolve host {host!r} ({error})"
            raise EgressError(url, reason, refused=False) from None
        addresses: list[IPAddress] = []
        for info in infos:
            literal = str(info[4][0]).partition("%")[0]
            address = ipaddress.ip_address(literal)
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise EgressError(url, f"host {host!r} has no address", refused=False)
        return addresses

    def _entries(self) -> tuple[list[str], list[IPNetwork]]:
        names: list[str] = []
        networks: list[IPNetwork] = []
        for raw in self.allow_private:
            entry = raw.strip().strip("[]").lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.append(entry)
        return names, networks

    def _host_allowed(self, host: str) -> bool:
        return host.lower() in self._entries()[0]

    def _address_allowed(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(address)
            if embedded is not None:
                candidates.append(embedded)
        networks = self._entries()[1]
        return any(candidate in network for candidate in candidates for network in networks)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to a checked address, with SNI and certificate checks for the real host name."""

    def __init__(self, ip: str, port: int, server_hostname: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(ip, port, timeout=timeout, context=self._tls)
        self._server_hostname = server_hostname

    def connect(self) -> None:
        """Open TCP to the pinned address, then TLS verified against the host name."""
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_hostname)


def _arm(connection: http.client.HTTPConnection, deadline: float) -> None:
    """Bound the next socket operation by what is left of the request's time."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    if connection.sock is not None:
        connection.sock.settimeout(remaining)


def _host_header(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if DEFAULT_PORTS[scheme] == port else f"{shown}:{port}"


def config_root(environ: Mapping[str, str] | None = None) -> Path | None:
    """The repository whose runbook.toml applies: ``RUNBOOK_REPO``, else the cwd or above."""
    configured = (os.environ if environ is None else environ).get("RUNBOOK_REPO", "").strip()
    if configured:
        return Path(configured)
    return find_root(Path.cwd())


def notification_origin(url: str, target: Any) -> str | None:
    """``scheme://host:port/`` an apprise URL reaches over HTTP, or None if it is not HTTP.

    ``target`` is the plugin apprise made of ``url`` (its ``host``, ``port``, ``secure``), or
    None. Raw ``http(s)://`` URLs (Slack and Discord webhooks) reach their own host, and so
    do generic webhooks and self-hosted services (``json://``, ``mmost://``, ``hassio://``…).
    Other apprise services reach their vendor's fixed host, or are not HTTP (``mailto://``).
    """
    scheme = url.partition(":")[0].lower()
    if scheme in DEFAULT_PORTS:
        netloc = re.split(r"[/?#]", url.partition("://")[2], maxsplit=1)[0]
        return f"{scheme}://{netloc.rpartition('@')[2]}/"
    host = getattr(target, "host", None)
    if scheme not in _HOSTED_SCHEMES or not isinstance(host, str) or not host:
        return None
    port = getattr(target, "port", None)
    shown = f"[{host}]" if ":" in host else host
    secure = bool(getattr(target, "secure", scheme.endswith("s")))
    return f"{'https' if secure else 'http'}://{shown}{f':{port}' if port else ''}/"


def config_table(repo_root: Path | None, name: str) -> dict[str, Any]:
    """The table ``name`` of ``runbook.toml`` in ``repo_root``; empty when absent or unreadable.

    Tolerant on purpose: the repository's own commands report a malformed file.
    """
    if repo_root is None:
        return {}
    try:
        data = tomllib.loads((repo_root / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # TOMLDecodeError is a ValueError
        return {}
    table = data.get(name)
    return table if isinstance(table, dict) else {}


def egress_policy(settings: EgressSettings) -> EgressPolicy:
    """The policy of a loaded repository's settings (``repository.config.egress()``)."""
    return EgressPolicy(allow_private=settings.egress_entries)


def policy_from_config(
    environ: Mapping[str, str] | None = None, repo_root: Path | None = None
) -> EgressPolicy:
    """The policy for a repository: ``[egress] allow_private`` plus ``RUNBOOK_EGRESS_ALLOW``.

    For notebooks (:mod:`runbook.helpers`), which have no loaded repository and should not
    pay for pydantic; the rest use :func:`egress_policy`, with the same rules.
    """
    env = os.environ if environ is None else environ
    configured = config_table(repo_root, "egress").get("allow_private", [])
    if isinstance(configured, str):
        configured = [configured]
    entries = [e for e in configured if isinstance(e, str)] if isinstance(configured, list) else []
    entries += env.get(ALLOW_ENV, "").split(",")
    return EgressPolicy(allow_private=tuple(dict.fromkeys(e.strip() for e in entries if e.strip())))
