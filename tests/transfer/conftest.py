"""A real Isso 0.14.0 database, made by running Isso from PyPI and posting through its HTTP API."""

from __future__ import annotations

import fcntl
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from parlour.db import migrate
from parlour.db.engine import Database, connect
from parlour.webhooks.addresses import IPAddress
from tests.backup_support import empty_database
from tests.conftest import ORIGIN, DatabaseUnderTest

# Webhook hosts of the tests' exports, and the addresses a restore's look-up finds for them (never dialled).
WEBHOOK_HOSTS = {"hooks.example": "93.184.215.14", "internal": "10.0.0.5", "metadata.example": "169.254.169.254"}
ISSO_VERSION = "0.14.0"
ISSO_VENV = Path(os.environ.get("PARLOUR_TEST_ISSO_VENV", Path.home() / ".cache" / "parlour-test-isso"))


def stub_resolve(host: str, _port: int) -> list[IPAddress]:
    """A resolver that knows WEBHOOK_HOSTS and nothing else, as a machine without DNS would."""
    if host not in WEBHOOK_HOSTS:
        raise OSError(f"[Errno -2] Name or service not known: {host}")
    return [ipaddress.ip_address(WEBHOOK_HOSTS[host])]


@pytest.fixture(autouse=True)
def _no_dns_in_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Restore looks webhook hosts up as the API does; tests stay offline, through the stub."""
    monkeypatch.setattr("parlour.transfer.restore.resolve", stub_resolve)


@pytest.fixture
def empty_target_url(database: DatabaseUnderTest, tmp_path: Path) -> Iterator[str]:
    """A second, migrated database of the same backend with nothing in it."""
    with empty_database(database.backend, tmp_path) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture
def empty_target(empty_target_url: str) -> Iterator[Database]:
    target = connect(empty_target_url)
    try:
        yield target
    finally:
        target.dispose()


def _install_isso() -> Path | None:
    """Isso in a venv of its own (once per machine); None when it cannot be installed (no PyPI)."""
    stamp = ISSO_VENV / f".installed-isso-{ISSO_VERSION}"
    ISSO_VENV.parent.mkdir(parents=True, exist_ok=True)
    # Test workers may race to install it: one installs, the others wait on the lock.
    with (ISSO_VENV.parent / f".{ISSO_VENV.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            return ISSO_VENV
        python = shutil.which("python3") or sys.executable
        try:
            subprocess.run([python, "-m", "venv", "--clear", str(ISSO_VENV)], check=True, capture_output=True)
            pip = [str(ISSO_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, f"isso=={ISSO_VERSION}"], check=True, capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError):
            return None
        stamp.touch()
        return ISSO_VENV


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class IssoServer:
    url: str
    client: httpx.Client

    def post(self, path: str, text: str, *, author: str = "", parent: int | None = None, **extra: str) -> int:
        payload = {"text": text, "author": author, "parent": parent, "title": path, **extra}
        response = self.client.post("/new", params={"uri": path}, json=payload)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def delete(self, comment_id: int) -> None:
        response = self.client.delete(f"/id/{comment_id}")
        assert response.status_code == 200, response.text


@pytest.fixture(scope="session")
def isso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IssoServer, Path]]:
    venv = _install_isso()
    if venv is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Isso {ISSO_VERSION} could not be installed from PyPI, and CI=true requires it")
        pytest.skip(f"Isso {ISSO_VERSION} could not be installed from PyPI")
    workdir = tmp_path_factory.mktemp("isso")
    port = _free_port()
    config = workdir / "isso.cfg"
    config.write_text(
        f"[general]\ndbpath = {workdir / 'comments.db'}\nhost = {ORIGIN}/\n"
        "[moderation]\nenabled = false\n[guard]\nenabled = false\n"
        f"[server]\nlisten = http://127.0.0.1:{port}/\n"
    )
    log = (workdir / "isso.log").open("wb")
    process = subprocess.Popen(
        [str(venv / "bin" / "isso"), "-c", str(config), "run"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=workdir,
    )
    base = f"http://127.0.0.1:{port}"
    # A browser on the news site: Isso answers JSON writes from its configured host only.
    client = httpx.Client(base_url=base, headers={"Origin": ORIGIN, "Referer": ORIGIN + "/"}, timeout=10)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.get("/info").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Isso did not start:\n" + (workdir / "isso.log").read_text())
            time.sleep(0.2)
        yield IssoServer(base, client), workdir / "comments.db"
    finally:
        client.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the process group we started, and only that
            process.wait(timeout=10)
        log.close()


@dataclass(frozen=True)
class IssoData:
    path: Path
    ids: dict[str, int]


@pytest.fixture(scope="session")
def isso_database(isso_server: tuple[IssoServer, Path], tmp_path_factory: pytest.TempPathFactory) -> IssoData:
    """Two threads with replies (which Isso flattens), Markdown, a website, a deleted comment with a reply."""
    isso, path = isso_server
    ids: dict[str, int] = {}
    ids["ann"] = isso.post(
        "/world/a", "First, with *emphasis*.", author="Ann", email="ann@mail.example", website="https://ann.example"
    )
    ids["reply"] = isso.post("/world/a", "A reply.", author="Bo", parent=ids["ann"])
    ids["deeper"] = isso.post("/world/a", "A reply to the reply.", author="Cy", parent=ids["reply"])
    ids["script"] = isso.post("/world/a", "<script>alert(1)</script> [x](javascript:alert(1))", author="<b>Mal</b>")
    ids["regret"] = isso.post("/world/a", "I will regret this.", author="Dee")
    ids["answer"] = isso.post("/world/a", "Too late.", author="Ed", parent=ids["regret"])
    isso.delete(ids["regret"])  # it has a reply: Isso keeps it as mode 4, text gone
    ids["other"] = isso.post("/world/b/", "On another article.")
    copy = tmp_path_factory.mktemp("isso-copy") / "comments.db"
    shutil.copy(path, copy)
    return IssoData(copy, ids)
