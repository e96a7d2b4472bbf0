"""A big database's content, planned once and loaded by any backend: the 1,000-comment thread of
run.py's corpus spread evenly through the history of many other stories (million.py, scale.py)."""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from corpus import make_thread, sample_bodies, story_path, story_url
from sqlalchemy import Connection, text

from parlour.comments import markup, tokens
from parlour.db.tables import CommentStatus

THREAD_SIZE = 1000
MAX_DEPTH = 3
TOP_LEVEL_SHARE = 0.6
BODY_POOL = 2000
HISTORY = timedelta(days=365)
# The measured thread's path: its story comes after the filler stories.
THREAD_PATH = story_path(THREAD_SIZE)


@dataclass(frozen=True)
class Plan:
    """Every comment of a database, in insertion (= time) order, as parallel arrays.

    Comment i gets id i + 1 and an author of its own with the same id, as Parlour creates one
    author row per anonymous comment. `story` indexes `story_urls`; `parent` is -1 or an earlier i.
    """

    story_urls: list[str]
    story: array[int]
    parent: array[int]
    depth: array[int]
    reply_count: array[int]
    # Index into the body pool for filler comments; -1 - k for comment k of the measured thread.
    body: array[int]


def plan(total: int, stories: int, seed: str = "million") -> Plan:
    """The measured thread, spread evenly through the history, and filler comments around it:
    story popularity is skewed (a few stories take thousands of comments, most a few dozen), 60%
    of comments are top-level and the rest reply to an earlier comment of depth < 3."""
    rng = random.Random(seed)
    thread = make_thread(THREAD_SIZE)
    measured = stories  # the measured story comes after the filler stories
    urls = [story_url(f"/s/{k}") for k in range(stories)] + [story_url(story_path(THREAD_SIZE))]
    slots = {int((j + 0.5) * total / THREAD_SIZE): j for j in range(THREAD_SIZE)}
    story, parent, depth, body = array("i"), array("i"), array("b"), array("i")
    open_parents: dict[int, list[int]] = {}
    thread_ids: list[int] = []
    for i in range(total):
        j = i if stories == 0 else slots.get(i)
        if j is not None:
            corpus = thread[j]
            s, p = measured, -1 if corpus.parent is None else thread_ids[corpus.parent]
            thread_ids.append(i)
            body.append(-1 - j)
        else:
            s = min(stories - 1, int(stories * rng.random() ** 2))
            candidates = open_parents.get(s)
            p = rng.choice(candidates) if candidates and rng.random() >= TOP_LEVEL_SHARE else -1
            body.append(i % BODY_POOL)
        d = 0 if p < 0 else depth[p] + 1
        story.append(s)
        parent.append(p)
        depth.append(d)
        if d < MAX_DEPTH and j is None:
            open_parents.setdefault(s, []).append(i)
    if len(thread_ids) != THREAD_SIZE:
        raise SystemExit(f"--comments must leave room for the {THREAD_SIZE}-comment thread")
    reply_count = array("i", bytes(4 * total))
    for p in parent:
        if p >= 0:
            reply_count[p] += 1
    return Plan(urls, story, parent, depth, reply_count, body)


@dataclass(frozen=True)
class Bodies:
    """Source and HTML, rendered once by Parlour's own renderer: filler pool and measured thread."""

    pool: list[tuple[str, str]]
    thread: list[tuple[str, str]]
    authors: list[str]

    @classmethod
    def make(cls) -> Bodies:
        pool = [(b, markup.render(b)) for b in sample_bodies(BODY_POOL, seed="million")]
        corpus = make_thread(THREAD_SIZE)
        return cls(pool, [(c.body, markup.render(c.body)) for c in corpus], [c.author for c in corpus])

    def of(self, index: int) -> tuple[str, str, str]:
        """(body, html, author name) for a plan's body index."""
        if index >= 0:
            body, html = self.pool[index]
            return body, html, f"Reader {index % 500}"
        body, html = self.thread[-1 - index]
        return body, html, self.authors[-1 - index]


