from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from parlour.comments.schemas import Sort
from parlour.comments.threading import attach_depth, decode_cursor, encode_cursor, is_listed, sort_key
from parlour.db.tables import CommentStatus
from parlour.errors import InvalidInput

WHEN = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize("sort", list(Sort))
def test_cursor_round_trip(sort: Sort) -> None:
    key = sort_key(sort, reaction_count=4, reply_count=2, created_at=WHEN, id=17)
    decoded = decode_cursor(encode_cursor(sort, key), sort)
    assert decoded[-2:] == [WHEN, 17]
    if sort is Sort.TOP:
        assert decoded[:2] == [4, 2]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "%%%",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(b'["oldest","2026-11-24T07:30:00",1]').decode(),  # naive time
        base64.urlsafe_b64encode(b'["oldest","2026-11-24T07:30:00+00:00","x"]').decode(),
        base64.urlsafe_b64encode(b'["oldest","2026-11-24T07:30:00+00:00",true]').decode(),
        base64.urlsafe_b64encode(b'{"a":1}').decode(),
    ],
)
def test_bad_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(cursor, Sort.OLDEST)


def test_cursor_of_another_sort_is_refused() -> None:
    cursor = encode_cursor(Sort.NEWEST, sort_key(Sort.NEWEST, reaction_count=0, reply_count=0, created_at=WHEN, id=1))
    with pytest.raises(InvalidInput):
        decode_cursor(cursor, Sort.OLDEST)


def test_listing_rules() -> None:
    assert is_listed(CommentStatus.APPROVED, 0)
    assert not is_listed(CommentStatus.PENDING, 3)
    assert not is_listed(CommentStatus.REJECTED, 3)
    assert not is_listed(CommentStatus.DELETED, 0)
    assert is_listed(CommentStatus.DELETED, 1)
    assert is_listed(CommentStatus.REMOVED, 2)


def test_depth_is_capped() -> None:
    assert attach_depth(None, 8) == 0
    assert attach_depth(3, 8) == 4
    assert attach_depth(8, 8) == 8
