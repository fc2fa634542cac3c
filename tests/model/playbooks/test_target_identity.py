"""A target's lock key: one machine written many ways gives one key."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbook.model.playbooks.target_identity import MAX_KEY, target_lock_key


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("web1", "web1"),
        ("WEB1.Example.", "web1.example"),
        ("deploy@web1.example:22", "web1.example"),
        ("https://user:pw@Web1.Example:8443/health?x=1", "web1.example"),
        ("10.0.0.1", "10.0.0.1"),
        ("010.0.0.1", "8.0.0.1"),  # octal, as the C resolver (so ssh, curl) reads it
        ("0x0a000001", "10.0.0.1"),
        ("167772161", "10.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("root@[2001:db8::1]:22", "2001:db8::1"),
        ("http://[2001:db8::1]:80/", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1%eth0"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
        ("300.1.1.1", "300.1.1.1"),  # not an address: a name
        ("k8s/ns/Pod", "k8s/ns/pod"),
    ],
)
def test_one_machine_written_many_ways_has_one_key(address: str, key: str) -> None:
    assert target_lock_key(address, "name") == key


def test_the_name_when_there_is_no_address_and_a_hash_when_too_long() -> None:
    assert target_lock_key("  ", "Web1") == "web1"
    long = target_lock_key("a" * 300, "x")
    assert long.startswith("sha256:") and len(long) == 71
    assert target_lock_key("a" * 300, "y") == long


@given(st.ip_addresses(), st.sampled_from(["", "root@", "a.b@"]), st.booleans())
def test_any_ip_written_any_way_has_its_canonical_key(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, user: str, port: bool
) -> None:
    expected = str(
        ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    )
    forms = [str(ip), ip.exploded, ip.exploded.upper()]
    if isinstance(ip, ipaddress.IPv4Address):
        forms.append(f"::ffff:{ip}")
        forms.append(str(int(ip)))
    for form in forms:
        host = f"[{form}]" if ":" in form and port else form
        written = f"{user}{host}:22" if port else f"{user}{form}"
        assert target_lock_key(written, "n") == expected, written
        bracketed = f"[{form}]" if ":" in form else form
        assert target_lock_key(f"http://{bracketed}:8080/", "n") == expected


ADDRESSY = st.characters(codec="utf-8") | st.sampled_from(list(".:@[]/%0x "))


@given(st.text(ADDRESSY, max_size=400), st.text(min_size=1, max_size=40))
def test_any_text_gives_a_stable_key_that_fits(address: str, name: str) -> None:
    key = target_lock_key(address, name)
    assert len(key) <= MAX_KEY
    assert target_lock_key(key, name) == key or key.startswith("sha256:")