@dataclass(frozen=True)
class Batch:
    """Rows for one chunk of a plan, as Parlour's tables take them."""

    authors: list[dict[str, Any]]
    comments: list[dict[str, Any]]


def story_rows(layout: Plan, site_id: int, start: datetime) -> list[dict[str, Any]]:
    """Every story with its final counts: every approved comment counted, one version bump per post."""
    per_story = array("i", bytes(4 * len(layout.story_urls)))
    for s in layout.story:
        per_story[s] += 1
    return [
        {
            "id": k + 1,
            "site_id": site_id,
            "url": url,
            "closed": False,
            "comment_count": per_story[k],
            "version": per_story[k],
            "created_at": start,
        }
        for k, url in enumerate(layout.story_urls)
    ]


def history_start() -> datetime:
    """When the first comment was posted: the plan spreads its comments over the year since."""
    return datetime.now(UTC) - HISTORY


def batches(layout: Plan, bodies: Bodies, site_id: int, start: datetime, chunk: int) -> Iterator[Batch]:
    """Authors and comments in insertion order, `chunk` rows at a time."""
    step = HISTORY / max(1, len(layout.story))
    for first in range(0, len(layout.story), chunk):
        yield _rows(layout, bodies, site_id, start, step, range(first, min(first + chunk, len(layout.story))))


def _rows(layout: Plan, bodies: Bodies, site_id: int, start: datetime, step: timedelta, indices: range) -> Batch:
    authors, comments = [], []
    for i in indices:
        body, html, name = bodies.of(layout.body[i])
        created = start + step * i
        authors.append({"id": i + 1, "site_id": site_id, "display_name": name, "created_at": created})
        parent = layout.parent[i]
        comments.append(
            {
                "id": i + 1,
                "site_id": site_id,
                "story_id": layout.story[i] + 1,
                "parent_id": None if parent < 0 else parent + 1,
                "depth": layout.depth[i],
                "author_id": i + 1,
                "status": CommentStatus.APPROVED,
                "body": body,
                "html": html,
                "markup_version": markup.MARKUP_VERSION,
                "edit_token_hash": tokens.hash_edit_token(f"bench-{i}"),
                "created_at": created,
                "reaction_count": 0,
                "reply_count": layout.reply_count[i],
                "featured": False,
                "moderation_reasons": [],
                "moderation_scores": {},
            }
        )
    return Batch(authors, comments)


CONSISTENCY_CHECKS = {
    "comments": "SELECT COUNT(*) FROM comments",
    "stories": "SELECT COUNT(*) FROM stories",
    # Grouped once and joined: a correlated sub-query per row takes minutes on 1M rows.
    "bad_story_counts": "SELECT COUNT(*) FROM stories s LEFT JOIN (SELECT story_id, COUNT(*) AS n "
    "FROM comments GROUP BY story_id) c ON c.story_id = s.id WHERE s.comment_count != COALESCE(c.n, 0)",
    "bad_reply_counts": "SELECT COUNT(*) FROM comments p LEFT JOIN (SELECT parent_id, COUNT(*) AS n "
    "FROM comments WHERE parent_id IS NOT NULL GROUP BY parent_id) c ON c.parent_id = p.id "
    "WHERE p.reply_count != COALESCE(c.n, 0)",
    "bad_depths": "SELECT COUNT(*) FROM comments c JOIN comments p ON c.parent_id = p.id WHERE c.depth != p.depth + 1",
}


def check_consistency(conn: Connection) -> dict[str, int]:
    """The denormalised counts must agree with the rows, as the server keeps them."""
    return {name: int(conn.execute(text(sql)).scalar_one()) for name, sql in CONSISTENCY_CHECKS.items()}


def is_consistent(rows: dict[str, int]) -> bool:
    return rows["bad_story_counts"] == rows["bad_reply_counts"] == rows["bad_depths"] == 0
