"""SIGTERM under load: requests in flight finish (or get 503), nothing acknowledged is lost, exit within 10 s.

A request that reaches the server around the signal may find it gone: refused, or reset while it waited in the
kernel's accept queue for a worker that had stopped accepting. Such a request was never run, so a retry is safe;
the test checks that no post cut off left a comment behind, i.e. every post the server ran got its answer.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest

from tests.conftest import STORY, DatabaseUnderTest
from tests.e2e.conftest import server_env
from tests.e2e.server import running_server
from tests.faults.support import Outcomes, busy_workers, comment_payload, group_alive, stored_bodies

pytestmark = pytest.mark.slow
POSTERS = 6
READERS = 2
EXIT_SECONDS = 10.0
MAX_REQUESTS = 500  # per client, a bound far above what the few seconds of load allow


def post_once_each(base_url: str, number: int, stop: threading.Event, outcomes: Outcomes, cut_off: list[str]) -> None:
    """Post distinct comments on fresh connections until the server stops accepting them."""
    for sequence in range(MAX_REQUESTS):
        key = f"term-{number}-{sequence}"
        body = f"posted during shutdown {number}/{sequence}"
        try:
            # A fresh connection per request: a refused connection then means "not accepted", never "cut off".
            response = httpx.post(
                f"{base_url}/api/v1/comments",
                json=comment_payload(body),
                headers={"Idempotency-Key": key, "Connection": "close"},
                timeout=15,
            )
        except httpx.ConnectError:
            return  # the listening socket is closed: the server is gone
        except httpx.TransportError as error:
            outcomes.saw_error(error)
            with outcomes.lock:
                cut_off.append(body)
            continue
        outcomes.saw_status(response.status_code)
        if response.status_code == 201:
            with outcomes.lock:
                outcomes.acknowledged[key] = {"id": response.json()["id"], "body": body}
        elif response.status_code != 503:
            with outcomes.lock:
                outcomes.problems.append(f"{key}: {response.status_code} {response.text[:200]}")
        if stop.is_set():
            return


def read_until_gone(base_url: str, stop: threading.Event, outcomes: Outcomes) -> None:
    for _ in range(MAX_REQUESTS):
        try:
            response = httpx.get(
                f"{base_url}/api/v1/threads",
                params={"site": "courier", "url": STORY},
                headers={"Connection": "close"},
                timeout=15,
            )
        except httpx.ConnectError:
            return
        except httpx.TransportError as error:
            outcomes.saw_error(error)  # a reset in the accept queue, as above: it never ran
            continue
        outcomes.saw_status(response.status_code)
        if response.status_code not in (200, 503):
            with outcomes.lock:
                outcomes.problems.append(f"read: {response.status_code} {response.text[:200]}")
        if stop.is_set():
            return


class SlowPost:
    """A POST whose body arrives in two parts: between them, the request is certainly in a worker's hands."""

    def __init__(self, port: int, body: str) -> None:
        self.body = body
        self.payload = orjson.dumps(comment_payload(body))
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        head = (
            f"POST /api/v1/comments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.payload)}\r\nConnection: close\r\n\r\n"
        )
        self.sock.sendall(head.encode() + self.payload[:10])

    @property
    def client_port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    def finish(self) -> int:
        """Send the rest of the body; the status of the answer, 0 if the connection closed without one."""
        with self.sock:
            self.sock.sendall(self.payload[10:])
            reply = b""
            while b"\r\n" not in reply:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return 0
                reply += chunk
        return int(reply.split(b" ", 2)[1])


def test_sigterm_under_load_drains_and_exits(process_db: DatabaseUnderTest) -> None:
    outcomes = Outcomes()
    stop = threading.Event()  # set at the signal
    cut_off: list[str] = []
    with running_server(server_env(process_db), workers=2) as (base_url, process), ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(post_once_each, base_url, n, stop, outcomes, cut_off) for n in range(POSTERS)]
        futures += [pool.submit(read_until_gone, base_url, stop, outcomes) for _ in range(READERS)]
        deadline = time.monotonic() + 20
        while len(outcomes.acknowledged) < 3 * POSTERS:  # the load is flowing
            assert time.monotonic() < deadline, "the load never got going"
            time.sleep(0.05)
        port = int(base_url.rsplit(":", 1)[1])
        slow = [SlowPost(port, f"half-sent at the signal {n}") for n in range(2)]
        for request in slow:
            while not busy_workers(process.pid, port, peer_port=request.client_port):
                assert time.monotonic() < deadline, "no worker accepted the slow post"
                time.sleep(0.02)
        # What systemd does on `systemctl stop` (KillMode=control-group): SIGTERM to every process of the unit.
        stop.set()
        os.killpg(process.pid, signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(0.2)  # the workers are shutting down now
        slow_statuses = [request.finish() for request in slow]
        process.wait(timeout=EXIT_SECONDS + 5)
        while group_alive(process.pid) and time.monotonic() - signalled < EXIT_SECONDS + 5:
            time.sleep(0.05)
        took = time.monotonic() - signalled
        for future in futures:
            future.result(timeout=30)
    assert not group_alive(process.pid)
    assert took < EXIT_SECONDS, f"the server took {took:.1f} s to exit"
    assert process.returncode == 0
    assert outcomes.problems == []
    # Draining: requests in the workers' hands at the signal were answered after it, and stored.
    assert all(status in (201, 503) for status in slow_statuses), slow_statuses
    rows = stored_bodies(process_db)
    assert [item for item in outcomes.acknowledged.values() if rows.get(item["id"]) != item["body"]] == []
    stored = set(rows.values())
    assert [
        r.body for r, status in zip(slow, slow_statuses, strict=True) if status == 201 and r.body not in stored
    ] == []
    assert set(cut_off) & set(rows.values()) == set(), "a post the server ran lost its answer"
