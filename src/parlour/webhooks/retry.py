"""When a failed delivery is tried again: exponential backoff with jitter, then giving up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class DeliveryPolicy:
    """How deliveries are sent and retried; tests pass a fast one to create_app."""

    # Wait after the 1st, 2nd… failed attempt; the last one repeats until max_attempts.
    delays: tuple[float, ...] = (30, 120, 600, 3600, 6 * 3600)
    max_attempts: int = 8
    jitter: float = 0.1  # each wait is stretched or shrunk by up to this share, so retries do not arrive in step
    timeout: float = 5.0  # per attempt: connect, send and read the status line
    # A claimed delivery is not claimed again for this long, so a worker that dies mid-send only delays it.
    lease_seconds: float = 60.0
    poll_seconds: float = 5.0  # how often each worker looks for due retries; new events wake it at once
    batch: int = 20


def next_attempt(policy: DeliveryPolicy, *, attempts: int, now: datetime, rand: float) -> datetime | None:
    """When to try again after `attempts` failed attempts (rand in [0, 1)), or None to give up."""
    if attempts >= policy.max_attempts:
        return None
    delay = policy.delays[min(max(attempts, 1), len(policy.delays)) - 1] if policy.delays else 0.0
    stretch = 1 + policy.jitter * (2 * rand - 1)
    return now + timedelta(seconds=max(0.0, delay * stretch))


def succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300
