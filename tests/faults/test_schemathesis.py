"""Generated requests against /openapi.json (schemathesis, a bounded number per operation): no 5xx, and every
response matches the schema the API publishes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import BaseSchema, Case
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance
from schemathesis.core.failures import FailureGroup
from starlette.testclient import TestClient

from parlour.app import create_app
from parlour.db.engine import connect
from tests.conftest import STORY, DatabaseUnderTest, SiteInfo, create_test_site, make_settings

EXAMPLES_PER_OPERATION = 12
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# The live stream never ends, and webhook pings would POST to whatever URL was generated: both leave the loopback.
EXCLUDED = r"^/api/v1/(stream|sites/\{slug\}/webhooks/.*/(ping|redeliver))$"


@pytest.fixture
def api_site(database: DatabaseUnderTest) -> SiteInfo:
    db = connect(database.url)
    try:
        return create_test_site(db)
    finally:
        db.dispose()


@pytest.fixture
def api_schema(database: DatabaseUnderTest, api_site: SiteInfo) -> Iterator[BaseSchema]:
    with TestClient(create_app(make_settings(database.url)), base_url="https://comments.example") as client:
        # Something to find: a story with a comment, so generated ids sometimes hit a real row.
        client.post(
            "/api/v1/comments",
            json={"site": api_site.slug, "url": STORY, "body": "A comment to find.", "author": {"name": "Seed"}},
        )
    # A fresh app for the generated requests: schemathesis runs each on its own event loop, without the lifespan.
    app = create_app(make_settings(database.url))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    yield schema.exclude(path_regex=EXCLUDED)
    app.state.parlour.db.dispose()


def test_api_matches_its_schema_and_never_fails(api_schema: BaseSchema, api_site: SiteInfo) -> None:
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 30

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,  # the same cases on every run: a failure here is a bug to fix, not a flake
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def exercise(case: Case) -> None:
            # Staff operations get the site's own slug and key, to get past 401 and 404 to their real work.
            staff = case.operation.path.startswith("/api/v1/sites/")
            if staff:
                case.path_parameters = (case.path_parameters or {}) | {"slug": api_site.slug}
            case.call_and_validate(headers=api_site.auth if staff else None, checks=CHECKS)

        try:
            exercise()
        except (Exception, FailureGroup) as failure:  # every operation is tried; the failures are reported together
            failures.append(f"{operation.label}: {failure}"[:2000])
    assert failures == [], "\n\n".join(failures)


@pytest.mark.parametrize(
    "path", ["/api/v1/comments/{n}/replies", "/api/v1/comments/{n}", "/api/v1/comments/{n}/reaction"]
)
def test_an_id_past_64_bits_is_422_not_500(client: TestClient, path: str) -> None:
    # Found by the generated cases above: SQLite's driver cannot bind the number and raised OverflowError.
    method = "PUT" if path.endswith("reaction") else "GET"
    response = client.request(method, path.format(n=2**64 + 1))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
