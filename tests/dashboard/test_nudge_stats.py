"""The nudge on the statistics page: comments posted after a warning, revised or posted as they were."""

from __future__ import annotations

import re

from sqlalchemy import select
from starlette.testclient import TestClient

from parlour.db.tables import Site
from parlour.moderation.stats import moderation_stats
from tests.conftest import STORY
from tests.dashboard.conftest import HERALD_STORY, Browser, World


def posted(client: TestClient, site: str, nudge: str | None, body: str) -> None:
    url = HERALD_STORY if site == "herald" else STORY
    data = {"site": site, "url": url, "body": body, "author": {"name": "Writer"}}
    response = client.post("/api/v1/comments", json=data | ({"nudge": nudge} if nudge else {}))
    assert response.status_code == 201, response.text


def seed(world: World) -> None:
    """Courier publishes at once, herald holds everything (pre-moderation)."""
    for n, (site, nudge) in enumerate(
        [("courier", "revised"), ("courier", "revised"), ("courier", "ignored"), ("courier", None),
         ("herald", "revised"), ("herald", "ignored")]
    ):  # fmt: skip
        posted(world.client, site, nudge, f"Comment number {n}.")


def test_the_nudge_figures_count_revised_and_ignored_and_what_was_still_held(world: World) -> None:
    seed(world)
    with world.db.read() as session:
        everywhere = tuple(session.scalars(select(Site.id).order_by(Site.slug)))
        nudges = moderation_stats(session=session, site_ids=everywhere).nudges
        courier_only = moderation_stats(session=session, site_ids=everywhere[:1]).nudges
    assert (nudges.revised, nudges.revised_held, nudges.ignored, nudges.ignored_held) == (3, 1, 2, 1)
    assert nudges.nudged == 5 and nudges.share_revised == 0.6
    assert (courier_only.revised, courier_only.ignored, courier_only.revised_held) == (2, 1, 0)


def test_the_stats_page_shows_the_nudge(world: World, admin: Browser, ann: Browser) -> None:
    seed(world)
    text = admin.get("/admin/stats").text
    assert "<strong>5</strong> comments posted after a warning, <strong>3</strong> were revised" in text
    assert re.search(r"Revised</th><td>3</td><td>1</td>", text)
    assert re.search(r"Posted anyway</th><td>2</td><td>1</td>", text)
    mine = ann.get("/admin/stats").text  # a moderator of courier only
    assert re.search(r"Revised</th><td>2</td><td>0</td>", mine) and "(67%)" in mine
