"""The README's token recipes for publishers, run as written: their tokens sign a reader in."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.testclient import TestClient

from parlour.db.engine import Database
from tests.conftest import create_test_site
from tests.identity.tokens import HS_SECRET, SITE_KEYS, exchange

README = Path(__file__).resolve().parents[2] / "README.md"


def recipe(language: str) -> str:
    section = README.read_text().split("## Reader sign-in and e-mail", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, f"one {language} recipe expected"
    code: str = blocks[0]
    assert len(code.strip().splitlines()) <= 10
    return code


def test_python_recipe(client: TestClient, db: Database) -> None:
    create_test_site(db, **SITE_KEYS["HS256"])
    namespace: dict[str, Any] = {}
    exec(recipe("python"), namespace)  # noqa: S102 - our own README
    user = SimpleNamespace(id=7, display_name="Ada", email="ada@reader.example", avatar_url=None, is_subscriber=True)
    reader = exchange(client, namespace["parlour_token"](user, HS_SECRET))["reader"]
    assert (reader["name"], reader["email"], reader["badges"]) == ("Ada", "ada@reader.example", ["Subscriber"])


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_recipe(client: TestClient, db: Database, tmp_path: Path) -> None:
    create_test_site(db, **SITE_KEYS["HS256"])
    (tmp_path / "recipe.mjs").write_text(recipe("js"))
    harness = (
        'import { parlourToken } from "./recipe.mjs";\n'
        'const user = { id: 7, displayName: "Ada", email: "ada@reader.example", isSubscriber: false };\n'
        f'process.stdout.write(parlourToken(user, "{HS_SECRET}"));\n'
    )
    (tmp_path / "run.mjs").write_text(harness)
    node = shutil.which("node")
    assert node is not None
    token = subprocess.run([node, "run.mjs"], cwd=tmp_path, capture_output=True, text=True, check=True, timeout=30)
    reader = exchange(client, token.stdout)["reader"]
    assert (reader["name"], reader["avatar"], reader["badges"]) == ("Ada", None, [])
