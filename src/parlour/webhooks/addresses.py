"""Where webhooks may go: the SSRF rule that keeps deliveries off loopback, private and link-local networks."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx

from parlour.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Looks a host name up; blocking, so the event loop calls it in a thread. Tests inject their own.
Resolver = Callable[[str, int], list[IPAddress]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
MAX_URL_CHARS = 2048
# Web servers only: a webhook on port 22, 25 or 6379 of a public host would make Parlour a port scanner and a
# way to talk to other protocols. An endpoint the admin allows on a private network may use any port.
WEBHOOK_PORTS = frozenset({80, 443})


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart the way the sender will use it."""

    url: httpx.URL
    host: str  # ASCII (IDNA) host name or IP literal, as looked up and sent in Host
    port: int


def parse_target(url: str) -> Target:
    """Check a webhook URL's form: http or https, a host, no credentials; raises InvalidInput."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"The URL is longer than {MAX_URL_CHARS} characters.", field="url")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidInput(f"The URL is not valid: {exc}.", field="url") from exc
    if parsed.scheme not in {"http", "https"}:
        raise InvalidInput("The URL must start with https:// or http://.", field="url")
    if not parsed.host:
        raise InvalidInput("The URL has no host.", field="url")
    if parsed.userinfo:
        # Credentials would be shown in every delivery log; the signature is the receiver's proof.
        raise InvalidInput("The URL must not carry a user name or password.", field="url")
    if parsed.fragment:
        raise InvalidInput("The URL must not have a #fragment.", field="url")
    host = parsed.raw_host.decode("ascii")
    return Target(url=parsed, host=host, port=parsed.port or (443 if parsed.scheme == "https" else 80))


def port_refusal(target: Target) -> str | None:
    """Why deliveries may not go to this URL's port, or None for 80 and 443."""
    if target.port in WEBHOOK_PORTS:
        return None
    return f"port {target.port} is not a web port (80 or 443)"


def blocked_reason(address: IPAddress) -> str | None:
    """Why deliveries may not go to this address, or None for a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # An IPv4-mapped address is that IPv4 address to the kernel: judge it as such.
        return blocked_reason(address.ipv4_mapped)
    embedded = _embedded_ipv4(address)
    if embedded is not None and (reason := blocked_reason(embedded)) is not None:
        return reason
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return None


def refusal(host: str, addresses: Iterable[IPAddress]) -> str | None:
    """The reason a host is off limits when any of its addresses is, for the error and the delivery log."""
    for address in addresses:
        reason = blocked_reason(address)
        if reason is not None:
            if host.strip("[]") == str(address):
                return f"{host} is {reason}"
            return f"{host} resolves to {address}, {reason}"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address a host name (or IP literal) stands for; raises OSError when it does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for *_ignored, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def lookup(target: Target, resolver: Resolver) -> list[IPAddress]:
    """The addresses a target stands for: an IP literal itself, a name through the resolver."""
    try:
        return [ipaddress.ip_address(target.host)]
    except ValueError:
        return resolver(target.host, target.port)


def check_target(url: str, *, allow_private_network: bool, resolver: Resolver) -> Target:
    """A URL webhooks may be sent to, or InvalidInput saying why not (the rule at creation and update)."""
    target = parse_target(url)
    if allow_private_network:
        return target
    try:
        addresses = lookup(target, resolver)
    except (OSError, UnicodeError) as exc:
        raise InvalidInput(f"The host {target.host} could not be resolved ({exc}).", field="url") from exc
    if not addresses:
        raise InvalidInput(f"The host {target.host} has no address.", field="url")
    reason = refusal(target.host, addresses)
    if reason is not None:
        raise InvalidInput(
            f"Webhooks may not be sent to loopback, private or link-local addresses: {reason}. "
            "Only the admin API key can allow private networks for an endpoint.",
            field="url",
        )
    if (port := port_refusal(target)) is not None:
        raise InvalidInput(
            f"Webhooks are sent to ports 80 and 443 only: {port}. "
            "Only the admin API key can allow another port, with allow_private_network.",
            field="url",
        )
    return target


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address that 6to4, Teredo or NAT64 would reach."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
