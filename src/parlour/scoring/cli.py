"""`parlour model train|eval` and `parlour classify`: the lexical model from the command line."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from parlour.cli_support import errors
from parlour.scoring.protocol import Scores
from parlour.scoring.thresholds import verdict

if TYPE_CHECKING:
    from parlour.moderation.decisions import SiteCalibration

model_app = typer.Typer(help="The local moderation model: train it, evaluate it.", no_args_is_help=True)

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="The moderation corpora (default: shared/data/moderation beside the checkout)."),
]


def _data_dir(data: Path | None) -> Path:
    from parlour.scoring.datasets import default_data_dir

    found = data or default_data_dir()
    if found is None or not (found / "toxic_spans").is_dir():
        errors.print("[red]No moderation data:[/red] pass --data PATH (the folder holding toxic_spans/, davidson/).")
        raise typer.Exit(2)
    return found


@model_app.command("train")
def train_command(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="Repeatable. A folder: the moderation corpora (default: shared/data/moderation beside the checkout). "
            "A file: an extra training source recognised by its header: Civil Comments (Jigsaw Unintended Bias) "
            "train.csv or all_data.csv, Jigsaw 2018 train.csv, or `parlour model decisions` output.",
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(min=0, help="At most this many examples per extra file, a seeded uniform sample; 0: all."),
    ] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed and data give the same artifact.")] = 1,
    out: Annotated[Path | None, typer.Option(help="Folder for the artifact (default: the package's data/).")] = None,
) -> None:
    """Train the lexical model and write lexical-v1.npz, lexical-v1.json and lexical-v1.metrics.json."""
    from parlour.scoring.sources import LayoutError, check_source
    from parlour.scoring.train import DATA_DIR, train

    given = data or []
    folders = [p for p in given if p.is_dir()]
    files = [p for p in given if not p.is_dir()]
    if len(folders) > 1:
        errors.print("[red]One corpora folder only:[/red] pass other sources as files.")
        raise typer.Exit(2)
    try:
        for file in files:
            errors.print(f"{file}: {check_source(file)}", highlight=False)
    except LayoutError as exc:
        errors.print(f"[red]Cannot read a training file:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    folder = out or DATA_DIR
    try:
        _, metrics = train(
            _data_dir(folders[0] if folders else None), seed=seed, out=folder, extra=files, limit=limit or None
        )
    except LayoutError as exc:
        errors.print(f"[red]Cannot read a training file:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    for source in metrics.get("extra_sources", []):
        errors.print(f"{source['file']}: {source['layout']}, {source['examples']:,} examples", highlight=False)
    spans = metrics["dev"].get("span_f1_TOXIC")
    errors.print(f"Wrote the model to {folder} (dev span F1 {spans}).")


@model_app.command("eval")
def eval_command(
    data: DataOption = None,
    model: Annotated[Path | None, typer.Option(help="Folder of the artifact (default: the shipped one).")] = None,
    output: Annotated[Path | None, typer.Option(help="Also write the results here as JSON.")] = None,
    baseline: Annotated[bool, typer.Option(help="Train and score the TF-IDF baseline alongside.")] = True,
    speed: Annotated[bool, typer.Option(help="Measure throughput, latency and memory.")] = True,
) -> None:
    """Evaluate on every test split (typed_posts, SemEval-2021 spans, HateCheck, Davidson) against baselines."""
    from parlour.scoring.evaluate import evaluate, render

    results = evaluate(_data_dir(data), model_folder=model, baseline=baseline, speed=speed)
    Console().print(render(results))
    if output:
        output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", "utf-8")


def calibration_table(result: SiteCalibration) -> Table:
    """Before and after, per category: the hold threshold, its precision on the site's rejects, and its recall."""
    table = Table(title=f"{result.site}: {result.decisions:,} decisions scored with {result.model}")
    for column in ("category", "rejects", "approvals", "threshold", "precision", "recall", "held", "note"):
        table.add_column(column, justify="left" if column in {"category", "note"} else "right")

    def share(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    for c in result.calibrations:
        b, a = c.before, c.after
        table.add_row(
            c.category,
            str(c.rejects),
            str(c.approvals),
            f"{b.threshold:g} → {a.threshold:g}",
            f"{share(b.precision)} → {share(a.precision)}",
            f"{share(b.recall)} → {share(a.recall)}",
            f"{b.held} → {a.held}",
            c.note,
        )
    return table


class BadLine(ValueError):
    """One input line that is not a JSON object with an "id" and a string "text"."""


def _not_json(constant: str) -> None:
    raise BadLine(f"not JSON ({constant} is not a JSON value)")


def parse_line(line: str) -> tuple[Any, str]:
    try:
        # NaN, Infinity and numbers past a float's range (1e400) would come back out as invalid JSON.
        record = json.loads(line.removeprefix("\ufeff"), parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(record, dict):
        raise BadLine("not a JSON object")
    if "id" not in record:
        raise BadLine('no "id"')
    if isinstance(record["id"], float) and not math.isfinite(record["id"]):
        raise BadLine('"id" is a number too large for JSON tools to read back')
    text = record.get("text")
    if not isinstance(text, str):
        raise BadLine('"text" is missing or not a string')
    return record["id"], text


def result_line(record_id: Any, scores: Scores) -> str:
    """One output line: id, scores, spans, decision and reasons, as JSON."""
    decided = verdict(scores.categories)
    return json.dumps(
        {
            "id": record_id,
            "scores": scores.categories,
            "spans": {name: [[s.start, s.end] for s in spans] for name, spans in scores.spans.items()},
            "decision": decided.decision,
            "reasons": decided.reasons,
        },
        ensure_ascii=False,
    )


def _records(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield number, line


def classify(
    file: Annotated[
        Path | None, typer.Argument(help='JSON Lines of {"id", "text"}; standard input when left out.')
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(envvar="PARLOUR_MODEL_DIR", help="Folder of a retrained model (default: the shipped one)."),
    ] = None,
) -> None:
    """Score comments: JSON Lines in, one JSON line out per input, in order, with a publish/hold/reject decision."""
    from parlour.scoring.lexical import LexicalScorer

    scorer = LexicalScorer(folder=model)
    failures = 0
    out: TextIO = sys.stdout

    def handle(number: int, line: str) -> None:
        nonlocal failures
        try:
            record_id, text = parse_line(line)
        except BadLine as exc:
            failures += 1
            errors.print(f"line {number}: {exc}; skipped", markup=False, highlight=False)
            return
        out.write(result_line(record_id, scorer.score(text)) + "\n")

    if file is None:
        for number, line in _records(sys.stdin):
            handle(number, line)
            out.flush()
    else:
        if not file.is_file():
            errors.print(f"No such file: {file}", markup=False)
            raise typer.Exit(2)
        try:
            text = file.read_text("utf-8")
        except UnicodeDecodeError as exc:
            errors.print(f"{file} is not UTF-8 text (byte {exc.start}): nothing scored", markup=False, soft_wrap=True)
            raise typer.Exit(2) from exc
        # Lines end at \n only, as JSON Lines says: str.splitlines() also splits at U+2028 inside a text.
        records = list(_records(text.split("\n")))
        columns = (TextColumn("classifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=errors, transient=True) as progress:
            task = progress.add_task("classify", total=len(records))
            for number, line in records:
                handle(number, line)
                progress.advance(task)
    out.flush()
    if failures:
        errors.print(f"{failures} line(s) skipped.", markup=False)
        raise typer.Exit(1)


model_app.command("classify")(classify)
# A one-command app, so `classify` can be run (and tested) on its own as well as registered in the main CLI.
classify_app = typer.Typer(help="Score comments with the lexical model.")
classify_app.command()(classify)
