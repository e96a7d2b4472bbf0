"""A moderator's decision and its webhook deliveries are stored in one transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from parlour.clock import utcnow
from parlour.db.tables import Site, WebhookDelivery, WebhookEndpoint
from tests.dashboard.conftest import Browser, World, published


def test_a_decision_is_stored_with_its_delivery_before_anything_after_the_commit(
    world: World, admin: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    comment_id = published(world.client)
    with world.db.write() as session:
        site_id = session.scalars(select(Site.id).where(Site.slug == "courier")).one()
        # Never sent: the test ends before the sender's next poll would reach a receiver that is not there.
        session.add(
            WebhookEndpoint(
                site_id=site_id,
                url="https://93.184.215.14/hook",
                secret="whsec_x",
                events=["comment.featured", "comment.rejected"],
                created_at=utcnow(),
            )
        )
    # kill -9 right after the decision's commit: nothing that runs after the commit ever runs.
    monkeypatch.setattr(world.app.state.parlour.bus, "publish", lambda *_args, **_kwargs: None)
    assert admin.act(f"/admin/comments/{comment_id}/feature", {"on": "1"}).status_code == 303
    assert admin.act(f"/admin/comments/{comment_id}/reject", {"reason": "off topic"}).status_code == 303
    with world.db.read() as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        assert [(row.event, row.payload["data"]["comment"]["id"]) for row in rows] == [
            ("comment.featured", comment_id),
            ("comment.rejected", comment_id),
        ]
