"""Live updates: comment events become messages on a per-thread channel, streamed to readers as SSE; and every
worker hears that a story changed, so that its cached pages of it are not trusted any longer."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from parlour.events import CommentPosted, EventBus, StoryChanged
from parlour.infra.pubsub import Broker

KEEPALIVE_SECONDS = 15.0
# Streams end after a while so that load balancers and deploys see connections turn over; EventSource reconnects.
MAX_STREAM_SECONDS = 600.0
RETRY_MILLISECONDS = 3000
# Not a thread's channel (those are "<site id>:<hash>"): every worker listens to it.
CHANGES_CHANNEL = "stories-changed"


def channel_for(site_id: int, story_url: str) -> str:
    """One channel per thread, known before the story exists (a stream may open before the first comment)."""
    return f"{site_id}:{hashlib.sha256(story_url.encode()).hexdigest()[:32]}"


def connect(bus: EventBus, broker: Broker) -> None:
    """Publish what readers of a thread should hear about."""

    def on_posted(event: CommentPosted) -> None:
        if event.status == "approved":
            message = {"type": "comment", "id": event.comment_id, "parent_id": event.parent_id}
            broker.publish(channel_for(event.site_id, event.story_url), message | {"story_id": event.story_id})

    def on_changed(event: StoryChanged) -> None:
        message: dict[str, Any] = {"type": "changed", "story_id": event.story_id}
        if event.comment_id is not None:
            message["comment_id"] = event.comment_id
        broker.publish(channel_for(event.site_id, event.story_url), message)
        broker.publish(CHANGES_CHANNEL, {"type": "changed", "story_id": event.story_id})

    bus.subscribe(CommentPosted, on_posted)
    bus.subscribe(StoryChanged, on_changed)


async def follow_changes(broker: Broker, forget: Callable[[], None]) -> None:
    """Runs for the worker's lifetime: forget cached story versions whenever any worker changes a story.

    Through Redis this reaches every worker at once; without it, the version bound (thread_version_seconds)
    still holds, and the writing worker has already forgotten its own.
    """
    async with broker.subscribe(CHANGES_CHANNEL) as queue:
        while True:
            await queue.get()
            forget()


async def event_stream(
    broker: Broker, channel: str, *, keepalive: float = KEEPALIVE_SECONDS, lifetime: float = MAX_STREAM_SECONDS
) -> AsyncIterator[bytes]:
    """Server-Sent Events for one thread: messages as they come, a comment line to keep idle connections open."""
    loop = asyncio.get_running_loop()
    async with broker.subscribe(channel) as queue:
        yield f"retry: {RETRY_MILLISECONDS}\n: connected\n\n".encode()
        deadline = loop.time() + lifetime
        while (remaining := deadline - loop.time()) > 0:
            try:
                message = await asyncio.wait_for(queue.get(), timeout=min(keepalive, remaining))
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            yield _frame(message)


def _frame(message: dict[str, Any]) -> bytes:
    kind = message.get("type", "message")
    data = {k: v for k, v in message.items() if k != "type"}
    return b"event: " + str(kind).encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
