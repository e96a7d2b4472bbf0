"""SQLite writers queue across processes on a lock file beside the database, woken as soon as it is free."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from parlour.db.engine import WriterQueue, connect

# Holds the database's writer lock in another process: says "held", then sleeps or dies as told.
HOLDER = """
import os, sys, time
from parlour.db.engine import WriterQueue
queue = WriterQueue(sys.argv[1])
with queue:
    print("held", flush=True)
    if sys.argv[2] == "die":
        os._exit(0)
    time.sleep(float(sys.argv[2]))
"""


@contextmanager
def held_elsewhere(lock_path: Path, how: str) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_path), how],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
        holder.wait(timeout=10)


def seconds_to_enter(queue: WriterQueue) -> float:
    start = time.monotonic()
    with queue:
        return time.monotonic() - start


def test_a_database_file_gets_a_lock_file_beside_it_and_memory_does_not(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'p.db'}")
    assert isinstance(db.write_lock, WriterQueue)
    db.dispose()
    memory = connect("sqlite://")
    assert not isinstance(memory.write_lock, WriterQueue)
    memory.dispose()


def test_a_writer_waits_for_another_process_and_enters_as_soon_as_it_lets_go(tmp_path: Path) -> None:
    lock_path = tmp_path / "p.db-writelock"
    with held_elsewhere(lock_path, "0.6"):
        waited = seconds_to_enter(WriterQueue(str(lock_path)))
    # The holder sleeps 0.6 s after saying so; the busy handler's polling would add up to 100 ms more.
    assert 0.3 < waited < 5


def test_a_holder_that_dies_releases_the_lock(tmp_path: Path) -> None:
    lock_path = tmp_path / "p.db-writelock"
    with held_elsewhere(lock_path, "die") as holder:
        holder.wait(timeout=10)
        assert seconds_to_enter(WriterQueue(str(lock_path))) < 1


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    queue = WriterQueue(str(tmp_path / "p.db-writelock"))
    inside, most = 0, 0
    guard = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(50):
            with queue:
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0005)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1


def test_writes_go_through_the_queue_and_dispose_closes_its_file(tmp_path: Path) -> None:
    open_files = len(os.listdir("/proc/self/fd"))
    db = connect(f"sqlite:///{tmp_path / 'p.db'}")
    with db.write() as session:
        session.connection().exec_driver_sql("CREATE TABLE t (x INTEGER)")
    assert (tmp_path / "p.db-writelock").exists()
    db.dispose()
    assert len(os.listdir("/proc/self/fd")) == open_files
