"""Typed events that writes publish, and their in-process dispatch; side effects subscribe here."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoryChanged:
    """Anything readers of a story see has changed (a comment posted, edited, deleted, reacted to)."""

    site_id: int
    story_id: int
    story_url: str
    # The comment whose text or status changed (edited, deleted, moderated): open pages update it wherever it is
    # shown, also beyond the first page they refresh. None for changes to counts or to the story itself.
    comment_id: int | None = None


@dataclass(frozen=True)
class SiteChanged:
    """A site's settings or origins changed: everything readers see of it may change."""

    site_id: int


@dataclass(frozen=True)
class CommentPosted:
    site_id: int
    story_id: int
    story_url: str
    comment_id: int
    parent_id: int | None
    status: str


@dataclass(frozen=True)
class CommentEdited:
    site_id: int
    story_id: int
    comment_id: int


@dataclass(frozen=True)
class CommentDeleted:
    site_id: int
    story_id: int
    comment_id: int


@dataclass(frozen=True)
class CommentReported:
    site_id: int
    story_id: int
    comment_id: int
    reason: str


@dataclass(frozen=True)
class CommentModerated:
    """A moderator (or the system, staff_user_id None) acted on a comment: approve, reject, feature, unfeature…"""

    site_id: int
    story_id: int
    comment_id: int
    action: str
    status: str
    staff_user_id: int | None
    reason: str = ""


@dataclass(frozen=True)
class AuthorBanned:
    site_id: int
    author_id: int
    staff_user_id: int | None
    reason: str = ""


@dataclass(frozen=True)
class StoryPremoderated:
    """The surge guard switched a story to pre-moderation: moderators are told."""

    site_id: int
    story_id: int
    held_share: float


Event = (
    StoryChanged
    | SiteChanged
    | CommentPosted
    | CommentEdited
    | CommentDeleted
    | CommentReported
    | CommentModerated
    | AuthorBanned
    | StoryPremoderated
)
E = TypeVar("E")


@dataclass(frozen=True)
class _Durable:
    """A subscriber whose work must not be lost once the write that raised the events is acknowledged."""

    event_types: tuple[type[Any], ...]
    # Inside the write's own transaction, with its session: what it stores commits, or not, with the write.
    store: Callable[[Session, list[Any]], int]
    # For events no write recorded: stored after the commit, in a transaction of its own.
    store_alone: Callable[[list[Any]], int]
    # After the commit, when either stored something (wakes the sender).
    stored: Callable[[], None]


@dataclass(frozen=True)
class Recorded:
    """What `EventBus.record` did inside a write, for `publish` after the commit: which durable subscribers stored."""

    stored: frozenset[int] = frozenset()


class EventBus:
    """Calls subscribers after the write that raised the event has committed; a failing subscriber is logged.

    Durable subscribers (webhook deliveries) also run inside the write itself, when the write hands its events to
    `record` before committing; a crash after the commit then cannot lose what they store.
    """

    def __init__(self) -> None:
        self._subscribers: dict[type[Any], list[Callable[[Any], None]]] = defaultdict(list)
        self._together: list[tuple[tuple[type[Any], ...], Callable[[list[Any]], None]]] = []
        self._durable: list[_Durable] = []

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        self._subscribers[event_type].append(handler)

    def subscribe_together(self, event_types: tuple[type[Any], ...], handler: Callable[[list[Any]], None]) -> None:
        """`handler` gets one write's events of these types in one call: for work that costs a query per call."""
        self._together.append((event_types, handler))

    def subscribe_durably(
        self,
        event_types: tuple[type[Any], ...],
        *,
        store: Callable[[Session, list[Any]], int],
        store_alone: Callable[[list[Any]], int],
        stored: Callable[[], None],
    ) -> None:
        """`store(session, events)` inside a write that `record`s its events, else `store_alone(events)` after it."""
        self._durable.append(_Durable(event_types, store, store_alone, stored))

    def record(self, session: Session, events: list[Any]) -> Recorded:
        """Run the durable subscribers inside the write (before its commit); their error is the write's error."""
        stored = set()
        for index, durable in enumerate(self._durable):
            wanted = [event for event in events if isinstance(event, durable.event_types)]
            if wanted and durable.store(session, wanted):
                stored.add(index)
        return Recorded(frozenset(stored))

    def publish(self, events: list[Any], *, recorded: Recorded | None = None) -> None:
        """After the commit. `recorded`: what `record` returned for these events inside the write, if it ran."""
        for event in events:
            for handler in self._subscribers[type(event)]:
                _call(handler, event)
        for event_types, together in self._together:
            wanted = [event for event in events if isinstance(event, event_types)]
            if wanted:
                _call(together, wanted)
        for index, durable in enumerate(self._durable):
            wanted = [event for event in events if isinstance(event, durable.event_types)]
            if not wanted:
                continue
            if recorded is None:
                _call(partial(_store_alone, durable), wanted)
            elif index in recorded.stored:
                _call(partial(_then, durable), wanted)


def _store_alone(durable: _Durable, events: list[Any]) -> None:
    if durable.store_alone(events):
        durable.stored()


def _then(durable: _Durable, _events: list[Any]) -> None:
    durable.stored()


def _call(handler: Callable[[Any], None], argument: Any) -> None:
    try:
        handler(argument)
    except Exception:
        # A side effect must never undo or fail an acknowledged write.
        log.exception("event handler %r failed for %r", handler, argument)
