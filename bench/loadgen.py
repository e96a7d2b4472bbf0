"""Load through wrk: one Lua script per figure, whose done() hook prints the results as JSON; and
sequential reads over one connection, for latency without queueing."""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from apis import ParlourApi, Request
from probe import percentile

MARKER = "BENCH_JSON "

# Reports the summary, the latency percentiles and the acknowledged count summed over wrk's threads.
DONE_HOOK = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local bench_ts = ffi.new("bench_timespec")

-- Monotonic seconds: bounded runs end before wrk's -d, so their rate needs their own clock.
function bench_now()
  ffi.C.clock_gettime(1, bench_ts)
  return tonumber(bench_ts.tv_sec) + tonumber(bench_ts.tv_nsec) / 1e9
end

local bench_threads = {}

function setup(thread)
  thread:set("ids", {})
  thread:set("acked", 0)
  thread:set("answered", 0)
  thread:set("first", -1)
  thread:set("last", -1)
  table.insert(bench_threads, thread)
end

function done(summary, latency, requests)
  local acked, answered, first, last, ids = 0, 0, math.huge, -1, {}
  for _, thread in ipairs(bench_threads) do
    for _, id in ipairs(thread:get("ids")) do
      table.insert(ids, id)
    end
    acked = acked + thread:get("acked")
    answered = answered + thread:get("answered")
    local f, l = thread:get("first"), thread:get("last")
    if f >= 0 and f < first then first = f end
    if l > last then last = l end
  end
  local active_us = summary.duration
  if last >= 0 then active_us = math.floor((last - first) * 1e6) end
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"active_us":%d,"bytes":%d,"acked":%d,"answered":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,"ids":[%s]}\n',
    "__MARKER__", summary.requests, summary.duration, active_us, summary.bytes, acked, answered,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
    table.concat(ids, ",")))
end
""".replace("__MARKER__", MARKER)


@dataclass(frozen=True)
class Result:
    """One wrk run. Latencies are in milliseconds; `acked` counts 2xx answers to POSTs, whose
    comment ids are in `acked_ids`."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    max_ms: float | None
    errors: dict[str, int]
    acked: int
    transfer_bytes: int
    acked_ids: list[int]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def lua_string(text: str) -> str:
    """A double-quoted Lua literal of the UTF-8 bytes of `text`: anything unusual as a \\ddd escape."""
    safe = set(range(0x20, 0x7F)) - {ord('"'), ord("\\")}
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in text.encode()) + '"'


def get_script(headers: dict[str, str] | None = None) -> str:
    lines = [f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in (headers or {}).items()]
    return "\n".join(lines) + DONE_HOOK


def post_script(path: str, headers: dict[str, str], body: str) -> str:
    """Every request carries the same body (e.g. a counts query)."""
    settings = ["wrk.method = 'POST'", f"wrk.path = {lua_string(path)}", f"wrk.body = {lua_string(body)}"]
    return get_script(headers) + "\n" + "\n".join(settings) + "\n"


def bounded_post_script(path: str, headers: dict[str, str], bodies: list[str], per_thread_limit: int) -> str:
    """New comments in rotation; each wrk thread stops after `per_thread_limit` answers, so the
    run is bounded in count as well as in time. 2xx answers are counted as acknowledged."""
    table = ",\n".join(lua_string(b) for b in bodies)
    header_table = ", ".join(f"[ {lua_string(k)} ] = {lua_string(v)}" for k, v in headers.items())
    return (
        DONE_HOOK
        + f"""
local bodies = {{
{table}
}}
local headers = {{ {header_table} }}
local limit = {per_thread_limit}
local sent = 0

function request()
  sent = sent + 1
  if first < 0 then
    first = bench_now()
  end
  return wrk.format("POST", {lua_string(path)}, headers, bodies[(sent - 1) % #bodies + 1])
end

function response(status, headers, body)
  answered = answered + 1
  last = bench_now()
  if status >= 200 and status < 300 then
    acked = acked + 1
    -- The id the server acknowledged, to look each one up in its database afterwards.
    local id = string.match(body, '"id":%s*(%d+)')
    if id then
      table.insert(ids, id)
    end
  end
  if answered >= limit then
    wrk.thread:stop()
  end
end
"""
    )


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk (Debian), then run again.")
    return path


