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
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import servers
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
from corpus import ORIGIN
from loadgen import time_reads
from procs import wait_quiet
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, create_engine, event, insert, text

from parlour.db.tables import Author, Comment, Story

RESULTS = Path(__file__).resolve().parent / "results"
SITE = "bench"
CHUNK = 20_000
COMMIT_EVERY = 200_000
QUIET_BELOW = 0.10

console = Console() if sys.stdout.isatty() else Console(width=130)


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
    start = history_start()
    task = progress.add_task(database.name, total=len(layout.story))
    with engine.connect() as conn:
        site_id = conn.execute(text("SELECT id FROM sites WHERE slug = :slug"), {"slug": SITE}).scalar_one()
        conn.execute(insert(Story), story_rows(layout, site_id, start))
        inserted = 0
        for batch in batches(layout, bodies, site_id, start, CHUNK):
            conn.execute(insert(Author), batch.authors)
            conn.execute(insert(Comment), batch.comments)
            inserted += len(batch.comments)
            progress.advance(task, len(batch.comments))
            if inserted % COMMIT_EVERY == 0:
                conn.commit()
        conn.commit()
        # Move everything from the WAL into the database file, so its size is the real one.
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def measure(workdir: Path, database: Path, env: dict[str, str], requests: int) -> dict[str, Any]:
    """Thread reads with Parlour's page cache off (every read queries the database), then on."""
    results: dict[str, Any] = {}
    for label, extra in (("uncached", {"PARLOUR_THREAD_CACHE_ENTRIES": "0"}), ("cached", {})):
        server = servers.start_parlour(workdir, {**env, **extra})
        try:
            # Other processes on the same cores would distort the figure: wait for quiet (bounded).
            busy = wait_quiet(threshold=QUIET_BELOW, max_wait=120)
            timing, page = time_reads(server.base_url, SITE, THREAD_PATH, requests, max_seconds=120)
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
            engine = bulk_engine(database)
            with engine.connect() as conn:
                rows = check_consistency(conn)
            engine.dispose()
            ok = is_consistent(rows)
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
