"""The nudge's verdict on a draft: the most severe rule wins, and every word that drove it is highlighted."""

from __future__ import annotations

from parlour.moderation.nudge import Highlight, verdict, word_matches
from parlour.scoring.protocol import Scores, Span
from parlour.sites.schemas import SiteSettings

CALM = Scores({"INSULT": 0.05, "THREAT": 0.01}, {}, "test")


def settings(**values: object) -> SiteSettings:
    return SiteSettings.model_validate({"flag_thresholds": {"INSULT": 0.4}, **values})


def test_a_calm_draft_is_published_with_nothing_highlighted() -> None:
    found = verdict(settings=settings(), scores=CALM, matches=[])
    assert (found.decision, found.categories, found.highlights) == ("publish", [], [])


def test_model_thresholds_rank_reject_over_hold_over_flag() -> None:
    text = "You idiot, I will find you."
    scores = Scores({"INSULT": 0.7, "THREAT": 0.9}, {"INSULT": [Span(4, 9)], "THREAT": [Span(18, 22)]}, "test")
    flagged = verdict(settings=settings(), scores=scores, matches=[])
    assert (flagged.decision, flagged.categories, flagged.highlights) == (
        "flag",
        ["INSULT"],
        [Highlight(4, 9, "INSULT")],
    )
    held = verdict(settings=settings(thresholds={"THREAT": 0.8}), scores=scores, matches=[])
    assert held.decision == "hold" and held.categories == ["THREAT", "INSULT"]
    assert [text[h.start : h.end] for h in held.highlights] == ["idiot", "find"]
    rejected = verdict(
        settings=settings(reject_thresholds={"INSULT": 0.6}, thresholds={"THREAT": 0.8}), scores=scores, matches=[]
    )
    assert rejected.decision == "reject"


def test_word_lists_hold_and_reject_with_their_spans() -> None:
    rules = settings(banned_words=["vermin"], suspect_words=["traitor*"])
    body = "Traitors! They are V E R M I N."
    matches = word_matches(rules, body)
    found = verdict(settings=rules, scores=CALM, matches=matches)
    assert found.decision == "reject"
    assert {(body[h.start : h.end].lower(), h.reason) for h in found.highlights} >= {("traitors", "suspect")}
    assert any(h.reason == "banned" for h in found.highlights)
    only_suspect = verdict(settings=rules, scores=CALM, matches=word_matches(rules, "Traitors, all of them."))
    assert only_suspect.decision == "hold"
