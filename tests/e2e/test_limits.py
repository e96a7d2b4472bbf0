"""Limits a real server enforces on the wire: a streamed body is refused before it is read in full."""

from __future__ import annotations

import socket
import time

import pytest

from tests.conftest import DatabaseUnderTest
from tests.e2e.conftest import server_env
from tests.e2e.server import running_server

pytestmark = pytest.mark.slow


def send_chunked(host: str, port: int, total_bytes: int) -> tuple[int, int]:
    """Stream a chunked JSON body; return (status seen, bytes sent before the server answered)."""
    chunk = b"x" * 16384
    sent = 0
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/comments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sock.setblocking(False)
        deadline = time.monotonic() + 20
        reply = b""
        while sent < total_bytes and time.monotonic() < deadline:
            try:
                reply += sock.recv(65536)
            except BlockingIOError:
                pass
            except OSError:
                break
            if reply:
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except (BlockingIOError, OSError):
                time.sleep(0.01)
        sock.setblocking(True)
        sock.settimeout(5)
        try:
            while b"\r\n" not in reply:
                data = sock.recv(65536)
                if not data:
                    break
                reply += data
        except OSError:
            pass
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1") else 0
    return status, sent


@pytest.mark.parametrize("process_db", ["sqlite"], indirect=True)
def test_streamed_upload_refused_early(process_db: DatabaseUnderTest) -> None:
    with running_server(server_env(process_db), workers=1) as (base_url, _process):
        port = int(base_url.rsplit(":", 1)[1])
        status, sent = send_chunked("127.0.0.1", port, 100 * 1024 * 1024)
    assert status == 413
    assert sent < 8 * 1024 * 1024, f"the server read {sent} bytes before refusing"
