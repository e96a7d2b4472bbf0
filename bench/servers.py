"""How each server under test is installed, configured and started: Isso, Parlour and nginx."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from procs import Server, free_port, start, wait_ready

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
ISSO_VENV = BENCH_DIR / ".isso-venv"
ISSO_VERSION = "0.14.0"
# Pinned so reruns compare the same thing; 27 added --no-control-socket, used below.
GUNICORN_VERSION = "27.0.1"
PARLOUR_BIN = REPO / ".venv" / "bin" / "parlour"
WORKERS = 2


def ensure_isso_venv() -> Path:
    """Create bench/.isso-venv with Isso and gunicorn from PyPI unless it is there already."""
    stamp = ISSO_VENV / f".installed-isso-{ISSO_VERSION}-gunicorn-{GUNICORN_VERSION}"
    if stamp.exists():
        return ISSO_VENV
    python = shutil.which("python3") or sys.executable
    subprocess.run([python, "-m", "venv", str(ISSO_VENV)], check=True)
    pip = [str(ISSO_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"isso=={ISSO_VERSION}", f"gunicorn=={GUNICORN_VERSION}"], check=True)
    stamp.touch()
    return ISSO_VENV


def isso_config(workdir: Path, port: int, origin: str) -> Path:
    """A minimal isso.cfg. Everything not set here keeps Isso's shipped defaults (isso/isso.cfg)."""
    path = workdir / "isso.cfg"
    path.write_text(
        f"""[general]
dbpath = {workdir / "isso.db"}
host = {origin}/

[moderation]
# Publish at once, like Parlour's post-moderation default.
enabled = false

[guard]
# The guard allows 2 comments a minute per /24 and 3 top-level ones per thread: seeding from
# 127.0.0.1 would be refused. It costs a few indexed queries per post when on.
enabled = false

[server]
# Read by `isso run` only; under gunicorn the -b address is what counts.
listen = http://127.0.0.1:{port}/
"""
    )
    return path


def start_isso(workdir: Path, origin: str) -> Server:
    """Isso under its documented gunicorn setup: ISSO_SETTINGS=... gunicorn -w N --preload isso.run.

    The default (sync) worker class, as documented. --no-control-socket only keeps gunicorn 27 from
    creating ~/.gunicorn/gunicorn.ctl; it changes nothing in how requests are served."""
    venv = ensure_isso_venv()
    port = free_port()
    config = isso_config(workdir, port, origin)
    argv = [
        str(venv / "bin" / "gunicorn"),
        "-w",
        str(WORKERS),
        "-b",
        f"127.0.0.1:{port}",
        "--no-control-socket",
        "--preload",
        "isso.run",
    ]
    server = start(
        "isso",
        argv,
        env={"ISSO_SETTINGS": str(config)},
        base_url=f"http://127.0.0.1:{port}",
        log_path=workdir / "isso.log",
        cwd=workdir,
    )
    wait_ready(server, "/info")
    return server


def parlour_env(database: Path | str) -> dict[str, str]:
    """The server's environment for a SQLite file (a Path) or any SQLAlchemy database URL (a str)."""
    return {
        "PARLOUR_DATABASE_URL": f"sqlite:///{database}" if isinstance(database, Path) else database,
        "PARLOUR_SECRET_KEY": secrets.token_urlsafe(48),
    }


def prepare_parlour(database: Path | str, origin: str, site: str) -> dict[str, str]:
    """Migrate a new database and create the site, as documented; returns the server's environment."""
    env = parlour_env(database)
    run_env = {**os.environ, **env}
    subprocess.run([str(PARLOUR_BIN), "db", "upgrade"], env=run_env, check=True, capture_output=True)
    # Prints the site's API key, which reading and posting do not need.
    subprocess.run(
        [str(PARLOUR_BIN), "site", "create", "--slug", site, "--name", site.title(), "--origin", origin],
        env=run_env,
        check=True,
        capture_output=True,
    )
    # As with Isso's guard, off: every load-generator connection posts from 127.0.0.1. The guards cost a few
    # indexed queries and a limiter call per post when on.
    guards_off = [
        "rate_per_network=0",
        "rate_per_author=0",
        "rate_per_story=0",
        "duplicate_window_seconds=0",
        "flood_repeats=0",
    ]
    subprocess.run(
        [str(PARLOUR_BIN), "site", "update", site, *(arg for pair in guards_off for arg in ("--set", pair))],
        env=run_env,
        check=True,
        capture_output=True,
    )
    return env


def start_parlour(workdir: Path, env: dict[str, str]) -> Server:
    """`parlour serve --workers 2` on a free loopback port."""
    port = free_port()
    argv = [str(PARLOUR_BIN), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)]
    base_url = f"http://127.0.0.1:{port}"
    server = start(
        "parlour",
        argv,
        # The widget loads its stylesheet and catalogs from the public base URL, as it would behind a proxy.
        env={**env, "PARLOUR_PUBLIC_BASE_URL": base_url},
        base_url=base_url,
        log_path=workdir / "parlour.log",
        cwd=workdir,
    )
    wait_ready(server, "/healthz")
    return server


def nginx_config(workdir: Path, port: int) -> Path:
    path = workdir / "nginx.conf"
    path.write_text(
        f"""worker_processes {WORKERS};
daemon off;
pid {workdir / "nginx.pid"};
error_log {workdir / "nginx-error.log"} warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {workdir / "nginx-tmp"};
    proxy_temp_path {workdir / "nginx-tmp"};
    fastcgi_temp_path {workdir / "nginx-tmp"};
    uwsgi_temp_path {workdir / "nginx-tmp"};
    scgi_temp_path {workdir / "nginx-tmp"};

    server {{
        listen 127.0.0.1:{port};
        location / {{
            root {workdir / "www"};
            default_type application/json;
        }}
    }}
}}
"""
    )
    return path


def start_nginx(workdir: Path, files: dict[str, bytes]) -> Server:
    """nginx serving `files` (name -> exact bytes) from a temporary root: the physical limit."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is missing: apt-get install -y nginx (Debian), then run again.")
    www = workdir / "www"
    www.mkdir(exist_ok=True)
    (workdir / "nginx-tmp").mkdir(exist_ok=True)
    for name, body in files.items():
        (www / name).write_bytes(body)
        (www / name).chmod(0o644)
    # Workers started by root run as nobody and must be able to reach the files.
    for directory in (workdir, www):
        directory.chmod(0o755)
    port = free_port()
    config = nginx_config(workdir, port)
    argv = [nginx, "-p", str(workdir), "-e", str(workdir / "nginx-error.log"), "-c", str(config)]
    server = start(
        "nginx",
        argv,
        env={},
        base_url=f"http://127.0.0.1:{port}",
        log_path=workdir / "nginx.log",
        cwd=workdir,
    )
    wait_ready(server, "/" + next(iter(files)))
    return server
