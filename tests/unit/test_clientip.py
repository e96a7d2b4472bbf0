from __future__ import annotations

from parlour.infra.clientip import bucket, client_ip, parse_networks, reader_key

PROXY = parse_networks(["10.0.0.0/8"])


def test_forwarded_for_ignored_from_untrusted_peer() -> None:
    assert client_ip("203.0.113.5", "1.2.3.4", PROXY) == "203.0.113.5"


def test_forwarded_for_believed_from_trusted_proxy() -> None:
    assert client_ip("10.0.0.2", "1.2.3.4", PROXY) == "1.2.3.4"
    # A client-set leftmost entry does not win over the address the proxy saw.
    assert client_ip("10.0.0.2", "6.6.6.6, 1.2.3.4", PROXY) == "1.2.3.4"
    assert client_ip("10.0.0.2", "1.2.3.4, 10.0.0.9", PROXY) == "1.2.3.4"


def test_ipv6_bucketed_by_64() -> None:
    assert bucket("2001:db8:1:2::1") == bucket("2001:db8:1:2:ffff::9")
    assert bucket("2001:db8:1:2::1") != bucket("2001:db8:1:3::1")
    assert bucket("::ffff:1.2.3.4") == "1.2.3.4"
    assert bucket("not an ip") == "invalid"


def test_reader_keys_differ_per_site_and_hide_the_address() -> None:
    one = reader_key(secret_key="s" * 32, site_id=1, address="1.2.3.4")
    assert one != reader_key(secret_key="s" * 32, site_id=2, address="1.2.3.4")
    assert "1.2.3.4" not in one
