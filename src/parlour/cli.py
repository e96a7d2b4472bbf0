"""The `parlour` command: serve, demo, db, site, user, import, export, restore."""

from __future__ import annotations

import getpass
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from parlour.accounts.users import create_user, list_users, set_password, update_user
from parlour.cli_support import describe, errors, fail, settings_or_exit
from parlour.comments import markup
from parlour.comments.rerender import count_outdated, rerender_outdated
from parlour.db import migrate
from parlour.db.engine import Database, connect
from parlour.db.tables import StaffRole
from parlour.errors import ParlourError
from parlour.infra.logs import configure_logging
from parlour.infra.metrics import shared_between_workers
from parlour.notifications.cli import mail_app
from parlour.scoring import make_scorer
from parlour.scoring.cli import classify, model_app
from parlour.sites import service as sites
from parlour.sites.schemas import ModerationMode, SiteCreate, SiteSettingsUpdate, SiteUpdate
from parlour.transfer.cli import export, import_app, restore

app = typer.Typer(help="Parlour: self-hosted comments for news sites.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
site_app = typer.Typer(help="Sites (publications).", no_args_is_help=True)
user_app = typer.Typer(help="Staff users.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(site_app, name="site")
app.add_typer(user_app, name="user")
app.add_typer(model_app, name="model")
app.add_typer(mail_app, name="mail")
app.command("classify")(classify)
app.add_typer(import_app, name="import")
app.command("export")(export)
app.command("restore")(restore)
console = Console()
PROGRESS = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())

Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]
Workers = Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")]
PasswordEnv = Annotated[
    str | None, typer.Option(help="Read the password from this environment variable instead of a prompt.")
]


@contextmanager
def _database() -> Iterator[Database]:
    """The configured database for one command; bad input and domain errors become a message and an exit code."""
    db = connect(settings_or_exit().database_url)
    try:
        yield db
    except ValidationError as exc:
        fail("Invalid input", "\n" + describe(exc), code=2)
    except ParlourError as exc:
        fail(exc.title, exc.detail)
    finally:
        db.dispose()


def warn_about_set_aside_indexes(database_url: str) -> None:
    """Thread pages and queues read slowly without the comments indexes an import sets aside: say so at start."""
    try:
        missing = migrate.set_aside_indexes(database_url)
    except SQLAlchemyError:
        return  # no database or no schema yet: the workers report that themselves
    if missing:
        errors.print(
            f"[yellow]Warning:[/yellow] {len(missing)} indexes of the comments table are missing: an import is "
            "running, or was stopped before it built them. Pages read slowly meanwhile; once no import is running, "
            "`parlour db upgrade` builds them.",
            soft_wrap=True,
        )


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1) -> None:
    """Serve Parlour (settings from PARLOUR_* variables and the TOML file named by PARLOUR_CONFIG)."""
    settings = settings_or_exit()  # fail fast, in the parent, on a bad configuration
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    warn_about_set_aside_indexes(settings.database_url)
    with shared_between_workers(workers):
        uvicorn.run(
            "parlour.asgi:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=False,  # parlour.infra.clientip decides which proxies to believe
            server_header=False,
            log_level="warning",
            log_config=None,  # uvicorn's lines go to our handler, in PARLOUR_LOG_FORMAT
            # Open live-update streams would hold a shutdown for their whole lifetime; readers reconnect elsewhere.
            timeout_graceful_shutdown=3,
        )


@app.command()
def demo(host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1) -> None:
    """Start a throwaway demo: a fresh SQLite database, a demo site and an article with a discussion."""
    from parlour.demo.seed import seed

    folder = Path(tempfile.mkdtemp(prefix="parlour-demo-"))
    base_url = f"http://{'127.0.0.1' if host in {'0.0.0.0', '::'} else host}:{port}"  # noqa: S104
    os.environ.update(
        {
            "PARLOUR_DEMO": "true",
            "PARLOUR_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
            "PARLOUR_PUBLIC_BASE_URL": base_url,
        }
    )
    settings = settings_or_exit()
    migrate.upgrade(settings.database_url)
    db = connect(settings.database_url)
    with console.status("Seeding the demo discussion…"):
        site = seed(db=db, scorer=make_scorer(settings.scorer, settings.model_dir), settings=settings)
    console.print(f"Demo database: {folder / 'demo.db'}", soft_wrap=True)
    console.print(f"Demo site [bold]{site.slug}[/bold]; staff API key: {site.api_key}", soft_wrap=True)
    console.print(
        f"Moderation dashboard: {base_url}/admin  ({site.moderator_email} / {site.moderator_password})", soft_wrap=True
    )
    with db.read() as session:
        analyze_key = sites.analyze_key(
            secret_key=settings.secret_key, site=sites.get_site(session=session, slug=site.slug)
        )
    db.dispose()
    console.print(
        f"Perspective-compatible endpoint: {base_url}/v1alpha1/comments:analyze?key={analyze_key}", soft_wrap=True
    )
    console.print(f"\n[bold green]Parlour demo running at {base_url}/demo[/bold green]  (Ctrl-C to stop)\n")
    serve(host=host, port=port, workers=workers)