def run_wrk(
    url: str,
    script: str,
    *,
    workdir: Path,
    duration: float,
    connections: int,
    threads: int = 2,
    timeout: float = 30.0,
) -> Result:
    """Run wrk against a loopback URL for `duration` seconds; wrk stops by itself."""
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError(f"load goes to loopback only, not {url}")
    threads = max(1, min(threads, connections))
    script_path = workdir / f"wrk-{abs(hash(script)) % 10**10}.lua"
    script_path.write_text(script)
    argv = [
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, math.ceil(duration))}s",
        f"--timeout={math.ceil(timeout)}s",
        "-s",
        str(script_path),
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + timeout + 30, check=False)
    if done.stderr.strip():
        # wrk reports Lua errors on stderr and then runs without the script: never a valid figure.
        raise RuntimeError(f"wrk failed: {done.stderr.strip()}")
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            return _result(json.loads(line[len(MARKER) :]))
    raise RuntimeError(f"wrk gave no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def _result(raw: dict[str, Any]) -> Result:
    def ms(key: str) -> float | None:
        # No completed request, no latency: better absent than a misleading 0.
        return float(raw[key]) / 1000.0 if raw["requests"] else None

    requests = int(raw["requests"])
    # Bounded runs report the window from their first request to their last answer.
    seconds = float(raw["active_us"]) / 1e6
    return Result(
        requests=requests,
        seconds=seconds,
        rps=requests / seconds if seconds else 0.0,
        p50_ms=ms("p50_us"),
        p90_ms=ms("p90_us"),
        p99_ms=ms("p99_us"),
        mean_ms=ms("mean_us"),
        max_ms=ms("max_us"),
        errors={k: int(v) for k, v in raw["errors"].items()},
        acked=int(raw["acked"]),
        transfer_bytes=int(raw["bytes"]),
        acked_ids=[int(i) for i in raw["ids"]],
    )


PROBE = Path(__file__).resolve().parent / "probe.py"
# Above the server's and wrk's priority (0), so the probe's clock does not wait for a CPU; root only.
PROBE_NICE = -10
# probe.py gives up on a request 10 s after its end.
PROBE_GRACE = 60


def start_probe(base_url: str, request: Request, duration: float) -> subprocess.Popen[str]:
    """probe.py sending `request` over one connection of its own while wrk runs (see probe.py)."""
    argv = [
        sys.executable,
        str(PROBE),
        base_url + request.path,
        "--duration",
        str(duration),
        "--method",
        request.method,
    ]
    for name, value in request.headers.items():
        argv += ["--header", f"{name}: {value}"]
    if request.body is not None:
        argv += ["--body", request.body]
    if os.geteuid() == 0:
        argv = ["nice", "-n", str(PROBE_NICE), *argv]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def finish_probe(probe: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = probe.communicate(timeout=PROBE_GRACE)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["nice"] = PROBE_NICE if os.geteuid() == 0 else 0
    return result


WARMUP_READS = 5


@dataclass(frozen=True)
class Timing:
    requests: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float


def time_reads(base_url: str, site: str, path: str, requests: int, max_seconds: float) -> tuple[Timing, Any]:
    """Sequential reads of a Parlour thread over one keep-alive connection: latency without queueing.
    Bounded in count and time. Returns the timing and the last answer."""
    request = ParlourApi(site=site).thread_read(path)
    samples: list[float] = []
    deadline = time.monotonic() + max_seconds
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for _ in range(WARMUP_READS):
            client.get(request.path, headers=request.headers).raise_for_status()
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(request.path, headers=request.headers)
            samples.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            if time.monotonic() > deadline:
                break
    samples.sort()
    p50, p90, p99 = (percentile(samples, q) for q in (0.5, 0.9, 0.99))
    timing = Timing(len(samples), round(statistics.fmean(samples), 2), p50, p90, p99)
    return timing, response.json()
