"""Database engines: SQLite in WAL mode with one writer at a time, or PostgreSQL through psycopg 3."""

from __future__ import annotations

import fcntl
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from parlour.db.folded import SQLITE_FUNCTION
from parlour.moderation.folding import fold_for_search

T = TypeVar("T")
# How long the next BEGIN on this thread may wait for SQLite's lock, when shorter than the busy timeout: a group
# commit's leader waits no longer than the first deadline of its batch.
_lock_wait_ms: ContextVar[int | None] = ContextVar("parlour_lock_wait_ms", default=None)


@dataclass(frozen=True)
class Database:
    """A read engine and a write engine; on PostgreSQL they are the same."""

    reads: sessionmaker[Session]
    writes: sessionmaker[Session]
    engines: tuple[Engine, ...]
    # SQLite has one writer. Writers queue here, woken at once when the writer before them commits,
    # instead of in SQLite's busy handler, which polls with sleeps of up to 100 ms.
    write_lock: AbstractContextManager[object] = field(default_factory=nullcontext)
    # Only where there is one writer at a time: PostgreSQL commits concurrent writers side by side.
    group_commit: GroupCommit | None = None

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.reads() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A short write transaction: committed on success, rolled back on error."""
        with self.write_lock, self.writes.begin() as session:
            yield session

    def write_together(self, job: Callable[[Session], T]) -> T:
        """`job` in a write transaction, shared on SQLite with the jobs other threads hand in meanwhile.

        One commit, and so one fsync and one turn of the write lock, serves them all. Each job runs in its
        own savepoint: its error undoes only its own changes and is raised here, in its own thread.
        """
        if self.group_commit is None:
            with self.write() as session:
                return job(session)
        return self.group_commit.run(self, job)

    def dispose(self) -> None:
        for engine in self.engines:
            engine.dispose()
        if isinstance(self.write_lock, WriterQueue):
            self.write_lock.close()


def connect(url: str, *, busy_timeout_ms: int = 10000) -> Database:
    if url.startswith("sqlite"):
        return _connect_sqlite(url, busy_timeout_ms)
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    factory = sessionmaker(engine, expire_on_commit=False)
    return Database(reads=factory, writes=factory, engines=(engine,))


def _connect_sqlite(url: str, busy_timeout_ms: int) -> Database:
    reads = _sqlite_engine(url, busy_timeout_ms, begin="BEGIN")
    # BEGIN IMMEDIATE takes the write lock up front, so concurrent writers queue on the busy
    # timeout instead of failing with "database is locked" when a read lock cannot be upgraded.
    writes = _sqlite_engine(url, busy_timeout_ms, begin="BEGIN IMMEDIATE")
    return Database(
        reads=sessionmaker(reads, expire_on_commit=False),
        writes=sessionmaker(writes, expire_on_commit=False),
        engines=(reads, writes),
        write_lock=_sqlite_write_lock(url),
        group_commit=GroupCommit(busy_timeout_ms),
    )


@dataclass(eq=False)
class _Job(Generic[T]):
    work: Callable[[Session], T]
    # time.monotonic() past which it must not start: its enqueue time plus the busy timeout.
    deadline: float = math.inf
    result: T | None = None
    error: BaseException | None = None
    finished: bool = False

    def run(self, session: Session) -> bool:
        """Run in a savepoint; False when the error took the whole transaction with it."""
        savepoint = session.begin_nested()
        try:
            self.result = self.work(session)
            savepoint.commit()
        except Exception as exc:  # raised again in the job's own thread, by outcome()
            # SQLite ends the whole transaction itself on a full disk or an I/O error, savepoints and all.
            self.error = _cause_behind_lost_savepoint(exc)
            if self.error is not exc:
                return False
            try:
                savepoint.rollback()
                _reload_expired(session)
            except Exception:
                return False
        return True

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


def _reload_expired(session: Session) -> None:
    """Load again what a savepoint's rollback expired, while the transaction is still open.

    The rollback expires every object the failed job changed, objects an earlier job of the batch also wrote
    and returns (the same author posting twice, say). Left expired, they could not be read once the batch has
    committed and closed its session, and a stored comment would be answered 500.
    """
    for instance in list(session.identity_map.values()):
        if inspect(instance).expired_attributes:
            session.refresh(instance)


def _cause_behind_lost_savepoint(exc: BaseException) -> BaseException:
    """The error that ended the transaction, not SQLAlchemy's failed attempt to roll back to a savepoint after it."""
    while "no such savepoint" in str(exc) and exc.__context__ is not None:
        exc = exc.__context__
    return exc


