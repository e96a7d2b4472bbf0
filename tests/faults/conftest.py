"""The fault suite reuses the end-to-end fixtures: a migrated throwaway database per backend with one site."""

from __future__ import annotations

from tests.e2e.conftest import process_db  # noqa: F401 - a fixture, registered for this folder by the import
