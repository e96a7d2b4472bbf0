"""deploy/nginx/parlour.conf, as docs/deploying.md tells an operator to install it, in front of two Parlour
instances: TLS, the HTTP redirect, /metrics kept private, request ids, and X-Forwarded-For believed only from nginx."""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from parlour.db.engine import connect
from parlour.db.tables import Comment, Site
from parlour.infra.clientip import reader_key
from tests.conftest import SECRET, STORY, DatabaseUnderTest
from tests.e2e.conftest import server_env
from tests.e2e.server import free_port, running_server

pytestmark = pytest.mark.slow
CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "parlour.conf"
NGINX_PROXY = "127.0.0.1"  # where nginx connects to Parlour from: the one trusted proxy
READER = "127.0.0.3"  # the test's own address, also on the loopback but not trusted
FORGED = "203.0.113.9"


def nginx_or_skip() -> str:
    binary = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is required under CI=true (apt-get install nginx-light)")
        pytest.skip("nginx is not installed")
    return binary


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "comments.courier.example")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, private


def substitute(text: str, pattern: str, replacement: str) -> str:
    """Replace a line of the shipped file; a pattern that no longer matches fails loudly, not silently."""
    changed, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count >= 1, f"deploy/nginx/parlour.conf no longer has a line matching {pattern!r}"
    return changed


def render(folder: Path, *, upstreams: tuple[int, int], http_port: int, https_port: int) -> Path:
    """The shipped file with only machine-specific lines changed: ports, certificate and log paths."""
    cert, key = self_signed(folder)
    site = CONFIG.read_text()
    site = substitute(site, r"^\s*listen \[::\]:.*\n", "")
    site = substitute(site, r"listen 80;", f"listen 127.0.0.1:{http_port};")
    site = substitute(site, r"listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    site = substitute(site, r"server 127\.0\.0\.1:8001;", f"server 127.0.0.1:{upstreams[0]};")
    site = substitute(site, r"server 127\.0\.0\.1:8002;", f"server 127.0.0.1:{upstreams[1]};")
    site = substitute(site, r"ssl_certificate /\S+;", f"ssl_certificate {cert};")
    site = substitute(site, r"ssl_certificate_key /\S+;", f"ssl_certificate_key {key};")
    site = substitute(site, r"access_log /\S+ parlour;", f"access_log {folder / 'access.log'} parlour;")
    (folder / "parlour.conf").write_text(site)
    # What Debian's /etc/nginx/nginx.conf provides around sites-enabled/, with every path in our folder.
    user = "user root;\n" if os.geteuid() == 0 else ""  # as root, workers would switch to a user who cannot read here
    main = f"""{user}worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {folder / "body"};
    proxy_temp_path {folder / "proxy"};
    fastcgi_temp_path {folder / "fastcgi"};
    uwsgi_temp_path {folder / "uwsgi"};
    scgi_temp_path {folder / "scgi"};
    include {folder / "parlour.conf"};
}}
"""
    path = folder / "nginx.conf"
    path.write_text(main)
    return path


@contextmanager
def running_nginx(binary: str, config: Path, port: int) -> Iterator[None]:
    folder = config.parent
    check = subprocess.run([binary, "-t", "-p", str(folder), "-c", str(config)], capture_output=True, check=False)
    assert check.returncode == 0, check.stderr.decode()
    process = subprocess.Popen(
        [binary, "-p", str(folder), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def reader_keys(test_db: DatabaseUnderTest) -> tuple[int, dict[str, str]]:
    db = connect(test_db.url)
    try:
        with db.read() as session:
            site_id = session.scalar(select(Site.id).where(Site.slug == "courier"))
            rows = session.execute(select(Comment.body, Comment.reader_key)).all()
    finally:
        db.dispose()
    assert site_id is not None
    return site_id, {row.body: row.reader_key for row in rows}


def comment(body: str) -> dict[str, object]:
    return {"site": "courier", "url": STORY, "body": body, "author": {"name": "Proxied"}}


@pytest.mark.parametrize("process_db", ["sqlite"], indirect=True)
def test_nginx_config_in_front_of_two_instances(process_db: DatabaseUnderTest, tmp_path: Path) -> None:
    binary = nginx_or_skip()
    env = server_env(process_db) | {"PARLOUR_TRUSTED_PROXIES": f'["{NGINX_PROXY}/32"]'}
    http_port, https_port = free_port(), free_port()
    with ExitStack() as stack:
        first, _ = stack.enter_context(running_server(env, workers=1))
        second, _ = stack.enter_context(running_server(env, workers=1))
        upstreams = (int(first.rsplit(":", 1)[1]), int(second.rsplit(":", 1)[1]))
        folder = tmp_path
        config = render(folder, upstreams=upstreams, http_port=http_port, https_port=https_port)
        stack.enter_context(running_nginx(binary, config, http_port))
        reader = httpx.HTTPTransport(local_address=READER, verify=False)
        public = stack.enter_context(httpx.Client(base_url=f"https://127.0.0.1:{https_port}", transport=reader))
        direct = stack.enter_context(httpx.Client(base_url=first, transport=httpx.HTTPTransport(local_address=READER)))

        redirect = httpx.get(f"http://127.0.0.1:{http_port}/api/v1/threads", timeout=5)
        assert redirect.status_code == 301
        assert redirect.headers["location"].startswith("https://")
        assert public.get("/metrics").status_code == 404

        through_nginx = public.post("/api/v1/comments", json=comment("through nginx"))
        assert through_nginx.status_code == 201, through_nginx.text
        forged = public.post("/api/v1/comments", json=comment("forged via nginx"), headers={"X-Forwarded-For": FORGED})
        assert forged.status_code == 201, forged.text
        around = direct.post("/api/v1/comments", json=comment("around nginx"), headers={"X-Forwarded-For": FORGED})
        assert around.status_code == 201, around.text

        # nginx's request id reaches Parlour and comes back: one id in both logs.
        request_id = through_nginx.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        # Both instances serve: nginx spreads the reads over the upstream pair.
        for _ in range(6):
            assert public.get("/api/v1/threads", params={"site": "courier", "url": STORY}).status_code == 200
        # Perspective clients send the site's API key in the query string: it must not reach the log.
        secret = "pk_" + "s3cret" * 6
        public.post("/v1alpha1/comments:analyze", params={"key": secret}, json={"comment": {"text": "hi"}})
        stack.close()  # stops nginx, so its access log is complete
        access_log = (folder / "access.log").read_text()
        assert request_id in access_log
        assert "/v1alpha1/comments:analyze" in access_log and secret not in access_log and "key=" not in access_log
        assert {f"127.0.0.1:{port}" for port in upstreams} <= set(re.findall(r"127\.0\.0\.1:\d+", access_log))

    site_id, keys = reader_keys(process_db)

    def key_of(address: str) -> str:
        return reader_key(secret_key=SECRET, site_id=site_id, address=address)

    # Through nginx, Parlour sees the reader's own address, not nginx's, and not what the reader claimed.
    assert keys["through nginx"] == key_of(READER) != key_of(NGINX_PROXY)
    assert keys["forged via nginx"] == key_of(READER) != key_of(FORGED)
    # Straight to Parlour from an address that is not a trusted proxy, the header is ignored.
    assert keys["around nginx"] == key_of(READER)
