"""Liveness and readiness: the database, Redis when configured, the model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from parlour.app import create_app
from parlour.scoring.protocol import Scores
from parlour.settings import Settings
from tests.conftest import make_settings
from tests.e2e.server import free_port

REDIS_URL = os.environ.get("PARLOUR_TEST_REDIS_OPS", "redis://127.0.0.1:6379/14")


def redis_url_or_skip() -> str:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2) as connection:
            connection.ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true but does not answer at {REDIS_URL}")
        pytest.skip("Redis is not running")
    return REDIS_URL


@contextmanager
def serve(settings: Settings, **app_options: Any) -> Iterator[TestClient]:
    with TestClient(create_app(settings, **app_options), base_url="https://comments.example") as client:
        yield client


def test_healthz_answers_without_touching_anything(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {}}


def test_readyz_checks_the_database_and_the_model(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "model": "ok"}}


def test_readyz_checks_redis_when_configured(settings: Settings) -> None:
    url = redis_url_or_skip()
    with serve(settings.model_copy(update={"redis_url": url})) as client:
        assert client.get("/readyz").json()["checks"]["redis"] == "ok"


def test_unreachable_redis_is_not_ready_and_says_so(settings: Settings) -> None:
    down = f"redis://127.0.0.1:{free_port()}/14"  # a closed port
    with serve(settings.model_copy(update={"redis_url": down})) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200  # alive all the same
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"]
    assert response.json()["detail"].startswith("Not ready: redis: unreachable (ConnectionError)")


def test_unreachable_database_is_not_ready_and_says_so(tmp_path: Any) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'missing' / 'parlour.db'}")  # its folder does not exist
    with serve(settings) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["detail"] == "Not ready: database: unavailable (OperationalError)."


class LoadingScorer:
    """A scorer whose model is still loading in the background."""

    name = "semantic-v0"
    loaded = False

    def score(self, text: str) -> Scores:
        return Scores(model=self.name)


def test_a_model_still_loading_is_not_ready(settings: Settings) -> None:
    scorer = LoadingScorer()
    with serve(settings, scorer=scorer) as client:
        assert client.get("/readyz").json()["detail"] == "Not ready: model: semantic-v0 still loading."
        scorer.loaded = True
        assert client.get("/readyz").status_code == 200
