"""One attempt at one delivery: resolve, check the SSRF rule again, connect to the checked address, sign, POST."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
import orjson

from parlour.errors import InvalidInput
from parlour.webhooks.addresses import Resolver, lookup, parse_target, port_refusal, refusal
from parlour.webhooks.queue import Claimed
from parlour.webhooks.retry import DeliveryPolicy, succeeded
from parlour.webhooks.signing import delivery_headers

SNIPPET_BYTES = 300


@dataclass(frozen=True)
class Attempt:
    response_status: int | None
    error: str = ""


def make_client(policy: DeliveryPolicy) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=policy.timeout,
        follow_redirects=False,  # a redirect could lead anywhere, past the address check
        trust_env=False,  # no proxy from the environment: we connect to the address we checked
        # Connections are made to an address, not a name: reusing one could send a request for one host to another.
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def send(
    client: httpx.AsyncClient, claimed: Claimed, *, resolver: Resolver, policy: DeliveryPolicy, timestamp: int
) -> Attempt:
    """POST the delivery; never raises for anything the receiver or the network does."""
    try:
        target = parse_target(claimed.url)
    except InvalidInput as exc:
        return Attempt(None, exc.detail)
    try:
        addresses = await asyncio.to_thread(lookup, target, resolver)
    except (OSError, UnicodeError) as exc:
        return Attempt(None, f"Could not resolve {target.host}: {exc}")
    if not addresses:
        return Attempt(None, f"{target.host} has no address.")
    # Checked again at every attempt: the name may point somewhere else now than when the endpoint was saved.
    # So is the port, for an endpoint saved before the port rule.
    reason = None if claimed.allow_private_network else refusal(target.host, addresses) or port_refusal(target)
    if reason is not None:
        return Attempt(None, f"Not sent: {reason}.")
    body = orjson.dumps(claimed.payload)
    headers = delivery_headers(
        secret=claimed.secret, event=claimed.event, event_id=claimed.event_id, timestamp=timestamp, body=body
    )
    headers["Host"] = target.url.netloc.decode("ascii")
    # Connect to the address just checked, so a second DNS answer (rebinding) cannot send us elsewhere; TLS still
    # verifies the certificate against the host name.
    pinned = target.url.copy_with(host=str(addresses[0]))
    extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
    try:
        async with asyncio.timeout(policy.timeout):
            async with client.stream("POST", pinned, content=body, headers=headers, extensions=extensions) as response:
                snippet = b"" if succeeded(response.status_code) else await _first_bytes(response)
    except TimeoutError:
        return Attempt(None, f"No answer within {policy.timeout:g} s.")
    except (httpx.HTTPError, OSError) as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}".rstrip(": "))
    if succeeded(response.status_code):
        return Attempt(response.status_code)
    note = " (redirects are not followed)" if response.is_redirect else ""
    text = snippet.decode("utf-8", "replace").strip()
    return Attempt(response.status_code, f"HTTP {response.status_code}{note}: {text}".rstrip(": "))


async def _first_bytes(response: httpx.Response) -> bytes:
    """The start of an error response for the delivery log; the rest is not read."""
    taken = b""
    async for chunk in response.aiter_bytes():
        taken += chunk
        if len(taken) >= SNIPPET_BYTES:
            break
    return taken[:SNIPPET_BYTES]
