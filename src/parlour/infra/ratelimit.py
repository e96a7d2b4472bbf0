"""Rate limits by GCRA, atomic per key: in process memory, or in Redis shared by every worker.

GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp) allows `limit` uses at once, then
one more every `window / limit` seconds. We chose it over a sliding-window log because it keeps one number per
key (bounded memory however large the limit, one Redis string with a TTL) and gives an exact `remaining` and
`retry_after` from the same atomic step; over a sliding-window counter because it is exact, not an estimate.
What it does not promise: a client that spends its burst and then keeps pace may make up to 2 x limit - 1
uses within one window, never more than `limit` at once nor more than `limit` per window on average.

Time is counted in whole microseconds so the arithmetic is exact (in Python, and in Redis's Lua doubles).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from parlour.infra.outage import Outage

log = logging.getLogger(__name__)
KEY_PREFIX = "parlour:rl:"
MAX_MEMORY_KEYS = 100_000
SOCKET_TIMEOUT = 0.25  # a request never waits longer than this on a Redis that does not answer
MICROS = 1_000_000


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    remaining: int  # further uses of cost 1 allowed right now
    retry_after_seconds: float  # 0 when allowed; else when this use would be allowed


class RateLimiter(Protocol):
    def hit(self, key: str, *, limit: int, window_seconds: float, cost: int = 1) -> RateDecision:
        """Count `cost` uses of `key` if they fit within `limit` per window; a refused use counts nothing."""

    def peek(self, key: str, *, limit: int, window_seconds: float, cost: int = 1) -> RateDecision:
        """What `hit` would decide now, without counting anything."""

    def reset(self, key: str) -> None:
        """Forget `key`'s uses (a successful login clears its failures)."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Rate:
    """A limit as GCRA counts it."""

    interval: int  # microseconds one use takes from the bucket
    capacity: int  # microseconds the bucket holds: `limit` uses

    @classmethod
    def of(cls, *, limit: int, window_seconds: float, cost: int) -> Rate:
        if limit < 1 or window_seconds <= 0 or not 1 <= cost <= limit:
            raise ValueError(f"invalid rate: limit={limit}, window_seconds={window_seconds}, cost={cost}")
        interval = max(1, round(window_seconds * MICROS) // limit)
        return cls(interval, interval * limit)


def gcra(*, tat: int, now: int, rate: Rate, cost: int) -> tuple[int, RateDecision]:
    """The new theoretical arrival time and the decision for `cost` uses at `now` (the Lua script's twin)."""
    base = max(tat, now)
    new_tat = base + cost * rate.interval
    if new_tat - now <= rate.capacity:
        return new_tat, RateDecision(True, (rate.capacity - (new_tat - now)) // rate.interval, 0.0)
    return base, RateDecision(
        False, (rate.capacity - (base - now)) // rate.interval, (new_tat - now - rate.capacity) / MICROS
    )


class MemoryRateLimiter:
    """Limits in this process: exact for one worker; a key is dropped when its bucket is full again."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_MEMORY_KEYS) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._tats: OrderedDict[str, int] = OrderedDict()  # least recently used first

    def hit(self, key: str, *, limit: int, window_seconds: float, cost: int = 1) -> RateDecision:
        rate = Rate.of(limit=limit, window_seconds=window_seconds, cost=cost)
        with self._lock:
            now = self._now()
            tat, decision = gcra(tat=self._tats.get(key, now), now=now, rate=rate, cost=cost)
            if decision.allowed:
                self._tats[key] = tat
                self._tats.move_to_end(key)
                self._expire(now)
            return decision

    def peek(self, key: str, *, limit: int, window_seconds: float, cost: int = 1) -> RateDecision:
        rate = Rate.of(limit=limit, window_seconds=window_seconds, cost=cost)
        with self._lock:
            now = self._now()
            return gcra(tat=self._tats.get(key, now), now=now, rate=rate, cost=cost)[1]

    def reset(self, key: str) -> None:
        with self._lock:
            self._tats.pop(key, None)

    def close(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._tats)

    def _now(self) -> int:
        return int(self._clock() * MICROS)

    def _expire(self, now: int) -> None:
        # Oldest-used first: drop them while their buckets are full again (they would allow a full burst
        # anyway), and past the cap drop the least recently used even so, which only forgives it.
        while self._tats:
            key, tat = next(iter(self._tats.items()))
            if tat > now and len(self._tats) <= self._max_keys:
                return
            del self._tats[key]


# GCRA in one step, on Redis's clock so that every worker agrees. KEYS[1]: the key; ARGV: interval and capacity
# (microseconds), cost, 1 to count or 0 to peek. Returns {allowed, base - now, new_tat - now}.
_GCRA = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, capacity, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local base = tonumber(redis.call('GET', KEYS[1]) or now)
if base < now then base = now end
local new_tat = base + cost * interval
if new_tat - now > capacity then return {0, base - now, new_tat - now} end
if ARGV[4] == '1' then
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
end
return {1, base - now, new_tat - now}
"""


class RedisRateLimiter:
    """Limits in Redis, shared by every worker; while Redis is away, a local limiter with a stricter limit serves."""

    def __init__(
        self,
        url: str,
        *,
        fallback_divisor: int = 2,
        retry_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        client: redis.Redis | None = None,
    ) -> None:
        # No retries: a dead Redis costs one timeout, then `retry_seconds` of local limits, never a long wait.
        self._redis = client or redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT, retry=Retry(NoBackoff(), 0)
        )
        self._script = self._redis.register_script(_GCRA)
        self._local = MemoryRateLimiter(clock)
        self._divisor = fallback_divisor
        self._outage = Outage(
            what="Redis rate limiter",
            fallback=f"limiting in this process at 1/{fallback_divisor} of each limit",
            retry_seconds=retry_seconds,
            clock=clock,
        )

    def hit(self, key: str, *, limit: int, window_seconds: float, cost: int = 1) -> RateDecision:
        return self._decide(key, limit=limit, window_seconds=window_seconds, cost=cost, count=True)

    def peek(self, key: str, *, limit: int, window_seconds: float, cost: int = 1) -> RateDecision:
        return self._decide(key, limit=limit, window_seconds=window_seconds, cost=cost, count=False)

    def reset(self, key: str) -> None:
        self._local.reset(key)
        if self._outage.should_try():
            try:
                self._redis.delete(KEY_PREFIX + key)
                self._outage.answered()
            except (redis.RedisError, OSError) as exc:
                self._outage.failed(exc)

    def close(self) -> None:
        self._redis.close()

    @property
    def degraded(self) -> bool:
        return self._outage.degraded

    def _decide(self, key: str, *, limit: int, window_seconds: float, cost: int, count: bool) -> RateDecision:
        rate = Rate.of(limit=limit, window_seconds=window_seconds, cost=cost)
        if self._outage.should_try():
            try:
                allowed, base, new_tat = self._script(
                    keys=[KEY_PREFIX + key], args=[rate.interval, rate.capacity, cost, int(count)]
                )
                self._outage.answered()
                used = int(new_tat) if allowed else int(base)
                retry = 0.0 if allowed else (int(new_tat) - rate.capacity) / MICROS
                return RateDecision(bool(allowed), (rate.capacity - used) // rate.interval, retry)
            except (redis.RedisError, OSError) as exc:
                self._outage.failed(exc)
        # Each worker counts alone while Redis is away, so together they would allow workers x limit.
        local_limit = max(1, limit // self._divisor)
        local = self._local.hit if count else self._local.peek
        return local(key, limit=local_limit, window_seconds=window_seconds, cost=min(cost, local_limit))


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
