"""Where imported replies go: pure rules, no database."""

from __future__ import annotations

from collections import Counter

from parlour.db.tables import CommentStatus
from parlour.transfer.placing import Node, count_listed, place, shown_ancestor

A = CommentStatus.APPROVED


def tree(*nodes: Node) -> dict[int, Node]:
    return {node.id: node for node in nodes}


def test_a_reply_under_hidden_comments_climbs_to_the_first_shown_one() -> None:
    nodes = tree(
        Node(1, 1, None, 0, A, 0),
        Node(2, 1, 1, 1, CommentStatus.REJECTED, 0),
        Node(3, 1, 2, 2, CommentStatus.PENDING, 0),
        Node(4, 1, None, 0, CommentStatus.REJECTED, 0),
        Node(5, 1, None, 0, CommentStatus.DELETED, 0),
    )
    assert shown_ancestor(nodes[3], nodes.__getitem__) is nodes[1]
    assert shown_ancestor(nodes[4], nodes.__getitem__) is None
    assert shown_ancestor(nodes[5], nodes.__getitem__) is nodes[5]  # a tombstone shows while it has replies
    assert shown_ancestor(None, nodes.__getitem__) is None


def test_place_attaches_at_the_depth_cap() -> None:
    nodes = tree(Node(1, 1, None, 0, A, 0), Node(2, 1, 1, 1, A, 0), Node(3, 1, 2, 2, A, 0))
    parent, depth = place(nodes[3], 2, nodes.__getitem__)
    assert parent is nodes[2] and depth == 2


def test_a_reply_wakes_tombstones_up_the_chain() -> None:
    nodes = tree(
        Node(1, 1, None, 0, A, 0),
        Node(2, 1, 1, 1, CommentStatus.DELETED, 0),
        Node(3, 1, 2, 2, CommentStatus.REMOVED, 0),
    )
    changed: Counter[int] = Counter()
    count_listed(Node(-1, 1, 3, 3, A, 0), nodes.__getitem__, changed)
    assert changed == {3: 1, 2: 1, 1: 1}
    count_listed(Node(-2, 1, 3, 3, A, 0), nodes.__getitem__, changed)
    assert changed == {3: 2, 2: 1, 1: 1}  # the tombstone already counted: nothing above it changes
    count_listed(Node(-3, 1, 1, 1, CommentStatus.REJECTED, 0), nodes.__getitem__, changed)
    assert changed == {3: 2, 2: 1, 1: 1}  # readers never see it: no count moves