class GroupCommit:
    """Writers that arrive while one commits wait, and the next of them runs them all in one transaction.

    Each job waits for the write lock no longer than a writer of its own would (the busy timeout from when it was
    handed in): past that it fails as a leader that timed out does (OperationalError, 503), whether it is still
    queued or the batch it joined is still waiting for another program's lock, and it never runs afterwards. A
    job that ran in a batch that commits is answered as committed.
    """

    def __init__(self, busy_timeout_ms: int = 10000) -> None:
        self._pending: list[_Job[Any]] = []
        self._changed = threading.Condition()
        self._leading = False
        self._wait_seconds = busy_timeout_ms / 1000

    def run(self, db: Database, work: Callable[[Session], T]) -> T:
        job = _Job(work, deadline=time.monotonic() + self._wait_seconds)
        with self._changed:
            self._pending.append(job)
            while self._leading and not job.finished:
                remaining = job.deadline - time.monotonic()
                if remaining > 0:
                    self._changed.wait(remaining)
                elif job in self._pending:
                    self._pending.remove(job)  # no leader took it: it never runs
                    raise lock_timeout()
                else:
                    self._changed.wait()  # a leader took it: its batch decides, and says so when it is done
            if job.finished:
                return job.outcome()
            self._leading = True
            batch, self._pending = self._pending, []
        try:
            _commit_together(db, batch)
        finally:
            with self._changed:
                self._leading = False
                for done in batch:
                    done.finished = True
                self._changed.notify_all()
        return job.outcome()


def lock_timeout() -> OperationalError:
    """What a writer gets when the busy timeout ran out, as SQLite's own `database is locked` (503 in errors.py)."""
    return OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))


def _commit_together(db: Database, batch: list[_Job[Any]]) -> None:
    _expire(batch)
    deadlines = [job.deadline for job in batch if job.error is None]
    if not deadlines:
        return
    # The lock is waited for no longer than the first deadline: no job then waits past its own.
    first = min(deadlines)
    wait = None if first == math.inf else max(1, int((first - time.monotonic()) * 1000))
    waiting = _lock_wait_ms.set(wait)
    try:
        with db.write() as session:
            # BEGIN now, once for the batch: a lock that does not come in time fails the batch before any job starts.
            session.connection()
            _expire(batch)
            for job in batch:
                if job.error is None and not job.run(session):
                    # Jobs after it would run outside any transaction, each committed on its own: none runs.
                    raise job.error or RuntimeError("the transaction ended")
    except BaseException as exc:
        # Nothing of the batch is stored: the jobs that had succeeded learn why.
        for job in batch:
            if job.error is None:
                job.error = exc
        if not isinstance(exc, Exception):
            raise
    finally:
        _lock_wait_ms.reset(waiting)


def _expire(batch: list[_Job[Any]]) -> None:
    """Jobs past their deadline fail without starting: their callers' wait is over."""
    now = time.monotonic()
    for job in batch:
        if job.error is None and now > job.deadline:
            job.error = lock_timeout()


class WriterQueue(AbstractContextManager[None]):
    """One writer at a time across every thread of every process on this database file.

    Worker processes contending in SQLite's busy handler leave the lock idle between polls, and one
    process's writers can win again and again while the other's wait for seconds. A blocking flock()
    on a file beside the database wakes the next writer as soon as the lock is free, and the kernel
    drops it if its holder dies. Threads of one process queue on a threading lock first, because
    flock() belongs to the open file, which they share.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._opened_by: int | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        with self._threads:
            if self._fd is not None and self._opened_by == os.getpid():
                os.close(self._fd)
            self._fd = self._opened_by = None

    def _file(self) -> int:
        # A forked child must not share its parent's open file, or the two would hold the lock together.
        if self._opened_by != os.getpid():
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._opened_by = os.getpid()
        assert self._fd is not None
        return self._fd


def _sqlite_write_lock(url: str) -> AbstractContextManager[object]:
    """Across processes for a database file (`NAME-writelock` beside it); within this process for memory."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return threading.Lock()
    return WriterQueue(f"{database}-writelock")


def _fold_or_none(text: str | None) -> str | None:
    return None if text is None else fold_for_search(text)


def _sqlite_engine(url: str, busy_timeout_ms: int, *, begin: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself instead of the driver's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # The dashboard's text search folds case and accents (db/folded.py); deterministic, so SQLite may cache it.
        dbapi_connection.create_function(SQLITE_FUNCTION, 1, _fold_or_none, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        wait = _lock_wait_ms.get()
        wanted = busy_timeout_ms if wait is None else min(wait, busy_timeout_ms)
        if connection.info.get("busy_timeout_ms", busy_timeout_ms) != wanted:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={int(wanted)}")
            connection.info["busy_timeout_ms"] = wanted
        connection.exec_driver_sql(begin)

    return engine
