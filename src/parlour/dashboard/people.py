"""Author and story pages, and the actions on them (also reachable from a queue item)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from parlour.dashboard import forms
from parlour.dashboard.acting import act, after
from parlour.dashboard.auth import CheckedForm, FormData, Moderator
from parlour.dashboard.render import redirect, render
from parlour.moderation import actions, dashboard
from parlour.moderation.actions import Outcome
from parlour.state import AppState, State

MAX_MESSAGE = 500


def author_page(request: Request, state: State, who: Moderator, author_id: int) -> Response:
    """An author's history, comments and audit rows, with the actions on them."""
    with state.db.read() as session:
        page = dashboard.author_page(session=session, staff=who.staff, author_id=author_id)
    return render(request, state, who, "admin/author.html", {"page": page})


def ban(request: Request, state: State, who: Moderator, form: CheckedForm, author_id: int) -> Response:
    everywhere, reason = forms.flag_of(form, "all_sites"), forms.reason_of(form)
    outcome = act(
        state,
        lambda s: actions.ban_author(
            session=s, staff=who.staff, author_id=author_id, reason=reason, all_sites=everywhere
        ),
    )
    return _done(
        request, state, who, form, author_id, outcome, "Author banned" + (" on all sites" if everywhere else "")
    )


def suspend(request: Request, state: State, who: Moderator, form: CheckedForm, author_id: int) -> Response:
    days = forms.int_of(form, "days", low=1, high=365, label="Days")
    message = form.get("message").strip()[:MAX_MESSAGE]
    outcome = act(
        state,
        lambda s: actions.suspend_author(session=s, staff=who.staff, author_id=author_id, days=days, message=message),
    )
    return _done(request, state, who, form, author_id, outcome, f"Author suspended for {days} days")


def reinstate(request: Request, state: State, who: Moderator, form: CheckedForm, author_id: int) -> Response:
    outcome = act(state, lambda s: actions.restore_author(session=s, staff=who.staff, author_id=author_id))
    return _done(request, state, who, form, author_id, outcome, "Author reinstated")


def premoderate(request: Request, state: State, who: Moderator, form: CheckedForm, author_id: int) -> Response:
    on = forms.flag_of(form, "on")
    outcome = act(state, lambda s: actions.set_premoderation(session=s, staff=who.staff, author_id=author_id, on=on))
    return _done(request, state, who, form, author_id, outcome, "Always pre-moderated" if on else "Pre-moderation off")


def story_page(request: Request, state: State, who: Moderator, story_id: int) -> Response:
    """A story's moderation settings and surge guard state, with its audit rows."""
    with state.db.read() as session:
        page = dashboard.story_page(session=session, staff=who.staff, story_id=story_id)
    return render(request, state, who, "admin/story.html", {"page": page})


def story_settings(request: Request, state: State, who: Moderator, form: CheckedForm, story_id: int) -> Response:
    """Open or close the story, set its moderation mode and slow mode."""
    values = forms.story_settings_of(form)
    act(
        state,
        lambda s: actions.update_story_moderation(
            session=s,
            staff=who.staff,
            story_id=story_id,
            closed=values.closed,
            mode=values.mode,
            slow_mode_seconds=values.slow_mode_seconds,
        ),
    )
    return redirect(f"/admin/stories/{story_id}")


def _done(
    request: Request, state: AppState, who: Moderator, form: FormData, author_id: int, outcome: Outcome, message: str
) -> Response:
    """From a queue item: its refreshed card; from the author page: back to it."""
    comment = form.get("comment")
    if comment.isdigit():
        return after(request, state, who, form, [int(comment)], [outcome], message)
    return redirect(forms.next_of(form, f"/admin/authors/{author_id}"))