@app.command()
def backup(
    output: Annotated[
        Path | None, typer.Option(help="The backup file, or a folder for a timestamped one (default: this folder).")
    ] = None,
) -> None:
    """Back up the database while Parlour runs: SQLite's online backup, or pg_dump's custom format."""
    from parlour.ops.backup import BackupError, backup_database, backup_path

    database_url = settings_or_exit().database_url
    try:
        written = backup_database(database_url, backup_path(output, database_url))
    except BackupError as exc:
        errors.print(f"[red]Backup failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"Backup written to {written} ({written.stat().st_size:,} bytes)")


@model_app.command("rescore")
def model_rescore(site: Annotated[str, typer.Option(help="The site whose comments to score again.")]) -> None:
    """Score a site's stored comments again after a model change; redo its Flagged queue. Statuses stay."""
    from parlour.moderation.rescore import count_to_rescore, rescore_site

    settings = settings_or_exit()
    scorer = make_scorer(settings.scorer, settings.model_dir)
    with _database() as db, Progress(*PROGRESS, console=errors) as progress:
        task = progress.add_task("re-scoring", total=count_to_rescore(db=db, site_slug=site))
        report = rescore_site(db=db, scorer=scorer, site_slug=site, on_batch=lambda n: progress.advance(task, n))
    console.print(
        f"Re-scored {report.scored:,} comments of {site} with {report.model}: "
        f"{report.newly_flagged:,} newly flagged, {report.no_longer_flagged:,} no longer flagged."
    )


@model_app.command("decisions")
def model_decisions(
    site: Annotated[str, typer.Option(help="The site whose moderators' decisions to export.")],
    output: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Export a site's standing approve/reject decisions as JSON Lines, for `parlour model train --data FILE`."""
    from parlour.moderation.decisions import site_decisions
    from parlour.scoring.sources import decisions_header

    if output and not output.parent.is_dir():
        fail("Nothing exported", f"{output.parent} is not a folder", code=2)
    # Into a file beside the output, renamed at the end: an unknown site or a failure leaves an earlier export whole.
    partial = output.with_name(f".{output.name}.partial") if output else None
    try:
        with _database() as db, partial.open("w", encoding="utf-8") if partial else nullcontext(sys.stdout) as out:
            out.write(json.dumps(decisions_header(site)) + "\n")
            written = 0
            for decision in site_decisions(db=db, site_slug=site):
                out.write(json.dumps(decision.as_line(), ensure_ascii=False) + "\n")
                written += 1
        if output and partial:
            partial.replace(output)
    finally:
        if partial:
            partial.unlink(missing_ok=True)
    errors.print(f"Exported {written:,} decisions of {site}.")


@model_app.command("calibrate")
def model_calibrate(
    site: Annotated[str, typer.Option(help="The site whose hold thresholds to calibrate.")],
    precision: Annotated[float, typer.Option(min=0.5, max=1.0, help="Share of held comments moderators reject.")] = 0.9,
    min_decisions: Annotated[int, typer.Option(min=1, help="Calibrate only with this many decisions.")] = 50,
    min_rejects: Annotated[int, typer.Option(min=1, help="…and this many rejects naming the category.")] = 10,
    apply: Annotated[bool, typer.Option(help="Store the calibrated thresholds in the site's settings.")] = False,
) -> None:
    """Choose per-category hold thresholds from the site's own moderator decisions, scored with the current model."""
    from parlour.moderation.decisions import calibrate_site, count_decisions
    from parlour.scoring.cli import calibration_table

    settings = settings_or_exit()
    if settings.scorer == "none":
        errors.print("[red]No model to calibrate:[/red] PARLOUR_SCORER is none.")
        raise typer.Exit(2)
    scorer = make_scorer(settings.scorer, settings.model_dir)
    with _database() as db, Progress(*PROGRESS, console=errors, transient=True) as progress:
        task = progress.add_task("scoring decisions", total=count_decisions(db=db, site_slug=site))
        result = calibrate_site(
            db=db,
            scorer=scorer,
            site_slug=site,
            precision=precision,
            min_decisions=min_decisions,
            min_rejects=min_rejects,
            apply=apply,
            on_scored=lambda n: progress.advance(task, n),
        )
    console.print(calibration_table(result))
    if apply:
        console.print(f"Stored {len(result.applied)} hold threshold(s) in {site}'s settings: {result.applied}")
    else:
        console.print("Nothing stored: pass --apply to store the calibrated thresholds.")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database schema up to REVISION (default: the newest)."""
    settings = settings_or_exit()
    migrate.upgrade(settings.database_url, revision)
    console.print(f"Database at revision {migrate.current(settings.database_url)}")
    if revision == "head":
        rebuilt = migrate.restore_set_aside_indexes(settings.database_url)
        if rebuilt:
            console.print(f"Rebuilt the indexes an interrupted import had set aside: {', '.join(rebuilt)}")
        _rerender_outdated_comments()


def _rerender_outdated_comments() -> None:
    """Comments rendered by an older version of the Markdown renderer or its allowlist get today's HTML."""
    with _database() as db:
        outdated = count_outdated(db=db)
        if not outdated:
            return
        with Progress(*PROGRESS, console=errors) as progress:
            task = progress.add_task("re-rendering comments", total=outdated)
            done = rerender_outdated(db=db, on_batch=lambda n: progress.advance(task, n))
    console.print(f"Rendered {done} comment(s) again with markup version {markup.MARKUP_VERSION}")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Migrate the database schema down to REVISION ('base' empties it)."""
    settings = settings_or_exit()
    migrate.downgrade(settings.database_url, revision)
    console.print(f"Database at revision {migrate.current(settings.database_url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision."""
    console.print(migrate.current(settings_or_exit().database_url) or "empty")


@site_app.command("create")
def site_create(
    slug: Annotated[str, typer.Option(help="Short name used by the embed, e.g. 'courier'.")],
    name: Annotated[str, typer.Option(help="The publication's name.")],
    origin: Annotated[list[str], typer.Option(help="An article origin allowed to embed, e.g. https://news.example.")],
    moderation: Annotated[ModerationMode, typer.Option(help="post: publish then review; pre: hold all.")] = (
        ModerationMode.POST
    ),
) -> None:
    """Create a site and print its staff API key (shown once)."""
    with _database() as db, db.write() as session:
        data = SiteCreate.model_validate(
            {"slug": slug, "name": name, "allowed_origins": origin, "settings": {"moderation_mode": moderation}}
        )
        site, api_key = sites.create_site(session=session, data=data)
        console.print(f"Created site [bold]{site.slug}[/bold] for {', '.join(site.allowed_origins)}")
        console.print(f"API key (shown once): {api_key}")


@site_app.command("list")
def site_list() -> None:
    """List the sites."""
    table = Table("slug", "name", "allowed origins", "moderation")
    with _database() as db, db.read() as session:
        for site in sites.list_sites(session=session):
            settings = sites.site_settings(site)
            table.add_row(site.slug, site.name, " ".join(site.allowed_origins), settings.moderation_mode.value)
    console.print(table)


@site_app.command("update")
def site_update(
    slug: str,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    origin: Annotated[list[str] | None, typer.Option(help="Replace the allowed origins.")] = None,
    moderation: Annotated[ModerationMode | None, typer.Option(help="post or pre.")] = None,
    prompt: Annotated[str | None, typer.Option(help="The question above the compose box.")] = None,
    edit_window: Annotated[int | None, typer.Option(help="Seconds an author may edit or delete.")] = None,
    rotate_key: Annotated[bool, typer.Option(help="Issue a new API key; the old one stops working.")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Any site setting as NAME=VALUE (VALUE as JSON, else text), e.g. --set rate_per_network=20 "
            "--set 'banned_words=[\"slur\"]'. Repeatable; `parlour site show SLUG` lists the settings.",
        ),
    ] = None,
) -> None:
    """Change a site's name, origins or settings."""
    given = {"moderation_mode": moderation, "prompt": prompt, "edit_window_seconds": edit_window}
    changes = {name: value for name, value in given.items() if value is not None} | _setting_pairs(set_ or [])
    try:
        settings = SiteSettingsUpdate.model_validate(changes)
    except ValidationError as exc:
        fail("Invalid setting", "\n" + describe(exc), code=2)
    with _database() as db, db.write() as session:
        site = sites.get_site(session=session, slug=slug)
        data = SiteUpdate(name=name, allowed_origins=origin or None, settings=settings)
        sites.update_site(session=session, site=site, data=data)
        if rotate_key:
            console.print(f"New API key (shown once): {sites.rotate_api_key(session=session, site=site)}")
        console.print(f"Updated site [bold]{slug}[/bold]")


@site_app.command("analyze-key")
def site_analyze_key(slug: str) -> None:
    """Print the site's analyze-only key for the Perspective-compatible endpoint (tools such as Coral Talk)."""
    secret_key = settings_or_exit().secret_key
    with _database() as db, db.read() as session:
        key = sites.analyze_key(secret_key=secret_key, site=sites.get_site(session=session, slug=slug))
    console.print(key, soft_wrap=True)
    errors.print("It may only score text; rotating the site's API key or changing the secret key changes it.")


@site_app.command("show")
def site_show(slug: str) -> None:
    """Print a site's settings as JSON (secrets masked)."""
    with _database() as db, db.read() as session:
        settings = sites.site_settings(sites.get_site(session=session, slug=slug))
    console.print_json(settings.model_dump_json())


def _setting_pairs(pairs: list[str]) -> dict[str, Any]:
    """NAME=VALUE options: the value is read as JSON when it parses (numbers, lists, null), else as text."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            fail("--set wants NAME=VALUE", f"got {pair!r}", code=2)
        try:
            parsed[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[name.strip()] = value
    return parsed


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Login e-mail address.")],
    role: Annotated[StaffRole, typer.Option(help="admin, moderator or staff.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    site: Annotated[list[str] | None, typer.Option(help="Limit a moderator to these site slugs.")] = None,
    password_env: PasswordEnv = None,
) -> None:
    """Create a staff user (the password is asked for, or read from --password-env)."""
    password = _password(password_env)
    with _database() as db, db.write() as session:
        user = create_user(
            session=session, email=email, display_name=name, password=password, role=role, site_slugs=site or []
        )
        console.print(f"Created {user.role.value} {user.email}")


@user_app.command("set-password")
def user_set_password(
    email: Annotated[str, typer.Option(help="The staff user's login e-mail address.")],
    password_env: PasswordEnv = None,
) -> None:
    """Give a staff user a new password (restored staff have none) and sign them out everywhere."""
    password = _password(password_env)
    with _database() as db, db.write() as session:
        user = set_password(session=session, email=email, password=password)
        console.print(f"New password set for {user.email}; their sessions are closed.")


@user_app.command("update")
def user_update(
    email: Annotated[str, typer.Option(help="The staff user's login e-mail address.")],
    role: Annotated[StaffRole | None, typer.Option(help="admin, moderator or staff.")] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    site: Annotated[list[str] | None, typer.Option(help="Limit a moderator to these site slugs (replaces).")] = None,
    all_sites: Annotated[bool, typer.Option("--all-sites", help="Lift the limit to some sites.")] = False,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Let the user sign in, or lock them out.")
    ] = None,
) -> None:
    """Change a staff user's role, name, sites or whether they may sign in."""
    if site and all_sites:
        raise typer.BadParameter("--site and --all-sites contradict each other")
    sites = [] if all_sites else site
    with _database() as db, db.write() as session:
        user = update_user(session=session, email=email, role=role, display_name=name, site_slugs=sites, active=active)
        sites_shown = " ".join(user.site_slugs) or "all sites"
        state = "active" if user.active else "inactive"
        console.print(f"{user.email}: {user.role.value}, {sites_shown}, {state}")


def _password(password_env: str | None) -> str:
    if not password_env:
        return _new_password()
    if password_env not in os.environ:
        fail("No password", f"the environment variable {password_env} is not set", code=2)
    return os.environ[password_env]


def _new_password() -> str:
    password = getpass.getpass("Password: ")
    if getpass.getpass("The same again: ") != password:
        raise typer.BadParameter("the two passwords differ")
    return password


@user_app.command("list")
def user_list() -> None:
    """List staff users."""
    table = Table("e-mail", "name", "role", "sites", "active")
    with _database() as db, db.read() as session:
        for user in list_users(session=session):
            table.add_row(
                user.email,
                user.display_name,
                user.role.value,
                " ".join(user.site_slugs) or "all",
                "yes" if user.active else "no",
            )
    console.print(table)
