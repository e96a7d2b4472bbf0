"""The dashboard's forms, read from urlencoded bodies into checked values."""

from __future__ import annotations

from dataclasses import dataclass

from parlour.dashboard.auth import FormData, safe_next
from parlour.errors import InvalidInput
from parlour.moderation.queues import Queue
from parlour.sites.schemas import ModerationMode

# Offered as one click in the reject form; any other reason can be typed.
REJECT_REASONS = ("Abuse", "Spam", "Off-topic", "Dehumanising language", "Threat", "Personal information")
MAX_TEXT = 1000
MAX_BULK = 100


def reason_of(form: FormData) -> str:
    """A chosen common reason and free text, joined: "Spam: links to a shop"."""
    choice = form.get("reason_choice").strip()
    text = form.get("reason").strip()[:MAX_TEXT]
    if choice and choice not in REJECT_REASONS:
        raise InvalidInput("Choose one of the listed reasons, or type one.", field="reason_choice")
    return f"{choice}: {text}" if choice and text else choice or text


def queue_of(form: FormData) -> Queue | None:
    """The queue the item was shown in: after an action, the card stays only while it still belongs there."""
    value = form.get("queue")
    try:
        return Queue(value) if value else None
    except ValueError as exc:
        raise InvalidInput("Unknown queue.", field="queue") from exc


def next_of(form: FormData, fallback: str) -> str:
    """Where a plain (script-less) form post returns to."""
    given = form.get("next")
    return safe_next(*given.split("?", 1)) if given else fallback


def flag_of(form: FormData, name: str) -> bool:
    return form.get(name) in {"on", "1", "true", "yes"}


def int_of(form: FormData, name: str, *, low: int, high: int, label: str) -> int:
    value = form.get(name).strip()
    if not value.isdigit() or not low <= int(value) <= high:
        raise InvalidInput(f"{label} is a whole number from {low} to {high}.", field=name)
    return int(value)


def ids_of(form: FormData, name: str = "id") -> list[int]:
    values = form.getlist(name)
    if not values:
        raise InvalidInput("Select at least one comment.", field=name)
    if len(values) > MAX_BULK:
        raise InvalidInput(f"At most {MAX_BULK} at once.", field=name)
    if not all(v.isdigit() for v in values):
        raise InvalidInput("Invalid selection.", field=name)
    return list(dict.fromkeys(int(v) for v in values))


@dataclass(frozen=True)
class StorySettingsForm:
    closed: bool
    mode: ModerationMode | None  # None: follow the site
    slow_mode_seconds: int | None  # None: follow the site


def story_settings_of(form: FormData) -> StorySettingsForm:
    mode = form.get("mode", "site")
    if mode not in {"site", "pre", "post"}:
        raise InvalidInput("Mode is site, pre or post.", field="mode")
    slow = form.get("slow_mode_seconds").strip()
    slow_seconds = None if slow == "" else int_of(form, "slow_mode_seconds", low=0, high=86400, label="Slow mode")
    return StorySettingsForm(
        closed=form.get("comments") == "closed",
        mode=None if mode == "site" else ModerationMode(mode),
        slow_mode_seconds=slow_seconds,
    )
