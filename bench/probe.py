"""A reader's requests while wrk loads a server: the latency one more connection sees, measured by a client
that is not itself waiting for a CPU.

wrk and the server share the machine's 2 cores. When wrk's threads wait for a core, the answers wait in
their sockets and wrk's clock counts that wait as latency; run.py's figures showed it (a mean of 5.27 ms at
12,661 req/s would need 67 requests in flight on 32 connections). This process sends one GET at a time over
one keep-alive connection, every --interval seconds, for --duration seconds, and prints the latencies as JSON
on its last line. run.py starts it at a higher priority than wrk and the server (when it may), so the time it
measures is the server's.

    .venv/bin/python bench/probe.py http://127.0.0.1:8000/api/v1/threads?... --duration 8
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time
from urllib.parse import urlsplit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds from one request's start to the next")
    parser.add_argument("--header", action="append", default=[], help="NAME: VALUE, repeatable")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default=None, help="the request body (Isso's counts are a POST)")
    options = parser.parse_args()
    url = urlsplit(options.url)
    headers = dict(h.split(":", 1) for h in options.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    target = url.path + (f"?{url.query}" if url.query else "")
    # No answer within 10 s of the end: the request is counted as unanswered (a slow server queues it behind the
    # load wrk left, and its answer would measure that queue, not the load).
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80)
    body = options.body.encode() if options.body is not None else None
    samples: list[float] = []
    failures = 0
    deadline = time.monotonic() + options.duration
    next_start = time.monotonic()
    while next_start < deadline:
        time.sleep(max(0.0, next_start - time.monotonic()))
        started = time.perf_counter()
        connection.timeout = max(0.1, deadline + 10 - time.monotonic())
        if connection.sock is not None:
            connection.sock.settimeout(connection.timeout)
        try:
            connection.request(options.method, target, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures += 1
            else:
                samples.append((time.perf_counter() - started) * 1000)
        except (OSError, http.client.HTTPException):
            failures += 1
            connection.close()
            if time.monotonic() >= deadline:
                break
        next_start += options.interval
    print(json.dumps(summary(samples, failures)))


def percentile(ordered: list[float], q: float) -> float:
    """The q-quantile of latencies sorted ascending, in ms to 2 decimals (the bench's one definition)."""
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def summary(samples: list[float], failures: int) -> dict[str, object]:
    ordered = sorted(samples)

    def pct(q: float) -> float | None:
        return percentile(ordered, q) if ordered else None

    return {
        "requests": len(ordered),
        "failures": failures,  # errors, or no answer within 10 s of the end
        "mean_ms": round(statistics.fmean(ordered), 2) if ordered else None,
        "p50_ms": pct(0.5),
        "p90_ms": pct(0.9),
        "p99_ms": pct(0.99),
        "max_ms": round(ordered[-1], 2) if ordered else None,
    }


if __name__ == "__main__":
    main()
