"""Prometheus metrics: request latency per route, comments by decision, scoring time, cache hits, queue sizes."""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from parlour.db.engine import Database
from parlour.db.tables import Comment, CommentStatus, DeliveryStatus, Site, WebhookDelivery
from parlour.events import CommentPosted
from parlour.scoring.protocol import Scorer, Scores

log = logging.getLogger(__name__)
# prometheus_client reads this variable itself, at import, to decide where values live; we follow the same switch.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The files prometheus_client writes there (counter_1234.db, gauge_livesum_1234.db…), and nothing else.
VALUE_FILE = re.compile(r"(counter|histogram|summary|gauge_[a-z]+)_\d+\.db")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SCORING_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
# A comment's stored status, as the moderation decision it records.
DECISIONS = {
    CommentStatus.APPROVED.value: "published",
    CommentStatus.PENDING.value: "held",
    CommentStatus.REJECTED.value: "rejected",
}


class Metrics:
    """Parlour's instruments on a registry of their own, so each app (tests build many) counts for itself.

    With PROMETHEUS_MULTIPROC_DIR set, every worker writes its values to files there and a scrape of any worker
    adds up all of them; process and GC metrics are then not available (a prometheus_client limitation).
    """

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        if multiprocess_dir is None:
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                self.registry.register(collector)
        self._scrape_collectors: list[Collector] = []
        self.request_seconds = Histogram(
            "parlour_http_request_duration_seconds",
            "Time from a request's arrival to its response headers, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "parlour_http_requests",
            "Requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.comments = Counter(
            "parlour_comments_posted",
            "New comments by moderation decision: published, held or rejected.",
            ["decision"],
            registry=self.registry,
        )
        self.scoring_seconds = Histogram(
            "parlour_scoring_duration_seconds",
            "Time the moderation model takes to score one text.",
            ["model"],
            buckets=SCORING_BUCKETS,
            registry=self.registry,
        )
        self.thread_cache = Counter(
            "parlour_thread_cache_lookups",
            "Thread page lookups in the page cache: hit or miss.",
            ["result"],
            registry=self.registry,
        )
        self._hit = self.thread_cache.labels(result="hit")
        self._miss = self.thread_cache.labels(result="miss")

    @classmethod
    def from_env(cls) -> Metrics:
        return cls(os.environ.get(MULTIPROC_ENV) or None)

    def add_scrape_collector(self, collector: Collector) -> None:
        """A collector computed when Prometheus scrapes (from the database), once per scrape, whichever worker."""
        self._scrape_collectors.append(collector)
        if self.multiprocess_dir is None:
            self.registry.register(collector)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        histogram, counter = self._request_series(method, route, status)
        histogram.observe(seconds)
        counter.inc()

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one Metrics per worker; labels() costs more than a request
    def _request_series(self, method: str, route: str, status: int) -> tuple[Histogram, Counter]:
        # Routes are templates and methods a fixed set, so the combinations are few and the cache stays small.
        return self.request_seconds.labels(method, route), self.requests.labels(method, route, str(status))

    def count_comment(self, event: CommentPosted) -> None:
        self.comments.labels(DECISIONS.get(event.status, event.status)).inc()

    def thread_cache_lookup(self, hit: bool) -> None:
        (self._hit if hit else self._miss).inc()

    def timed(self, scorer: Scorer) -> TimedScorer:
        return TimedScorer(scorer, self.scoring_seconds)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics in the format the scraper asks for (Prometheus text, or OpenMetrics), and its media type."""
        encode, media_type = choose_encoder(accept or "")
        if self.multiprocess_dir is None:
            return encode(self.registry), media_type
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]  # unannotated upstream
        for collector in self._scrape_collectors:
            registry.register(collector)
        return encode(registry), media_type


class TimedScorer:
    """A Scorer that records how long each text takes; anything else is the wrapped scorer's."""

    def __init__(self, inner: Scorer, histogram: Histogram) -> None:
        self.inner = inner
        self.name = inner.name
        self._observe = histogram.labels(inner.name).observe

    def score(self, text: str) -> Scores:
        start = time.perf_counter()
        try:
            return self.inner.score(text)
        finally:
            self._observe(time.perf_counter() - start)

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not found on the wrapper: batch scoring, model details.
        return getattr(self.inner, name)


class DatabaseGauges:
    """Moderation queue sizes per site and the webhook backlog, counted with indexed queries at scrape time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def describe(self) -> Iterable[Metric]:
        return []  # keeps the registry from running the queries when the collector is registered

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("parlour_database_up", "Whether the last scrape's database queries succeeded.")
        try:
            pending, backlog = self._counts()
        except SQLAlchemyError as exc:
            log.warning("metrics: database queries failed: %s", type(exc).__name__)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        queues = GaugeMetricFamily(
            "parlour_moderation_queue_size", "Comments waiting in a site's moderation queue.", labels=["site", "queue"]
        )
        for slug, count in pending:
            queues.add_metric([slug, "pending"], count)
        tasks = GaugeMetricFamily("parlour_task_backlog", "Background tasks waiting to run.", labels=["queue"])
        tasks.add_metric(["webhooks"], backlog)
        return [up, queues, tasks]

    def _counts(self) -> tuple[list[tuple[str, int]], int]:
        # One range of ix_comments_site_status_created per site, and one of ix_webhook_deliveries_due.
        held = (
            select(func.count())
            .where(Comment.site_id == Site.id, Comment.status == CommentStatus.PENDING)
            .correlate(Site)
            .scalar_subquery()
        )
        due = select(func.count()).where(WebhookDelivery.status == DeliveryStatus.PENDING).scalar_subquery()
        with self.db.read() as session:
            pending = [(slug, count) for slug, count in session.execute(select(Site.slug, held).order_by(Site.slug))]
            backlog = session.scalar(select(due)) or 0
        return pending, backlog


@contextmanager
def shared_between_workers(workers: int) -> Iterator[None]:
    """Workers add up their metrics through files: in PROMETHEUS_MULTIPROC_DIR, or a new folder for several."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        _remove_values(Path(given))  # a previous run's counts would be added to this one's
        yield
        return
    if workers == 1:
        yield
        return
    folder = tempfile.mkdtemp(prefix="parlour-metrics-")
    os.environ[MULTIPROC_ENV] = folder  # inherited by the worker processes, read by their prometheus_client
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def _remove_values(folder: Path) -> None:
    for path in folder.glob("*.db"):
        if VALUE_FILE.fullmatch(path.name):
            path.unlink(missing_ok=True)
