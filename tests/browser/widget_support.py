"""Helpers for the widget's browser tests: a demo server with test sites, host pages, and readers' browsers."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, Route

from tests.e2e.server import running_server

ORIGIN = "https://news.example"
ADMIN_KEY = "admin-" + secrets.token_urlsafe(24)
ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
EMBED_PATH = "/embed.js"
COUNT_PATH = "/count.js"
# The CSP a careful news site sends: nothing inline, nothing evaluated, Trusted Types enforced.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; object-src 'none'; require-trusted-types-for 'script'; trusted-types parlour"
)
# The host page's own look: a plain news page with a dark mode, as the widget's neighbours would have.
HOST_CSS = """body { margin: 0 auto; max-width: 42rem; padding: 1rem; background: #fff; color: #111;
  font: 18px/1.6 Georgia, serif; }
@media (prefers-color-scheme: dark) { body { background: #121212; color: #eee; } }"""
# Test sites: post-moderation, pre-moderation, and a two-second edit window.
# Every reader of these tests posts from 127.0.0.1: the per-network and duplicate guards are off.
UNGUARDED = {
    "rate_per_network": 0,
    "rate_per_author": 0,
    "rate_per_story": 0,
    "duplicate_window_seconds": 0,
    "flood_repeats": 0,
}
SITES = {
    "wtest": {"moderation_mode": "post", "edit_window_seconds": 900, **UNGUARDED},
    "wpre": {"moderation_mode": "pre", "edit_window_seconds": 900, **UNGUARDED},
    "wshort": {"moderation_mode": "post", "edit_window_seconds": 3, **UNGUARDED},
    # The nudge: a suspect word holds a comment, so the widget asks before posting one.
    "wnudge": {"moderation_mode": "post", "edit_window_seconds": 900, "suspect_words": ["scoundrel"], **UNGUARDED},
}


@dataclass
class Server:
    base_url: str
    api: httpx.Client
    keys: dict[str, str] = field(default_factory=dict)

    def post(
        self, story: str, body: str, name: str = "Tester", *, site: str = "wtest", parent: int | None = None
    ) -> Any:
        """Post a comment through the API as another reader would; returns the 201 body."""
        data: dict[str, Any] = {"site": site, "url": story_url(story), "body": body, "author": {"name": name}}
        if parent is not None:
            data["parent_id"] = parent
        response = self.api.post("/api/v1/comments", json=data)
        assert response.status_code == 201, response.text
        return response.json()

    def staff(self, method: str, path: str, site: str = "wtest", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[site]}"}
        response = self.api.request(method, f"/api/v1/sites/{site}{path}", headers=headers, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()


def story_url(name: str) -> str:
    return f"{ORIGIN}/2026/11/25/{name}"


@contextmanager
def widget_server() -> Iterator[Server]:
    """`parlour demo` on a free port, plus the test sites, created through the admin API."""
    with running_server({"PARLOUR_ADMIN_API_KEY": ADMIN_KEY}, "demo", workers=1) as (base_url, process):
        # Nothing reads the server's output otherwise: drain it so a chatty log never blocks the server.
        if process.stdout is not None:
            threading.Thread(target=process.stdout.read, daemon=True).start()
        with httpx.Client(base_url=base_url, timeout=15) as api:
            server = Server(base_url, api)
            for slug, settings in SITES.items():
                response = api.post(
                    "/api/v1/sites",
                    headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                    json={"slug": slug, "name": slug, "allowed_origins": [ORIGIN, base_url], "settings": settings},
                )
                assert response.status_code == 201, response.text
                server.keys[slug] = response.json()["api_key"]
            yield server


def host_page(story: str, *, site: str = "wtest", strict: bool = True, **attributes: str) -> tuple[str, dict[str, str]]:
    """A news article embedding the widget the documented way; attributes become data-parlour-* on the div."""
    extra = "".join(f' data-parlour-{name}="{value}"' for name, value in attributes.items())
    html = f"""<!doctype html>
<html lang="{attributes.get("page-lang", "en")}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>{story}</title>
<link rel="stylesheet" href="/articles/host.css"></head>
<body>
<main><h1>A test article</h1><p>Some text of the article.</p>
<section aria-label="Comments">
<div id="parlour-thread" data-parlour-url="{story_url(story)}"{extra}></div>
<script src="{EMBED_PATH}" data-parlour-site="{site}" async></script>
</section></main>
</body></html>"""
    headers = {"content-type": "text/html; charset=utf-8"}
    if strict:
        headers["content-security-policy"] = STRICT_CSP
    return html, headers


class Reader:
    """One reader's page, recording what must never happen: script errors, console errors and dialogs."""

    def __init__(self, context: BrowserContext, server: Server) -> None:
        self.context = context
        self.server = server
        self.page: Page = context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def open_story(
        self,
        story: str,
        *,
        site: str = "wtest",
        strict: bool = True,
        hash: str = "",
        wait: bool = True,
        **attributes: str,
    ) -> Page:
        html, headers = host_page(story, site=site, strict=strict, **attributes)
        path = f"/articles/{story}"

        def fulfil(route: Route) -> None:
            route.fulfill(status=200, headers=headers, body=html)

        self.page.route(f"{self.server.base_url}{path}", fulfil)
        self.page.route(
            f"{self.server.base_url}/articles/host.css",
            lambda route: route.fulfill(status=200, content_type="text/css", body=HOST_CSS),
        )
        self.page.goto(f"{self.server.base_url}{path}{hash}")
        if wait:
            self.wait_ready()
        return self.page

    def open_demo(self, hash: str = "") -> Page:
        self.page.goto(f"{self.server.base_url}/demo{hash}")
        self.wait_ready()
        return self.page

    def wait_ready(self) -> None:
        self.page.locator("#parlour-thread .parlour[data-state=ready]").wait_for(state="attached", timeout=15000)

    def reload(self) -> None:
        self.page.reload()
        self.wait_ready()

    def wait_for_focus(self, element_id: str, seconds: float = 5.0) -> None:
        """Focus moves after the widget's scroll settles: poll instead of asking once."""
        deadline = time.monotonic() + seconds
        while self.active().get("id") != element_id and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.active().get("id") == element_id, self.active()

    def active(self) -> dict[str, Any]:
        """What has the keyboard focus inside the widget's shadow root."""
        result: dict[str, Any] = self.page.evaluate(
            """() => {
              const root = document.querySelector('#parlour-thread').shadowRoot;
              const el = root && root.activeElement;
              if (!el) return {tag: null};
              const comment = el.closest('.c');
              return {tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute('name'),
                      text: (el.textContent || '').trim(), cls: el.className,
                      comment: comment ? comment.id : null, inDialog: Boolean(el.closest('dialog'))};
            }"""
        )
        return result

    def assert_quiet(self, *provoked: int | str) -> None:
        """No script errors and no dialogs; failed requests only those a test provoked (HTTP status or net::…)."""
        expected = [f"the server responded with a status of {x} " if isinstance(x, int) else x for x in provoked]
        errors = [e for e in self.errors if not any(e.startswith("Failed to load resource: " + x) for x in expected)]
        assert errors == [], errors
        assert self.dialogs == [], self.dialogs


@contextmanager
def reader(browser: Browser, server: Server, **options: Any) -> Iterator[Reader]:
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
    try:
        yield Reader(context, server)
    finally:
        context.close()


def comment_ids(page: Page, selector: str = "#parlour-thread .p-list > .c") -> list[int]:
    return [int(x) for x in page.locator(selector).evaluate_all("els => els.map(e => e.dataset.id)")]


def run_axe(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations inside the widget (shadow DOM included)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
          const results = await axe.run({include: [['#parlour-thread']]},
                                        {resultTypes: ['violations'], runOnly: ['wcag2a', 'wcag2aa', 'wcag21a',
                                         'wcag21aa', 'wcag22aa', 'best-practice']});
          return results.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                               nodes: v.nodes.map(n => JSON.stringify(n.target)).slice(0, 5)}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def xss_payloads(folder: Path) -> list[str]:
    """Every non-empty line of every PayloadsAllTheThings XSS list, in a fixed order, without repeats."""
    seen: dict[str, None] = {}
    for path in sorted(folder.glob("*.txt")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                seen.setdefault(line, None)
    return list(seen)


def dump(data: Any) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False)
