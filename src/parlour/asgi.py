"""The ASGI entry point for process managers: settings from the environment, read once per worker."""

from __future__ import annotations

from fastapi import FastAPI

from parlour.app import create_app
from parlour.settings import load_settings


def app_from_env() -> FastAPI:
    return create_app(load_settings())
