"""The demo article as a reader's browser shows it: styled, complete, and quiet (no errors, no dialogs)."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from playwright.sync_api import Browser

from tests.e2e.server import running_server

pytestmark = pytest.mark.slow


def test_demo_article_renders_cleanly(browser: Browser) -> None:
    content = json.loads(resources.files("parlour.demo").joinpath("content.json").read_text())
    with running_server({}, "demo", workers=1) as (base_url, _process):
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        response = page.goto(f"{base_url}/demo")
        assert response is not None
        assert response.status == 200
        assert page.locator("h1").inner_text() == content["article"]["headline"]
        # The widget renders the whole sample discussion (Playwright's locators see into its shadow root).
        page.locator("#parlour-thread .c").first.wait_for()
        assert page.get_by_text(f"{len(content['comments'])} comments").count() >= 1
        assert page.locator("#parlour-thread .c").count() >= 20
        # The stylesheet applied under the page's CSP: the column is narrower than the window.
        width = page.evaluate("document.querySelector('.story-body').getBoundingClientRect().width")
        assert 300 < width < 800
        page.close()
    assert problems == []
