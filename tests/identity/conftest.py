"""Reader identity tests run without the moderation scorer: a held comment is not what they are about."""

from __future__ import annotations

import pytest

from parlour.settings import Settings
from tests.conftest import DatabaseUnderTest, make_settings


@pytest.fixture
def settings(database: DatabaseUnderTest) -> Settings:
    return make_settings(database.url, scorer="none")
