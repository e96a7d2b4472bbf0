"""Helpers for the fault suite: the server's worker processes, a private Redis, and idempotent posters."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from parlour.db.engine import connect
from parlour.db.tables import Comment
from tests.conftest import STORY, DatabaseUnderTest
from tests.e2e.server import free_port

CI = os.environ.get("CI") == "true"


def worker_pids(supervisor_pid: int) -> list[int]:
    """The uvicorn worker processes the supervisor spawned (not multiprocessing's resource tracker)."""
    try:
        children = Path(f"/proc/{supervisor_pid}/task/{supervisor_pid}/children").read_text().split()
    except OSError:
        return []
    workers = []
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue  # it exited while we looked
        if b"spawn_main" in command and b"resource_tracker" not in command:
            workers.append(int(child))
    return workers


def busy_workers(supervisor_pid: int, port: int, *, peer_port: int | None = None) -> list[int]:
    """Workers holding an open connection on `port` (from `peer_port`, if given): a request is in their hands."""
    connected = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and peer_port in (None, remote_port):  # 01: ESTABLISHED
                connected.add(fields[9])  # the socket's inode
    busy = []
    for pid in worker_pids(supervisor_pid):
        try:
            links = [os.readlink(link) for link in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue  # it exited while we looked
        if any(link.startswith("socket:[") and link[8:-1] in connected for link in links):
            busy.append(pid)
    return busy


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # A zombie still counts for killpg until reaped; look for a live member instead.
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stored_bodies(test_db: DatabaseUnderTest) -> dict[int, str]:
    db = connect(test_db.url)
    try:
        with db.read() as session:
            return {row.id: row.body for row in session.execute(select(Comment.id, Comment.body))}
    finally:
        db.dispose()


@dataclass
class Outcomes:
    """What a group of posters saw; shared between threads, so every change holds the lock."""

    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)  # Idempotency-Key -> id, body, token
    statuses: dict[int, int] = field(default_factory=dict)
    transport_errors: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw_status(self, status: int) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def saw_error(self, error: Exception) -> None:
        with self.lock:
            name = type(error).__name__
            self.transport_errors[name] = self.transport_errors.get(name, 0) + 1


def comment_payload(body: str) -> dict[str, Any]:
    return {"site": "courier", "url": STORY, "body": body, "author": {"name": "Fault"}}


def post_until_acknowledged(
    client: httpx.Client, *, key: str, body: str, outcomes: Outcomes, attempts: int, stop: threading.Event
) -> None:
    """Post one comment under an Idempotency-Key, retrying a lost answer or a 503 as a careful client would."""
    for _attempt in range(attempts):
        try:
            response = client.post("/api/v1/comments", json=comment_payload(body), headers={"Idempotency-Key": key})
        except httpx.TransportError as error:
            outcomes.saw_error(error)
            if stop.is_set():
                return
            time.sleep(0.1)
            continue
        outcomes.saw_status(response.status_code)
        if response.status_code == 201:
            created = response.json()
            if created["comment"]["body"] != body:
                with outcomes.lock:
                    outcomes.problems.append(f"{key} answered with another comment: {created['comment']['body']!r}")
            with outcomes.lock:
                outcomes.acknowledged[key] = {"id": created["id"], "body": body, "token": created["edit_token"]}
            return
        if response.status_code != 503:
            with outcomes.lock:
                outcomes.problems.append(f"{key}: {response.status_code} {response.text[:200]}")
            return
        time.sleep(float(response.headers.get("Retry-After", "1")) / 4)


def poster(base_url: str, number: int, stop: threading.Event, outcomes: Outcomes, *, limit: int) -> None:
    """Post distinct comments (each under its own key) until told to stop or `limit` is reached."""
    with httpx.Client(base_url=base_url, timeout=20) as client:
        for sequence in range(limit):
            if stop.is_set():
                return
            key = f"poster-{number}-{sequence}"
            post_until_acknowledged(
                client, key=key, body=f"poster {number} comment {sequence}", outcomes=outcomes, attempts=8, stop=stop
            )


def redis_server_or_skip() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        if CI:
            pytest.fail("redis-server is required under CI=true")
        pytest.skip("redis-server is not installed")
    return binary


@contextmanager
def private_redis(binary: str, port: int | None = None) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A Redis of our own on a free loopback port, with nothing saved to disk; stopped on exit."""
    port = port or free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield port, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
