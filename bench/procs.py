"""Starting and stopping the servers under test, and reading their memory and CPU from /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server process started by the benchmark, in its own session so its whole tree can be stopped."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group we created (only ours), then SIGKILL whatever is left."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(
    name: str, argv: Sequence[str], *, env: Mapping[str, str], base_url: str, log_path: Path, cwd: Path
) -> Server:
    log = log_path.open("ab")  # appends across restarts
    process = subprocess.Popen(
        list(argv),
        env={**os.environ, **env},
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    return Server(name=name, process=process, base_url=base_url, log_path=log_path)


def wait_ready(server: Server, path: str, *, timeout: float = 60.0) -> None:
    """Poll `path` until it answers 200; fail early, with the log, if the process dies, and stop it
    if it does not answer in time."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited during start-up:\n{server.log_tail()}")
            try:
                if client.get(server.base_url + path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    server.stop()  # never leave a half-started server behind
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f}s:\n{server.log_tail()}")


def process_tree(root: int) -> list[int]:
    """The root pid and all its descendants, found through the parent pid of every process."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields resume after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(root: int) -> int:
    return sum(_status_kib(pid, "VmRSS") for pid in process_tree(root))


def tree_hwm_kib(root: int) -> int:
    """Sum of each process's own peak RSS (VmHWM): an upper bound of the tree's peak."""
    return sum(_status_kib(pid, "VmHWM") for pid in process_tree(root))


def tree_cpu_seconds(root: int) -> float:
    total = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def wait_idle(root: int, *, max_wait: float = 60.0, window: float = 0.5, busy_share: float = 0.05) -> bool:
    """Wait until the tree uses under `busy_share` of one core, so queued work of a finished run
    (sync workers go on serving requests whose clients left) does not leak into the next figure.
    Returns whether it became idle within `max_wait` seconds."""
    deadline = time.monotonic() + max_wait
    last = tree_cpu_seconds(root)
    while time.monotonic() < deadline:
        time.sleep(window)
        now = tree_cpu_seconds(root)
        if now - last < busy_share * window:
            return True
        last = now
    return False


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot, from the first line of /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def machine_busy(window: float = 1.0) -> float:
    """Share of all CPUs busy during `window` seconds, whoever uses them."""
    busy0, total0 = _cpu_times()
    time.sleep(window)
    busy1, total1 = _cpu_times()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_quiet(*, threshold: float, max_wait: float) -> float:
    """Wait (bounded) until the machine is quiet, since other work on the same cores distorts
    every figure. Returns the busy share last seen, which the report keeps."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = machine_busy(2.0)
    return busy


@dataclass
class RssSampler:
    """Samples the summed RSS of a process tree in a background thread while a load runs."""

    root: int
    interval: float = 0.2
    peak_kib: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.root))
            self._stop.wait(self.interval)
