from __future__ import annotations

from collections.abc import Iterator

import pytest

from parlour.db.engine import Database, connect
from tests.conftest import SECRET, DatabaseUnderTest, backends, create_test_site, empty


@pytest.fixture(params=backends())
def process_db(request: pytest.FixtureRequest) -> Iterator[DatabaseUnderTest]:
    test_db: DatabaseUnderTest = request.getfixturevalue(f"{request.param}_database")
    database: Database = connect(test_db.url)
    create_test_site(database)
    database.dispose()
    yield test_db
    empty(test_db)


def server_env(test_db: DatabaseUnderTest) -> dict[str, str]:
    return {"PARLOUR_DATABASE_URL": test_db.url, "PARLOUR_SECRET_KEY": SECRET, "PARLOUR_LOG_LEVEL": "warning"}
