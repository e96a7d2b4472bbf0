"""Rate limiters: one contract run against memory and Redis, then each implementation's own promises."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from parlour.infra.ratelimit import (
    KEY_PREFIX,
    MemoryRateLimiter,
    Rate,
    RateLimiter,
    RedisRateLimiter,
    gcra,
    make_rate_limiter,
)

REDIS_URL = "redis://127.0.0.1:6379/13"


def redis_url_or_skip() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true but does not answer at {REDIS_URL}")
        pytest.skip("Redis is not running")
    return REDIS_URL


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    limiter = RedisRateLimiter(redis_url_or_skip())
    yield limiter
    assert not limiter.degraded, "the contract must have run against Redis, not the fallback"
    limiter.close()


@pytest.fixture
def key() -> Iterator[str]:
    name = f"test:{uuid.uuid4().hex}"
    yield name
    with contextlib.suppress(redis.RedisError):  # Redis is not running: nothing to clean
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).delete(KEY_PREFIX + name)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the contract ------------------------------------------------------------------------------------------


def test_allows_the_limit_then_refuses_with_retry_after(limiter: RateLimiter, key: str) -> None:
    decisions = [limiter.hit(key, limit=3, window_seconds=60) for _ in range(5)]
    assert [(d.allowed, d.remaining) for d in decisions] == [(True, 2), (True, 1), (True, 0), (False, 0), (False, 0)]
    assert [d.retry_after_seconds for d in decisions[:3]] == [0.0, 0.0, 0.0]
    # One use comes back every window / limit = 20 s.
    assert all(19.0 < d.retry_after_seconds <= 20.0 for d in decisions[3:])


def test_a_refused_hit_counts_nothing(limiter: RateLimiter, key: str) -> None:
    for _ in range(2):
        limiter.hit(key, limit=2, window_seconds=60)
    first = limiter.hit(key, limit=2, window_seconds=60)
    for _ in range(10):
        limiter.hit(key, limit=2, window_seconds=60)
    last = limiter.hit(key, limit=2, window_seconds=60)
    assert not first.allowed and not last.allowed
    assert last.retry_after_seconds <= first.retry_after_seconds  # did not grow with the refused hits


def test_peek_does_not_count(limiter: RateLimiter, key: str) -> None:
    for _ in range(5):
        peeked = limiter.peek(key, limit=2, window_seconds=60)
        assert (peeked.allowed, peeked.remaining) == (True, 1)
    assert [limiter.hit(key, limit=2, window_seconds=60).allowed for _ in range(3)] == [True, True, False]
    refused = limiter.peek(key, limit=2, window_seconds=60)
    assert not refused.allowed
    assert refused.remaining == 0
    assert 29.0 < refused.retry_after_seconds <= 30.0


def test_cost_takes_several_uses(limiter: RateLimiter, key: str) -> None:
    assert limiter.hit(key, limit=5, window_seconds=60, cost=2).remaining == 3
    assert limiter.hit(key, limit=5, window_seconds=60, cost=2).remaining == 1
    too_much = limiter.hit(key, limit=5, window_seconds=60, cost=2)
    assert (too_much.allowed, too_much.remaining) == (False, 1)
    assert limiter.peek(key, limit=5, window_seconds=60).allowed
    assert limiter.hit(key, limit=5, window_seconds=60).allowed


@pytest.mark.parametrize(
    ("limit", "window", "cost"), [(0, 60.0, 1), (-1, 60.0, 1), (3, 0.0, 1), (3, -5.0, 1), (3, 60.0, 0), (3, 60.0, 4)]
)
def test_nonsense_arguments_are_refused(limiter: RateLimiter, key: str, limit: int, window: float, cost: int) -> None:
    with pytest.raises(ValueError, match="invalid rate"):
        limiter.hit(key, limit=limit, window_seconds=window, cost=cost)
    with pytest.raises(ValueError, match="invalid rate"):
        limiter.peek(key, limit=limit, window_seconds=window, cost=cost)


def test_reset_forgets_a_key(limiter: RateLimiter, key: str) -> None:
    for _ in range(3):
        limiter.hit(key, limit=3, window_seconds=600)
    assert not limiter.peek(key, limit=3, window_seconds=600).allowed
    limiter.reset(key)
    assert limiter.peek(key, limit=3, window_seconds=600).remaining == 2
    assert [limiter.hit(key, limit=3, window_seconds=600).allowed for _ in range(4)] == [True, True, True, False]
    limiter.reset(f"{key}:never-used")  # resetting an unknown key is fine


def test_keys_are_independent(limiter: RateLimiter, key: str) -> None:
    other = f"{key}:other"
    try:
        assert limiter.hit(key, limit=1, window_seconds=60).allowed
        assert not limiter.hit(key, limit=1, window_seconds=60).allowed
        assert limiter.hit(other, limit=1, window_seconds=60).allowed
        limiter.reset(key)
        assert not limiter.hit(other, limit=1, window_seconds=60).allowed
    finally:
        limiter.reset(other)


def test_the_window_passes(limiter: RateLimiter, key: str) -> None:
    # One use comes back every 0.5 s; all of them after 1 s.
    assert [limiter.hit(key, limit=2, window_seconds=1.0).allowed for _ in range(3)] == [True, True, False]
    refused = limiter.peek(key, limit=2, window_seconds=1.0)
    time.sleep(refused.retry_after_seconds + 0.05)
    assert limiter.hit(key, limit=2, window_seconds=1.0).allowed
    time.sleep(1.05)
    assert [limiter.hit(key, limit=2, window_seconds=1.0).allowed for _ in range(3)] == [True, True, False]


def test_many_threads_on_one_key_get_exactly_the_limit(limiter: RateLimiter, key: str) -> None:
    threads, per_thread, limit = 16, 20, 50
    results: list[tuple[bool, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker() -> None:
        start.wait()
        mine = [limiter.hit(key, limit=limit, window_seconds=3600) for _ in range(per_thread)]
        with lock:
            results.extend((d.allowed, d.remaining) for d in mine)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert len(results) == threads * per_thread
    allowed = [remaining for ok, remaining in results if ok]
    assert len(allowed) == limit
    assert sorted(allowed) == list(range(limit))  # each use saw its own count: no two read the same state


def test_make_rate_limiter_chooses_by_url() -> None:
    assert isinstance(make_rate_limiter(None), MemoryRateLimiter)
    assert isinstance(make_rate_limiter(""), MemoryRateLimiter)
    limiter = make_rate_limiter("redis://127.0.0.1:6379/13")
    assert isinstance(limiter, RedisRateLimiter)
    limiter.close()


# -- GCRA and the memory limiter, on a clock we move -------------------------------------------------------


def test_gcra_arithmetic_is_exact() -> None:
    rate = Rate.of(limit=3, window_seconds=1.0, cost=1)  # 333_333 µs a use: three fit, a fourth does not
    tat, now = 0, 5_000_000
    for remaining in (2, 1, 0):
        tat, decision = gcra(tat=tat, now=now, rate=rate, cost=1)
        assert decision.allowed and decision.remaining == remaining
    unchanged, refused = gcra(tat=tat, now=now, rate=rate, cost=1)
    assert not refused.allowed and unchanged == tat
    assert refused.retry_after_seconds == pytest.approx(0.333333)


def test_memory_one_use_comes_back_each_interval() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    for _ in range(4):
        assert limiter.hit("k", limit=4, window_seconds=60).allowed
    refused = limiter.hit("k", limit=4, window_seconds=60)
    assert not refused.allowed and refused.retry_after_seconds == pytest.approx(15.0)
    clock.now += 14.9
    assert not limiter.hit("k", limit=4, window_seconds=60).allowed
    clock.now += 0.1
    assert limiter.hit("k", limit=4, window_seconds=60).allowed
    assert not limiter.hit("k", limit=4, window_seconds=60).allowed
    clock.now += 60
    assert limiter.peek("k", limit=4, window_seconds=60).remaining == 3


def test_memory_drops_keys_whose_bucket_is_full_again() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    for i in range(1000):
        limiter.hit(f"reader:{i}", limit=5, window_seconds=10)
    assert len(limiter) == 1000
    clock.now += 10
    limiter.hit("late", limit=5, window_seconds=10)
    assert len(limiter) == 1


def test_memory_is_bounded_even_under_a_flood_of_keys() -> None:
    limiter = MemoryRateLimiter(FakeClock(), max_keys=100)
    for i in range(10_000):
        limiter.hit(f"reader:{i}", limit=5, window_seconds=3600)
    assert len(limiter) == 100
    # The most recent keys are the ones kept.
    assert limiter.peek("reader:9999", limit=5, window_seconds=3600).remaining == 3
    assert limiter.peek("reader:0", limit=5, window_seconds=3600).remaining == 4


# -- Redis: keys, expiry, and what happens when it is away -------------------------------------------------


class FlakyRedis(redis.Redis):
    """A client whose server can be switched off, counting the commands it was asked to send."""

    down = False
    calls = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.calls += 1
        if self.down:
            raise redis.ConnectionError("switched off by the test")
        return super().execute_command(*args, **options)


def test_redis_keys_are_prefixed_and_expire(key: str) -> None:
    url = redis_url_or_skip()
    limiter = RedisRateLimiter(url)
    client = redis.Redis.from_url(url)
    try:
        limiter.hit(key, limit=4, window_seconds=60)
        limiter.hit(key, limit=4, window_seconds=60)
        ttl = client.pttl(KEY_PREFIX + key)
        assert 29_000 < ttl <= 30_000  # until the bucket is full again: two uses of 15 s
        limiter.peek(f"{key}:peeked", limit=4, window_seconds=60)
        assert not client.exists(KEY_PREFIX + f"{key}:peeked")
    finally:
        limiter.close()
        client.close()


def test_redis_down_falls_back_to_a_stricter_local_limit(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nobody listens on: connections are refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{port}/13", retry_seconds=0.0)
    caplog.set_level(logging.INFO, logger="parlour.infra.ratelimit")
    started = time.monotonic()
    decisions = [limiter.hit("k", limit=10, window_seconds=60) for _ in range(20)]
    assert time.monotonic() - started < 2.0
    assert [d.allowed for d in decisions].count(True) == 5  # 10 / the default divisor of 2
    assert limiter.degraded
    assert not limiter.peek("k", limit=10, window_seconds=60).allowed
    limiter.reset("k")  # never raises either
    assert limiter.hit("k", limit=10, window_seconds=60).allowed
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()
    limiter.close()


def test_redis_that_does_not_answer_costs_one_short_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (in the kernel's backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        limiter = RedisRateLimiter(f"redis://127.0.0.1:{port}/13", fallback_divisor=4, retry_seconds=30)
        started = time.monotonic()
        first = limiter.hit("k", limit=8, window_seconds=60)
        assert time.monotonic() - started < 1.0  # socket timeouts are 0.25 s and there are no retries
        started = time.monotonic()
        rest = [limiter.hit("k", limit=8, window_seconds=60) for _ in range(10)]
        assert time.monotonic() - started < 0.2  # Redis is not asked again until retry_seconds have passed
        assert [d.allowed for d in [first, *rest]].count(True) == 2  # 8 / 4
        limiter.close()


def test_redis_is_used_again_when_it_answers(key: str, caplog: pytest.LogCaptureFixture) -> None:
    url = redis_url_or_skip()
    clock = FakeClock()
    client = FlakyRedis.from_url(url)
    limiter = RedisRateLimiter(url, client=client, clock=clock, retry_seconds=5)
    caplog.set_level(logging.INFO, logger="parlour.infra.outage")
    try:
        assert limiter.hit(key, limit=4, window_seconds=60).remaining == 3  # in Redis
        client.down = True
        assert limiter.hit(key, limit=4, window_seconds=60).remaining == 1  # local: 4 / 2, its own count
        calls = client.calls
        for _ in range(5):
            limiter.hit(key, limit=4, window_seconds=60)
        assert client.calls == calls  # not asked again while the retry period runs
        client.down = False
        clock.now += 5
        decision = limiter.hit(key, limit=4, window_seconds=60)
        assert not limiter.degraded
        assert decision.remaining == 2  # Redis's count went on from where it was
        messages = [r.getMessage() for r in caplog.records]
        assert sum("unavailable" in m for m in messages) == 1
        assert sum("answers again" in m for m in messages) == 1
    finally:
        limiter.close()
