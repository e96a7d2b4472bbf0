"""`parlour import disqus|wordpress|isso`, `parlour export` and `parlour restore`, with rich progress bars."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from parlour.cli_support import errors, fail, settings_or_exit
from parlour.db.engine import Database, connect
from parlour.errors import ParlourError
from parlour.settings import Settings
from parlour.sites.service import get_site
from parlour.transfer.disqus import DisqusReader
from parlour.transfer.export import export_site
from parlour.transfer.importer import import_comments
from parlour.transfer.isso import IssoReader
from parlour.transfer.records import MalformedFile, Reader
from parlour.transfer.report import ImportReport
from parlour.transfer.restore import is_export, restore_export
from parlour.transfer.wordpress import WordPressReader

_Connected = tuple[Database, Settings]
import_app = typer.Typer(help="Import comments from Disqus, WordPress or Isso.", no_args_is_help=True)
console = Console()

File = Annotated[Path, typer.Argument(help="The export file (Isso: its SQLite database).", exists=True, dir_okay=False)]
SiteSlug = Annotated[str, typer.Option("--site", help="The site to import into (its slug).")]
DryRun = Annotated[bool, typer.Option(help="Read everything and say what would be created and skipped; write nothing.")]
Jobs = Annotated[
    int,
    typer.Option(
        min=1,
        max=2,
        help="Processes: with 2, one reads and converts the comments while the other writes them.",
    ),
]
# Two processes split an import's work about in half; on a single core they would only add the hand-over.
DEFAULT_JOBS = min(2, os.cpu_count() or 1)
DeferIndexes = Annotated[
    bool | None,
    typer.Option(
        "--defer-indexes/--keep-indexes",
        help="Build the comments table's indexes once after the import instead of row by row (much faster for big "
        "imports, but other sites' pages read slowly meanwhile). Default: only when the database has no comment yet.",
        show_default=False,
    ),
]
MatchAuthors = Annotated[
    bool,
    typer.Option(help="Attribute comments to the site's anonymous authors with the same e-mail address and name."),
]


class _Bar:
    """The Progress protocol drawn by rich: a bar, and the counts so far."""

    def __init__(self, progress: Progress, description: str) -> None:
        self.progress = progress
        self.task = progress.add_task(description, total=None, counts="")

    def update(self, *, done: int, total: int, counts: dict[str, int]) -> None:
        shown = "  ".join(f"{name} {value:,}" for name, value in counts.items())
        self.progress.update(self.task, completed=done, total=total or None, counts=shown)

    def stage(self, description: str) -> None:
        self.progress.update(self.task, description=description, completed=0, total=None)


@contextmanager
def _bar(description: str) -> Iterator[_Bar]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[counts]}"),
    )
    with Progress(*columns, console=errors, transient=False) as progress:
        yield _Bar(progress, description)


@contextmanager
def _database() -> Iterator[_Connected]:
    """The configured database; bad input, domain errors and malformed files become a message and an exit code."""
    settings = settings_or_exit()
    db = connect(settings.database_url)
    try:
        yield db, settings
    except MalformedFile as exc:
        fail("Nothing imported", exc)
    except ParlourError as exc:
        fail(exc.title, exc.detail)
    finally:
        db.dispose()


def _run_import(
    reader: Reader,
    site: str,
    dry_run: bool,
    match_authors: bool,
    jobs: int,
    defer_indexes: bool | None,
    connected: _Connected,
) -> None:
    db, settings = connected
    verb = "Reading" if dry_run else "Importing"
    with _bar(f"{verb} {reader.source}") as bar:
        report = import_comments(
            db=db,
            reader=reader,
            site_slug=site,
            dry_run=dry_run,
            match_authors=match_authors,
            secret_key=settings.secret_key,
            progress=bar,
            jobs=jobs,
            defer_indexes=defer_indexes,
        )
    print_report(report, reader.source, site)


def print_report(report: ImportReport, source: str, site: str) -> None:
    created = ", ".join(f"{report.created[k]:,} {k}" for k in ("comments", "stories", "authors"))
    if report.dry_run:
        console.print(f"[bold]Dry run[/bold]: importing from {source} into {site} would create {created}.")
    else:
        console.print(f"Imported from {source} into [bold]{site}[/bold]: {created}.")
    if report.indexes_built_after:
        console.print(
            f"The comments table's {report.indexes_built_after} secondary indexes were built once, after the comments."
        )
    if report.skipped:
        table = Table("skipped because", "records", "where (first ones)", title="Skipped", title_justify="left")
        for reason, count in report.skipped.most_common():
            table.add_row(reason, f"{count:,}", "; ".join(report.examples.get(reason, [])[:5]))
        console.print(table)
    if report.outside:
        table = Table(
            "article URL", "comments", title="Articles outside the site's allowed origins", title_justify="left"
        )
        for url, count in report.outside.most_common():
            table.add_row(url, f"{count:,}")
        console.print(table)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    if report.notes_dropped:
        console.print(f"… and {report.notes_dropped:,} more notes")


@import_app.command("disqus")
def import_disqus(
    file: File,
    site: SiteSlug,
    dry_run: DryRun = False,
    match_authors: MatchAuthors = True,
    jobs: Jobs = DEFAULT_JOBS,
    defer_indexes: DeferIndexes = None,
) -> None:
    """Import a Disqus XML export (Admin > Moderation > Export)."""
    with _database() as connected:
        _run_import(DisqusReader(file), site, dry_run, match_authors, jobs, defer_indexes, connected)


@import_app.command("wordpress")
def import_wordpress(
    file: File,
    site: SiteSlug,
    dry_run: DryRun = False,
    match_authors: MatchAuthors = True,
    jobs: Jobs = DEFAULT_JOBS,
    defer_indexes: DeferIndexes = None,
) -> None:
    """Import a WordPress export file (WXR, from Tools > Export)."""
    with _database() as connected:
        _run_import(WordPressReader(file), site, dry_run, match_authors, jobs, defer_indexes, connected)


@import_app.command("isso")
def import_isso(
    file: File,
    site: SiteSlug,
    origin: Annotated[
        str | None,
        typer.Option(help="Where Isso's thread paths live, e.g. https://news.example (default: the site's origin)."),
    ] = None,
    dry_run: DryRun = False,
    match_authors: MatchAuthors = True,
    jobs: Jobs = DEFAULT_JOBS,
    defer_indexes: DeferIndexes = None,
) -> None:
    """Import an Isso SQLite database (its comments.db)."""
    with _database() as connected:
        if origin is None:
            with connected[0].read() as session:
                origins = [o for o in get_site(session=session, slug=site).allowed_origins if "*." not in o]
            if len(origins) != 1:
                errors.print("[red]Isso stores paths, not URLs:[/red] name their origin with --origin.")
                raise typer.Exit(2)
            origin = origins[0]
        _run_import(IssoReader(file, origin=origin), site, dry_run, match_authors, jobs, defer_indexes, connected)


def export(
    site: SiteSlug,
    output: Annotated[Path | None, typer.Option(help="The file to write (default: standard output).")] = None,
) -> None:
    """Export a site as JSON Lines: settings, stories, authors, e-mail choices, comments, reactions, reports, audit."""
    with _database() as (db, _settings), _bar("Exporting") as bar:
        if output is None:
            lines = export_site(db=db, site_slug=site, out=sys.stdout.buffer, progress=bar)
        else:
            with output.open("wb") as out:
                lines = export_site(db=db, site_slug=site, out=out, progress=bar)
    errors.print(f"Exported {site}: {lines:,} lines" + (f" to {output}" if output else ""))


def restore(
    file: Annotated[
        Path, typer.Argument(help="A `parlour export` file, or a `parlour backup` file.", exists=True, dir_okay=False)
    ],
    force: Annotated[bool, typer.Option(help="Backups only: replace a database that holds data.")] = False,
) -> None:
    """Rebuild a site from its export into an empty database, or the whole database from a backup."""
    from parlour.ops.backup import backup_kind

    if not is_export(file):
        if backup_kind(file) is None:
            fail("Restore refused", _not_restorable(file))
        _restore_backup(file, force=force)
        return
    if force:
        errors.print("[red]--force is for backups:[/red] an export restores only into an empty database.")
        raise typer.Exit(2)
    with _database() as (db, _settings), _bar("Restoring") as bar:
        result = restore_export(db=db, path=file, progress=bar)
    counts = ", ".join(f"{n:,} {_plural(kind, n)}" for kind, n in result.counts.items())
    console.print(f"Restored site [bold]{result.site_slug}[/bold]: {counts}")
    console.print(f"New API key (shown once): {result.api_key}")
    for warning in result.warnings:
        console.print(f"[yellow]Note:[/yellow] {escape(warning)}")
    if result.webhooks_rekeyed:
        console.print(f"{result.webhooks_rekeyed} webhook endpoint(s) got new signing secrets: tell their receivers.")
    if result.sso_secret_reset:
        console.print("The SSO shared secret is not exported: set it (`parlour site update SLUG --set sso_secret=…`).")
    for email in result.staff_without_password:
        console.print(
            f"Staff account {email} was restored without a password: give it one with "
            f"`parlour user set-password --email {email}` (staff made with `parlour user create` before a "
            "restore keep their own account)."
        )


def _not_restorable(file: Path) -> str:
    # The command reads two kinds of file: say both, and where a file from another system goes instead.
    return (
        f"{file} is neither a Parlour export (JSON Lines from `parlour export`, starting with its header line) "
        "nor a `parlour backup` file (an SQLite database or a pg_dump archive). Comments exported from Disqus, "
        "WordPress or Isso come in with `parlour import disqus|wordpress|isso`."
    )


def _restore_backup(file: Path, *, force: bool) -> None:
    from parlour.ops.backup import BackupError, restore_backup

    settings = settings_or_exit()
    try:
        restore_backup(file, settings.database_url, force=force)
    except BackupError as exc:
        fail("Restore failed", exc)
    console.print(f"Restored the database from the backup {file}")


def _plural(kind: str, count: int) -> str:
    if count == 1:
        return kind
    return kind[:-1] + "ies" if kind.endswith("y") and kind[-2:-1] not in "aeiou" else kind + "s"
