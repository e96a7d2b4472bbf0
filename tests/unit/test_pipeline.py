"""The moderation pipeline, phase by phase: pure functions over gathered facts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from parlour.db.tables import AuthorStatus, CommentStatus
from parlour.errors import AuthorRestricted, Conflict, RateLimited, StoryClosed
from parlour.moderation.pipeline import AuthorFacts, StoryFacts, Submission, decide
from parlour.scoring.protocol import Scores
from parlour.sites.schemas import ModerationMode, SiteSettings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def submission(**changes: object) -> Submission:
    base = Submission(settings=SiteSettings(flag_thresholds={}), now=NOW)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_plain_comment_is_published_without_reasons() -> None:
    decision = decide(submission())
    assert decision.status is CommentStatus.APPROVED
    assert decision.reasons == []
    assert not decision.flagged


# --- story open, auto-close, slow mode ------------------------------------------------------------------


def test_closed_story_refuses() -> None:
    with pytest.raises(StoryClosed):
        decide(submission(story=StoryFacts(closed=True)))


def test_story_closes_automatically_after_the_configured_days() -> None:
    settings = SiteSettings(auto_close_days=3, flag_thresholds={})
    fresh = StoryFacts(published_at=NOW - timedelta(days=2, hours=23))
    old = StoryFacts(published_at=NOW - timedelta(days=3))
    assert decide(submission(settings=settings, story=fresh)).status is CommentStatus.APPROVED
    with pytest.raises(StoryClosed, match="3 days"):
        decide(submission(settings=settings, story=old))


def test_auto_close_counts_from_creation_when_the_publication_time_is_unknown() -> None:
    settings = SiteSettings(auto_close_days=1, flag_thresholds={})
    with pytest.raises(StoryClosed):
        decide(submission(settings=settings, story=StoryFacts(created_at=NOW - timedelta(days=2))))


def test_slow_mode_refuses_until_the_interval_has_passed() -> None:
    settings = SiteSettings(slow_mode_seconds=60, flag_thresholds={})
    recent = AuthorFacts(last_comment_on_story=NOW - timedelta(seconds=20))
    with pytest.raises(RateLimited) as refused:
        decide(submission(settings=settings, author=recent))
    assert refused.value.retry_after == pytest.approx(40)
    earlier = AuthorFacts(last_comment_on_story=NOW - timedelta(seconds=61))
    assert decide(submission(settings=settings, author=earlier)).status is CommentStatus.APPROVED


def test_a_story_sets_its_own_slow_mode_over_the_site() -> None:
    recent = AuthorFacts(last_comment_on_story=NOW - timedelta(seconds=20))
    with pytest.raises(RateLimited):
        decide(submission(story=StoryFacts(slow_mode_seconds=30), author=recent))
    site_slow = SiteSettings(slow_mode_seconds=600, flag_thresholds={})
    story_off = StoryFacts(slow_mode_seconds=0)
    assert decide(submission(settings=site_slow, story=story_off, author=recent)).status is CommentStatus.APPROVED


def test_edits_are_not_slowed() -> None:
    recent = AuthorFacts(last_comment_on_story=NOW - timedelta(seconds=1))
    edit = submission(story=StoryFacts(slow_mode_seconds=60), author=recent, is_edit=True)
    assert decide(edit).status is CommentStatus.APPROVED


# --- author status --------------------------------------------------------------------------------------


def test_banned_author_is_refused_with_the_moderators_message() -> None:
    banned = AuthorFacts(status=AuthorStatus.BANNED, message="Repeated abuse.")
    with pytest.raises(AuthorRestricted, match="Repeated abuse"):
        decide(submission(author=banned))


def test_suspended_author_is_refused_until_the_suspension_ends() -> None:
    until = NOW + timedelta(days=2)
    suspended = AuthorFacts(status=AuthorStatus.SUSPENDED, suspended_until=until)
    with pytest.raises(AuthorRestricted, match="suspended until 2026-11-27"):
        decide(submission(author=suspended))
    over = AuthorFacts(status=AuthorStatus.SUSPENDED, suspended_until=NOW - timedelta(seconds=1))
    assert decide(submission(author=over)).status is CommentStatus.APPROVED


def test_always_premoderated_author_is_held() -> None:
    decision = decide(submission(author=AuthorFacts(always_premoderate=True)))
    assert decision.status is CommentStatus.PENDING
    assert decision.reasons == ["author:premoderated"]


def test_first_comments_of_a_new_author_are_held() -> None:
    settings = SiteSettings(premoderate_new_authors=2, flag_thresholds={})
    assert decide(submission(settings=settings, author=AuthorFacts(approved_comments=1))).reasons == ["author:new"]
    assert decide(submission(settings=settings, author=AuthorFacts(approved_comments=2))).reasons == []


# --- words, links, duplicates ---------------------------------------------------------------------------


def test_banned_word_rejects_and_suspect_word_holds() -> None:
    rejected = decide(submission(banned_words=("vermin",), suspect_words=("idiot",)))
    assert rejected.status is CommentStatus.REJECTED
    assert rejected.reasons == ["word:banned:vermin", "word:suspect:idiot"]
    held = decide(submission(suspect_words=("idiot",)))
    assert held.status is CommentStatus.PENDING


def test_too_many_links_hold() -> None:
    settings = SiteSettings(max_links=1, flag_thresholds={})
    assert decide(submission(settings=settings, link_count=1)).status is CommentStatus.APPROVED
    held = decide(submission(settings=settings, link_count=2))
    assert held.status is CommentStatus.PENDING
    assert held.reasons == ["links:2>1"]


def test_any_link_holds_when_the_limit_is_zero_and_none_means_no_limit() -> None:
    assert decide(submission(settings=SiteSettings(max_links=0), link_count=1)).status is CommentStatus.PENDING
    unlimited = SiteSettings(max_links=None, flag_thresholds={})
    assert decide(submission(settings=unlimited, link_count=50)).status is CommentStatus.APPROVED


def test_an_authors_repeated_text_is_refused() -> None:
    with pytest.raises(Conflict, match="already"):
        decide(submission(author_repeats=1))


def test_text_repeated_across_the_site_is_held_as_a_flood() -> None:
    settings = SiteSettings(flood_repeats=3, flag_thresholds={})
    assert decide(submission(settings=settings, site_repeats=2)).status is CommentStatus.APPROVED
    flood = decide(submission(settings=settings, site_repeats=3))
    assert flood.status is CommentStatus.PENDING
    assert flood.reasons == ["flood:3"]


def test_edits_skip_the_duplicate_checks() -> None:
    assert decide(submission(author_repeats=3, site_repeats=10, is_edit=True)).status is CommentStatus.APPROVED


# --- the scorer and the mode ----------------------------------------------------------------------------


def test_scores_over_the_hold_threshold_hold() -> None:
    settings = SiteSettings(thresholds={"TOXICITY": 0.8}, flag_thresholds={})
    held = decide(submission(settings=settings, scores=Scores(categories={"TOXICITY": 0.9})))
    assert held.status is CommentStatus.PENDING
    assert held.reasons == ["score:TOXICITY>=0.8"]
    low = decide(submission(settings=settings, scores=Scores(categories={"TOXICITY": 0.2})))
    assert low.status is CommentStatus.APPROVED


def test_scores_over_the_reject_threshold_reject_once() -> None:
    settings = SiteSettings(thresholds={"THREAT": 0.5}, reject_thresholds={"THREAT": 0.5}, flag_thresholds={})
    decision = decide(submission(settings=settings, scores=Scores(categories={"THREAT": 0.97})))
    assert decision.status is CommentStatus.REJECTED
    assert decision.reasons == ["score:THREAT>=0.5"]


def test_flag_thresholds_mark_published_comments_for_review() -> None:
    settings = SiteSettings(flag_thresholds={"INSULT": 0.4})
    decision = decide(submission(settings=settings, scores=Scores(categories={"INSULT": 0.6})))
    assert decision.status is CommentStatus.APPROVED
    assert decision.flagged
    assert decision.reasons == ["flag:INSULT>=0.4"]


def test_a_held_comment_is_not_flagged_as_well() -> None:
    settings = SiteSettings(moderation_mode=ModerationMode.PRE, flag_thresholds={"INSULT": 0.4})
    decision = decide(submission(settings=settings, scores=Scores(categories={"INSULT": 0.6})))
    assert decision.status is CommentStatus.PENDING
    assert not decision.flagged


def test_sites_flag_by_default_with_the_models_hold_thresholds() -> None:
    decision = decide(replace(submission(), settings=SiteSettings(), scores=Scores(categories={"THREAT": 0.99})))
    assert decision.flagged


def test_pre_moderation_holds_with_reason() -> None:
    decision = decide(submission(settings=SiteSettings(moderation_mode=ModerationMode.PRE, flag_thresholds={})))
    assert decision.status is CommentStatus.PENDING
    assert decision.reasons == ["mode:pre-moderation"]


def test_a_story_in_pre_moderation_holds_on_a_post_moderated_site() -> None:
    decision = decide(submission(story=StoryFacts(moderation_mode=ModerationMode.PRE)))
    assert decision.reasons == ["mode:pre-moderation"]


def test_a_story_in_post_moderation_publishes_on_a_pre_moderated_site() -> None:
    settings = SiteSettings(moderation_mode=ModerationMode.PRE, flag_thresholds={})
    decision = decide(submission(settings=settings, story=StoryFacts(moderation_mode=ModerationMode.POST)))
    assert decision.status is CommentStatus.APPROVED


def test_the_strictest_outcome_wins_and_every_reason_is_kept() -> None:
    settings = SiteSettings(moderation_mode=ModerationMode.PRE, max_links=0, flag_thresholds={})
    decision = decide(submission(settings=settings, banned_words=("scum",), link_count=3))
    assert decision.status is CommentStatus.REJECTED
    assert decision.reasons == ["word:banned:scum", "links:3>0", "mode:pre-moderation"]


def test_refusals_come_before_content_checks() -> None:
    banned = AuthorFacts(status=AuthorStatus.BANNED)
    with pytest.raises(StoryClosed):
        decide(submission(story=StoryFacts(closed=True), author=banned, banned_words=("x",)))
