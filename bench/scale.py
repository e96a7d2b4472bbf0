"""Parlour on PostgreSQL + Redis and on SQLite, with 2 workers, on a small and a big database.

    .venv/bin/python bench/scale.py [--backends postgres,sqlite] [--comments 5000000] [--stories 50000]

For each backend it builds two databases with `parlour db upgrade` and `parlour site create`: "small"
holds only run.py's 1,000-comment thread, "big" holds that thread spread through the history of
--comments comments over --stories stories (bulk.py, as million.py). PostgreSQL rows go in with COPY;
SQLite rows with million.py's executemany. Then, against `parlour serve --workers 2` on each database:
sequential reads of the thread with the page cache off (does read time grow with the database?), wrk
loads of the thread read with the cache off and on, counts for 20 URLs, and posting with the model
scoring each post inline, every acknowledged id looked up afterwards. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import loadgen
import psycopg
import redis
import servers
from apis import ParlourApi
from bulk import (
    THREAD_PATH,
    THREAD_SIZE,
    Bodies,
    Plan,
    batches,
    check_consistency,
    history_start,
    is_consistent,
    plan,
    story_rows,
)
from corpus import ORIGIN, sample_bodies, story_url
from million import insert_plan
from procs import Server, wait_idle, wait_quiet
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from run import parlour_revision
from sqlalchemy import create_engine, func, select

from parlour.db.tables import Comment, Story

RESULTS = Path(__file__).resolve().parent / "results"
SITE = "bench"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/15"
COUNT_URLS = 20
POSTING_PATH = "/t/posting"
COPY_CHUNK = 20_000
QUIET_BELOW = 0.10
IDLE_WAIT = 60.0
UNCACHED = {"PARLOUR_THREAD_CACHE_ENTRIES": "0"}

console = Console() if sys.stdout.isatty() else Console(width=140)


@dataclass(frozen=True)
class Options:
    backends: list[str]
    comments: int
    stories: int
    duration: float
    requests: int
    max_posts: int
    quiet_wait: float
    output: Path
    keep: bool


@dataclass
class Database:
    """One database under test: its backend, size label, SQLAlchemy URL and the server's environment."""

    backend: str
    size: str
    url: str
    env: dict[str, str]


class Backend(Protocol):
    name: str

    def create(self, size: str) -> str: ...

    def load(self, url: str, layout: Plan, bodies: Bodies, progress: Progress) -> None: ...

    def size_bytes(self, url: str) -> int: ...

    def server_env(self) -> dict[str, str]: ...

    def drop(self, url: str) -> None: ...


