"""The dashboard's presentation helpers that need no database."""

from __future__ import annotations

from parlour.dashboard.present import score_bars


def test_score_bars_are_highest_first_and_never_round_up_to_a_threshold() -> None:
    scores = {"categories": {"THREAT": 0.449, "INSULT": 0.91, "PROFANITY": 0.0}}
    bars = score_bars(scores, ["score:INSULT>=0.9"])
    assert [b.name for b in bars] == ["INSULT", "THREAT", "PROFANITY"]
    by_name = {b.name: b for b in bars}
    assert by_name["THREAT"].shown == "0.44" and not by_name["THREAT"].over  # beside a 0.45 threshold
    assert by_name["INSULT"].shown == "0.91" and by_name["INSULT"].over and by_name["INSULT"].width == 91
    assert by_name["PROFANITY"].shown == "0.00"
