"""PostgreSQL restarted under load: posts fail fast with 503 + Retry-After, work again within 10 s, lose nothing."""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from parlour.db.engine import connect
from tests.conftest import DatabaseUnderTest, create_test_site
from tests.e2e.conftest import server_env
from tests.e2e.server import PARLOUR, running_server
from tests.faults.support import (
    Outcomes,
    PrivatePostgres,
    comment_payload,
    post_until_acknowledged,
    poster,
    postgres_bin_or_skip,
    private_postgres,
    stored_bodies,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
POSTERS = 4
POSTS_PER_POSTER = 2000  # a bound on the load, far above what the restart leaves time for
DOWN_SECONDS = 2.0  # between the end of the fast shutdown and the start
FAST_SECONDS = 5.0  # no answer may take longer, down or not: failing fast is the point
RECOVERY_SECONDS = 10.0


@dataclass(frozen=True)
class Restart:
    """When PostgreSQL was down (time.monotonic()), and how long after its start posting worked again."""

    down_from: float
    down_until: float
    recovered_after: float


def restart_under_load(cluster: PrivatePostgres, client: httpx.Client, outcomes: Outcomes) -> Restart:
    stop = threading.Event()
    with ThreadPoolExecutor(POSTERS) as pool:
        base_url = str(client.base_url)
        futures = [
            pool.submit(poster, base_url, number, stop, outcomes, limit=POSTS_PER_POSTER) for number in range(POSTERS)
        ]
        try:
            wait_for(lambda: len(outcomes.acknowledged) >= POSTERS, seconds=20)  # the load flows before the stop
            time.sleep(1.0)
            cluster.stop("fast")  # aborts the open transactions and closes every connection of both workers
            down_from = time.monotonic()
            time.sleep(DOWN_SECONDS)
            down_until = time.monotonic()
            cluster.start()
            back_at = time.monotonic()
            # A fresh post, retried on 503 as the posters do: how long after the start until posting works again.
            post_until_acknowledged(
                client, key="after-restart", body="after the restart", outcomes=outcomes, attempts=40, stop=stop
            )
            recovered_after = time.monotonic() - back_at
            time.sleep(1.0)  # the load carries on after the recovery
        finally:
            stop.set()
        for future in futures:
            future.result(timeout=60)
    return Restart(down_from, down_until, recovered_after)


def test_postgres_restart_fails_fast_and_loses_nothing() -> None:
    bin_dir = postgres_bin_or_skip()
    outcomes = Outcomes()
    with private_postgres(bin_dir) as cluster:
        test_db = DatabaseUnderTest("postgres", cluster.url)
        env = server_env(test_db)
        subprocess.run([PARLOUR, "db", "upgrade"], env=os.environ | env, check=True, capture_output=True, timeout=120)
        db = connect(cluster.url)
        create_test_site(db)
        db.dispose()
        with (
            running_server(env, workers=2) as (base_url, _process),
            httpx.Client(base_url=base_url, timeout=20) as client,
        ):
            restart = restart_under_load(cluster, client, outcomes)
            rows = stored_bodies(test_db)
            # A retry of an acknowledged post answers with the same comment and stores nothing.
            sample = random.sample(sorted(outcomes.acknowledged.items()), min(20, len(outcomes.acknowledged)))
            for key, item in sample:
                retry = client.post(
                    "/api/v1/comments", json=comment_payload(item["body"]), headers={"Idempotency-Key": key}
                )
                assert retry.status_code == 201, retry.text
                assert (retry.json()["id"], retry.json()["edit_token"]) == (item["id"], item["token"])
            assert stored_bodies(test_db) == rows

    during = [answer for answer in outcomes.answers if restart.down_from <= answer.started <= restart.down_until]
    assert [answer.status for answer in during if answer.status == 503], "no post met the outage"
    assert outcomes.problems == []  # every answer was a 201 or a 503
    assert set(outcomes.statuses) <= {201, 503}
    assert outcomes.transport_errors == {}, "connections were dropped or timed out"
    unhelpful = [answer for answer in outcomes.answers if answer.status == 503 and not answer.retry_after]
    assert unhelpful == [], "a 503 without Retry-After"
    assert {answer.content_type for answer in outcomes.answers if answer.status == 503} == {"application/problem+json"}
    slowest = max(answer.seconds for answer in outcomes.answers)
    assert slowest < FAST_SECONDS, f"an answer took {slowest:.1f} s"
    assert "after-restart" in outcomes.acknowledged, "posting did not work again after the restart"
    recovered = restart.recovered_after
    assert recovered <= RECOVERY_SECONDS, f"posting worked again only {recovered:.1f} s after the start"
    # Exactly once: every acknowledged comment is stored under its id, and none twice, whatever retries it took.
    assert [item for item in outcomes.acknowledged.values() if rows.get(item["id"]) != item["body"]] == []
    assert [body for body, count in Counter(rows.values()).items() if count > 1] == []
