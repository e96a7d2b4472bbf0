"""Running a dashboard action and answering it: a fragment for htmx, a redirect for a plain form post."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from parlour.accounts.sessions import SignedIn
from parlour.dashboard import forms
from parlour.dashboard.auth import FormData
from parlour.dashboard.render import is_htmx, redirect, render
from parlour.moderation import dashboard
from parlour.moderation.actions import Outcome
from parlour.state import AppState


def act(state: AppState, work: Callable[[Session], Outcome]) -> Outcome:
    """Run one action in a write transaction; its events go out once it has committed."""
    with state.db.write() as session:
        outcome = work(session)
    state.bus.publish(outcome.events)
    return outcome


def after(
    request: Request,
    state: AppState,
    who: SignedIn,
    form: FormData,
    comment_ids: list[int],
    outcomes: list[Outcome],
    message: str,
) -> Response:
    """htmx gets each item's new card (or its removal), fresh counts and a toast with Undo; a plain post a 303."""
    queue = forms.queue_of(form)
    if not is_htmx(request):
        fallback = f"/admin/comments/{comment_ids[0]}" if len(comment_ids) == 1 else "/admin"
        return redirect(forms.next_of(form, fallback))
    site = form.get("site") or None
    with state.db.read() as session:
        after = dashboard.after_action(
            session=session, staff=who.staff, comment_ids=comment_ids, queue=queue, site=site
        )
    context = {
        "after": after,
        "scope": after.scope,
        "counts": after.counts,
        "queue": queue,
        "site": site,
        "current": queue.value if queue else "",
        "message": message,
        "undo_ids": [o.action_id for o in outcomes],
    }
    return render(request, state, who, "admin/_after_action.html", context)
