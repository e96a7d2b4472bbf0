"""Author and story pages, and the actions on them (also reachable from a queue item)."""

from __future__ import annotations

from functools import partial

from fastapi import Request
from starlette.responses import Response

from parlour.accounts.sessions import SignedIn
from parlour.dashboard import forms
from parlour.dashboard.acting import Reply, act, after, reply_of
from parlour.dashboard.auth import CheckedForm, Moderator
from parlour.dashboard.render import redirect, render
from parlour.events import CommentModerated
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
    reject_pending = forms.flag_of(form, "reject_pending")
    reply = reply_of(state, who, form)
    work = partial(
        actions.ban_author,
        staff=who.staff,
        author_id=author_id,
        reason=reason,
        all_sites=everywhere,
        reject_pending=reject_pending,
    )
    # Rejecting from a card decides that card's comment too: refused if it changed since the page showed it.
    deciding = [reply.comment_id] if reject_pending and reply.comment_id is not None else []
    outcome = act(state, who, work, deciding=deciding, seen=forms.seen_of(form, deciding))
    message = "Author banned" + (" on all sites" if everywhere else "")
    if reject_pending:
        rejected = sum(1 for e in outcome.events if isinstance(e, CommentModerated) and e.action == "reject")
        message += f"; {rejected} comment(s) awaiting review rejected"
    return _done(request, state, who, reply, author_id, outcome, message)


def suspend(request: Request, state: State, who: Moderator, form: CheckedForm, author_id: int) -> Response:
    days = forms.int_of(form, "days", low=1, high=365, label="Days")
    message = form.get("message").strip()[:MAX_MESSAGE]
    reply = reply_of(state, who, form)
    work = partial(actions.suspend_author, staff=who.staff, author_id=author_id, days=days, message=message)
    return _done(request, state, who, reply, author_id, act(state, who, work), f"Author suspended for {days} days")


def reinstate(request: Request, state: State, who: Moderator, form: CheckedForm, author_id: int) -> Response:
    reply = reply_of(state, who, form)
    work = partial(actions.restore_author, staff=who.staff, author_id=author_id)
    return _done(request, state, who, reply, author_id, act(state, who, work), "Author reinstated")


def premoderate(request: Request, state: State, who: Moderator, form: CheckedForm, author_id: int) -> Response:
    on, reply = forms.flag_of(form, "on"), reply_of(state, who, form)
    work = partial(actions.set_premoderation, staff=who.staff, author_id=author_id, on=on)
    message = "Always pre-moderated" if on else "Pre-moderation off"
    return _done(request, state, who, reply, author_id, act(state, who, work), message)


def story_page(request: Request, state: State, who: Moderator, story_id: int) -> Response:
    """A story's moderation settings and surge guard state, with its audit rows."""
    with state.db.read() as session:
        page = dashboard.story_page(session=session, staff=who.staff, story_id=story_id)
    return render(request, state, who, "admin/story.html", {"page": page})


def story_settings(request: Request, state: State, who: Moderator, form: CheckedForm, story_id: int) -> Response:
    """Open or close the story, set its moderation mode and slow mode."""
    values = forms.story_settings_of(form)
    work = partial(
        actions.update_story_moderation,
        staff=who.staff,
        story_id=story_id,
        closed=values.closed,
        mode=values.mode,
        slow_mode_seconds=values.slow_mode_seconds,
    )
    act(state, who, work)
    return redirect(forms.next_of(form, f"/admin/stories/{story_id}"))


def _done(
    request: Request, state: AppState, who: SignedIn, reply: Reply, author_id: int, outcome: Outcome, message: str
) -> Response:
    """From a queue item: its refreshed card; from the author page: back to it."""
    if reply.comment_id is not None:
        return after(request, state, who, reply, [reply.comment_id], [outcome], message)
    return redirect(forms.safe_return(reply.next, f"/admin/authors/{author_id}"))
