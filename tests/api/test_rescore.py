"""Re-scoring a site's stored comments after a model change: scores and the Flagged queue change, statuses never."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from parlour.db.engine import Database
from parlour.db.tables import Comment, CommentStatus
from parlour.errors import NotFound
from parlour.moderation import rescore
from parlour.scoring.protocol import Scores, Span
from tests.conftest import SiteInfo, create_test_site, post


class InsultDetector:
    """A stand-in for a new model: anything containing "oaf" is an insult."""

    name = "test-v2"

    def score(self, text: str) -> Scores:
        at = text.find("oaf")
        if at < 0:
            return Scores({"INSULT": 0.01}, {}, self.name)
        return Scores({"INSULT": 0.97}, {"INSULT": [Span(at, at + 3)]}, self.name)


def stored(db: Database) -> dict[int, Comment]:
    with db.read() as session:
        return {c.id: c for c in session.scalars(select(Comment))}


def test_rescore_updates_scores_and_redoes_the_flagged_queue(client: TestClient, db: Database, site: SiteInfo) -> None:
    rude = post(client, "What an oaf the minister is.")["id"]
    polite = post(client, "A fair point, well made.")["id"]
    held = post(client, "Another oaf.")["id"]
    gone = post(client, "An oaf wrote this and took it back.")
    other_site = create_test_site(db, "herald", origins=["https://herald.example"])
    elsewhere = client.post(
        "/api/v1/comments",
        json={"site": other_site.slug, "url": "https://herald.example/a", "body": "oaf", "author": {"name": "Z"}},
    ).json()["id"]
    with db.write() as session:
        # What the old model had said, whatever the shipped model says today.
        session.execute(update(Comment).values(flagged=False))
        session.execute(update(Comment).where(Comment.id == held).values(status=CommentStatus.PENDING))
        session.execute(update(Comment).where(Comment.id == polite).values(flagged=True))
        session.execute(update(Comment).where(Comment.id == gone["id"]).values(status=CommentStatus.DELETED))
    before = stored(db)
    batches: list[int] = []
    assert rescore.count_to_rescore(db=db, site_slug="courier") == 3

    report = rescore.rescore_site(db=db, scorer=InsultDetector(), site_slug="courier", on_batch=batches.append)

    after = stored(db)
    assert (report.scored, report.newly_flagged, report.no_longer_flagged) == (3, 1, 1) and sum(batches) == 3
    assert after[rude].flagged and after[rude].moderation_scores["model"] == "test-v2"
    assert after[rude].moderation_scores["spans"] == {"INSULT": [[8, 11]]}
    assert "flag:INSULT>=0.4" in after[rude].moderation_reasons
    assert not after[polite].flagged and not any(r.startswith("flag:") for r in after[polite].moderation_reasons)
    # Held comments get new scores but stay where they are; nothing changes status.
    assert not after[held].flagged and after[held].moderation_scores["model"] == "test-v2"
    assert {c.id: c.status for c in after.values()} == {c.id: c.status for c in before.values()}
    # Deleted comments and other sites are left alone.
    assert after[gone["id"]].moderation_scores == before[gone["id"]].moderation_scores
    assert after[elsewhere].moderation_scores == before[elsewhere].moderation_scores


def test_rescore_of_an_empty_or_unknown_site(db: Database, site: SiteInfo) -> None:
    assert rescore.rescore_site(db=db, scorer=InsultDetector(), site_slug="courier").scored == 0
    with pytest.raises(NotFound, match="nope"):
        rescore.count_to_rescore(db=db, site_slug="nope")
