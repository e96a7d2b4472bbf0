from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from parlour.settings import DEMO_SECRET, Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_described_and_documented() -> None:
    readme = README.read_text()
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
        assert f"`PARLOUR_{name.upper()}`" in readme, f"setting {name} is missing from the README"


def test_insecure_secrets_are_refused_outside_demo() -> None:
    with pytest.raises(ValidationError):
        Settings(secret_key="")
    with pytest.raises(ValidationError):
        Settings(secret_key="short")
    with pytest.raises(ValidationError):
        Settings(secret_key=DEMO_SECRET)
    assert Settings(demo=True).secret_key == DEMO_SECRET


def test_bad_values_are_refused() -> None:
    secret = "s" * 40
    with pytest.raises(ValidationError):
        Settings(secret_key=secret, trusted_proxies=["not-a-network"])
    with pytest.raises(ValidationError):
        Settings(secret_key=secret, public_base_url="ftp://x")
    assert Settings(secret_key=secret, public_base_url="https://c.example/").public_base_url == "https://c.example"