class SqliteBackend:
    """A file per database; no Redis: one machine, as a regional paper runs it."""

    name = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def create(self, size: str) -> str:
        return f"sqlite:///{self.workdir / f'{size}.db'}"

    def load(self, url: str, layout: Plan, bodies: Bodies, progress: Progress) -> None:
        insert_plan(_sqlite_path(url), layout, bodies, progress)

    def size_bytes(self, url: str) -> int:
        return _sqlite_path(url).stat().st_size

    def server_env(self) -> dict[str, str]:
        return {}

    def drop(self, url: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(str(_sqlite_path(url)) + suffix).unlink(missing_ok=True)


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


class PostgresBackend:
    """A fresh database per size on the local server (trust auth, user postgres), with Redis for
    rate limits and live-update fan-out."""

    name = "postgres"

    def __init__(self, admin_url: str, redis_url: str) -> None:
        self.admin_url = admin_url
        self.redis_url = redis_url

    def create(self, size: str) -> str:
        name = f"parlour_bench_{os.getpid()}_{size}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self._url(name)

    def _url(self, name: str) -> str:
        admin = psycopg.conninfo.conninfo_to_dict(self.admin_url)
        return f"postgresql+psycopg://{admin.get('user', 'postgres')}@{admin['host']}:{admin.get('port', 5432)}/{name}"

    def load(self, url: str, layout: Plan, bodies: Bodies, progress: Progress) -> None:
        copy_plan(_libpq_url(url), layout, bodies, progress, task_name=f"pg {url.rsplit('_', 1)[-1]}")

    def size_bytes(self, url: str) -> int:
        with psycopg.connect(_libpq_url(url)) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0

    def server_env(self) -> dict[str, str]:
        return {"PARLOUR_REDIS_URL": self.redis_url}

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def copy_plan(dsn: str, layout: Plan, bodies: Bodies, progress: Progress, task_name: str) -> None:
    """Stories, authors and comments through COPY, in one transaction. Secondary indexes are dropped
    first and built again at the end, and foreign-key triggers are off while loading (the consistency
    checks run afterwards); both make the load several times faster."""
    start = history_start()
    task = progress.add_task(task_name, total=len(layout.story))
    with psycopg.connect(dsn) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET synchronous_commit = off")
        site_row = conn.execute("SELECT id FROM sites WHERE slug = %s", (SITE,)).fetchone()
        if site_row is None:
            raise RuntimeError(f"site {SITE!r} missing: `parlour site create` did not run")
        site_id = int(site_row[0])
        indexes = _drop_secondary_indexes(conn, ["comments", "authors", "stories"])
        _copy(conn, "stories", story_rows(layout, site_id, start))
        for batch in batches(layout, bodies, site_id, start, COPY_CHUNK):
            _copy(conn, "authors", batch.authors)
            _copy(conn, "comments", [_pg_comment(row) for row in batch.comments])
            progress.advance(task, len(batch.comments))
        progress.update(task, description=f"{task_name} indexes")
        for statement in indexes:
            conn.execute(statement)  # definitions as pg_indexes gave them
        for table in ("stories", "authors", "comments"):
            # Ids were given explicitly: the server's next INSERT must not reuse one.
            conn.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence({t}, 'id'), (SELECT MAX(id) FROM {i}))").format(
                    t=sql.Literal(table), i=sql.Identifier(table)
                )
            )
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")  # the planner needs statistics of the new rows


def _drop_secondary_indexes(conn: psycopg.Connection[Any], tables: list[str]) -> list[str]:
    """Drop the indexes that back no constraint; returns their definitions, to create them again."""
    rows = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes i WHERE schemaname = 'public' AND tablename = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        (tables,),
    ).fetchall()
    for name, _definition in rows:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    return [definition for _name, definition in rows]


def _pg_comment(row: dict[str, Any]) -> dict[str, Any]:
    # COPY's text format takes JSON columns as JSON text and the status as its stored string.
    return {
        **row,
        "status": str(row["status"].value),
        "moderation_reasons": json.dumps(row["moderation_reasons"]),
        "moderation_scores": json.dumps(row["moderation_scores"]),
    }


