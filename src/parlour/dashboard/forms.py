"""The dashboard's forms, read from urlencoded bodies into checked values."""

from __future__ import annotations

from dataclasses import dataclass

from parlour.dashboard.auth import FormData, safe_next
from parlour.db.tables import MAX_ID
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
    return safe_return(form.get("next"), fallback)


def safe_return(given: str, fallback: str) -> str:
    """A given return address inside the dashboard, or the fallback when none was given."""
    return safe_next(*given.split("?", 1)) if given else fallback


def flag_of(form: FormData, name: str) -> bool:
    return form.get(name) in {"on", "1", "true", "yes"}


def whole_number(value: str) -> int | None:
    """ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() refuses or reads differently."""
    value = value.strip()
    if not value or len(value) > 19 or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


def int_of(form: FormData, name: str, *, low: int, high: int, label: str) -> int:
    value = whole_number(form.get(name))
    if value is None or not low <= value <= high:
        raise InvalidInput(f"{label} is a whole number from {low} to {high}.", field=name)
    return value


def id_of(value: str, *, field: str) -> int:
    number = whole_number(value)
    if number is None or not 1 <= number <= MAX_ID:
        raise InvalidInput("Invalid id.", field=field)
    return number


def ids_of(form: FormData, name: str = "id", *, what: str = "comment") -> list[int]:
    values = form.getlist(name)
    if not values:
        raise InvalidInput(f"Select at least one {what}.", field=name)
    if len(values) > MAX_BULK:
        raise InvalidInput(f"At most {MAX_BULK} at once.", field=name)
    return list(dict.fromkeys(id_of(v, field=name) for v in values))


def seen_of(form: FormData, comment_ids: list[int]) -> dict[int, int]:
    """Per comment, its latest audit row when the page drew its card: `seen` on a card's own form, `seen-<id>` on
    the bulk form. A form without it (an older page, a script) is not checked for later decisions."""
    seen: dict[int, int] = {}
    for comment_id in comment_ids:
        value = form.get(f"seen-{comment_id}") or (form.get("seen") if len(comment_ids) == 1 else "")
        if not value:
            continue
        number = whole_number(value)
        if number is None or number > MAX_ID:
            raise InvalidInput("Invalid page state; reload the page.", field="seen")
        seen[comment_id] = number
    return seen


@dataclass(frozen=True)
class StorySettingsForm:
    closed: bool | None  # None: leave as it is
    mode: ModerationMode | None  # None: follow the site
    slow_mode_seconds: int | None  # None: follow the site


def story_settings_of(form: FormData) -> StorySettingsForm:
    mode = form.get("mode", "site")
    if mode not in {"site", "pre", "post"}:
        raise InvalidInput("Mode is site, pre or post.", field="mode")
    slow = form.get("slow_mode_seconds").strip()
    slow_seconds = None if slow == "" else int_of(form, "slow_mode_seconds", low=0, high=86400, label="Slow mode")
    comments = form.get("comments")
    if comments not in {"", "open", "closed"}:
        raise InvalidInput("Comments are open or closed.", field="comments")
    return StorySettingsForm(
        closed=None if comments == "" else comments == "closed",
        mode=None if mode == "site" else ModerationMode(mode),
        slow_mode_seconds=slow_seconds,
    )
