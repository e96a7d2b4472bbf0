"""What request handlers may use, built once per app by create_app, and the dependency that hands it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from parlour.comments.threads import ThreadReader
from parlour.db.engine import Database
from parlour.embedding.assets import WidgetAssets
from parlour.events import EventBus
from parlour.infra.clientip import Network
from parlour.infra.metrics import Metrics
from parlour.infra.pubsub import Broker
from parlour.infra.ratelimit import RateLimiter
from parlour.scoring.protocol import Scorer
from parlour.settings import Settings
from parlour.webhooks.dispatch import Dispatcher


@dataclass
class AppState:
    settings: Settings
    db: Database
    scorer: Scorer
    threads: ThreadReader
    bus: EventBus
    trusted_proxies: tuple[Network, ...]
    templates: Jinja2Templates
    broker: Broker
    widget: WidgetAssets
    metrics: Metrics
    limiter: RateLimiter
    # Failed staff sign-ins: shared by every worker, through Redis when configured, else through the database.
    signin_limiter: RateLimiter
    webhooks: Dispatcher


async def app_state(request: Request) -> AppState:
    # async on purpose: FastAPI runs a plain def dependency in a worker thread, a hop the hot read path can't afford.
    state: AppState = request.app.state.parlour
    return state


State = Annotated[AppState, Depends(app_state)]
