"""The in-process event bus: subscribers per event, subscribers to a write's events together, failures contained."""

from __future__ import annotations

from typing import Any

import pytest

from parlour.events import CommentPosted, EventBus, StoryChanged


def posted(comment_id: int) -> CommentPosted:
    return CommentPosted(1, 2, "https://news.example/a", comment_id, None, "approved")


def test_together_gets_one_writes_events_of_its_types_in_one_call() -> None:
    bus = EventBus()
    single: list[Any] = []
    together: list[list[Any]] = []
    bus.subscribe(CommentPosted, single.append)
    bus.subscribe_together((CommentPosted, StoryChanged), together.append)
    changed = StoryChanged(1, 2, "https://news.example/a")
    bus.publish([posted(7), changed])
    bus.publish([posted(8)])
    assert single == [posted(7), posted(8)]
    assert together == [[posted(7), changed], [posted(8)]]


def test_together_is_not_called_without_an_event_it_wants() -> None:
    bus = EventBus()
    calls: list[list[Any]] = []
    bus.subscribe_together((StoryChanged,), calls.append)
    bus.publish([posted(7)])
    bus.publish([])
    assert calls == []


def test_a_failing_subscriber_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[Any] = []

    def broken(_events: list[Any]) -> None:
        raise RuntimeError("receiver down")

    bus.subscribe_together((CommentPosted,), broken)
    bus.subscribe_together((CommentPosted,), seen.append)
    bus.subscribe(CommentPosted, lambda _event: 1 / 0)
    bus.publish([posted(7)])
    assert seen == [[posted(7)]]
    assert [r.levelname for r in caplog.records].count("ERROR") == 2
