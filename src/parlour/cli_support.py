"""What every CLI command shares: the error console, how failures are printed, and the settings it runs with."""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.markup import escape

from parlour.settings import ConfigurationError, Settings, load_settings

errors = Console(stderr=True)


def fail(title: str, detail: object, *, code: int = 1) -> NoReturn:
    """Print `title: detail` on stderr and exit. The detail is printed as written: "[a-z]" is not markup."""
    errors.print(f"[red]{escape(title)}:[/red] {escape(str(detail))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def describe(exc: ValidationError) -> str:
    """One line per problem, named by its setting or field, without pydantic's links."""
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "input"
        lines.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


def settings_or_exit() -> Settings:
    """The settings a command runs with; a bad setting or config file is a message and exit code 2."""
    try:
        return load_settings()
    except ValidationError as exc:
        fail("Configuration error", "\n" + describe(exc), code=2)
    except (ConfigurationError, SettingsError) as exc:
        fail("Configuration error", exc, code=2)
