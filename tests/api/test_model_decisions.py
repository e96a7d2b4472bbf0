"""A site's moderator decisions: `parlour model decisions` (export, read back by training) and `model calibrate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from parlour.accounts.access import Staff
from parlour.cli import app
from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import Comment, ModerationAction, Site
from parlour.errors import NotFound
from parlour.moderation import actions
from parlour.moderation.decisions import calibrate_site, count_decisions, site_decisions
from parlour.scoring.protocol import Scores
from parlour.scoring.sources import read_source
from parlour.settings import Settings
from parlour.sites.service import get_site, site_settings
from tests.api.test_moderation_service import make_staff
from tests.conftest import SECRET, SiteInfo, create_test_site, post


class OafDetector:
    """A stand-in model: "You oaf" is a clear insult, any other "oaf" a borderline one."""

    name = "oaf-v1"

    def score(self, text: str) -> Scores:
        value = 0.8 if text.startswith("You oaf") else 0.6 if "oaf" in text else 0.1
        return Scores({"INSULT": value, "TOXICITY": value}, {}, self.name)


def decide(db: Database, staff: Staff, comment_id: int, action: str, reason: str = "") -> int:
    with db.write() as session:
        if action == "approve":
            return actions.approve(session=session, staff=staff, comment_id=comment_id, reason=reason).action_id
        return actions.reject(session=session, staff=staff, comment_id=comment_id, reason=reason).action_id


@pytest.fixture
def history(client: TestClient, db: Database, site: SiteInfo) -> dict[str, int]:
    """Six insults rejected, a word-play approved, six calm comments approved, spam, an undone and a system reject."""
    staff = make_staff(db, "mod@courier.example", sites=["courier"])
    ids: dict[str, int] = {}
    for n in range(6):
        ids[f"insult{n}"] = post(client, f"You oaf number {n}.")["id"]
        decide(db, staff, ids[f"insult{n}"], "reject", "Abuse: an insult" if n % 2 else "insult")
        ids[f"calm{n}"] = post(client, f"Fine point {n}.")["id"]
        decide(db, staff, ids[f"calm{n}"], "approve")
    ids["wordplay"] = post(client, "Oaf is a funny old word: loaf without the l.")["id"]
    decide(db, staff, ids["wordplay"], "approve")
    ids["spam"] = post(client, "Cheap watches here.")["id"]
    decide(db, staff, ids["spam"], "reject", "Spam")
    ids["undone"] = post(client, "Rejected by mistake.")["id"]
    action = decide(db, staff, ids["undone"], "reject", "Threat")
    with db.write() as session:
        actions.undo(session=session, staff=staff, action_id=action)
    ids["changed"] = post(client, "First rejected, then approved.")["id"]
    decide(db, staff, ids["changed"], "reject", "Threat")
    decide(db, staff, ids["changed"], "approve")
    ids["system"] = post(client, "The pipeline rejected this one.")["id"]
    with db.write() as session:
        comment = session.get(Comment, ids["system"])
        assert comment is not None
        session.add(ModerationAction(site_id=comment.site_id, comment_id=comment.id, action="reject", reason="Threat",
                                     status_before="approved", status_after="rejected", details={},
                                     created_at=utcnow()))  # fmt: skip
    other = create_test_site(db, "herald", origins=["https://herald.example"])
    elsewhere = client.post(
        "/api/v1/comments",
        json={"site": other.slug, "url": "https://herald.example/a", "body": "You oaf.", "author": {"name": "Z"}},
    ).json()["id"]
    decide(db, make_staff(db, "ed@herald.example", sites=["herald"]), elsewhere, "reject", "Insult")
    return ids


def test_the_standing_decisions_of_a_site_are_exported(db: Database, history: dict[str, int]) -> None:
    lines = [d.as_line() for d in site_decisions(db=db, site_slug="courier")]
    by_id = {line["comment_id"]: line for line in lines}
    assert count_decisions(db=db, site_slug="courier") == len(lines) == 15
    assert history["undone"] not in by_id and history["system"] not in by_id  # undone; not a moderator
    assert by_id[history["changed"]]["decision"] == "approve"  # the last decision counts
    insult = by_id[history["insult1"]]
    assert insult["decision"] == "reject" and insult["reason"] == "Abuse: an insult"
    assert insult["categories"] == ["TOXICITY", "INSULT"] and insult["text"] == "You oaf number 1."
    assert by_id[history["spam"]]["categories"] == []
    assert all(set(line) == {"comment_id", "decision", "categories", "reason", "time", "text"} for line in lines)
    with pytest.raises(NotFound):
        list(site_decisions(db=db, site_slug="nope"))


def test_calibration_picks_the_lowest_threshold_with_the_precision_and_applies_it(
    db: Database, history: dict[str, int]
) -> None:
    kwargs = {"db": db, "scorer": OafDetector(), "site_slug": "courier", "min_decisions": 10, "min_rejects": 3}
    dry = calibrate_site(precision=0.9, **kwargs)  # type: ignore[arg-type]
    insult = next(c for c in dry.calibrations if c.category == "INSULT")
    # 0.4 (the default) also holds the approved word-play: 6/7; above 0.6 only the rejected insults: 6/6.
    assert insult.before.threshold == 0.4 and insult.before.precision == 6 / 7
    assert insult.after.threshold == 0.61 and insult.after.precision == 1.0 and insult.after.recall == 1.0
    assert (insult.rejects, insult.approvals, dry.decisions) == (6, 8, 15)
    threat = next(c for c in dry.calibrations if c.category == "THREAT")
    assert not threat.calibrated and "fewer than 3" in threat.note  # the undone Threat reject does not count
    assert dry.applied == {}
    with db.read() as session:
        assert site_settings(get_site(session=session, slug="courier")).thresholds == {}

    applied = calibrate_site(precision=0.9, apply=True, **kwargs)  # type: ignore[arg-type]
    assert applied.applied == {"TOXICITY": 0.61, "INSULT": 0.61}
    with db.read() as session:
        assert site_settings(get_site(session=session, slug="courier")).thresholds == applied.applied
        herald = session.scalar(select(Site).where(Site.slug == "herald"))
        assert herald is not None and site_settings(herald).thresholds == {}


def test_the_commands_export_for_training_and_show_the_table(
    settings: Settings, history: dict[str, int], tmp_path: Path
) -> None:
    runner = CliRunner()
    env = {"PARLOUR_DATABASE_URL": settings.database_url, "PARLOUR_SECRET_KEY": SECRET}
    out = tmp_path / "decisions.jsonl"
    result = runner.invoke(app, ["model", "decisions", "--site", "courier", "--output", str(out)], env=env)
    assert result.exit_code == 0, result.output
    header, *lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert header == {"format": "parlour-decisions", "version": 1, "site": "courier"} and len(lines) == 15
    before = out.read_bytes()
    # An unknown site, or a folder that is not there, leaves the earlier export whole: no traceback, no empty file.
    unknown_site = runner.invoke(app, ["model", "decisions", "--site", "nosuch", "--output", str(out)], env=env)
    assert unknown_site.exit_code == 1 and "nosuch" in unknown_site.output
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["decisions.jsonl"]
    nowhere = runner.invoke(app, ["model", "decisions", "--site", "courier", "--output", str(tmp_path / "no" / "x")])
    assert nowhere.exit_code == 2 and "is not a folder" in nowhere.output
    layout, examples = read_source(out, limit=None, seed=1)
    # 13 approvals and insults; spam names no category and is not a toxicity example.
    assert layout == "parlour decisions" and len(examples) == 14
    table = runner.invoke(app, ["model", "calibrate", "--site", "courier", "--min-decisions", "10"], env=env)
    assert table.exit_code == 0, table.output
    assert "INSULT" in table.output and "15 decisions" in table.output and "Nothing stored" in table.output
    unknown = runner.invoke(app, ["model", "calibrate", "--site", "nope"], env=env)
    assert unknown.exit_code == 1 and "nope" in unknown.output
    no_model = runner.invoke(app, ["model", "calibrate", "--site", "courier"], env=env | {"PARLOUR_SCORER": "none"})
    assert no_model.exit_code == 2 and "No model" in no_model.output
