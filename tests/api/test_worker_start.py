"""A worker's entry point: the app built from the environment, and what it built at start frozen for the collector."""

from __future__ import annotations

import gc

import pytest

from parlour.asgi import app_from_env
from tests.conftest import SECRET, DatabaseUnderTest


def test_a_worker_freezes_what_it_built_before_serving(
    database: DatabaseUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLOUR_DATABASE_URL", database.url)
    monkeypatch.setenv("PARLOUR_SECRET_KEY", SECRET)
    gc.unfreeze()
    try:
        app = app_from_env()
        # The model, routes and templates: full collections under load no longer walk them.
        assert gc.get_freeze_count() > 10_000
        assert app.state.parlour.settings.database_url == database.url
        app.state.parlour.db.dispose()
    finally:
        gc.unfreeze()
