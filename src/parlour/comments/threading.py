"""Thread order, visibility and cursors: pure functions, no I/O."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

import orjson

from parlour.comments.schemas import Sort
from parlour.db.tables import CommentStatus
from parlour.errors import InvalidInput

# Counts and ids fit a signed 64-bit column on every backend.
MAX_CURSOR_INT = 2**63 - 1
TOMBSTONES = frozenset({CommentStatus.DELETED, CommentStatus.REMOVED})


def is_listed(status: CommentStatus, reply_count: int) -> bool:
    """Readers see approved comments, and tombstones that still hold listed replies in place."""
    return status == CommentStatus.APPROVED or (status in TOMBSTONES and reply_count > 0)


def sort_key(sort: Sort, *, reaction_count: int, reply_count: int, created_at: datetime, id: int) -> list[Any]:
    """The keyset position of a comment in a sort order; cursors carry it."""
    if sort is Sort.TOP:
        return [reaction_count, reply_count, created_at.isoformat(), id]
    return [created_at.isoformat(), id]


def encode_cursor(sort: Sort, key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([sort.value, *key])).decode().rstrip("=")


def decode_cursor(cursor: str, sort: Sort) -> list[Any]:
    """The keyset position in a cursor; a cursor from another sort order or a tampered one is refused."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("The cursor is not valid.", field="cursor") from exc
    expected_length = 5 if sort is Sort.TOP else 3
    if not isinstance(values, list) or len(values) != expected_length or values[0] != sort.value:
        raise InvalidInput("The cursor does not belong to this sort order.", field="cursor")
    *numbers, created_text, comment_id = values[1:]
    integers = [*numbers, comment_id]
    if any(type(v) is not int or not 0 <= v <= MAX_CURSOR_INT for v in integers) or not isinstance(created_text, str):
        raise InvalidInput("The cursor is not valid.", field="cursor")
    try:
        created_at = datetime.fromisoformat(created_text)
        created_at.astimezone(UTC)  # a time near year 1 or 9999 may not survive the move to UTC
    except (ValueError, OverflowError) as exc:
        raise InvalidInput("The cursor is not valid.", field="cursor") from exc
    if created_at.tzinfo is None:
        raise InvalidInput("The cursor is not valid.", field="cursor")
    return [*numbers, created_at, comment_id]


def attach_depth(parent_depth: int | None, max_depth: int) -> int:
    """Depth of a new reply; the caller re-parents it when the parent already sits at the cap."""
    if parent_depth is None:
        return 0
    return min(parent_depth + 1, max_depth)
