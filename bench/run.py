"""Parlour against Isso 0.14.0 on the same corpus, the same machine and the same load.

    .venv/bin/python bench/run.py [--sizes 10,1000,10000] [--duration 10] [--quick]

Starts both servers with 2 workers on loopback ports, seeds identical threads through their HTTP
APIs, loads them with wrk, prints a table and writes bench/results/latest.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import loadgen
import servers
from apis import Api, IssoApi, ParlourApi, Request
from corpus import ORIGIN, make_thread, sample_bodies, story_path, story_url
from procs import RssSampler, Server, tree_cpu_seconds, tree_hwm_kib, tree_rss_kib, wait_idle, wait_quiet
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from seeding import Thread, seed

RESULTS = Path(__file__).resolve().parent / "results"
SITE = "bench"
COUNT_URLS = 20
FILLER_SIZE = 5
POSTING_PATH = "/t/posting"
WARMUP_REQUESTS = 10
WARMUP_SECONDS = 5.0
# How long a server may go on with queued requests after a load before it is restarted.
IDLE_WAIT = 60.0
# Share of all CPUs that other processes may use before a figure starts.
QUIET_BELOW = 0.10

# Wide enough for the tables when the output goes to a file or a pipe.
console = Console() if sys.stdout.isatty() else Console(width=130)


@dataclass
class Options:
    sizes: list[int]
    duration: float
    connections: int
    post_connections: int
    max_posts: int
    systems: list[str]
    quiet_wait: float
    output: Path
    keep: bool


@dataclass
class System:
    """A running server with its API adapter, and the memory it peaked at under load."""

    api: Api
    server: Server
    db_path: Path
    restart: Callable[[], Server]
    restarts: int = 0
    peak_rss_kib: int = 0
    idle_rss_kib: int = 0
    ids: dict[str, list[int]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.api.name


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,1000,10000", help="thread sizes, comma-separated")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per figure")
    parser.add_argument("--quick", action="store_true", help="sizes 10,1000, 3 s per figure, 300 posts")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections for reads")
    parser.add_argument("--post-connections", type=int, default=8, help="wrk connections for posting")
    parser.add_argument("--max-posts", type=int, default=2000, help="upper bound of comments posted")
    parser.add_argument("--systems", default="parlour,isso", help="which servers to run")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="seconds to wait, before each figure, for other processes to leave the CPUs idle",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, logs)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    duration, max_posts = args.duration, args.max_posts
    if args.quick:
        sizes, duration, max_posts = [s for s in sizes if s <= 1000] or [10], min(duration, 3.0), 300
    if not 1 <= duration <= 120 or not 1 <= max_posts <= 100_000 or any(not 1 <= s <= 100_000 for s in sizes):
        parser.error("keep --duration within 1-120 s, --max-posts and sizes within 1-100000")
    return Options(
        sizes=sizes,
        duration=duration,
        connections=args.connections,
        post_connections=args.post_connections,
        max_posts=max_posts,
        systems=[s.strip() for s in args.systems.split(",") if s.strip()],
        quiet_wait=max(0.0, min(args.quiet_wait, 600.0)),
        output=args.output,
        keep=args.keep,
    )


def corpus_threads(sizes: list[int]) -> list[Thread]:
    """The measured threads, small filler stories so the counts query names 20 real stories, and
    the posting story with one comment (Isso cannot take concurrent first posts on a new thread)."""
    threads = [Thread(story_path(size), make_thread(size)) for size in sizes]
    for k in range(max(0, COUNT_URLS - len(threads))):
        threads.append(Thread(f"/t/front-{k}", make_thread(FILLER_SIZE, seed=f"front-{k}")))
    threads.append(Thread(POSTING_PATH, make_thread(1, seed="posting")))
    return threads


@contextmanager
def running(options: Options, workdir: Path) -> Iterator[list[System]]:
    """Start the chosen servers, and always stop them (and only them) afterwards."""
    systems: list[System] = []
    try:
        for name in options.systems:
            console.print(f"[bold]starting {name}[/] with {servers.WORKERS} workers")
            if name == "parlour":
                env = servers.prepare_parlour(workdir / "parlour.db", ORIGIN, SITE)
                start: Callable[[], Server] = functools.partial(servers.start_parlour, workdir, env)
                systems.append(System(ParlourApi(site=SITE), start(), workdir / "parlour.db", start))
            elif name == "isso":
                start = functools.partial(servers.start_isso, workdir, ORIGIN)
                systems.append(System(IssoApi(), start(), workdir / "isso.db", start))
            else:
                raise SystemExit(f"unknown system {name!r}")
            systems[-1].idle_rss_kib = tree_rss_kib(systems[-1].server.pid)
        yield systems
    finally:
        for system in systems:
            system.server.stop()


def seed_all(systems: list[System], threads: list[Thread]) -> None:
    """Seed every server at once (they share the 2 cores, which only matters for seeding time)."""
    total = sum(len(t.comments) for t in threads)
    columns = (
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("comments"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:

        async def seed_one(system: System) -> None:
            task = progress.add_task(system.name, total=total)

            def advance() -> None:
                progress.advance(task)

            system.ids = await seed(system.server.base_url, system.api, threads, advance)

        async def seed_every() -> None:
            await asyncio.gather(*(seed_one(s) for s in systems))

        started = time.monotonic()
        asyncio.run(seed_every())
    console.print(f"seeded {total} comments into each server in {time.monotonic() - started:.0f}s")


def fetch(system: System, request: Request) -> httpx.Response:
    with httpx.Client(base_url=system.server.base_url, timeout=120.0) as client:
        return client.request(request.method, request.path, headers=request.headers, content=request.body)


def check_counts(systems: list[System], threads: list[Thread]) -> dict[str, Any]:
    """Both servers must report the seeded sizes before any figure means anything."""
    expected = [len(t.comments) for t in threads]
    reported: dict[str, Any] = {}
    for system in systems:
        response = fetch(system, system.api.counts([t.path for t in threads]))
        response.raise_for_status()
        reported[system.name] = response.json()
        counts = _count_list(reported[system.name], [t.path for t in threads])
        status = "[green]ok[/]" if counts == expected else f"[red]expected {expected}[/]"
        console.print(f"{system.name} counts after seeding: {counts} {status}")
    return reported


def _count_list(answer: Any, paths: list[str]) -> list[int]:
    """Isso answers a list in request order; Parlour {"counts": {url as given: count}}."""
    if isinstance(answer, dict):
        return [int(answer["counts"].get(story_url(p), -1)) for p in paths]
    return [int(n) for n in answer]


@dataclass(frozen=True)
class WarmUp:
    """The last warm-up answer, and the fastest warm-up request: latency with no queueing."""

    response: httpx.Response
    alone_ms: float


def warm_up(server: Server, request: Request) -> WarmUp:
    """A few sequential requests (at most WARMUP_SECONDS' worth): caches filled, answer checked."""
    deadline = time.monotonic() + WARMUP_SECONDS
    fastest = float("inf")
    with httpx.Client(base_url=server.base_url, timeout=120.0) as client:
        for _ in range(WARMUP_REQUESTS):
            started = time.perf_counter()
            probe = client.request(request.method, request.path, headers=request.headers, content=request.body)
            fastest = min(fastest, (time.perf_counter() - started) * 1000)
            if probe.status_code != 200:
                raise RuntimeError(f"{server.name} {request.path} -> {probe.status_code}: {probe.text[:300]}")
            if time.monotonic() > deadline:
                break
    return WarmUp(probe, round(fastest, 2))


def settle(system: System) -> float:
    """Wait until the server has finished the work queued before wrk stopped (sync workers serve
    requests whose clients left). Past IDLE_WAIT seconds, restart it: the next figure must start
    on an idle machine. Returns the seconds this took."""
    started = time.monotonic()
    if not wait_idle(system.server.pid, max_wait=IDLE_WAIT):
        console.print(f"  {system.name} still busy {IDLE_WAIT:.0f}s after the load stopped: restarting it")
        system.server.stop()
        system.server = system.restart()
        system.restarts += 1
    return time.monotonic() - started


@dataclass(frozen=True)
class Run:
    """One wrk run, the server's peak RSS during it, how busy the machine was just before, and what a
    probing reader saw meanwhile (reads only)."""

    result: loadgen.Result
    peak_rss_kib: int
    background_busy: float
    probe: dict[str, Any] | None = None

    def figure(self) -> dict[str, Any]:
        data = self.result.as_dict()
        data.pop("acked_ids")
        extra = {"probe": self.probe} if self.probe else {}
        return {**data, "peak_rss_kib": self.peak_rss_kib, "background_busy": round(self.background_busy, 3), **extra}


def load(
    server: Server,
    script: str,
    url_path: str,
    options: Options,
    workdir: Path,
    probe: Request | None = None,
    **wrk: Any,
) -> Run:
    """One wrk run against `server`, started once the machine is quiet (or --quiet-wait ran out).

    With `probe`, the last of the connections is probe.py's instead of wrk's: the same load in all, and the
    latency of one reader among them measured by a client that gets a CPU when its answer arrives."""
    busy = wait_quiet(threshold=QUIET_BELOW, max_wait=options.quiet_wait)
    if busy > QUIET_BELOW:
        console.print(f"  [yellow]other processes keep the CPUs {busy:.0%} busy: this figure is disturbed[/]")
    if probe is not None:
        wrk["connections"] -= 1
    with RssSampler(server.pid) as sampler:
        prober = loadgen.start_probe(server.base_url, probe, options.duration) if probe is not None else None
        result = loadgen.run_wrk(server.base_url + url_path, script, workdir=workdir, duration=options.duration, **wrk)
        probed = loadgen.finish_probe(prober) if prober is not None else None
    return Run(result, sampler.peak_kib, busy, probed)


def read_script(request: Request) -> str:
    if request.method == "GET":
        return loadgen.get_script(request.headers)
    return loadgen.post_script(request.path, request.headers, request.body or "")


def measure_system(system: System, request: Request, options: Options, workdir: Path) -> dict[str, Any]:
    """Warm up, load for --duration seconds with wrk, then let the server settle."""
    probe = warm_up(system.server, request)
    settle(system)
    run = load(
        system.server,
        read_script(request),
        request.path,
        options,
        workdir,
        probe=request,
        connections=options.connections,
    )
    system.peak_rss_kib = max(system.peak_rss_kib, run.peak_rss_kib)
    drained = settle(system)
    return {
        "request": f"{request.method} {request.path}",
        **run.figure(),
        "response_bytes": len(probe.response.content),
        "alone_ms": probe.alone_ms,
        "settle_s": round(drained, 1),
    }


def thread_read_figures(systems: list[System], options: Options, workdir: Path) -> list[dict[str, Any]]:
    figures = []
    for size in options.sizes:
        path = story_path(size)
        console.print(f"[bold]thread read[/] {size} comments")
        figure: dict[str, Any] = {"figure": f"thread read, {size:,} comments", "kind": "read", "size": size}
        for system in systems:
            figure[system.name] = measure_system(system, system.api.thread_read(path), options, workdir)
        figures.append(figure)
    return figures


def counts_figure(systems: list[System], threads: list[Thread], options: Options, workdir: Path) -> dict[str, Any]:
    paths = [t.path for t in threads][:COUNT_URLS]
    console.print(f"[bold]counts[/] for {len(paths)} URLs")
    figure: dict[str, Any] = {"figure": f"counts, {len(paths)} URLs", "kind": "counts"}
    for system in systems:
        figure[system.name] = measure_system(system, system.api.counts(paths), options, workdir)
    return figure


def posting_figure(systems: list[System], options: Options, workdir: Path) -> dict[str, Any]:
    """New top-level comments on a fresh story from 8 connections, bounded in count and time;
    then every acknowledged id is looked up in the server's own database."""
    console.print(f"[bold]posting[/] up to {options.max_posts} comments, {options.post_connections} connections")
    bodies = sample_bodies(200)
    figure: dict[str, Any] = {"figure": "posting", "kind": "post"}
    threads = min(2, options.post_connections)
    per_thread = max(1, options.max_posts // threads)
    for system in systems:
        requests = [
            system.api.new_comment(POSTING_PATH, body=body, author=f"Reader {i}", parent=None)
            for i, body in enumerate(bodies)
        ]
        path, headers = requests[0].path, requests[0].headers
        script = loadgen.bounded_post_script(path, headers, [r.body or "" for r in requests], per_thread)
        settle(system)
        cpu_before, restarts = tree_cpu_seconds(system.server.pid), system.restarts
        run = load(system.server, script, path, options, workdir, connections=options.post_connections, threads=threads)
        system.peak_rss_kib = max(system.peak_rss_kib, run.peak_rss_kib)
        settle(system)
        # The server's CPU time (master and workers, user and system) for the posts it stored, answered or not.
        cpu_seconds = tree_cpu_seconds(system.server.pid) - cpu_before
        result = run.result
        unique_ids = sorted(set(result.acked_ids))
        stored = stored_comments(system, unique_ids)
        check = {
            "acked_ids_unique": len(unique_ids),
            # The same id acknowledged for two different POSTs: one author got another's comment.
            "acked_ids_duplicated": len(result.acked_ids) - len(unique_ids),
            "acked_missing": len(unique_ids) - stored["acked_found"],
            # Answers lost in flight when wrk stopped; stored all the same.
            "stored_unacked": max(0, stored["posted_rows"] - result.acked),
        }
        ok = (
            check["acked_missing"] == 0 and check["acked_ids_duplicated"] == 0 and stored["posted_rows"] >= result.acked
        )
        measured = stored["posted_rows"] and system.restarts == restarts  # a restart lost the first process's time
        cpu_ms_per_post = round(cpu_seconds * 1000 / stored["posted_rows"], 2) if measured else None
        console.print(
            f"  {system.name}: acknowledged {result.acked}, stored {stored['posted_rows']}, "
            f"acknowledged ids missing {check['acked_missing']}, "
            f"ids acknowledged twice {check['acked_ids_duplicated']} "
            + ("[green]ok[/]" if ok else "[red]NOT OK[/]")
            + f"; server CPU {_ms(cpu_ms_per_post)} ms a post"
        )
        figure[system.name] = {**run.figure(), **stored, **check, "cpu_ms_per_post": cpu_ms_per_post}
    return figure


def stored_comments(system: System, acked_ids: list[int]) -> dict[str, int]:
    """Rows posted to the posting story, and how many acknowledged ids exist, read from the database file."""
    with sqlite3.connect(f"file:{system.db_path}?mode=ro", uri=True) as db:
        if system.name == "isso":
            story_rows = db.execute(
                "SELECT COUNT(*) FROM comments JOIN threads ON comments.tid = threads.id WHERE threads.uri = ?",
                (POSTING_PATH,),
            ).fetchone()[0]
        else:
            story_rows = db.execute(
                "SELECT COUNT(*) FROM comments JOIN stories ON comments.story_id = stories.id WHERE stories.url = ?",
                (story_url(POSTING_PATH),),
            ).fetchone()[0]
        found = 0
        for start in range(0, len(acked_ids), 500):
            chunk = acked_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found += db.execute(f"SELECT COUNT(*) FROM comments WHERE id IN ({marks})", chunk).fetchone()[0]  # noqa: S608
    # The story held one seeded comment before the posting run.
    return {"posted_rows": int(story_rows) - 1, "acked_found": int(found)}


def nginx_figure(parlour: System, options: Options, workdir: Path) -> dict[str, Any]:
    """The exact bytes of Parlour's thread page, as a static file: what the hardware allows."""
    size = 1000 if 1000 in options.sizes else options.sizes[len(options.sizes) // 2]
    body = fetch(parlour, parlour.api.thread_read(story_path(size))).content
    console.print(f"[bold]nginx static[/] {len(body):,} bytes (Parlour's {size}-comment thread page)")
    nginx = servers.start_nginx(workdir, {"thread.json": body})
    try:
        request = Request("GET", "/thread.json", {})
        probe = warm_up(nginx, request)
        wait_idle(nginx.pid)
        run = load(
            nginx, read_script(request), request.path, options, workdir, probe=request, connections=options.connections
        )
        data = {**run.figure(), "response_bytes": len(probe.response.content), "alone_ms": probe.alone_ms}
    finally:
        nginx.stop()
    return {"figure": f"nginx static, {size:,}-comment page", "kind": "static", "size": size, "nginx": data}


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def add_ratios(figures: list[dict[str, Any]], nginx: dict[str, Any] | None) -> None:
    for figure in figures:
        if "parlour" in figure and "isso" in figure:
            figure["parlour_over_isso_rps"] = ratio(figure["parlour"]["rps"], figure["isso"]["rps"])
            figure["isso_over_parlour_p99"] = ratio(figure["isso"]["p99_ms"] or 0, figure["parlour"]["p99_ms"] or 0)
        if nginx and "parlour" in figure and figure.get("kind") == "read" and figure.get("size") == nginx["size"]:
            figure["parlour_over_nginx_rps"] = ratio(figure["parlour"]["rps"], nginx["nginx"]["rps"])
            nginx["parlour_over_nginx_rps"] = figure["parlour_over_nginx_rps"]


def print_table(figures: list[dict[str, Any]], systems: list[System]) -> None:
    table = Table(
        title=f"Parlour vs Isso {servers.ISSO_VERSION}: {servers.WORKERS} workers each, loopback, wrk",
        caption="alone: the fastest of the sequential warm-up requests, with no other load; probe: one reader's "
        "requests every 20 ms over the last of the connections, from a client at a higher priority (bench/probe.py)",
    )
    for name, justify in [("figure", "left"), ("server", "left"), ("req/s", "right"), ("p50 ms", "right")]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for name in ("p99 ms", "probe p50 / p99 ms", "alone ms", "response", "errors", "Parlour/other req/s"):
        table.add_column(name, justify="right")
    for figure in figures:
        first = True
        for name in ("parlour", "isso", "nginx"):
            data = figure.get(name)
            if data is None:
                continue
            table.add_row(
                figure["figure"] if first else "",
                name,
                f"{data['rps']:,.1f}" if data["rps"] < 100 else f"{data['rps']:,.0f}",
                _ms(data["p50_ms"]),
                _ms(data["p99_ms"]),
                _probe(data.get("probe")),
                _ms(data.get("alone_ms")),
                _size(data.get("response_bytes")),
                _errors(data),
                _times(_ratio_for(figure, name)),
                end_section=name == "nginx" or (name == "isso"),
            )
            first = False
    console.print(table)
    memory = Table(title="Memory: RSS summed over master and workers")
    for name in ("server", "idle MiB", "peak under load MiB", "sum of VmHWM MiB"):
        memory.add_column(name, justify="left" if name == "server" else "right")
    for system in systems:
        memory.add_row(
            system.name,
            f"{system.idle_rss_kib / 1024:.0f}",
            f"{system.peak_rss_kib / 1024:.0f}",
            f"{tree_hwm_kib(system.server.pid) / 1024:.0f}",
        )
    console.print(memory)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _probe(probe: dict[str, Any] | None) -> str:
    if not probe:
        return "-"
    return f"{_ms(probe['p50_ms'])} / {_ms(probe['p99_ms'])}"


def _ratio_for(figure: dict[str, Any], name: str) -> float | None:
    if name == "isso":
        return figure.get("parlour_over_isso_rps")
    if name == "nginx":
        return figure.get("parlour_over_nginx_rps")
    return None


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1024:,.1f} KiB" if value >= 1024 else f"{value} B"


def _errors(data: dict[str, Any]) -> str:
    errors = sum(data["errors"].values())
    return f"[red]{errors}[/]" if errors else "0"


def _times(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}x"


def parlour_revision() -> str | None:
    """The checked-out commit, read from .git without running git."""
    git = servers.REPO / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return None


def environment(options: Options, command: list[str]) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(command),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()},
        "parlour_revision": parlour_revision(),
        "isso": servers.ISSO_VERSION,
        "gunicorn_for_isso": servers.GUNICORN_VERSION,
        "settings": {
            "sizes": options.sizes,
            "duration_s": options.duration,
            "connections": options.connections,
            "post_connections": options.post_connections,
            "max_posts": options.max_posts,
            "workers": servers.WORKERS,
        },
    }


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    loadgen.require_wrk()
    if "isso" in options.systems:
        console.print("preparing bench/.isso-venv (isso, gunicorn from PyPI) if missing")
        servers.ensure_isso_venv()
    workdir = Path(tempfile.mkdtemp(prefix="parlour-bench-"))
    report = environment(options, [os.path.relpath(sys.executable, servers.REPO), *sys.argv])
    try:
        with running(options, workdir) as systems:
            threads = corpus_threads(options.sizes)
            seed_all(systems, threads)
            report["counts_after_seeding"] = check_counts(systems, threads)
            figures = thread_read_figures(systems, options, workdir)
            figures.append(counts_figure(systems, threads, options, workdir))
            figures.append(posting_figure(systems, options, workdir))
            parlour = next((s for s in systems if s.name == "parlour"), None)
            nginx = nginx_figure(parlour, options, workdir) if parlour else None
            add_ratios(figures, nginx)
            if nginx:
                figures.append(nginx)
            print_table(figures, systems)
            report["figures"] = figures
            report["memory_kib"] = {
                s.name: {"idle_rss": s.idle_rss_kib, "peak_rss": s.peak_rss_kib, "hwm_sum": tree_hwm_kib(s.server.pid)}
                for s in systems
            }
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