def _copy(conn: psycopg.Connection[Any], table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(tuple(row.values()))


def flush_redis(url: str) -> None:
    """Empty the benchmark's own Redis database, so no run sees another's rate limits or messages."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def build(
    backend: Backend, url: str, size: str, layout: Plan, bodies: Bodies, progress: Progress
) -> tuple[Database, float]:
    """Migrate and fill one new database; returns it and the seconds the build took."""
    started = time.monotonic()
    env = servers.prepare_parlour(url, ORIGIN, SITE)
    backend.load(url, layout, bodies, progress)
    database = Database(backend.name, size, url, {**env, **backend.server_env()})
    return database, time.monotonic() - started


@contextmanager
def serving(database: Database, workdir: Path, extra: dict[str, str] | None = None) -> Iterator[Server]:
    """`parlour serve --workers 2` on the database, stopped (only it) whatever happens."""
    if "PARLOUR_REDIS_URL" in database.env:
        flush_redis(database.env["PARLOUR_REDIS_URL"])
    server = servers.start_parlour(workdir, {**database.env, **(extra or {})})
    try:
        yield server
    finally:
        server.stop()


def quiet(options: Options) -> float:
    busy = wait_quiet(threshold=QUIET_BELOW, max_wait=options.quiet_wait)
    if busy > QUIET_BELOW:
        console.print(f"  [yellow]other processes keep the CPUs {busy:.0%} busy: this figure is disturbed[/]")
    return round(busy, 3)


def wrk_figure(server: Server, script: str, path: str, options: Options, workdir: Path, **wrk: Any) -> dict[str, Any]:
    """One wrk load, started once the server is idle and the machine quiet (bounded waits)."""
    wait_idle(server.pid, max_wait=IDLE_WAIT)
    busy = quiet(options)
    result = loadgen.run_wrk(server.base_url + path, script, workdir=workdir, duration=options.duration, **wrk)
    figure = result.as_dict()
    figure.pop("acked_ids")
    return {**figure, "background_busy": busy, "load_average": os.getloadavg()[0]}


def check_get(server: Server, path: str, headers: dict[str, str]) -> int:
    """One request before a load: the answer must be 200; returns its size."""
    with httpx.Client(base_url=server.base_url, timeout=60.0) as client:
        response = client.get(path, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"{path} -> {response.status_code}: {response.text[:300]}")
    return len(response.content)


def sequential(server: Server, options: Options) -> tuple[dict[str, Any], list[str]]:
    busy = quiet(options)
    timing, page = loadgen.time_reads(server.base_url, SITE, THREAD_PATH, options.requests, max_seconds=120)
    return {**timing.__dict__, "background_busy": busy}, [c["html"] for c in page["comments"]]


def count_paths() -> list[str]:
    """The measured thread and 19 filler stories (stories the small database lacks count 0)."""
    filler = [f"/s/{k}" for k in range(COUNT_URLS - 1)]
    return [THREAD_PATH, *filler]


def measure(database: Database, options: Options, workdir: Path) -> dict[str, Any]:
    api = ParlourApi(site=SITE)
    read = api.thread_read(THREAD_PATH)
    results: dict[str, Any] = {}
    with serving(database, workdir, UNCACHED) as server:
        console.print(f"  {database.backend}/{database.size}: sequential reads, page cache off")
        results["sequential_uncached"], first_page = sequential(server, options)
        console.print(f"  {database.backend}/{database.size}: thread read, page cache off")
        results["response_bytes"] = check_get(server, read.path, read.headers)
        results["read_uncached"] = wrk_figure(
            server, loadgen.get_script(read.headers), read.path, options, workdir, connections=32
        )
    with serving(database, workdir) as server:
        console.print(f"  {database.backend}/{database.size}: thread read, page cache on")
        check_get(server, read.path, read.headers)
        results["read_cached"] = wrk_figure(
            server, loadgen.get_script(read.headers), read.path, options, workdir, connections=32
        )
        results["sequential_cached"], _ = sequential(server, options)
        counts = api.counts(count_paths())
        console.print(f"  {database.backend}/{database.size}: counts for {COUNT_URLS} URLs")
        check_get(server, counts.path, counts.headers)
        results["counts"] = wrk_figure(
            server, loadgen.get_script(counts.headers), counts.path, options, workdir, connections=32
        )
        console.print(f"  {database.backend}/{database.size}: posting, up to {options.max_posts} comments")
        results["posting"] = posting(server, database, options, workdir)
    results["first_page_html"] = first_page
    return results


def posting(server: Server, database: Database, options: Options, workdir: Path) -> dict[str, Any]:
    """New top-level comments from 8 connections, bounded in count and time; then every acknowledged
    id is looked up in the database, and the story's rows counted: nothing lost, nothing twice."""
    api = ParlourApi(site=SITE)
    first = api.new_comment(POSTING_PATH, body="The story's first comment.", author="Reader", parent=None)
    with httpx.Client(base_url=server.base_url, timeout=60.0) as client:
        client.post(first.path, headers=first.headers, content=first.body).raise_for_status()
    requests = [
        api.new_comment(POSTING_PATH, body=body, author=f"Reader {i}", parent=None)
        for i, body in enumerate(sample_bodies(200, seed="scale"))
    ]
    script = loadgen.bounded_post_script(
        requests[0].path, requests[0].headers, [r.body or "" for r in requests], max(1, options.max_posts // 2)
    )
    wait_idle(server.pid, max_wait=IDLE_WAIT)
    busy = quiet(options)
    result = loadgen.run_wrk(
        server.base_url + requests[0].path, script, workdir=workdir, duration=options.duration, connections=8
    )
    wait_idle(server.pid, max_wait=IDLE_WAIT)
    unique = sorted(set(result.acked_ids))
    engine = create_engine(database.url)
    with engine.connect() as conn:
        counted = select(func.count()).select_from(Comment)
        found = sum(
            conn.execute(counted.where(Comment.id.in_(unique[k : k + 500]))).scalar_one()
            for k in range(0, len(unique), 500)
        )
        story_rows_now = conn.execute(
            select(func.count())
            .select_from(Comment)
            .join(Story, Comment.story_id == Story.id)
            .where(Story.url == story_url(POSTING_PATH))
        ).scalar_one()
    engine.dispose()
    figure = result.as_dict()
    figure.pop("acked_ids")
    check = {
        "posted_rows": int(story_rows_now) - 1,
        "acked_missing": len(unique) - int(found),
        "acked_ids_duplicated": len(result.acked_ids) - len(unique),
    }
    check["stored_unacked"] = max(0, check["posted_rows"] - result.acked)
    ok = check["acked_missing"] == 0 and check["acked_ids_duplicated"] == 0 and check["posted_rows"] >= result.acked
    console.print(
        f"    acknowledged {result.acked}, stored {check['posted_rows']}, missing {check['acked_missing']}, "
        f"twice {check['acked_ids_duplicated']} " + ("[green]ok[/]" if ok else "[red]NOT OK[/]")
    )
    return {**figure, **check, "nothing_lost": ok, "background_busy": busy, "load_average": os.getloadavg()[0]}


def consistency(database: Database) -> dict[str, int]:
    engine = create_engine(database.url)
    with engine.connect() as conn:
        rows = check_consistency(conn)
    engine.dispose()
    return rows


def run_backend(backend: Backend, options: Options, bodies: Bodies, workdir: Path) -> dict[str, Any]:
    """Build both databases of a backend, measure each, and drop them (unless --keep)."""
    layouts = {"small": plan(THREAD_SIZE, 0), "big": plan(options.comments, options.stories)}
    created: list[str] = []
    report: dict[str, Any] = {}
    columns = (TextColumn("{task.description:>16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        for size, layout in layouts.items():
            created.append(backend.create(size))
            with Progress(*columns, console=console) as progress:
                database, seconds = build(backend, created[-1], size, layout, bodies, progress)
            rows = consistency(database)
            ok = is_consistent(rows)
            console.print(
                f"{backend.name}/{size}: built in {seconds:.0f}s, {rows} "
                + ("[green]consistent[/]" if ok else "[red]INCONSISTENT[/]")
            )
            report[size] = {
                "rows": rows,
                "consistent": ok,
                "build_seconds": round(seconds, 1),
                "database_bytes": backend.size_bytes(database.url),
                "load_average_after_build": os.getloadavg()[0],
            }
            report[size]["figures"] = measure(database, options, workdir)
    finally:
        for url in created:
            if options.keep:
                console.print(f"kept {url}")
            else:
                backend.drop(url)
    small, big = (report[s]["figures"].pop("first_page_html") for s in ("small", "big"))
    report["same_first_page"] = small == big
    return report


def versions(options: Options) -> dict[str, Any]:
    found: dict[str, Any] = {"python": platform.python_version(), "kernel": platform.release()}
    if "postgres" in options.backends:
        with psycopg.connect(PG_ADMIN_URL) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        found["postgresql"] = row[0] if row else None
        client = redis.Redis.from_url(REDIS_URL)
        try:
            found["redis"] = client.info("server")["redis_version"]
        finally:
            client.close()
    return found


FIGURES = [
    ("read_uncached", "thread read, page cache off"),
    ("read_cached", "thread read, page cache on"),
    ("counts", f"counts, {COUNT_URLS} URLs"),
    ("posting", "posting, 8 connections"),
]


def print_tables(report: dict[str, Any]) -> None:
    table = Table(title="Parlour, 2 workers, wrk 32 connections (posting 8): the 1,000-comment thread")
    for name in ("backend", "database", "figure", "req/s", "p50 ms", "p99 ms", "errors", "CPU busy before"):
        table.add_column(name, justify="left" if name in {"backend", "database", "figure"} else "right")
    for backend, data in report["backends"].items():
        for size in ("small", "big"):
            figures = data[size]["figures"]
            for key, label in FIGURES:
                f = figures[key]
                table.add_row(
                    backend if key == "read_uncached" and size == "small" else "",
                    f"{size} ({data[size]['rows']['comments']:,})" if key == "read_uncached" else "",
                    label,
                    f"{f['rps']:,.0f}",
                    _ms(f["p50_ms"]),
                    _ms(f["p99_ms"]),
                    str(sum(f["errors"].values())),
                    f"{f['background_busy']:.0%}",
                    end_section=key == "posting",
                )
    console.print(table)
    latency = Table(title="One connection, sequential reads of the thread's first page, page cache off")
    for name in ("backend", "database", "comments", "p50 ms", "p99 ms", "big ÷ small p50"):
        latency.add_column(name, justify="left" if name in {"backend", "database"} else "right")
    for backend, data in report["backends"].items():
        small = data["small"]["figures"]["sequential_uncached"]
        for size in ("small", "big"):
            timing = data[size]["figures"]["sequential_uncached"]
            latency.add_row(
                backend,
                size,
                f"{data[size]['rows']['comments']:,}",
                f"{timing['p50_ms']:.1f}",
                f"{timing['p99_ms']:.1f}",
                f"{timing['p50_ms'] / small['p50_ms']:.2f}×" if size == "big" else "",
            )
    console.print(latency)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def parse_args() -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="postgres,sqlite", help="postgres, sqlite or both, comma-separated")
    parser.add_argument("--comments", type=int, default=5_000_000, help="comments in the big database")
    parser.add_argument("--stories", type=int, default=50_000, help="filler stories in the big database")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of wrk load per figure")
    parser.add_argument("--requests", type=int, default=300, help="sequential reads per latency figure")
    parser.add_argument("--max-posts", type=int, default=2000, help="upper bound of comments posted per database")
    parser.add_argument("--quiet-wait", type=float, default=20.0, help="seconds to wait for a quiet machine")
    parser.add_argument("--output", type=Path, default=RESULTS / "scale.json")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the temporary directory")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or set(backends) - {"postgres", "sqlite"}:
        parser.error("--backends takes postgres, sqlite or both")
    if not 2 * THREAD_SIZE <= args.comments <= 20_000_000 or not 1 <= args.stories <= 1_000_000:
        parser.error(f"--comments within {2 * THREAD_SIZE}-20000000, --stories within 1-1000000")
    if not 1 <= args.duration <= 120 or not 1 <= args.max_posts <= 100_000:
        parser.error("--duration within 1-120 s, --max-posts within 1-100000")
    return Options(
        backends=backends,
        comments=args.comments,
        stories=args.stories,
        duration=args.duration,
        requests=max(10, min(args.requests, 10_000)),
        max_posts=args.max_posts,
        quiet_wait=max(0.0, min(args.quiet_wait, 600.0)),
        output=args.output,
        keep=args.keep,
    )


def main() -> int:
    options = parse_args()
    loadgen.require_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="parlour-scale-"))
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([os.path.relpath(sys.executable, servers.REPO), *sys.argv]),
        "parlour_revision": parlour_revision(),
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()},
        "versions": versions(options),
        "settings": {
            "workers": servers.WORKERS,
            "comments": options.comments,
            "stories": options.stories,
            "duration_s": options.duration,
            "sequential_requests": options.requests,
            "max_posts": options.max_posts,
            "redis": {"postgres": REDIS_URL, "sqlite": None},
        },
        "backends": {},
    }
    try:
        console.print("rendering bodies with Parlour's renderer")
        bodies = Bodies.make()
        for name in options.backends:
            backend: Backend = (
                PostgresBackend(PG_ADMIN_URL, REDIS_URL) if name == "postgres" else SqliteBackend(workdir)
            )
            console.print(f"[bold]{name}[/]: building small (1,000) and big ({options.comments:,}) databases")
            report["backends"][name] = run_backend(backend, options, bodies, workdir)
        report["machine"]["load_average_at_end"] = os.getloadavg()
        print_tables(report)
    finally:
        if options.keep:
            console.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"wrote {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
