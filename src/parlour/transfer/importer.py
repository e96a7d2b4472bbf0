"""Importing comments from another system into one site: two passes, batches, resumable, idempotent.

Why two passes: a malformed file must leave the database unchanged, and a 1 GB file must not be imported in
one transaction (on SQLite that would hold the single write lock, and every reader's post, for minutes; and an
interruption would lose everything). So the first pass reads the whole file and proves it well-formed, writing
nothing; only then does the second pass import, committing a batch at a time. Each batch stores its comments
and their `imported_items` rows in one transaction, so after an interruption the table says exactly what is in:
running the same import again skips those and goes on (and a finished import run again creates nothing).

Memory stays flat: records stream in, and parents are found through `imported_items` per batch, not in a map of
every comment read. What is kept is per thread (article), not per comment; replies that come before their
parent in the file are set aside in a temporary file and placed once the parent is in. A dry run keeps what
it would have created in memory instead, since it writes nothing.
"""

from __future__ import annotations

import gc
import pickle
import secrets
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from parlour.clock import utcnow
from parlour.comments import markup
from parlour.db import bulk_indexes
from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, CommentStatus, Site
from parlour.errors import InvalidInput
from parlour.moderation import intake
from parlour.sites.schemas import SiteSettings
from parlour.sites.service import get_site, site_settings
from parlour.sites.urls import normalise_story_url, origin_allowed
from parlour.transfer.bulk import execute_many, insert_rows
from parlour.transfer.pipeline import Chunk, read_prepared
from parlour.transfer.placing import Node, count_listed, is_approved, place, shown_ancestor
from parlour.transfer.prepare import Prepared
from parlour.transfer.records import Malformed, Reader, Skipped, SourceThread
from parlour.transfer.report import ImportReport, NoProgress, Progress
from parlour.transfer.serialise import table

BATCH = 5000
# With the indexes set aside the database is being filled, not read: fewer, bigger transactions (each holds the
# write lock about four times as long) cost 14% less CPU at 1,000,000 comments (fewer commits and lookups).
BULK_BATCH = 20_000
MAX_TITLE = 500
# SQLite and PostgreSQL both take this many bound values in one IN list comfortably.
LOOKUP_CHUNK = 1000
SQLITE_CACHE_KIB = 64 * 1024  # per connection: the import uses one to read and one to write
SQLITE_CHECKPOINT_PAGES = 20_000  # 80 MB of log with 4 KiB pages; SQLite's default is 1,000
EDIT_HASH_BYTES = 32  # comments.edit_token_hash
GC_THRESHOLD = 50_000  # allocations between collections of the youngest generation (Python's default: 700)

ALREADY = "already imported"
DUPLICATE = "the same id appears earlier in the file"
OUTSIDE = "the article's URL is outside the site's allowed origins"
BAD_URL = "the article's URL is not a valid http(s) URL"
NO_THREAD = "its thread is not in the file"


@dataclass
class _Batch:
    """One batch's decisions before they are written."""

    comments: list[tuple[Prepared, Node, int | str]] = field(default_factory=list)  # author id or new-author key
    new_authors: dict[str, Prepared] = field(default_factory=dict)  # key -> the first comment of a new author
    reply_growth: Counter[int] = field(default_factory=Counter)
    approved: Counter[int] = field(default_factory=Counter)  # story id -> new approved comments
    deferred: list[Prepared] = field(default_factory=list)


