"""Operations endpoints: liveness, readiness (database, Redis, model) and Prometheus metrics."""

from __future__ import annotations

import hmac
from typing import Annotated

import redis
from fastapi import Header
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from parlour.errors import ServiceUnavailable, Unauthorized
from parlour.state import AppState, State

# A probe that waits longer than the orchestrator's own timeout tells it nothing.
REDIS_TIMEOUT_SECONDS = 1.0


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict, description="Each dependency checked, and its state.")


def healthz() -> Health:
    """The process is alive and serving."""
    return Health(status="ok")


def readyz(state: State) -> Health:
    """The process can serve requests: the database answers, Redis too when configured, the model is loaded."""
    checks = {"database": _database(state), "model": _model(state)}
    if state.settings.redis_url:
        checks["redis"] = _redis(state.settings.redis_url)
    failing = [f"{name}: {reason}" for name, reason in checks.items() if reason != "ok"]
    if failing:
        raise ServiceUnavailable("Not ready: " + "; ".join(failing) + ".")
    return Health(status="ready", checks=checks)


def metrics(
    state: State,
    authorization: Annotated[str | None, Header(max_length=300)] = None,
    accept: Annotated[str | None, Header(max_length=1000)] = None,
) -> Response:
    """Prometheus metrics: this worker's, or every worker's in multiprocess mode (PROMETHEUS_MULTIPROC_DIR)."""
    expected = state.settings.metrics_token
    scheme, _, given = (authorization or "").partition(" ")
    if expected is not None and not (
        scheme.lower() == "bearer" and hmac.compare_digest(expected.encode(), given.strip().encode())
    ):
        raise Unauthorized("The metrics token is required (Authorization: Bearer TOKEN).")
    body, media_type = state.metrics.exposition(accept)
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-store"})


def _database(state: AppState) -> str:
    try:
        with state.db.read() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"unavailable ({type(exc).__name__})"
    return "ok"


def _redis(url: str) -> str:
    try:
        with redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        ) as client:
            client.ping()
    except redis.RedisError as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok"


def _model(state: AppState) -> str:
    # create_app loads the model before serving; a scorer that loads in the background says so with `loaded`.
    return "ok" if getattr(state.scorer, "loaded", True) else f"{state.scorer.name} still loading"
