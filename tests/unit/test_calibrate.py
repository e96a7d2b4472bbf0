"""Per-site calibration of hold thresholds from moderator decisions: the pure part."""

from __future__ import annotations

from parlour.scoring.calibrate import ScoredDecision, calibrate, chosen_thresholds, quality
from parlour.scoring.thresholds import HOLD


def decided(insult: float, *, rejected: bool, categories: tuple[str, ...] = ()) -> ScoredDecision:
    named = frozenset(("TOXICITY", *categories)) if rejected and categories else frozenset()
    return ScoredDecision({"INSULT": insult, "TOXICITY": insult}, rejected, named)


def site_history() -> list[ScoredDecision]:
    """Insult rejects score 0.30-0.79; approvals mostly low, a few as high as 0.34 (sarcasm the model misreads)."""
    rejects = [decided(round(0.30 + 0.01 * n, 2), rejected=True, categories=("INSULT",)) for n in range(50)]
    approvals = [decided(round(0.01 * (n % 30), 2), rejected=False) for n in range(60)]
    approvals += [decided(round(0.32 + 0.01 * n, 2), rejected=False) for n in range(3)]
    spam = [decided(0.9, rejected=True) for _ in range(20)]  # spam rejects name no category: left out
    return rejects + approvals + spam


def test_quality_is_precision_on_rejects_and_recall_on_the_category() -> None:
    history = site_history()
    at = quality(history, "INSULT", 0.30)
    assert at.held == 50 + 3 + 0  # approvals below 0.30 are not held
    assert at.precision == 50 / 53 and at.recall == 1.0


def test_the_lowest_threshold_reaching_the_precision_is_chosen() -> None:
    [_, _, insult, *_] = calibrate(site_history(), current={}, precision=0.99)
    assert insult.category == "INSULT" and insult.calibrated
    assert insult.before.threshold == HOLD["INSULT"]  # the site had none: the default
    # At 0.34 one misread approval still counts against 46 rejects (0.98); at 0.35 none is left.
    assert quality(site_history(), "INSULT", 0.34).precision == 46 / 47
    assert insult.after.threshold == 0.35 and insult.after.precision == 1.0
    assert insult.after.recall == 45 / 50 and insult.rejects == 50 and insult.approvals == 63
    assert insult.before.precision is not None and insult.before.precision == 1.0
    assert insult.before.recall is not None and insult.before.recall < insult.after.recall


def test_a_looser_target_holds_more() -> None:
    strict = calibrate(site_history(), current={}, precision=0.99)[2]
    loose = calibrate(site_history(), current={}, precision=0.9)[2]
    assert (strict.after.threshold, loose.after.threshold) == (0.35, 0.29)
    assert (loose.after.recall or 0) > (strict.after.recall or 0)


def test_too_few_decisions_or_rejects_keep_the_sites_threshold_and_say_so() -> None:
    history = site_history()
    few = calibrate(history[:30], current={"INSULT": 0.6}, precision=0.9)[2]
    assert not few.calibrated and few.after == few.before and few.after.threshold == 0.6
    assert "fewer than 50" in few.note
    threat = calibrate(history, current={}, precision=0.9)[5]
    assert threat.category == "THREAT" and not threat.calibrated and threat.rejects == 0
    assert "0 rejects name it, fewer than 10" in threat.note


def test_an_unreachable_target_keeps_the_threshold() -> None:
    # Approvals score as high as rejects: no threshold separates them.
    history = [decided(0.5, rejected=True, categories=("INSULT",)) for _ in range(30)]
    history += [decided(0.5, rejected=False) for _ in range(30)]
    insult = calibrate(history, current={}, precision=0.9)[2]
    assert not insult.calibrated and "no threshold reaches precision 0.9 (best 0.50" in insult.note


def test_only_calibrated_categories_are_stored() -> None:
    calibrations = calibrate(site_history(), current={"THREAT": 0.7}, precision=0.99)
    assert chosen_thresholds(calibrations) == {"TOXICITY": 0.35, "INSULT": 0.35}
