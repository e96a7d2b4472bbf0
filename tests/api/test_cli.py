"""The `parlour` command, run in-process against a fresh SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from parlour.accounts.passwords import verify_password
from parlour.cli import app
from parlour.db.engine import connect
from parlour.db.tables import Site, StaffRole, StaffUser
from tests.api.test_migrations import HEAD
from tests.conftest import SECRET

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("PARLOUR_DATABASE_URL", url)
    monkeypatch.setenv("PARLOUR_SECRET_KEY", SECRET)
    return url


def run(*args: str, **kwargs: str) -> str:
    result = runner.invoke(app, list(args), env=kwargs or None)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_has_help() -> None:
    commands = [[], ["serve"], ["demo"], ["db"], ["db", "upgrade"], ["site", "create"], ["user", "create"]]
    for command in [*commands, ["user", "set-password"], ["user", "update"]]:
        assert runner.invoke(app, [*command, "--help"]).exit_code == 0


def test_db_site_and_user_lifecycle(env: str) -> None:
    assert HEAD in run("db", "upgrade")
    assert HEAD in run("db", "current")
    output = run("site", "create", "--slug", "courier", "--name", "Courier", "--origin", "https://news.example")
    assert "pk_" in output
    assert "courier" in run("site", "list")
    run("site", "update", "courier", "--moderation", "pre", "--prompt", "Your view?", "--origin", "https://a.example")
    db = connect(env)
    with db.read() as session:
        site = session.scalar(select(Site))
        assert site is not None
        assert site.settings["moderation_mode"] == "pre" and site.settings["prompt"] == "Your view?"
        assert site.allowed_origins == ["https://a.example"]
    run(
        "user",
        "create",
        "--email",
        "Mod@News.example",
        "--role",
        "moderator",
        "--site",
        "courier",
        "--password-env",
        "MOD_PASSWORD",
        MOD_PASSWORD="a long enough password",
    )
    with db.read() as session:
        user = session.scalar(select(StaffUser))
        assert user is not None
        assert user.email == "mod@news.example" and user.role is StaffRole.MODERATOR
        assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    db.dispose()
    assert "mod@news.example" in run("user", "list")


@pytest.fixture
def moderator(env: str) -> str:
    """A database with the site courier and the moderator mo@news.example, made through the CLI."""
    run("db", "upgrade")
    run("site", "create", "--slug", "courier", "--name", "Courier", "--origin", "https://news.example")
    run(
        "user",
        "create",
        "--email",
        "mo@news.example",
        "--role",
        "moderator",
        "--password-env",
        "P",
        P="first password 1",
    )
    return env


def test_staff_can_be_given_a_new_password_changed_and_locked_out(moderator: str) -> None:
    db = connect(moderator)
    with db.read() as session:
        old_hash = session.scalar(select(StaffUser.password_hash))
    assert "sessions are closed" in run(
        "user", "set-password", "--email", "MO@news.example", "--password-env", "P", P="second password 2"
    )
    changed = run("user", "update", "--email", "mo@news.example", "--role", "admin", "--name", "Mo", "--inactive")
    assert "admin" in changed and "inactive" in changed
    limited = run(
        "user", "update", "--email", "mo@news.example", "--role", "moderator", "--site", "courier", "--active"
    )
    assert "courier" in limited and "active" in limited
    with db.read() as session:
        user = session.scalar(select(StaffUser))
        assert user is not None and user.password_hash != old_hash
        assert verify_password("second password 2", user.password_hash)
        assert (user.role, user.display_name, user.site_slugs, user.active) == (
            StaffRole.MODERATOR,
            "Mo",
            ["courier"],
            True,
        )
    assert "all sites" in run("user", "update", "--email", "mo@news.example", "--all-sites")
    db.dispose()


def test_changing_staff_refuses_bad_input_clearly(moderator: str) -> None:
    unknown = runner.invoke(
        app,
        ["user", "set-password", "--email", "x@news.example", "--password-env", "P"],
        env={"P": "a long enough password"},
    )
    assert unknown.exit_code == 1 and "x@news.example" in unknown.output
    short = runner.invoke(
        app, ["user", "set-password", "--email", "mo@news.example", "--password-env", "P"], env={"P": "short"}
    )
    assert short.exit_code == 1 and "password" in short.output.lower()
    unset = runner.invoke(app, ["user", "set-password", "--email", "mo@news.example", "--password-env", "UNSET_P"])
    assert unset.exit_code == 2 and "UNSET_P is not set" in unset.output
    both = runner.invoke(app, ["user", "update", "--email", "mo@news.example", "--site", "a", "--all-sites"])
    assert both.exit_code != 0
    no_site = runner.invoke(app, ["user", "update", "--email", "mo@news.example", "--site", "nope"])
    assert no_site.exit_code == 1 and "nope" in no_site.output


def test_cli_errors_are_clear(env: str) -> None:
    run("db", "upgrade")
    run("site", "create", "--slug", "courier", "--name", "Courier", "--origin", "https://news.example")
    duplicate = runner.invoke(
        app, ["site", "create", "--slug", "courier", "--name", "C", "--origin", "https://x.example"]
    )
    assert duplicate.exit_code == 1 and "exists already" in duplicate.output
    bad_origin = runner.invoke(app, ["site", "create", "--slug", "other", "--name", "O", "--origin", "ftp://x"])
    assert bad_origin.exit_code != 0
    short = runner.invoke(
        app, ["user", "create", "--email", "a@b.example", "--role", "admin", "--password-env", "P"], env={"P": "short"}
    )
    assert short.exit_code == 1 and "password" in short.output.lower()
    unknown_site = runner.invoke(
        app,
        ["user", "create", "--email", "a@b.example", "--role", "moderator", "--site", "nope", "--password-env", "P"],
        env={"P": "a long enough password"},
    )
    assert unknown_site.exit_code == 1 and "nope" in unknown_site.output


def test_any_site_setting_can_be_set_and_shown(env: str) -> None:
    run("db", "upgrade")
    run("site", "create", "--slug", "courier", "--name", "Courier", "--origin", "https://news.example")
    run(
        "site",
        "update",
        "courier",
        "--set",
        "rate_per_network=0",
        "--set",
        'banned_words=["vermin"]',
        "--set",
        "prompt=Say it",
    )
    shown = json.loads(run("site", "show", "courier"))
    assert (shown["rate_per_network"], shown["banned_words"], shown["prompt"]) == (0, ["vermin"], "Say it")
    for bad in ("rate_per_network=-1", "no_such_setting=1", "missing-equals"):
        refused = runner.invoke(app, ["site", "update", "courier", "--set", bad])
        assert refused.exit_code == 2, refused.output
    assert json.loads(run("site", "show", "courier"))["rate_per_network"] == 0
    assert "Re-scored 0 comments of courier" in run("model", "rescore", "--site", "courier")
    assert runner.invoke(app, ["model", "rescore", "--site", "nope"]).exit_code == 1


def test_missing_secret_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLOUR_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("PARLOUR_SECRET_KEY", raising=False)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2 and "PARLOUR_SECRET_KEY" in result.output


def test_settings_from_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from parlour.settings import load_settings

    config = tmp_path / "parlour.toml"
    config.write_text(f'secret_key = "{SECRET}"\nmax_request_bytes = 4096\ntrusted_proxies = ["10.0.0.0/8"]\n')
    monkeypatch.setenv("PARLOUR_CONFIG", str(config))
    monkeypatch.delenv("PARLOUR_SECRET_KEY", raising=False)
    monkeypatch.setenv("PARLOUR_MAX_REQUEST_BYTES", "8192")
    settings = load_settings()
    assert settings.secret_key == SECRET
    assert settings.max_request_bytes == 8192  # the environment wins over the file
    assert settings.trusted_proxies == ["10.0.0.0/8"]


def test_a_config_file_that_cannot_be_used_stops_the_command(
    tmp_path: Path, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Running on without it would open a stray parlour.db in the working directory instead.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARLOUR_DATABASE_URL")
    broken = tmp_path / "broken.toml"
    broken.write_text('database_url = "sqlite:///x.db\n')
    for config, says in ((tmp_path / "parlour.tmol", "cannot be read"), (broken, "not a valid TOML file")):
        result = runner.invoke(app, ["db", "upgrade"], env={"PARLOUR_CONFIG": str(config)})
        assert result.exit_code == 2, result.output
        assert "Configuration error" in result.output and says in result.output and str(config) in result.output
    assert not (tmp_path / "parlour.db").exists()
    # A setting the environment gives in the wrong shape (a list wants JSON) is a configuration error too.
    bad = runner.invoke(app, ["db", "current"], env={"PARLOUR_TRUSTED_PROXIES": "127.0.0.1/32"})
    assert bad.exit_code == 2 and "Configuration error" in bad.output and "trusted_proxies" in bad.output


def test_errors_are_printed_as_written_and_name_the_setting(env: str) -> None:
    run("db", "upgrade")
    # Square brackets in a message are text, not markup; pydantic's links are left out.
    result = runner.invoke(
        app, ["site", "create", "--slug", "Bad_Slug[x]", "--name", "X", "--origin", "https://x.example"]
    )
    assert result.exit_code == 2, result.output
    assert "[a-z0-9]" in result.output and "slug" in result.output and "errors.pydantic.dev" not in result.output
    result = runner.invoke(app, ["site", "create", "--slug", "ok", "--name", "X", "--origin", "https://x.example"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["site", "update", "ok", "--set", 'thresholds={"NOPE": 0.5}'])
    assert result.exit_code == 2, result.output
    assert "thresholds" in result.output and "unknown category 'NOPE'" in result.output
