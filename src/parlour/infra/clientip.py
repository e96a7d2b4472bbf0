"""The client's address: proxy headers believed only from configured proxies; IPv6 bucketed by /64."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """Walk X-Forwarded-For from the right while the hop is a trusted proxy; the first untrusted hop wins."""
    address = peer or "0.0.0.0"  # noqa: S104 - a placeholder for an unknown peer, never bound
    if not forwarded_for or not is_trusted(address, trusted):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        address = hop
        if not is_trusted(hop, trusted):
            break
    return address


def bucket(address: str) -> str:
    """One bucket per IPv4 address and per IPv6 /64, so rotating addresses in one prefix gains nothing."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "invalid"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def reader_key(*, secret_key: str, site_id: int, address: str) -> str:
    """A stable, non-reversible key for an anonymous reader on one site (no address is stored)."""
    message = f"reader\x00{site_id}\x00{bucket(address)}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def network_key(*, secret_key: str, address: str) -> str:
    """A stable, non-reversible key for a reader's network across every site, for limits that serve all sites."""
    message = f"network\x00{bucket(address)}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    """Whether the address is inside one of the trusted proxies' networks."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
