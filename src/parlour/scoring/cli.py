"""`parlour model train|eval` and `parlour classify`: the lexical model from the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from parlour.scoring.protocol import Scores
from parlour.scoring.thresholds import verdict

model_app = typer.Typer(help="The local moderation model: train it, evaluate it.", no_args_is_help=True)
errors = Console(stderr=True)

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
    data: DataOption = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed and data give the same artifact.")] = 1,
    out: Annotated[Path | None, typer.Option(help="Folder for the artifact (default: the package's data/).")] = None,
) -> None:
    """Train the lexical model and write lexical-v1.npz, lexical-v1.json and lexical-v1.metrics.json."""
    from parlour.scoring.train import DATA_DIR, train

    folder = out or DATA_DIR
    _, metrics = train(_data_dir(data), seed=seed, out=folder)
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


class BadLine(ValueError):
    """One input line that is not a JSON object with an "id" and a string "text"."""


def parse_line(line: str) -> tuple[Any, str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(record, dict):
        raise BadLine("not a JSON object")
    if "id" not in record:
        raise BadLine('no "id"')
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
) -> None:
    """Score comments: JSON Lines in, one JSON line out per input, in order, with a publish/hold/reject decision."""
    from parlour.scoring.lexical import LexicalScorer

    scorer = LexicalScorer()
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
        records = list(_records(file.read_text("utf-8").splitlines()))
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
