"""The SSRF rule for webhook URLs: pure, with a fake resolver."""

from __future__ import annotations

import ipaddress

import pytest

from parlour.errors import InvalidInput
from parlour.webhooks.addresses import IPAddress, blocked_reason, check_target, parse_target, refusal, resolve


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def lookup(host: str, _port: int) -> list[IPAddress]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return [ipaddress.ip_address(a) for a in table[host]]

    return lookup


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, nothing binds to it
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "not a public"),
        ("198.18.0.1", "private"),
        ("240.0.0.1", "private"),
        ("255.255.255.255", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 around 10.0.0.1
        ("::7f00:1", "reserved"),  # IPv4-compatible 127.0.0.1
        ("2001:db8::1", "private"),  # documentation
    ],
)
def test_blocked_addresses(address: str, reason: str) -> None:
    found = blocked_reason(ipaddress.ip_address(address))
    assert found is not None and reason in found


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:93.184.215.14"])
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_a_host_is_refused_when_any_address_is_private() -> None:
    mixed = [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.0.0.5")]
    assert refusal("hooks.example", mixed) == "hooks.example resolves to 10.0.0.5, a private address"
    assert refusal("10.0.0.5", [ipaddress.ip_address("10.0.0.5")]) == "10.0.0.5 is a private address"
    assert refusal("hooks.example", mixed[:1]) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://192.168.0.10:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://internal.example/hook",
        "https://rebind.example/hook",
    ],
)
def test_check_target_refuses_private_destinations(url: str) -> None:
    lookup = resolver({"internal.example": ["192.168.4.4"], "rebind.example": ["93.184.215.14", "127.0.0.1"]})
    with pytest.raises(InvalidInput) as refused:
        check_target(url, allow_private_network=False, resolver=lookup)
    assert refused.value.field == "url"
    assert "loopback, private or link-local" in refused.value.detail
    # The admin's permission lets them through without even asking DNS.
    assert check_target(url, allow_private_network=True, resolver=resolver({})).host


def test_check_target_accepts_public_hosts_and_reports_unresolvable_ones() -> None:
    lookup = resolver({"hooks.example": ["93.184.215.14", "2606:4700::1111"]})
    target = check_target("https://Hooks.Example/in?x=1", allow_private_network=False, resolver=lookup)
    assert (str(target.url), target.host, target.port) == ("https://hooks.example/in?x=1", "hooks.example", 443)
    with pytest.raises(InvalidInput, match="could not be resolved"):
        check_target("https://nowhere.example/", allow_private_network=False, resolver=lookup)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example/", "https:// or http://"),
        ("file:///etc/passwd", "https:// or http://"),
        ("gopher://127.0.0.1:25/", "https:// or http://"),
        ("https:///path", "no host"),
        ("https://user:pass@hooks.example/", "user name or password"),
        ("https://hooks.example/#x", "fragment"),
        ("https://hooks.example/" + "a" * 2100, "longer than"),
        ("http://[::1/", "not valid"),
    ],
)
def test_parse_target_refuses_malformed_urls(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_target(url)


def test_idna_hosts_are_looked_up_in_ascii() -> None:
    assert parse_target("https://bücher.example:8443/x").host == "xn--bcher-kva.example"


def test_resolve_reads_numeric_forms_as_the_kernel_does() -> None:
    # getaddrinfo takes "2130706433" and "0x7f.1" for 127.0.0.1: checking its answer catches them.
    assert resolve("2130706433", 80) == [ipaddress.ip_address("127.0.0.1")]
    assert resolve("localhost", 80)[0].is_loopback
