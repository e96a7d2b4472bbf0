"""How the server hands out the widget: config, loader scripts with the hashed folder, traversal refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from parlour.embedding.assets import Wants, WidgetAssets
from parlour.errors import NotFound
from tests.api.test_comments_api import assert_problem
from tests.conftest import SiteInfo

PLAIN = Wants()


@pytest.fixture
def assets(tmp_path: Path) -> WidgetAssets:
    (tmp_path / "i18n").mkdir()
    (tmp_path / "embed.js").write_text('const ASSETS = "__PARLOUR_ASSETS__";')
    (tmp_path / "widget.css").write_text(":host { color: black }")
    (tmp_path / "i18n" / "de.json").write_text('{"post": "Senden"}')
    (tmp_path / "notes.txt").write_text("not served")
    return WidgetAssets(tmp_path, "https://comments.example")


def test_loader_points_at_the_hashed_folder(assets: WidgetAssets) -> None:
    response = assets.loader("embed.js", PLAIN)
    # Minified (the space around "=" is gone), with the placeholder replaced.
    assert response.body == f'const ASSETS="https://comments.example/widget/{assets.version}/";'.encode()
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.media_type.startswith("text/javascript")


def test_hashed_files_are_immutable_and_old_versions_short_lived(assets: WidgetAssets) -> None:
    current = assets.asset(assets.version, "i18n/de.json", PLAIN)
    assert "immutable" in current.headers["cache-control"]
    assert current.headers["access-control-allow-origin"] == "*"
    old = assets.asset("0" * 16, "widget.css", PLAIN)
    assert old.headers["cache-control"] == "public, max-age=300"


@pytest.mark.parametrize("path", ["../app.py", "..%2fapp.py", "notes.txt", "i18n/../../x", "/etc/passwd", "x\x00.js"])
def test_only_widget_files_are_served(assets: WidgetAssets, path: str) -> None:
    with pytest.raises(NotFound):
        assets.asset(assets.version, path, PLAIN)


def test_files_go_compressed_and_revalidate_with_304(client: TestClient) -> None:
    plain = client.get("/embed.js", headers={"Accept-Encoding": "identity"})
    packed = client.get("/embed.js", headers={"Accept-Encoding": "br;q=1, gzip;q=0.8"})
    assert "content-encoding" not in plain.headers and packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # the client unpacked it: the same script
    assert int(packed.headers["content-length"]) < len(plain.content) / 2
    assert "accept-encoding" in packed.headers["vary"].lower()
    again = client.get("/embed.js", headers={"If-None-Match": packed.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    stale = client.get("/count.js", headers={"Accept-Encoding": "gzip", "If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.headers["content-encoding"] == "gzip"


def test_version_changes_with_content(tmp_path: Path, assets: WidgetAssets) -> None:
    before = assets.version
    (tmp_path / "widget.css").write_text(":host { color: red }")
    assert WidgetAssets(tmp_path, "https://comments.example").version != before


def test_asset_routes_refuse_traversal(client: TestClient) -> None:
    for path in ["/widget/x/..%2f..%2fsettings.py", "/widget/x/%2e%2e/%2e%2e/app.py", "/widget/x/nothing.js"]:
        response = client.get(path)
        assert response.status_code == 404
        assert "/work" not in response.text and "src/" not in response.text


def test_config(client: TestClient, site: SiteInfo) -> None:
    response = client.get("/api/v1/config", params={"site": "courier"})
    assert response.status_code == 200
    assert response.json() == {
        "site": "courier",
        "prompt": None,  # the default: the widget asks in the reader's language
        "max_body_chars": 5000,
        "max_name_chars": 64,
        "edit_window_seconds": 900,
        "max_depth": 8,
        "moderation_mode": "post",
        "sso": False,
        "sign_in_required": False,
        "notifications": False,
    }
    assert "max-age" in response.headers["cache-control"]
    assert_problem(client.get("/api/v1/config", params={"site": "nope"}), 404)
    assert_problem(client.get("/api/v1/config", params={"site": "Bad Slug"}), 422)


def test_the_widget_fits_its_budget_gzipped(client: TestClient) -> None:
    """Issue 3: embed.js and its CSS together at most 25 KB gzipped, as the reader's browser receives them."""
    gzip_only = {"Accept-Encoding": "gzip"}
    embed = client.get("/embed.js", headers=gzip_only)
    folder = re.search(r"https://comments\.example/widget/[0-9a-f]{16}/", embed.text)
    assert folder is not None, "embed.js names its hashed asset folder"
    css = client.get(folder.group(0) + "widget.css", headers=gzip_only)
    assert embed.status_code == css.status_code == 200
    assert embed.headers["content-encoding"] == css.headers["content-encoding"] == "gzip"
    wire = int(embed.headers["content-length"]) + int(css.headers["content-length"])
    assert wire <= 25_000, f"{wire:,} bytes gzipped"
    # Minified at start-up: the sources' comments stay in the repository.
    source = (Path(__file__).parents[2] / "src/parlour/static/widget/embed.js").read_text()
    assert "Plain ES2020" in source and "Plain ES2020" not in embed.text