class _Import:
    def __init__(
        self, *, db: Database, site: Site, reader: Reader, dry_run: bool, match_authors: bool, secret_key: str | None
    ) -> None:
        self.db = db
        self.site_id = site.id
        self.origins = list(site.allowed_origins)
        self.settings: SiteSettings = site_settings(site)
        self.source = reader.source
        self.dry_run = dry_run
        self.match_authors = match_authors
        # With the server's secret, imported authors get the identity the live service gives an e-mail, so a
        # reader who comments again with the same address continues their imported history.
        self.secret_key = secret_key if match_authors else None
        self.report = ImportReport(dry_run=dry_run)
        self.reasons = [f"imported from {self.source}"]
        self.threads: dict[str, SourceThread] = {}
        self.stories: dict[str, int | str] = {}  # thread id -> story id, or why its comments are skipped
        self.refused: dict[str, str] = {}  # thread id -> its URL, when off the site's origins or invalid
        # Comment id -> why it was skipped, for its replies' notes: skipped records are the exception, so few.
        self.skipped: dict[str, str] = {}
        self.next_temp = -1
        # Dry runs only: what would have been created, standing in for the rows a real run reads back.
        self.planned: dict[str, Node] = {}
        self.planned_nodes: dict[int, Node] = {}
        self.planned_authors: dict[str, int] = {}

    # --- the flow ------------------------------------------------------------------------------------

    def run(self, chunks: Iterator[Chunk], reader: Reader, progress: Progress, batch_size: int) -> ImportReport:
        with tempfile.TemporaryFile() as spill:
            pending: list[Prepared] = []
            deferred = 0
            for chunk in chunks:
                for item in chunk.items:
                    if isinstance(item, Prepared):
                        pending.append(item)
                    elif isinstance(item, SourceThread):
                        self.threads.setdefault(item.source_id, item)
                    elif isinstance(item, Malformed | Skipped):
                        self._skip(item)
                while len(pending) >= batch_size:
                    deferred += self._spill(spill, self.batch(pending[:batch_size], resolving=None))
                    del pending[:batch_size]
                    progress.update(done=chunk.position, total=reader.size(), counts=self.report.counts())
            deferred += self._spill(spill, self.batch(pending, resolving=None))
            progress.update(done=reader.size(), total=reader.size(), counts=self.report.counts())
            self._place_deferred(spill, deferred, batch_size)
        # The bar's last line shows the report's counts, replies placed after the end of the file included.
        progress.update(done=reader.size(), total=reader.size(), counts=self.report.counts())
        return self.report

    def _skip(self, item: Malformed | Skipped) -> None:
        reason = f"malformed: {item.reason}" if isinstance(item, Malformed) else item.reason
        self.report.skip(reason, item.position)
        if item.source_id is not None:
            self.skipped[item.source_id] = reason

    def _spill(self, spill: IO[bytes], records: list[Prepared]) -> int:
        for record in records:
            pickle.dump(record, spill)
        return len(records)

    def _place_deferred(self, spill: IO[bytes], count: int, batch_size: int) -> None:
        """Replies read before their parent: placed in rounds, each after the parents placed by the one before."""
        while count:
            spill.seek(0)
            waiting = {record.source_id for record in _unspill(spill, count)}
            spill.seek(0)
            records = list(_unspill(spill, count))  # deferred replies are few: the exception, not the file
            spill.seek(0)
            spill.truncate()
            still: list[Prepared] = []
            for start in range(0, len(records), batch_size):
                still += self.batch(records[start : start + batch_size], resolving=waiting)
            if len(still) == count:
                # No progress: the rest wait on each other (a cycle); they are placed at the top level.
                still = self.batch(still, resolving=set())
            count = self._spill(spill, still)

    def batch(self, records: list[Prepared], *, resolving: set[str] | None) -> list[Prepared]:
        """Import one batch; returns the replies whose parent is not in yet.

        resolving: None in the first pass (a missing parent may come later in the file); afterwards, the ids
        still waiting, so that a reply whose parent is nowhere becomes a top-level comment.
        """
        if not records:
            return []
        sessions = self.db.read() if self.dry_run else self.db.write()
        with sessions as session:
            _bulk_pragmas(session)
            plan = self._plan(session, records, resolving)
            if not self.dry_run:
                self._write(session, plan)
        self._count(plan)
        return plan.deferred

    # --- deciding ------------------------------------------------------------------------------------

    def _plan(self, session: Session, prepared: list[Prepared], resolving: set[str] | None) -> _Batch:
        plan = _Batch()
        done = self._imported(session, "comment", [p.source_id for p in prepared])
        parents = self._comments_by_source(session, [p.parent_id for p in prepared if p.parent_id])
        nodes: dict[int, Node] = self.planned_nodes if self.dry_run else {}
        for node in parents.values():
            nodes.setdefault(node.id, node)
        authors = self._authors(session, prepared)
        self._resolve_stories(session, list(dict.fromkeys(p.thread_id for p in prepared)))

        def load(comment_id: int) -> Node:
            if comment_id not in nodes:
                nodes[comment_id] = self._node(session, comment_id)
            return nodes[comment_id]

        seen: set[str] = set()
        for record in prepared:
            # A copy is a duplicate before it is "already imported": on a second run both copies are in `done`.
            if record.source_id in seen:
                self.report.skip(DUPLICATE, record.position)
                continue
            seen.add(record.source_id)
            if record.source_id in done:
                self.report.skip(ALREADY, record.position)
                continue
            story = self._story(record.thread_id, final=resolving is not None)
            if story is None:
                plan.deferred.append(record)
                continue
            if isinstance(story, str):
                self.report.skip(story, record.position)
                if record.thread_id in self.refused:
                    self.report.outside[self.refused[record.thread_id]] += 1
                continue
            parent: Node | None = None
            if record.parent_id is not None:
                found = parents.get(record.parent_id)
                skipped = self.skipped.get(record.parent_id)
                if found is None and skipped is None and (resolving is None or record.parent_id in resolving):
                    plan.deferred.append(record)
                    continue
                if found is None:
                    self.report.note(f"{record.position}: {_missing_parent(record.parent_id, skipped)}")
                elif found.story_id != story:
                    self.report.note(f"{record.position}: its parent is on another article; imported top-level")
                else:
                    parent = shown_ancestor(load(found.id), load)
                    if parent is None or parent.id != found.id:
                        self.report.note(
                            f"{record.position}: its parent is spam or awaiting moderation, which readers never "
                            "see; attached to the nearest comment they do see (or top-level)"
                        )
            if record.note:
                self.report.note(f"{record.position}: {record.note}")
            parent, depth = place(parent, self.settings.max_depth, load)
            node = Node(self._temp_id(), story, parent.id if parent else None, depth, record.status, 0)
            nodes[node.id] = node
            parents[record.source_id] = node
            count_listed(node, load, plan.reply_growth)
            if is_approved(record.status):
                plan.approved[story] += 1
            key = record.author_key
            author = authors.get(key) if key else None
            if author is None and key:
                plan.new_authors.setdefault(key, record)
            plan.comments.append((record, node, author if author is not None else (key or "")))
        if self.dry_run:
            for record, node, _author in plan.comments:
                self.planned[record.source_id] = node
        return plan

    def _story(self, thread_id: str, *, final: bool) -> int | str | None:
        """The story for a thread (see _resolve_stories); a reason when its comments cannot be imported; None:
        its thread has not been read yet."""
        found = self.stories.get(thread_id)
        if found is None and final:
            return NO_THREAD
        return found

    def _resolve_stories(self, session: Session, thread_ids: list[str]) -> None:
        """Find or create the stories of a batch's threads (in the order the batch names them) at once: a few
        statements a batch, not a few a story (10,000 stories of a 1,000,000-comment file cost 6.5 s one by one)."""
        urls: dict[str, str] = {}  # thread id -> its story URL, for threads whose comments can be imported
        for thread_id in thread_ids:
            thread = self.threads.get(thread_id)
            if thread_id in self.stories or thread is None:
                continue  # not read yet: its comments wait (or, once the file is read, are skipped)
            try:
                url = normalise_story_url(thread.url)
            except InvalidInput:
                self.stories[thread_id], self.refused[thread_id] = BAD_URL, thread.url or "(no URL)"
                continue
            if origin_allowed(url, self.origins):
                urls[thread_id] = url
            else:
                self.stories[thread_id], self.refused[thread_id] = OUTSIDE, url
        if not urls:
            return
        existing = self._stories_by_url(session, set(urls.values()))
        new: dict[str, str] = {}  # url -> the first thread naming it, which gets the story's imported item
        for thread_id, url in urls.items():
            if url not in existing:
                new.setdefault(url, thread_id)
        existing |= self._create_stories(session, new)
        for thread_id, url in urls.items():
            self.stories[thread_id] = existing[url]

    def _stories_by_url(self, session: Session, urls: set[str]) -> dict[str, int]:
        stories = table("stories").c
        query = select(stories.url, stories.id).where(stories.site_id == self.site_id, stories.url.in_(_IDS))
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(urls)):
            found.update((url, int(story_id)) for url, story_id in session.execute(query, {"ids": chunk}))
        return found

    def _create_stories(self, session: Session, new: dict[str, str]) -> dict[str, int]:
        """Stories for new URLs (url -> the first thread that names it); returns url -> story id."""
        self.report.created["stories"] += len(new)
        if self.dry_run:
            return {url: self._temp_id() for url in new}
        ids = _allocate_ids(session, "stories", len(new))
        now = utcnow()
        rows = []
        for story_id, (url, thread_id) in zip(ids, new.items(), strict=True):
            thread = self.threads[thread_id]
            rows.append(
                {
                    "id": story_id,
                    "site_id": self.site_id,
                    "url": url,
                    "title": (thread.title or None) and markup.clean_text(thread.title or "")[:MAX_TITLE],
                    "closed": thread.closed,
                    "created_at": thread.created_at or now,
                }
            )
        insert_rows(session, table("stories"), rows)
        items = [self._item_row("story", thread_id, i, now) for i, thread_id in zip(ids, new.values(), strict=True)]
        insert_rows(session, table("imported_items"), items)
        return dict(zip(new, ids, strict=True))

    def _authors(self, session: Session, prepared: list[Prepared]) -> dict[str, int]:
        """Authors known by key: made by an earlier import, or (when allowed) readers of that e-mail and name."""
        keys = {p.author_key for p in prepared if p.author_key}
        found = self._imported(session, "author", keys)
        if self.dry_run:
            found |= {k: v for k, v in self.planned_authors.items() if k in keys}
        if self.match_authors:
            wanted = {
                (p.author_email, p.author_name): p.author_key
                for p in prepared
                if p.author_email and p.author_key and p.author_key not in found
            }
            found |= self._readers(session, wanted)
        return found

    def _readers(self, session: Session, wanted: dict[tuple[str, str], str]) -> dict[str, int]:
        """Anonymous authors by (e-mail, name): the live service's identity, whose name is its display name."""
        found: dict[str, int] = {}
        # Only anonymous authors: an imported, unverified e-mail must never reach a signed-in account.
        query = (
            select(Author.email, Author.display_name, Author.id)
            .where(Author.site_id == self.site_id, Author.external_id.is_(None), Author.email.in_(_IDS))
            .order_by(Author.id)
        )
        for chunk in _chunks(sorted({email for email, _name in wanted})):
            for email, name, author_id in session.execute(query, {"ids": chunk}):
                key = wanted.get((email or "", name))  # email is never None: it matched the IN list
                if key is not None and key not in found:
                    found[key] = int(author_id)
        return found

    def _imported(self, session: Session, kind: str, source_ids: Iterable[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        items = table("imported_items").c
        query = select(items.source_id, items.target_id).where(
            items.site_id == self.site_id, items.source == self.source, items.kind == kind, items.source_id.in_(_IDS)
        )
        for chunk in _chunks(list(source_ids)):
            rows = session.execute(query, {"ids": chunk})
            found.update((source_id, int(target)) for source_id, target in rows)
        if self.dry_run and kind == "comment":
            found.update((s, node.id) for s in source_ids if (node := self.planned.get(s)) is not None)
        return found

    def _comments_by_source(self, session: Session, source_ids: list[str]) -> dict[str, Node]:
        nodes: dict[str, Node] = {}
        items, comments = table("imported_items").c, table("comments").c
        query = (
            select(items.source_id, *(comments[c.key] for c in _NODE_COLUMNS))
            .join_from(table("imported_items"), table("comments"), comments.id == items.target_id)
            .where(
                items.site_id == self.site_id,
                items.source == self.source,
                items.kind == "comment",
                items.source_id.in_(_IDS),
            )
        )
        for chunk in _chunks(list(set(source_ids))):
            rows = session.execute(query, {"ids": chunk})
            for row in rows:
                nodes[row[0]] = _to_node(row[1:])
        if self.dry_run:
            for source_id in source_ids:
                planned = self.planned.get(source_id)
                if planned is not None:
                    nodes[source_id] = planned
                elif source_id in nodes:
                    nodes[source_id] = self.planned_nodes.setdefault(nodes[source_id].id, nodes[source_id])
        return nodes

    def _node(self, session: Session, comment_id: int) -> Node:
        row = session.execute(select(*_NODE_COLUMNS).where(Comment.id == comment_id)).one()
        return _to_node(tuple(row))

    def _temp_id(self) -> int:
        self.next_temp -= 1
        return self.next_temp

    # --- writing -------------------------------------------------------------------------------------

    def _write(self, session: Session, plan: _Batch) -> None:
        now = utcnow()
        authors = self._insert_authors(session, plan, now)
        # Ids are taken up front, so every comment of the batch goes in one plain executemany: an INSERT with
        # RETURNING per generation of replies cost more than the rest of the write together.
        ids = _allocate_ids(session, "comments", len(plan.comments))
        real = {node.id: new_id for (_item, node, _author), new_id in zip(plan.comments, ids, strict=True)}
        # Random bytes as each edit token's hash, drawn for the whole batch at once: no token hashes to them, so
        # nobody can edit an imported comment.
        hashes = secrets.token_bytes(EDIT_HASH_BYTES * len(ids))
        # A parent in the batch comes before its replies in plan.comments (it was planned first), so rows in
        # this order never refer to one not inserted yet.
        rows = [
            self._comment_row(c, ids[i], authors[i], real, hashes[i * EDIT_HASH_BYTES : (i + 1) * EDIT_HASH_BYTES], now)
            for i, c in enumerate(plan.comments)
        ]
        insert_rows(session, table("comments"), rows)
        if plan.reply_growth:
            # Core tables, not ORM classes: an executemany UPDATE with the counts added in SQL.
            comments = table("comments").c
            execute_many(
                session,
                update(table("comments"))
                .where(comments.id == bindparam("b_id"))
                .values(reply_count=comments.reply_count + bindparam("b_n")),
                [{"b_id": i, "b_n": n} for i, n in sorted(plan.reply_growth.items())],
            )
        touched = sorted({node.story_id for _item, node, _author in plan.comments})
        if touched:
            # Every story that got comments changes what readers see: its version keys the thread caches.
            stories = table("stories").c
            execute_many(
                session,
                update(table("stories"))
                .where(stories.id == bindparam("b_id"))
                .values(comment_count=stories.comment_count + bindparam("b_n"), version=stories.version + 1),
                [{"b_id": s, "b_n": plan.approved.get(s, 0)} for s in touched],
            )
        items = [self._item_row("comment", c[0].source_id, real[c[1].id], now) for c in plan.comments]
        insert_rows(session, table("imported_items"), items)

    def _insert_authors(self, session: Session, plan: _Batch, now: datetime) -> list[int]:
        """The author id of each comment of the batch, inserting the authors it introduces."""
        keys = list(plan.new_authors)
        # An author with no e-mail and no account is nobody else: one per comment, as the live service makes.
        lone = [i for i, (_item, _node, author) in enumerate(plan.comments) if author == ""]
        rows = [self._author_row(plan.new_authors[k], now) for k in keys]
        rows += [self._author_row(plan.comments[i][0], now) for i in lone]
        ids = _allocate_ids(session, "authors", len(rows))
        for row, author_id in zip(rows, ids, strict=True):
            row["id"] = author_id
        insert_rows(session, table("authors"), rows)
        keyed = dict(zip(keys, ids, strict=False))
        insert_rows(session, table("imported_items"), [self._item_row("author", k, i, now) for k, i in keyed.items()])
        lone_ids = dict(zip(lone, ids[len(keys) :], strict=True))
        result = []
        for index, (_item, _node, author) in enumerate(plan.comments):
            result.append(author if isinstance(author, int) else (keyed[author] if author else lone_ids[index]))
        return result

    def _comment_row(
        self,
        comment: tuple[Prepared, Node, int | str],
        comment_id: int,
        author_id: int,
        real: dict[int, int],
        edit_hash: bytes,
        now: datetime,
    ) -> dict[str, Any]:
        record, node, _author = comment
        parent = node.parent_id
        return {
            "id": comment_id,
            "site_id": self.site_id,
            "story_id": node.story_id,
            "parent_id": None if parent is None else (parent if parent > 0 else real[parent]),
            "depth": node.depth,
            "author_id": author_id,
            "status": record.status,
            "body": record.body,
            "html": record.html,
            "markup_version": markup.MARKUP_VERSION,
            "edit_token_hash": edit_hash,
            "created_at": record.created_at,
            "reaction_count": 0,
            "reply_count": node.reply_count,
            "featured": False,
            # One object for every row: the bulk insert serialises a value shared by all rows once.
            "moderation_reasons": self.reasons,
            "moderation_scores": _NO_SCORES,
            # The source's moderators decided on it; a comment still waiting there waits here.
            "reviewed_at": None if record.status == CommentStatus.PENDING else now,
        }

    def _identity(self, comment: Prepared) -> str:
        assert self.secret_key is not None
        return intake.identity_key(
            secret_key=self.secret_key,
            site_id=self.site_id,
            reader_key="",
            name=comment.author_name,
            email=comment.author_email,
        )

    def _author_row(self, comment: Prepared, now: datetime) -> dict[str, Any]:
        """The authors row of a comment's author."""
        return {
            "identity_key": self._identity(comment) if self.secret_key and comment.author_email else None,
            "site_id": self.site_id,
            "display_name": comment.author_name,
            "email": comment.author_email,
            "website": comment.author_website,
            "created_at": now,
        }

    def _item_row(self, kind: str, source_id: str, target_id: int, now: datetime) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "source": self.source,
            "kind": kind,
            "source_id": source_id,
            "target_id": target_id,
            "created_at": now,
        }

    def _count(self, plan: _Batch) -> None:
        self.report.created["comments"] += len(plan.comments)
        self.report.created["authors"] += len(plan.new_authors) + sum(1 for c in plan.comments if c[2] == "")
        if self.dry_run:
            self.planned_authors.update((k, self._temp_id()) for k in plan.new_authors)


def _missing_parent(parent_id: str, skipped: str | None) -> str:
    """Why a reply comes over as a top-level comment."""
    if skipped is None:
        return f"its parent {parent_id} is not in the file; imported as a top-level comment"
    return f"its parent {parent_id} was skipped ({skipped}); imported as a top-level comment"


_NO_SCORES: dict[str, float] = {}
# The list of an IN lookup, one bound parameter: SQLAlchemy coerced each value of a literal list on every call.
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_NODE_COLUMNS = (Comment.id, Comment.story_id, Comment.parent_id, Comment.depth, Comment.status, Comment.reply_count)


def _to_node(row: tuple[Any, ...]) -> Node:
    comment_id, story_id, parent_id, depth, status, reply_count = row
    return Node(int(comment_id), int(story_id), parent_id, int(depth), CommentStatus(status), int(reply_count))


def _bulk_pragmas(session: Session) -> None:
    """On SQLite, settings for a bulk load on the import's connections; commits stay as durable as any other.

    A page cache that holds the indexes an import looks up and grows: SQLite's default of 2 MiB made a
    1-million-comment import read the same pages from the file again and again (13% more CPU time). And a
    larger write-ahead log between checkpoints: each batch's commit is fsynced to the log as before, but the
    pages go on to the database file every few batches instead of after every batch, which rewrote the same
    index pages each time (200,000 comments: 60 -> 45 s). Both last as long as the connection.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}"))
        session.execute(text(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}"))


def _allocate_ids(session: Session, name: str, count: int) -> list[int]:
    """`count` new ids for a table, taken inside the write transaction."""
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
            {"table": name, "count": count},
        )
        return [int(value) for (value,) in rows]
    # SQLite: the transaction began with BEGIN IMMEDIATE and holds the only write lock, so nobody else can
    # insert between this read and our insert; the ids are the ones SQLite itself would have given.
    t = table(name)
    start = int(session.scalar(select(func.max(t.c.id))) or 0)
    return list(range(start + 1, start + count + 1))


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


def _unspill(spill: IO[bytes], count: int) -> Iterator[Prepared]:
    for _ in range(count):
        # Our own temporary file, written by this process a moment ago: not untrusted input.
        yield pickle.load(spill)  # noqa: S301


def import_comments(
    *,
    db: Database,
    reader: Reader,
    site_slug: str,
    dry_run: bool = False,
    match_authors: bool = True,
    secret_key: str | None = None,
    progress: Progress | None = None,
    batch_size: int | None = None,
    jobs: int = 1,
    defer_indexes: bool | None = None,
) -> ImportReport:
    """Import a source into a site: check the whole input first, then import it a batch at a time.

    jobs=2: a second process reads and prepares comments while this one plans and writes (see pipeline.py).
    batch_size: comments per transaction; by default BATCH, or BULK_BATCH while the indexes are set aside.
    defer_indexes: build the comments table's secondary indexes once at the end instead of row by row (see
    db/bulk_indexes.py); None: only when the table holds no comment yet, as in a new installation.
    """
    with db.read() as session:
        site = get_site(session=session, slug=site_slug)
    with read_prepared(reader, processes=jobs) as chunks:
        reader.check()
        job = _Import(
            db=db, site=site, reader=reader, dry_run=dry_run, match_authors=match_authors, secret_key=secret_key
        )
        progress = progress or NoProgress()
        deferring = not dry_run and _deferring_indexes(db, defer_indexes)
        batch_size = batch_size or (BULK_BATCH if deferring else BATCH)
        with _fewer_collections(), _indexes_built_after(db, deferring, progress, job.report):
            return job.run(chunks, reader, progress, batch_size)


def _deferring_indexes(db: Database, requested: bool | None) -> bool:
    with db.read() as session:
        if bulk_indexes.missing(session.connection()):
            return True  # an earlier import set them aside and was stopped before it built them: this one will
        if requested is not None:
            return requested
        return session.scalar(select(Comment.id).limit(1)) is None


@contextmanager
def _indexes_built_after(db: Database, deferring: bool, progress: Progress, report: ImportReport) -> Iterator[None]:
    """With deferring: the comments table's secondary indexes are set aside here and built when the import ends,
    whether it succeeded or not (after a crash: by the next import, or `parlour db upgrade`)."""
    if not deferring:
        yield
        return
    with db.write() as session:
        indexes = bulk_indexes.set_aside(session.connection())
    try:
        yield
    finally:
        progress.stage("Building indexes")
        for done, index in enumerate(indexes, start=1):
            # One transaction each: on SQLite the write lock is held for one index at a time.
            with db.write() as session:
                bulk_indexes.build(session.connection(), index)
            progress.update(done=done, total=len(indexes), counts=report.counts())
        report.indexes_built_after = len(indexes)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """An import makes millions of short-lived objects and no cycles worth collecting every 700 allocations:
    with the default thresholds the cycle collector took a tenth of the time."""
    thresholds = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
