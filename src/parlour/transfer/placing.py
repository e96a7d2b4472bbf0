"""Where an imported comment goes in its thread, and the counts that follow: pure, as the live service does it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from parlour.comments.threading import TOMBSTONES, attach_depth, is_listed
from parlour.db.tables import CommentStatus


@dataclass
class Node:
    """The parts of a comment that placing and counting read; id < 0 is one not stored yet."""

    id: int
    story_id: int
    parent_id: int | None
    depth: int
    status: CommentStatus
    reply_count: int


def place(parent: Node | None, max_depth: int, load: Callable[[int], Node]) -> tuple[Node | None, int]:
    """The parent a reply attaches to and its depth: at the depth cap, the parent's parent (as live replies)."""
    while parent is not None and parent.depth >= max_depth and parent.parent_id is not None:
        parent = load(parent.parent_id)
    return parent, attach_depth(parent.depth if parent else None, max_depth)


# Comments readers never see, whatever their replies: a reply under one would be hidden with it. Live, nobody
# can reply to them; imports can hold such replies (a reply to a comment Disqus later marked as spam).
HIDDEN = frozenset({CommentStatus.PENDING, CommentStatus.REJECTED})


def shown_ancestor(parent: Node | None, load: Callable[[int], Node]) -> Node | None:
    """The nearest comment at or above `parent` that is not hidden; None: the reply goes top-level."""
    while parent is not None and parent.status in HIDDEN:
        parent = load(parent.parent_id) if parent.parent_id is not None else None
    return parent


def count_listed(node: Node, load: Callable[[int], Node], changed: Counter[int]) -> None:
    """A new comment: if readers see it, count it on its parent, and up the chain while tombstones come alive.

    `changed` collects, per stored comment id, how much its reply_count grew (new comments carry theirs).
    """
    if not is_listed(node.status, node.reply_count):
        return
    parent_id = node.parent_id
    while parent_id is not None:
        parent = load(parent_id)
        parent.reply_count += 1
        if parent.id > 0:
            changed[parent.id] += 1
        # A tombstone is listed only while it holds listed replies: its first one makes it count upwards too.
        if not (parent.status in TOMBSTONES and parent.reply_count == 1):
            return
        parent_id = parent.parent_id


def is_approved(status: CommentStatus) -> bool:
    return status == CommentStatus.APPROVED
