"""Does reading a thread slow down as the database grows? The same 1,000-comment thread, read from
a database that holds only it and from one with 1,000,000 comments over 10,000 stories.

    .venv/bin/python bench/million.py [--comments 1000000] [--stories 10000] [--requests 300]

Both databases are made by `parlour db upgrade` and `parlour site create`, then filled by bulk
inserts straight into Parlour's tables (src/parlour/db/tables.py), denormalised columns included.
The measured thread's comments are spread evenly through the big database's history, as a real
thread's rows would be, interleaved with everybody else's. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import servers
from apis import ParlourApi
from corpus import ORIGIN, make_thread, sample_bodies, story_path, story_url
from procs import wait_quiet
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, create_engine, event, insert, text

from parlour.comments import markup, tokens
from parlour.db.tables import Author, Comment, CommentStatus, Story

RESULTS = Path(__file__).resolve().parent / "results"
SITE = "bench"
THREAD_SIZE = 1000
MAX_DEPTH = 3
TOP_LEVEL_SHARE = 0.6
BODY_POOL = 2000
CHUNK = 20_000
COMMIT_EVERY = 200_000
HISTORY = timedelta(days=365)
WARMUP = 5
QUIET_BELOW = 0.10

console = Console() if sys.stdout.isatty() else Console(width=130)


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


def bulk_engine(database: Path) -> Engine:
    """An engine for loading only: no fsync, a large page cache. The server keeps its own settings."""
    engine = create_engine(f"sqlite:///{database}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-1048576")
        cursor.close()

    return engine


def insert_plan(database: Path, layout: Plan, bodies: Bodies, progress: Progress) -> None:
    """Stories with their final counts, then authors and comments in big executemany batches."""
    engine = bulk_engine(database)
    start = datetime.now(UTC) - HISTORY
    step = HISTORY / max(1, len(layout.story))
    per_story = array("i", bytes(4 * len(layout.story_urls)))
    for s in layout.story:
        per_story[s] += 1
    task = progress.add_task(database.name, total=len(layout.story))
    with engine.connect() as conn:
        site_id = conn.execute(text("SELECT id FROM sites WHERE slug = :slug"), {"slug": SITE}).scalar_one()
        conn.execute(
            insert(Story),
            [
                {
                    "id": k + 1,
                    "site_id": site_id,
                    "url": url,
                    "closed": False,
                    # Every approved comment counted, and one version bump per post, as the server does.
                    "comment_count": per_story[k],
                    "version": per_story[k],
                    "created_at": start,
                }
                for k, url in enumerate(layout.story_urls)
            ],
        )
        for first in range(0, len(layout.story), CHUNK):
            authors, comments = _rows(
                layout, bodies, site_id, start, step, range(first, min(first + CHUNK, len(layout.story)))
            )
            conn.execute(insert(Author), authors)
            conn.execute(insert(Comment), comments)
            if (first + CHUNK) % COMMIT_EVERY == 0:
                conn.commit()
            progress.advance(task, len(comments))
        conn.commit()
        # Move everything from the WAL into the database file, so its size is the real one.
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def _rows(
    layout: Plan, bodies: Bodies, site_id: int, start: datetime, step: timedelta, indices: range
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
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
    return authors, comments


def check_consistency(database: Path) -> dict[str, int]:
    """The denormalised counts must agree with the rows, as the server keeps them."""
    engine = bulk_engine(database)
    with engine.connect() as conn:
        checks = {
            "comments": "SELECT COUNT(*) FROM comments",
            "stories": "SELECT COUNT(*) FROM stories",
            # Grouped once and joined: a correlated sub-query per row takes minutes on 1M rows.
            "bad_story_counts": "SELECT COUNT(*) FROM stories s LEFT JOIN (SELECT story_id, COUNT(*) AS n "
            "FROM comments GROUP BY story_id) c ON c.story_id = s.id WHERE s.comment_count != COALESCE(c.n, 0)",
            "bad_reply_counts": "SELECT COUNT(*) FROM comments p LEFT JOIN (SELECT parent_id, COUNT(*) AS n "
            "FROM comments WHERE parent_id IS NOT NULL GROUP BY parent_id) c ON c.parent_id = p.id "
            "WHERE p.reply_count != COALESCE(c.n, 0)",
            "bad_depths": "SELECT COUNT(*) FROM comments c JOIN comments p ON c.parent_id = p.id "
            "WHERE c.depth != p.depth + 1",
        }
        found = {name: int(conn.execute(text(sql)).scalar_one()) for name, sql in checks.items()}
    engine.dispose()
    return found


@dataclass(frozen=True)
class Timing:
    requests: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float


def time_reads(base_url: str, path: str, requests: int, max_seconds: float) -> tuple[Timing, Any]:
    """Sequential reads over one keep-alive connection: latency without queueing. Bounded in
    count and time. Returns the timing and the last answer."""
    request = ParlourApi(site=SITE).thread_read(path)
    samples: list[float] = []
    deadline = time.monotonic() + max_seconds
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for _ in range(WARMUP):
            client.get(request.path, headers=request.headers).raise_for_status()
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(request.path, headers=request.headers)
            samples.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            if time.monotonic() > deadline:
                break
    samples.sort()

    def pct(q: float) -> float:
        return round(samples[min(len(samples) - 1, int(q * len(samples)))], 2)

    timing = Timing(len(samples), round(statistics.fmean(samples), 2), pct(0.5), pct(0.9), pct(0.99))
    return timing, response.json()


def measure(workdir: Path, database: Path, env: dict[str, str], requests: int) -> dict[str, Any]:
    """Thread reads with Parlour's page cache off (every read queries the database), then on."""
    results: dict[str, Any] = {}
    for label, extra in (("uncached", {"PARLOUR_THREAD_CACHE_ENTRIES": "0"}), ("cached", {})):
        server = servers.start_parlour(workdir, {**env, **extra})
        try:
            # Other processes on the same cores would distort the figure: wait for quiet (bounded).
            busy = wait_quiet(threshold=QUIET_BELOW, max_wait=120)
            timing, page = time_reads(server.base_url, story_path(THREAD_SIZE), requests, max_seconds=120)
        finally:
            server.stop()
        results[label] = {**timing.__dict__, "background_busy": round(busy, 3)}
        results["first_page_html"] = [c["html"] for c in page["comments"]]
        results["total"] = page.get("total")
    return results


