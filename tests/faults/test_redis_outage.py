"""Redis killed and restarted under load: reads and posts carry on (local fallbacks), live updates come back."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from parlour.db.engine import connect
from parlour.sites import service as sites
from parlour.sites.schemas import SiteUpdate
from tests.conftest import STORY, DatabaseUnderTest
from tests.e2e.conftest import server_env
from tests.e2e.server import running_server
from tests.e2e.test_live import Listener
from tests.faults.support import private_redis, redis_server_or_skip

pytestmark = pytest.mark.slow
ROUNDS = 12  # requests to each server while Redis is down
RECOVERY_SECONDS = 15.0  # the broker's reconnect backoff reaches 4 s after a few seconds' outage


def post(client: httpx.Client, body: str) -> httpx.Response:
    payload = {"site": "courier", "url": STORY, "body": body, "author": {"name": "Outage"}}
    return client.post("/api/v1/comments", json=payload)


def read(client: httpx.Client) -> httpx.Response:
    return client.get("/api/v1/threads", params={"site": "courier", "url": STORY})


def test_redis_outage_degrades_and_recovers(process_db: DatabaseUnderTest) -> None:
    binary = redis_server_or_skip()
    db = connect(process_db.url)
    # A generous per-network limit, so each post goes through the rate limiter: in Redis, then in the fallback.
    with db.write() as session:
        site = sites.get_site(session=session, slug="courier")
        sites.update_site(
            session=session, site=site, data=SiteUpdate.model_validate({"settings": {"rate_per_network": 1000}})
        )
    db.dispose()
    with private_redis(binary) as (redis_port, redis_process):
        env = server_env(process_db) | {"PARLOUR_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
        with (
            running_server(env, workers=1) as (reading_url, _a),
            running_server(env, workers=1) as (writing_url, _b),
            httpx.Client(base_url=reading_url, timeout=10) as reader,
            httpx.Client(base_url=writing_url, timeout=10) as writer,
        ):
            listener = Listener(reading_url, seconds=45)
            before = post(writer, "before the outage")
            assert before.status_code == 201, before.text
            assert listener.wait_for_comment(before.json()["id"]), "fan-out through Redis does not work to begin"

            redis_process.send_signal(signal.SIGKILL)
            redis_process.wait(timeout=10)
            statuses = []
            for round_ in range(ROUNDS):
                statuses += [
                    post(client, f"during the outage {round_} {name}").status_code
                    for name, client in (("reader", reader), ("writer", writer))
                ]
                statuses += [read(reader).status_code, read(writer).status_code]
            assert statuses == [201, 201, 200, 200] * ROUNDS
            # The reader's own worker still announces what is posted to it.
            local = post(reader, "posted where the reader listens")
            assert listener.wait_for_comment(local.json()["id"])
            not_ready = reader.get("/readyz")
            assert not_ready.status_code == 503
            assert "redis" in not_ready.json()["detail"]

            with private_redis(binary, port=redis_port):
                # Posted on the other server: it reaches the reader only through Redis, once the listener is back.
                deadline = time.monotonic() + RECOVERY_SECONDS
                delivered = False
                attempt = 0
                while not delivered and time.monotonic() < deadline:
                    attempt += 1
                    created = post(writer, f"after the outage {attempt}")
                    assert created.status_code == 201, created.text
                    delivered = listener.wait_for_comment(created.json()["id"], seconds=1.0)
                assert delivered, "live updates did not resume after Redis came back"
                assert reader.get("/readyz").status_code == 200
                total = read(reader).json()["total"]
    assert total == 1 + 2 * ROUNDS + 1 + attempt
