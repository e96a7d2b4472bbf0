"""The ASGI entry point for process managers: settings from the environment, read once per worker."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from parlour.app import create_app
from parlour.settings import load_settings


def app_from_env() -> FastAPI:
    app = create_app(load_settings())
    # What the worker has built so far (the model, routes, templates: about 170,000 objects) lives as long as it
    # does. Frozen, the cycle collector's full collections stop walking it: under load they had paused a worker
    # for 165-198 ms, and every request in flight waited that out (bench/README.md, "the read's p99").
    gc.freeze()
    return app
