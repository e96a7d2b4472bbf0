"""A RateLimiter over the database: every worker shares it without Redis. For rare counts only (failed sign-ins):
each use is a short write transaction."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from parlour.db.engine import Database
from parlour.db.tables import RateCount
from parlour.infra.ratelimit import MICROS, Rate, RateDecision, gcra


class DatabaseRateLimiter:
    """GCRA like the memory and Redis limiters, on the wall clock, which the workers (and machines) share."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def hit(self, key: str, *, limit: int, window_seconds: float, cost: int = 1) -> RateDecision:
        rate = Rate.of(limit=limit, window_seconds=window_seconds, cost=cost)
        try:
            return self._hit(key, rate, cost)
        except IntegrityError:
            return self._hit(key, rate, cost)  # another worker counted the key's first use meanwhile

    def peek(self, key: str, *, limit: int, window_seconds: float, cost: int = 1) -> RateDecision:
        rate = Rate.of(limit=limit, window_seconds=window_seconds, cost=cost)
        now = self._now()
        with self._db.read() as session:
            tat = session.scalar(select(RateCount.tat).where(RateCount.key == key))
        return gcra(tat=tat if tat is not None else now, now=now, rate=rate, cost=cost)[1]

    def reset(self, key: str) -> None:
        with self._db.write() as session:
            session.execute(delete(RateCount).where(RateCount.key == key))

    def close(self) -> None:
        return None

    def _hit(self, key: str, rate: Rate, cost: int) -> RateDecision:
        with self._db.write() as session:
            now = self._now()
            # Locked on PostgreSQL, so that two workers counting at once both count; SQLite's write lock does it.
            row = session.scalar(select(RateCount).where(RateCount.key == key).with_for_update())
            tat, decision = gcra(tat=row.tat if row else now, now=now, rate=rate, cost=cost)
            if decision.allowed:
                if row is None:
                    session.add(RateCount(key=key, tat=tat))
                else:
                    row.tat = tat
                # Keys whose buckets are full again would allow a full burst anyway: forgotten.
                session.execute(delete(RateCount).where(RateCount.tat <= now, RateCount.key != key))
            return decision

    def _now(self) -> int:
        return int(self._clock() * MICROS)
