"""Backups of the whole database while Parlour runs (SQLite's online backup API, or pg_dump), and their restore."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
BUSY_TIMEOUT_MS = 30000
# Tables whose rows do not make a database worth protecting from an overwrite.
BOOKKEEPING_TABLES = frozenset({"alembic_version"})
PG_CLIENT_HINT = (
    "install the PostgreSQL client tools, of the server's major version or newer "
    "(Debian and Ubuntu: apt-get install postgresql-client)"
)


class BackupError(Exception):
    """A backup or restore that could not be made; the message says why and what to do."""


def backup_path(output: Path | None, database_url: str, now: datetime | None = None) -> Path:
    """The file named, or a timestamped file in the folder named (default: the current folder)."""
    if output is not None and not output.is_dir():
        return output
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    suffix = "db" if _is_sqlite(database_url) else "dump"
    return (output or Path()) / f"parlour-{stamp}.{suffix}"


def backup_database(database_url: str, output: Path) -> Path:
    """Write a consistent copy of the database to `output` (readable by its owner only) and return its path."""
    if output.exists():
        raise BackupError(f"{output} already exists; name a new file or a folder.")
    if not output.parent.is_dir():
        raise BackupError(f"{output.parent} is not a folder; create it first.")
    partial = output.with_name(f".{output.name}.partial")
    # Created private up front: a backup holds every commenter's e-mail address.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        if _is_sqlite(database_url):
            _backup_sqlite(_sqlite_file(database_url), partial)
        else:
            _run("pg_dump", ["--format=custom", "--no-password", f"--file={partial}"], database_url)
        _fsync(partial)
        os.replace(partial, output)
        _fsync(output.parent)
    finally:
        partial.unlink(missing_ok=True)
    return output


def backup_kind(path: Path) -> str | None:
    """'sqlite' or 'postgres' for a file `parlour backup` wrote, None for anything else (an export, say)."""
    with path.open("rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgres"
    return None


def restore_backup(path: Path, database_url: str, *, force: bool = False) -> None:
    """Restore a backup into the database at `database_url`; one that holds data is replaced only with `force`."""
    if not path.is_file():
        raise BackupError(f"No backup file at {path}.")
    kind = backup_kind(path)
    wanted = "sqlite" if _is_sqlite(database_url) else "postgres"
    if kind is None:
        raise BackupError(f"{path} is not a Parlour backup (neither an SQLite database nor a pg_dump archive).")
    if kind != wanted:
        raise BackupError(f"{path} is a {kind} backup; it restores only into a {kind} database.")
    if not force and _holds_data(database_url):
        raise BackupError("The target database already holds data; stop Parlour and pass --force to replace it.")
    if kind == "sqlite":
        _restore_sqlite(path, _sqlite_file(database_url))
    else:
        # --clean drops what the archive recreates: an empty database migrated by `parlour db upgrade` included.
        options = ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction"]
        _run("pg_restore", [*options, "--exit-on-error", "--no-password", str(path)], database_url)


def _backup_sqlite(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"No SQLite database at {source}.")
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # One step, so one read transaction: a snapshot of a single moment, while WAL lets writers go on.
        # (Copied in several steps, a write from another process would restart the copy, maybe forever.)
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        _check_sqlite(dst, target)


def _restore_sqlite(backup: Path, target: Path) -> None:
    with closing(sqlite3.connect(backup)) as src:
        _check_sqlite(src, backup)
        target.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(target)) as dst:
            dst.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # Through SQLite rather than a file copy, so a -wal file beside the target cannot outlive its database.
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")


def _check_sqlite(connection: sqlite3.Connection, path: Path) -> None:
    try:
        result = connection.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database: {exc}") from exc
    if result != "ok":
        raise BackupError(f"{path} fails SQLite's integrity check: {result}")


def _holds_data(database_url: str) -> bool:
    if _is_sqlite(database_url) and not _sqlite_file(database_url).exists():
        return False
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names()) - BOOKKEEPING_TABLES
            quote = engine.dialect.identifier_preparer.quote
            return any(
                connection.execute(text(f"SELECT 1 FROM {quote(table)} LIMIT 1")).first()  # noqa: S608 - names from the catalog
                for table in sorted(tables)
            )
    finally:
        engine.dispose()


def _run(tool: str, arguments: list[str], database_url: str) -> None:
    executable = shutil.which(tool)
    if executable is None:
        raise BackupError(f"{tool} was not found on PATH: {PG_CLIENT_HINT}.")
    url = make_url(database_url)
    # The password goes in the environment, where other users' `ps` cannot read it.
    env = os.environ | ({"PGPASSWORD": url.password} if url.password else {})
    dbname = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    result = subprocess.run(  # noqa: S603 - a fixed tool, arguments from our settings
        [executable, f"--dbname={dbname}", *arguments], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{tool} failed: {result.stderr.strip() or f'exit status {result.returncode}'}")


def _is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def _sqlite_file(database_url: str) -> Path:
    name = make_url(database_url).database
    if not name or name == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return Path(name)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
