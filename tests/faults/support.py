"""Helpers for the fault suite: the server's worker processes, a private Redis or PostgreSQL, idempotent posters."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
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


@dataclass(frozen=True)
class Answer:
    """One answer a poster got: when it asked (time.monotonic()), how long the server took, and what came back."""

    started: float
    seconds: float
    status: int
    retry_after: str | None
    content_type: str


@dataclass
class Outcomes:
    """What a group of posters saw; shared between threads, so every change holds the lock."""

    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)  # Idempotency-Key -> id, body, token
    statuses: dict[int, int] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    transport_errors: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw_status(self, status: int) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def saw_answer(self, response: httpx.Response, *, started: float) -> None:
        headers = response.headers
        seconds = time.monotonic() - started  # connecting included: a server that stops accepting also hangs
        answer = Answer(
            started, seconds, response.status_code, headers.get("Retry-After"), headers.get("Content-Type", "")
        )
        with self.lock:
            self.answers.append(answer)
        self.saw_status(response.status_code)

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
        started = time.monotonic()
        try:
            response = client.post("/api/v1/comments", json=comment_payload(body), headers={"Idempotency-Key": key})
        except httpx.TransportError as error:
            outcomes.saw_error(error)
            if stop.is_set():
                return
            time.sleep(0.1)
            continue
        outcomes.saw_answer(response, started=started)
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


def postgres_bin_or_skip() -> Path:
    """The newest PostgreSQL server's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parts[-3]))
    if not found:
        if CI:
            pytest.fail("the PostgreSQL server binaries (initdb, pg_ctl) are required under CI=true")
        pytest.skip("the PostgreSQL server binaries are not installed")
    return found[-1].parent


@dataclass
class PrivatePostgres:
    """A throwaway cluster of our own on a free loopback port, to stop and start at will."""

    bin_dir: Path
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://parlour@127.0.0.1:{self.port}/parlour"

    def start(self) -> None:
        # fsync off: these tests stop PostgreSQL cleanly (fast shutdown checkpoints), they never crash the machine.
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._pg_ctl("start", "-w", "-t", "30", "-l", str(self.root / "postgres.log"), "-o", options)

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("stop", "-w", "-t", "30", "-m", mode)

    def _pg_ctl(self, *args: str) -> None:
        command = [*_as_postgres(), str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), *args]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=60)


def _as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its commands as the `postgres` OS user."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@contextmanager
def private_postgres(bin_dir: Path) -> Iterator[PrivatePostgres]:
    """Never the shared server: initdb in a temporary folder, trust auth for `parlour`, database `parlour`."""
    # Under /tmp itself, not pytest's tmp_path: the postgres user must be able to reach it, and pytest's is 0700.
    root = Path(tempfile.mkdtemp(prefix="parlour-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PrivatePostgres(bin_dir, root, free_port())
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "parlour", "-E", "UTF8"]
        subprocess.run([*_as_postgres(), *initdb, "--no-sync"], check=True, stdout=subprocess.DEVNULL, timeout=120)
        cluster.start()
        admin = f"postgresql://parlour@127.0.0.1:{cluster.port}/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
            connection.execute("CREATE DATABASE parlour")
        yield cluster
    finally:
        if (root / "data" / "postmaster.pid").exists():
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def wait_for(condition: Callable[[], bool], *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
