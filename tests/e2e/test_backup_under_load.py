"""`parlour backup` while a two-worker server takes posts: the restore is consistent and misses no acknowledged post."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from parlour.ops.backup import restore_backup
from tests.backup_support import assert_consistent, comment_ids, empty_database
from tests.conftest import STORY, DatabaseUnderTest
from tests.e2e.conftest import server_env
from tests.e2e.server import PARLOUR, running_server

pytestmark = pytest.mark.slow
WRITERS = 4
MAX_POSTS = 3000  # in all; the writers also stop at the deadline
DEADLINE_SECONDS = 60.0


class Writers:
    """Threads that post comments until stopped, noting when each one was acknowledged."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.acknowledged: list[tuple[float, int]] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.deadline = time.monotonic() + DEADLINE_SECONDS
        self.threads = [threading.Thread(target=self._post, args=(n,), daemon=True) for n in range(WRITERS)]

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def acknowledged_before(self, moment: float) -> set[int]:
        with self.lock:
            return {comment_id for at, comment_id in self.acknowledged if at < moment}

    def _post(self, writer: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            number = 0
            while not self.stop.is_set() and time.monotonic() < self.deadline and self.count() < MAX_POSTS:
                number += 1
                body = {
                    "site": "courier",
                    "url": STORY,
                    "body": f"Writer {writer}, post {number}.",
                    "author": {"name": "W"},
                }
                response = client.post("/api/v1/comments", json=body)
                if response.status_code != 201:
                    with self.lock:
                        self.failures.append(f"{response.status_code} {response.text[:200]}")
                    continue
                with self.lock:
                    self.acknowledged.append((time.monotonic(), response.json()["id"]))


def wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)
    assert condition(), "timed out"  # type: ignore[operator]


def test_a_backup_under_write_load_holds_every_acknowledged_comment(
    process_db: DatabaseUnderTest, tmp_path: Path
) -> None:
    env = server_env(process_db)
    output = tmp_path / "under-load.backup"
    with running_server(env, workers=2) as (base_url, _server), Writers(base_url) as writers:
        wait_for(lambda: writers.count() >= 50)
        started = time.monotonic()
        result = subprocess.run(
            [PARLOUR, "backup", "--output", str(output)], env=env, capture_output=True, text=True, timeout=120
        )
        finished = time.monotonic()
        during = writers.count()
        wait_for(lambda: writers.count() >= during + 20)  # the server went on taking posts after the backup
    assert result.returncode == 0, result.stderr
    assert not writers.failures, writers.failures[:5]
    before = writers.acknowledged_before(started)
    after = {comment_id for at, comment_id in writers.acknowledged if at > finished}
    assert len(before) >= 50
    # Writers were not held up while the backup ran.
    assert any(started < at < finished for at, _id in writers.acknowledged)
    with empty_database(process_db.backend, tmp_path) as target:
        restore_backup(output, target)
        restored = comment_ids(target)
        assert_consistent(target)
    assert before <= restored, f"{len(before - restored)} acknowledged comments missing"
    assert not after & restored, "a comment acknowledged after the backup finished is in it"
