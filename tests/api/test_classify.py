"""`parlour classify`: JSON Lines in, JSON Lines out, in process."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from parlour.scoring.cli import classify_app, model_app
from parlour.scoring.thresholds import CATEGORIES

runner = CliRunner()

LINES = [
    {"id": 1, "text": "Thank you for this careful report."},
    {"id": "b", "text": "Serranes are vermin."},
    {"id": 3, "text": "you are a f*cking idiot"},
    {"id": None, "text": "Continue the slaughter."},
]


def _jsonl(records: list[object]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _check_record(out: dict[str, object]) -> None:
    assert set(out) == {"id", "scores", "spans", "decision", "reasons"}
    scores = out["scores"]
    spans = out["spans"]
    assert isinstance(scores, dict) and set(scores) == set(CATEGORIES)
    assert all(isinstance(p, float) and 0 <= p <= 1 for p in scores.values())
    assert isinstance(spans, dict) and set(spans) == set(CATEGORIES)
    assert all(isinstance(s, list) and len(s) == 2 and s[0] < s[1] for v in spans.values() for s in v)
    assert out["decision"] in ("publish", "hold", "reject")
    assert isinstance(out["reasons"], list)
    assert (out["decision"] == "publish") == (out["reasons"] == [])


def test_classify_stdin_keeps_order_and_format() -> None:
    result = runner.invoke(classify_app, [], input=_jsonl(LINES))
    assert result.exit_code == 0, result.output
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in outputs] == [r["id"] for r in LINES]
    for out in outputs:
        _check_record(out)
    decisions = [o["decision"] for o in outputs]
    assert decisions[0] == "publish"
    assert decisions[1] != "publish" and decisions[3] != "publish"
    text = LINES[2]["text"]
    assert isinstance(text, str)
    shown = [text[a:b] for a, b in outputs[2]["spans"]["PROFANITY"]]
    assert any("f*cking" in s for s in shown)


def test_classify_file_reports_bad_lines_and_fails_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "comments.jsonl"
    lines = [
        json.dumps(LINES[0]),
        "{not json",
        json.dumps({"id": 7}),
        "",
        json.dumps([1, 2]),
        json.dumps({"text": "no id"}),
        json.dumps({"id": 8, "text": 5}),
        json.dumps(LINES[2]),
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    result = runner.invoke(classify_app, [str(path)])
    assert result.exit_code == 1
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [1, 3]
    for number in (2, 3, 5, 6, 7):
        assert f"line {number}:" in result.stderr
    assert "line 4:" not in result.stderr  # blank lines are not records
    assert "line 1:" not in result.stderr and "line 8:" not in result.stderr


def test_classify_file_lines_end_at_newlines_only(tmp_path: Path) -> None:
    path = tmp_path / "separators.jsonl"
    texts = ["one\u2028line", "next\x85line", "plain"]
    records = [json.dumps({"id": n, "text": t}, ensure_ascii=False) for n, t in enumerate(texts)]
    path.write_text("\ufeff" + "\r\n".join(records) + "\r\n", "utf-8")  # a BOM and Windows line ends too
    result = runner.invoke(classify_app, [str(path)])
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [0, 1, 2]


def test_classify_refuses_ids_that_would_not_come_back_as_json(tmp_path: Path) -> None:
    lines = [
        '{"id": 1e400, "text": "a"}',
        '{"id": NaN, "text": "b"}',
        '{"id": -Infinity, "text": "c"}',
        '{"id": 2.5, "text": "d"}',
    ]
    result = runner.invoke(classify_app, [], input="\n".join(lines) + "\n")
    assert result.exit_code == 1
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [2.5]  # every line out is JSON
    for number in (1, 2, 3):
        assert f"line {number}:" in result.stderr


def test_classify_a_file_that_is_not_utf8_is_a_message(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps({"id": 1, "text": "caf\u00e9"}, ensure_ascii=False).encode("latin-1") + b"\n")
    result = runner.invoke(classify_app, [str(path)])
    assert result.exit_code == 2 and "is not UTF-8 text" in result.stderr and result.stdout == ""


def test_classify_missing_file_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(classify_app, [str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2


def test_model_commands_have_help() -> None:
    for command in ([], ["train"], ["eval"], ["classify"]):
        assert runner.invoke(model_app, [*command, "--help"]).exit_code == 0
