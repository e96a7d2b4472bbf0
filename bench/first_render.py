"""Time from navigation to the first rendered comment, and bytes transferred: Parlour's embed against Isso's.

    .venv/bin/python bench/first_render.py [--sizes 100,1000] [--runs 9] [--timings]

Starts Parlour and Isso 0.14.0 (2 workers each, as bench/run.py does), seeds the same threads into both through
their HTTP APIs, then loads an article page with each product's own embed in headless Chromium (Debian's
/usr/bin/chromium), a fresh browser context (empty cache) per load. For each load it records:

- first comment: milliseconds from navigation start until a comment element exists in the rendered page,
  checked on every animation frame (Parlour: `.c` inside the widget's shadow root; Isso: `.isso-comment` with an
  `isso-ID` id: its postbox holds an id-less `.isso-comment` for the preview, which is there before any comment);
- bytes: what crossed the network from the comment server (scripts, styles, API answers), as encoded on the wire.

The article page itself is served by the browser from memory, so it costs nothing for either product.
Prints the median and the spread per size, and writes bench/results/first_render.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus import ORIGIN, make_thread, story_path
from playwright.sync_api import Browser, Page, sync_playwright
from rich.console import Console
from rich.table import Table
from run import RESULTS, environment, parse_args, running, seed_all
from seeding import Thread
from servers import ensure_isso_venv

CHROMIUM = "/usr/bin/chromium"
# The article's (routed) origin counts as public and the servers are on loopback: Chromium's private- and
# local-network checks would block both embeds alike, so they are off. Nothing else differs from the tests' flags.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,LocalNetworkAccessChecks",
]
TIMEOUT_MS = 60_000
console = Console()

# A rendered comment of either embed. Isso's postbox carries an id-less `.isso-comment` for its preview.
ISSO_COMMENT = '.isso-comment[id^="isso-"]'
# Polls on each animation frame until the first comment is in the page, then records when (ms since navigation).
WATCH = f"""
(() => {{
  const found = () => {{
    const parlour = document.getElementById('parlour-thread');
    const root = parlour && parlour.shadowRoot;
    return (root && root.querySelector('.c')) || document.querySelector('{ISSO_COMMENT}');
  }};
  const tick = () => {{
    if (found()) {{ window.__firstComment = performance.now(); return; }}
    requestAnimationFrame(tick);
  }};
  requestAnimationFrame(tick);
}})();
"""


# Each request of the load, as the browser timed it (ms since navigation), for the --timings waterfall.
RESOURCES = """() => performance.getEntriesByType('resource').map((e) => ({
  name: e.name, start: e.startTime, response_start: e.responseStart, end: e.responseEnd,
}))"""


@dataclass(frozen=True)
class Load:
    first_comment_ms: float
    bytes: int
    comments_shown: int
    resources: tuple[dict[str, Any], ...] = ()


def article_html(system: str, base_url: str, path: str) -> str:
    """An article page embedding one product exactly as its documentation says."""
    if system == "parlour":
        embed = (
            f'<div id="parlour-thread" data-parlour-url="{ORIGIN}{path}"></div>\n'
            f'<script src="{base_url}/embed.js" data-parlour-site="bench" async></script>'
        )
    else:
        # Isso finds its thread by the page's path, which is the path it was seeded under.
        embed = (
            f'<script data-isso="{base_url}/" src="{base_url}/js/embed.min.js"></script>\n'
            '<section id="isso-thread"></section>'
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Story</title></head>'
        f"<body><article><h1>Story</h1><p>The article.</p></article>\n{embed}\n</body></html>"
    )


def load_once(browser: Browser, system: str, base_url: str, path: str) -> Load:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        html = article_html(system, base_url, path)
        page.route(f"{ORIGIN}/**", lambda route: route.fulfill(body=html, content_type="text/html"))
        received = _count_bytes(page, base_url)
        page.add_init_script(WATCH)
        page.goto(f"{ORIGIN}{path}")
        page.wait_for_function("window.__firstComment !== undefined", timeout=TIMEOUT_MS)
        first: float = page.evaluate("window.__firstComment")
        page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
        shown: int = page.evaluate(
            f"""() => {{
              const parlour = document.getElementById('parlour-thread');
              if (parlour && parlour.shadowRoot) return parlour.shadowRoot.querySelectorAll('.c').length;
              return document.querySelectorAll('{ISSO_COMMENT}').length;
            }}"""
        )
        resources: list[dict[str, Any]] = page.evaluate(RESOURCES)
        return Load(first, sum(received.values()), shown, tuple(r for r in resources if r["name"].startswith(base_url)))
    finally:
        context.close()


def _count_bytes(page: Page, base_url: str) -> dict[str, int]:
    """Encoded bytes per request to the comment server, from the DevTools protocol (headers and body)."""
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    urls: dict[str, str] = {}
    received: dict[str, int] = {}
    session.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))

    def finished(event: dict[str, Any]) -> None:
        if urls.get(event["requestId"], "").startswith(base_url):
            received[event["requestId"]] = int(event["encodedDataLength"])

    session.on("Network.loadingFinished", finished)
    return received


def summarise(loads: list[Load]) -> dict[str, Any]:
    times = sorted(load.first_comment_ms for load in loads)
    return {
        "runs": len(loads),
        "first_comment_ms_median": round(statistics.median(times), 1),
        "first_comment_ms_min": round(times[0], 1),
        "first_comment_ms_max": round(times[-1], 1),
        "bytes_median": int(statistics.median(load.bytes for load in loads)),
        "comments_shown": loads[-1].comments_shown,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000", help="thread sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=9, help="page loads per system and size (after one warm-up)")
    parser.add_argument("--output", type=Path, default=RESULTS / "first_render.json")
    parser.add_argument("--timings", action="store_true", help="print each request of the median load (a waterfall)")
    args = parser.parse_args()
    console.print("preparing bench/.isso-venv (isso, gunicorn from PyPI) if missing")
    ensure_isso_venv()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    options = parse_args(["--sizes", args.sizes, "--systems", "parlour,isso"])
    threads = [Thread(story_path(size), make_thread(size)) for size in sizes]
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="parlour-first-render-") as tmp, running(options, Path(tmp)) as systems:
        seed_all(systems, threads)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for size in sizes:
                for system in systems:
                    base_url, path = system.server.base_url, story_path(size)
                    load_once(browser, system.name, base_url, path)  # warm-up: server caches, Isso's imports
                    loads = [load_once(browser, system.name, base_url, path) for _ in range(args.runs)]
                    figures.append({"size": size, "system": system.name, **summarise(loads)})
                    console.print(f"{system.name:>8} {size:>6} comments: {figures[-1]}")
                    if args.timings:
                        _print_waterfall(loads, base_url)
            browser.close()
    _print(figures)
    result = {"environment": environment(options, ["bench/first_render.py", *_argv(args)]), "figures": figures}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"written to {args.output}")
    return 0


def _argv(args: argparse.Namespace) -> list[str]:
    return ["--sizes", args.sizes, "--runs", str(args.runs)]


def _print_waterfall(loads: list[Load], base_url: str) -> None:
    """The median load's requests to the comment server: when each started, answered and ended."""
    median = sorted(loads, key=lambda load: load.first_comment_ms)[len(loads) // 2]
    table = Table("request", "start", "first byte", "end", title=f"first comment at {median.first_comment_ms:.0f} ms")
    for r in sorted(median.resources, key=lambda r: r["start"]):
        name = r["name"].removeprefix(base_url)
        table.add_row(name[:70], f"{r['start']:.0f}", f"{r['response_start']:.0f}", f"{r['end']:.0f}")
    console.print(table)


def _print(figures: list[dict[str, Any]]) -> None:
    table = Table("thread", "system", "first comment (median, ms)", "min-max", "bytes", "shown", "vs Isso")
    by_key = {(f["size"], f["system"]): f for f in figures}
    for f in figures:
        isso = by_key.get((f["size"], "isso"))
        versus = ""
        if f["system"] == "parlour" and isso:
            versus = (
                f"{isso['first_comment_ms_median'] / f['first_comment_ms_median']:.1f}x faster, "
                f"{isso['bytes_median'] / f['bytes_median']:.1f}x fewer bytes"
            )
        table.add_row(
            str(f["size"]),
            f["system"],
            f"{f['first_comment_ms_median']:.0f}",
            f"{f['first_comment_ms_min']:.0f}-{f['first_comment_ms_max']:.0f}",
            f"{f['bytes_median']:,}",
            str(f["comments_shown"]),
            versus,
        )
    console.print(table)


if __name__ == "__main__":
    raise SystemExit(main())
