"""create_app(settings) -> the ASGI app: builds the database, backends and routes; no module globals."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from parlour import __version__, errors, routes
from parlour.comments import live
from parlour.comments.fastread import CachedThreadReads
from parlour.comments.threads import ThreadReader
from parlour.dashboard import live as dashboard_live
from parlour.dashboard.errorpage import problem_page
from parlour.db.engine import Database, connect
from parlour.db.rate_counts import DatabaseRateLimiter
from parlour.db.tables import Site
from parlour.embedding.assets import WidgetAssets
from parlour.events import CommentPosted, EventBus, SiteChanged, StoryChanged
from parlour.infra.cache import MemoryCache, SharedPages
from parlour.infra.clientip import parse_networks
from parlour.infra.logs import configure_logging
from parlour.infra.metrics import DatabaseGauges, Metrics
from parlour.infra.observe import Observe
from parlour.infra.pubsub import make_broker
from parlour.infra.ratelimit import make_rate_limiter
from parlour.middleware import Cors, OriginCache, RequestGuard, SecurityHeaders
from parlour.notifications import triggers
from parlour.notifications.outbox import MailPolicy
from parlour.notifications.worker import MailWorker
from parlour.scoring import make_scorer
from parlour.scoring.protocol import Scorer
from parlour.settings import Settings
from parlour.state import AppState
from parlour.webhooks import dispatch as webhooks
from parlour.webhooks.retry import DeliveryPolicy

PACKAGE = Path(__file__).parent


def create_app(
    settings: Settings,
    *,
    scorer: Scorer | None = None,
    webhook_policy: DeliveryPolicy | None = None,
    mail_policy: MailPolicy | None = None,
) -> FastAPI:
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    metrics = Metrics.from_env()
    db = connect(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    limiter = make_rate_limiter(settings.redis_url)
    state = AppState(
        settings=settings,
        db=db,
        scorer=metrics.timed(scorer or make_scorer(settings.scorer, settings.model_dir)),
        threads=ThreadReader(
            db=db,
            pages=MemoryCache(settings.thread_cache_entries),
            ref_seconds=settings.thread_version_seconds,
            on_lookup=metrics.thread_cache_lookup,
            shared=_shared_pages(settings),
        ),
        bus=EventBus(),
        trusted_proxies=parse_networks(settings.trusted_proxies),
        templates=Jinja2Templates(directory=PACKAGE / "templates"),
        broker=make_broker(settings.redis_url),
        widget=WidgetAssets(PACKAGE / "static" / "widget", settings.public_base_url),
        metrics=metrics,
        limiter=limiter,
        signin_limiter=limiter if settings.redis_url else DatabaseRateLimiter(db),
        webhooks=webhooks.make_dispatcher(settings, db=db, policy=webhook_policy),
    )
    live.connect(state.bus, state.broker)
    dashboard_live.connect(state.bus, state.broker)
    webhooks.connect(state.bus, db=db, dispatcher=state.webhooks)
    state.bus.subscribe(CommentPosted, metrics.count_comment)
    # E-mail (issue 6): events queue messages in the outbox; this worker's background task sends them.
    mail = MailWorker(db=db, settings=settings, policy=mail_policy)
    if mail.sends_mail:
        triggers.connect(state.bus, db=db, policy=mail.policy, wake=mail.wake)
    metrics.add_scrape_collector(DatabaseGauges(db))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await state.broker.start()
        following = asyncio.create_task(live.follow_changes(state.broker, state.threads.forget_versions))
        await state.webhooks.start()
        await mail.start()
        yield
        # Side by side, each cut short after the same short grace: a hanging SMTP server and a hanging webhook
        # receiver together cost one grace, not the sum of their timeouts (see infra/polling.py).
        await asyncio.gather(mail.stop(), state.webhooks.stop())
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
        await state.broker.stop()
        if state.threads.shared is not None:
            state.threads.shared.close()
        db.dispose()

    state.bus.subscribe(StoryChanged, lambda _event: state.threads.forget_versions())
    state.bus.subscribe(SiteChanged, lambda _event: state.threads.forget_versions())
    app = FastAPI(
        title="Parlour",
        version=__version__,
        summary="Self-hosted comments for news sites",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        # Starlette's trailing-slash redirect builds its Location from the Host header; links never do here.
        redirect_slashes=False,
    )
    app.state.parlour = state
    errors.install(app, page=problem_page)
    routes.install(app)
    app.mount("/static", StaticFiles(directory=PACKAGE / "static"), name="static")
    app.add_middleware(CachedThreadReads, threads=state.threads)  # innermost: behind every header and metric
    app.add_middleware(RequestGuard, max_body=settings.max_request_bytes)
    app.add_middleware(Cors, allowed_origins=OriginCache(lambda: _all_allowed_origins(db)))
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        Observe,
        metrics=metrics,
        paths=[route.path for route in routes.ROUTES],
        trusted_proxies=state.trusted_proxies,
        access_log=settings.access_log,
    )
    return app


def _shared_pages(settings: Settings) -> SharedPages | None:
    # Off with the page cache itself (0 entries): every read then goes to the database, as benchmarks want.
    if settings.redis_url is None or settings.thread_cache_entries == 0:
        return None
    return SharedPages(settings.redis_url, namespace=settings.database_url)


def _all_allowed_origins(db: Database) -> frozenset[str]:
    with db.read() as session:
        return frozenset(origin for origins in session.scalars(select(Site.allowed_origins)) for origin in origins)
