"""Durable outboxes (webhook deliveries, e-mail): due rows, each taken by one worker at a time under a lease.

Rows wait in a table with `status`, `next_attempt_at` and `attempts`. A worker reads which are due (a read, so an
idle outbox never takes SQLite's write lock), then leases each with a guarded UPDATE: only one worker's UPDATE
matches, and a worker that dies mid-send leaves the row due again when its lease runs out (at-least-once).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parlour.db.engine import Database


def due_ids(*, db: Database, model: Any, pending: Any, now: datetime, batch: int) -> list[int]:
    """Ids of up to `batch` rows due now, oldest due first; sorted, so workers lease in the same order."""
    query = (
        select(model.id)
        .where(model.status == pending, model.next_attempt_at <= now)
        .order_by(model.next_attempt_at, model.id)
        .limit(batch)
    )
    with db.read() as session:
        return sorted(session.scalars(query))


def lease(
    session: Session, *, model: Any, pending: Any, ids: list[int], now: datetime, lease_until: datetime
) -> Iterator[int]:
    """The ids this worker leased (pushing their next attempt to `lease_until`); others were taken first."""
    for row_id in ids:
        taken = session.execute(
            update(model)
            .where(model.id == row_id, model.status == pending, model.next_attempt_at <= now)
            .values(next_attempt_at=lease_until, attempts=model.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0) == 1:
            yield row_id
