"""Live updates for moderators: moderation events become messages on the admin channel, streamed as SSE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from parlour import events
from parlour.comments.live import KEEPALIVE_SECONDS, RETRY_MILLISECONDS
from parlour.dashboard.auth import Moderator
from parlour.events import EventBus
from parlour.infra.pubsub import Broker
from parlour.moderation import dashboard
from parlour.state import State

# One channel for every site: each stream keeps the messages of the sites its moderator sees.
CHANNEL = "admin"
# Shorter than the readers' streams: a signed-out or demoted moderator stops hearing within this time.
MAX_STREAM_SECONDS = 300.0


def connect(bus: EventBus, broker: Broker) -> None:
    """Publish what moderators should hear about: new work, decisions by others, edits, surges."""

    def send(site_id: int, message: dict[str, Any]) -> None:
        broker.publish(CHANNEL, message | {"site_id": site_id})

    bus.subscribe(
        events.CommentPosted, lambda e: send(e.site_id, {"type": "item", "id": e.comment_id, "status": e.status})
    )
    bus.subscribe(events.CommentReported, lambda e: send(e.site_id, {"type": "item", "id": e.comment_id}))
    bus.subscribe(
        events.CommentModerated,
        lambda e: send(e.site_id, {"type": "decided", "id": e.comment_id, "by": e.staff_user_id, "action": e.action}),
    )
    bus.subscribe(events.CommentEdited, lambda e: send(e.site_id, {"type": "changed", "id": e.comment_id}))
    bus.subscribe(events.CommentDeleted, lambda e: send(e.site_id, {"type": "gone", "id": e.comment_id}))
    bus.subscribe(
        events.StoryPremoderated,
        lambda e: send(e.site_id, {"type": "surge", "story_id": e.story_id, "share": round(e.held_share, 3)}),
    )


async def admin_events(request: Request, state: State, who: Moderator) -> StreamingResponse:
    """Server-Sent Events for the dashboard, limited to the sites this moderator sees."""

    def site_ids() -> frozenset[int]:
        with state.db.read() as session:
            return frozenset(dashboard.scope_for(session=session, staff=who.staff).site_ids)

    allowed = await run_in_threadpool(site_ids)
    stream = event_stream(state.broker, allowed)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def event_stream(
    broker: Broker,
    site_ids: frozenset[int],
    *,
    keepalive: float = KEEPALIVE_SECONDS,
    lifetime: float = MAX_STREAM_SECONDS,
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    async with broker.subscribe(CHANNEL) as queue:
        yield f"retry: {RETRY_MILLISECONDS}\n: connected\n\n".encode()
        deadline = loop.time() + lifetime
        while (remaining := deadline - loop.time()) > 0:
            try:
                message = await asyncio.wait_for(queue.get(), timeout=min(keepalive, remaining))
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if message.get("site_id") in site_ids:
                yield frame(message)


def frame(message: dict[str, Any]) -> bytes:
    kind = str(message.get("type", "message"))
    data = {k: v for k, v in message.items() if k not in {"type", "site_id"}}
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
