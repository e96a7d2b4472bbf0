"""Importing a generated Disqus export with `parlour import disqus`, then `parlour export` of the same site.

    .venv/bin/python bench/import_bench.py [--comments 1000000] [--jobs 2] [--keep]

The export file is written in Disqus's documented format by tests/transfer/factories.py (the same generator the
100,000-comment test uses): one thread per 100 comments, 40% replies, a third of authors with an e-mail. Each
command runs as its own process on a fresh SQLite database, as an operator runs it; its RSS is sampled every
0.2 s from /proc, so the figures show whether memory stays flat while the import goes on. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.transfer.factories import generated_posts, write_disqus  # noqa: E402 - after the path is set

RESULTS = ROOT / "bench" / "results"
ORIGIN = "https://bench.test"
PARLOUR = str(Path(sys.executable).parent / "parlour")
SAMPLE_SECONDS = 0.2


@dataclass
class Run:
    """One command: wall time, and its resident memory over time (KiB), its processes together."""

    seconds: float = 0.0
    # User + system CPU of the command and the processes it started: what it costs whatever else the machine
    # is doing.
    cpu_seconds: float = 0.0
    # The largest of the samples, and the command's own process's high-water mark (which no sample can miss).
    peak_rss_kib: int = 0
    peak_rss_main_kib: int = 0
    rss_kib: list[int] = field(default_factory=list)


def _status_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in KiB; zeros once it is gone."""
    values = {"VmRSS:": 0, "VmHWM:": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            parts = line.split()
            if parts and parts[0] in values:
                values[parts[0]] = int(parts[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return values["VmRSS:"], values["VmHWM:"]


def _children(pid: int) -> list[int]:
    """The processes a process started (the import's reading process), and theirs."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *_children(int(child))]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def _rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS of the process and its children together, VmHWM of the process), in KiB."""
    rss, hwm = _status_kib(pid)
    return rss + sum(_status_kib(child)[0] for child in _children(pid)), hwm


def run(arguments: list[str], env: dict[str, str], log: Path) -> Run:
    result = Run()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with log.open("ab") as out:
        start = time.perf_counter()
        process = subprocess.Popen([PARLOUR, *arguments], env=env, stdout=out, stderr=subprocess.STDOUT)
        while process.poll() is None:
            rss, hwm = _rss_kib(process.pid)
            if rss:
                result.rss_kib.append(rss)
                result.peak_rss_kib = max(result.peak_rss_kib, rss)
                result.peak_rss_main_kib = max(result.peak_rss_main_kib, hwm)
            time.sleep(SAMPLE_SECONDS)
        result.seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.cpu_seconds = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1)
    if process.returncode != 0:
        raise SystemExit(f"parlour {' '.join(arguments)} failed ({process.returncode}); see {log}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=2, help="passed to parlour import: 2 reads in a second process")
    parser.add_argument("--keep", action="store_true", help="keep the export, the database and the log")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="parlour-import-bench-"))
    log = folder / "commands.log"
    export = folder / "disqus.xml"
    database = folder / "parlour.db"
    env = os.environ | {
        "PARLOUR_DATABASE_URL": f"sqlite:///{database}",
        "PARLOUR_SECRET_KEY": secrets.token_urlsafe(32),
        "COLUMNS": "120",
    }
    load_before = os.getloadavg()
    started = time.perf_counter()
    threads, posts = generated_posts(options.comments, threads=max(1, options.comments // 100), origin=ORIGIN)
    with export.open("w", encoding="utf-8") as out:
        write_disqus(out, threads, posts)
    generated = time.perf_counter() - started
    size_mb = export.stat().st_size / 1e6
    print(f"generated {options.comments:,} comments, {size_mb:,.0f} MB, in {generated:.0f} s")
    run(["db", "upgrade"], env, log)
    run(["site", "create", "--slug", "bench", "--name", "Bench", "--origin", ORIGIN], env, log)

    imported = run(["import", "disqus", str(export), "--site", "bench", "--jobs", str(options.jobs)], env, log)
    exported_file = folder / "bench.jsonl"
    exported = run(["export", "--site", "bench", "--output", str(exported_file)], env, log)

    figures = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["bench/import_bench.py", *sys.argv[1:]]),
        "comments": options.comments,
        "export_mb": round(size_mb, 1),
        "database": "sqlite",
        "jobs": options.jobs,
        "import": asdict(imported)
        | {
            "comments_per_second": round(options.comments / imported.seconds),
            "comments_per_cpu_second": round(options.comments / imported.cpu_seconds),
        },
        "export": asdict(exported) | {"lines_per_second": round(_lines(exported_file) / exported.seconds)},
        "cpus": os.cpu_count(),
        # The machine is shared: a high load before the run means the figures are a lower bound.
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    for run_figures in (figures["import"], figures["export"]):
        samples = run_figures.pop("rss_kib")
        run_figures["rss_mib_at_25_50_75_100"] = [
            round(samples[min(len(samples) - 1, int(len(samples) * s))] / 1024) if samples else 0
            for s in (0.25, 0.5, 0.75, 0.999)
        ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    if options.keep:
        print(f"kept in {folder}")
    else:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


def _lines(path: Path) -> int:
    with path.open("rb") as file:
        return sum(1 for _ in file)


if __name__ == "__main__":
    main()
