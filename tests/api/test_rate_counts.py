"""The database rate limiter: failed sign-ins counted once for every worker, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from parlour.db.engine import Database
from parlour.db.rate_counts import DatabaseRateLimiter
from parlour.db.tables import RateCount


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_counts_up_to_the_limit_then_refuses_until_the_window_passes(db: Database) -> None:
    clock = Clock()
    limiter = DatabaseRateLimiter(db, clock=clock)
    for left in (4, 3, 2, 1, 0):
        assert limiter.peek("k", limit=5, window_seconds=900).allowed
        decision = limiter.hit("k", limit=5, window_seconds=900)
        assert decision.allowed and decision.remaining == left
    refused = limiter.hit("k", limit=5, window_seconds=900)
    assert not refused.allowed and 0 < refused.retry_after_seconds <= 180
    assert not limiter.peek("k", limit=5, window_seconds=900).allowed
    assert limiter.hit("other", limit=5, window_seconds=900).allowed  # keys are apart
    clock.now += refused.retry_after_seconds
    assert limiter.hit("k", limit=5, window_seconds=900).allowed
    limiter.reset("k")
    assert limiter.peek("k", limit=5, window_seconds=900).remaining == 4


def test_a_second_limiter_on_the_same_database_sees_the_same_counts(db: Database) -> None:
    clock = Clock()
    one, two = DatabaseRateLimiter(db, clock=clock), DatabaseRateLimiter(db, clock=clock)
    for limiter in (one, two, one):
        assert limiter.hit("shared", limit=3, window_seconds=60).allowed
    assert not two.hit("shared", limit=3, window_seconds=60).allowed


def test_concurrent_hits_are_all_counted(db: Database) -> None:
    limiter = DatabaseRateLimiter(db)
    with ThreadPoolExecutor(8) as pool:
        decisions = list(pool.map(lambda _: limiter.hit("race", limit=10, window_seconds=600), range(16)))
    assert sum(d.allowed for d in decisions) == 10


def test_keys_whose_buckets_are_full_again_are_forgotten(db: Database) -> None:
    clock = Clock()
    limiter = DatabaseRateLimiter(db, clock=clock)
    for n in range(5):
        limiter.hit(f"old-{n}", limit=5, window_seconds=60)
    clock.now += 61
    limiter.hit("new", limit=5, window_seconds=60)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(RateCount)) == 1
