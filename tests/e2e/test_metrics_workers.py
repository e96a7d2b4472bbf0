"""/metrics with several workers: any worker's scrape adds up every worker's counts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import STORY, DatabaseUnderTest
from tests.e2e.conftest import server_env
from tests.e2e.server import running_server

pytestmark = pytest.mark.slow
POSTS = 12


def published(base_url: str) -> float:
    # A new connection each time, so the scrapes land on either worker.
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "parlour_comments_posted_total" and sample.labels == {"decision": "published"}:
                return sample.value
    return 0.0


def post_comments(base_url: str) -> None:
    for number in range(POSTS):
        body = {"site": "courier", "url": STORY, "body": f"Comment {number}.", "author": {"name": "M"}}
        assert httpx.post(f"{base_url}/api/v1/comments", json=body, timeout=10).status_code == 201


def test_every_scrape_counts_every_workers_comments(process_db: DatabaseUnderTest) -> None:
    with running_server(server_env(process_db), workers=2) as (base_url, _server):
        post_comments(base_url)
        assert [published(base_url) for _ in range(6)] == [POSTS] * 6


def test_a_given_metrics_folder_is_cleared_of_old_values_only(process_db: DatabaseUnderTest, tmp_path: Path) -> None:
    (tmp_path / "counter_999999.db").write_bytes(b"a previous run")
    (tmp_path / "notes.txt").write_bytes(b"not ours to delete")
    env = server_env(process_db) | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with running_server(env, workers=2) as (base_url, _server):
        post_comments(base_url)
        assert published(base_url) == POSTS
        assert not (tmp_path / "counter_999999.db").exists()
        assert (tmp_path / "notes.txt").read_bytes() == b"not ours to delete"
        assert list(tmp_path.glob("counter_*.db"))
