"""Liveness and readiness probes."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from parlour.errors import ServiceUnavailable
from parlour.state import State


class Health(BaseModel):
    status: str


def healthz() -> Health:
    """The process is alive and serving."""
    return Health(status="ok")


def readyz(state: State) -> Health:
    """The process can serve requests: the database answers."""
    try:
        with state.db.read() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(f"database unavailable: {type(exc).__name__}") from exc
    return Health(status="ready")