def build(
    workdir: Path, name: str, total: int, stories: int, bodies: Bodies, progress: Progress
) -> tuple[Path, dict[str, str]]:
    database = workdir / f"{name}.db"
    env = servers.prepare_parlour(database, ORIGIN, SITE)
    insert_plan(database, plan(total, stories), bodies, progress)
    return database, env


def build_both(workdir: Path, comments: int, stories: int) -> tuple[tuple[Path, dict[str, str]], ...]:
    console.print("rendering bodies with Parlour's renderer")
    bodies = Bodies.make()
    columns = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        started = time.monotonic()
        small = build(workdir, "small", THREAD_SIZE, 0, bodies, progress)
        big = build(workdir, "big", comments, stories, bodies, progress)
    console.print(f"built both databases in {time.monotonic() - started:.0f}s")
    return small, big


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=1_000_000, help="comments in the big database")
    parser.add_argument("--stories", type=int, default=10_000, help="filler stories in the big database")
    parser.add_argument("--requests", type=int, default=300, help="sequential reads per measurement")
    parser.add_argument("--output", type=Path, default=RESULTS / "million.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and databases")
    parser.add_argument(
        "--reuse", type=Path, help="measure the small.db and big.db that an earlier --keep run left in this directory"
    )
    args = parser.parse_args()
    if not 2 * THREAD_SIZE <= args.comments <= 5_000_000 or not 1 <= args.stories <= 1_000_000:
        parser.error(f"--comments within {2 * THREAD_SIZE}-5000000, --stories within 1-1000000")
    args.requests = max(10, min(args.requests, 10_000))
    return args


def report_table(results: dict[str, Any]) -> None:
    table = Table(title=f"Reading the same {THREAD_SIZE:,}-comment thread (first page, sort=oldest, limit=20)")
    for column in ("database", "comments", "file", "cache", "mean ms", "p50 ms", "p90 ms", "p99 ms"):
        table.add_column(column, justify="left" if column in {"database", "cache"} else "right")
    for name in ("small", "big"):
        data = results[name]
        for label in ("uncached", "cached"):
            t = data["reads"][label]
            table.add_row(
                name if label == "uncached" else "",
                f"{data['rows']['comments']:,}" if label == "uncached" else "",
                f"{data['file_bytes'] / 2**20:,.0f} MiB" if label == "uncached" else "",
                label,
                f"{t['mean_ms']:.2f}",
                f"{t['p50_ms']:.2f}",
                f"{t['p90_ms']:.2f}",
                f"{t['p99_ms']:.2f}",
            )
    console.print(table)
    for label in ("uncached", "cached"):
        ratio = results["big"]["reads"][label]["p50_ms"] / results["small"]["reads"][label]["p50_ms"]
        console.print(f"{label}: big/small p50 = {ratio:.2f}x")


def main() -> int:
    args = parse_args()
    workdir = args.reuse or Path(tempfile.mkdtemp(prefix="parlour-million-"))
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([os.path.relpath(sys.executable, servers.REPO), *sys.argv]),
        "cpus": os.cpu_count(),
    }
    try:
        if args.reuse:
            small = workdir / "small.db", servers.parlour_env(workdir / "small.db")
            big = workdir / "big.db", servers.parlour_env(workdir / "big.db")
        else:
            small, big = build_both(workdir, args.comments, args.stories)
        for name, (database, env) in (("small", small), ("big", big)):
            rows = check_consistency(database)
            ok = rows["bad_story_counts"] == rows["bad_reply_counts"] == rows["bad_depths"] == 0
            console.print(f"{name}: {rows} " + ("[green]consistent[/]" if ok else "[red]INCONSISTENT[/]"))
            console.print(f"measuring {name}: {args.requests} sequential reads, page cache off then on")
            reads = measure(workdir, database, env, args.requests)
            results[name] = {"rows": rows, "file_bytes": database.stat().st_size, "reads": reads}
        same = results["small"]["reads"].pop("first_page_html") == results["big"]["reads"].pop("first_page_html")
        results["same_first_page"] = same
        console.print("same first page from both databases: " + ("[green]yes[/]" if same else "[red]NO[/]"))
        report_table(results)
    finally:
        if args.keep or args.reuse:
            console.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
