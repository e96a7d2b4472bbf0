"""Extra training sources: Civil Comments and Jigsaw 2018 CSV layouts, exported decisions, sampling, bad files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parlour.scoring.cli import model_app
from parlour.scoring.datasets import Example
from parlour.scoring.patterns import Lexicons
from parlour.scoring.sources import (
    LayoutError,
    check_source,
    decision_labels,
    decisions_header,
    read_source,
    reason_categories,
    reservoir,
)
from parlour.scoring.thresholds import CATEGORIES
from parlour.scoring.train import TrainConfig, build_corpus, fit_model, lexicon_json, progress_bar, read_extra
from tests.unit.test_scoring import _tiny_corpus

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "moderation"
IDENTITIES = ["male", "female", "muslim", "black"]  # a few of the identity columns the real files carry
CIVIL_TRAIN = ["id", "target", "comment_text", "severe_toxicity", "obscene", "identity_attack", "insult", "threat"]
CIVIL_ALL = ["id", "comment_text", "split", "created_date", "toxicity", "severe_toxicity", "obscene",
             "sexual_explicit", "identity_attack", "insult", "threat", "rating"]  # fmt: skip
JIGSAW = ["id", "comment_text", "toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]


def write_csv(path: Path, header: list[str], rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, restval="0")
        writer.writeheader()
        writer.writerows(rows)
    return path


def civil_train(path: Path) -> Path:
    rows: list[dict[str, object]] = [
        {"id": 1, "target": 0.8, "comment_text": "You are a pathetic fool,\nand a liar.", "insult": 0.7},
        {"id": 2, "target": 0.1, "comment_text": "A fine, measured piece.", "insult": 0.1},
        {"id": 3, "target": 0.5, "comment_text": "I will find you.", "threat": 0.5, "severe_toxicity": 0.2},
        {"id": 4, "target": 0.9, "comment_text": "Damn those people", "obscene": 0.6, "identity_attack": 0.55},
    ]
    for row in rows:
        row.update(dict.fromkeys(IDENTITIES, ""))
    return write_csv(path, CIVIL_TRAIN + IDENTITIES, rows)


def test_civil_comments_train_csv_maps_rater_fractions_at_one_half(tmp_path: Path) -> None:
    layout, examples = read_source(civil_train(tmp_path / "train.csv"), limit=None, seed=1)
    assert layout.startswith("Civil Comments")
    assert examples[0].text == "You are a pathetic fool,\nand a liar."  # a quoted multi-line field
    assert examples[0].labels == {"TOXICITY": 1.0, "SEVERE_TOXICITY": 0.0, "PROFANITY": 0.0,
                                  "IDENTITY_ATTACK": 0.0, "INSULT": 1.0, "THREAT": 0.0}  # fmt: skip
    assert examples[1].labels["TOXICITY"] == 0.0
    assert examples[2].labels["THREAT"] == 1.0 and examples[2].labels["SEVERE_TOXICITY"] == 0.0
    assert examples[3].labels["PROFANITY"] == 1.0 and examples[3].labels["IDENTITY_ATTACK"] == 1.0
    assert {e.source for e in examples} == {"civil_comments"}


def test_civil_comments_all_data_trains_on_its_train_split_only(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"id": n, "comment_text": f"comment {n}", "split": split, "toxicity": 0.6}
        for n, split in enumerate(["train", "test", "train", "validation"])
    ]
    _, examples = read_source(write_csv(tmp_path / "all_data.csv", CIVIL_ALL, rows), limit=None, seed=1)
    assert [e.text for e in examples] == ["comment 0", "comment 2"]
    assert all(e.labels["TOXICITY"] == 1.0 for e in examples)


def test_jigsaw_2018_maps_its_labels_and_skips_unscored_rows(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"id": "a", "comment_text": "go to hell you idiot", "toxic": 1, "insult": 1, "obscene": 1},
        {"id": "b", "comment_text": "thanks for the edit"},
        {"id": "c", "comment_text": "never scored", **dict.fromkeys(JIGSAW[2:], -1)},
        {"id": "d", "comment_text": "those people are animals", "toxic": 1, "identity_hate": 1, "severe_toxic": 1},
    ]
    layout, examples = read_source(write_csv(tmp_path / "train.csv", JIGSAW, rows), limit=None, seed=1)
    assert layout.startswith("Jigsaw 2018")
    assert [e.text for e in examples] == ["go to hell you idiot", "thanks for the edit", "those people are animals"]
    assert examples[0].labels["PROFANITY"] == 1.0 and examples[0].labels["INSULT"] == 1.0
    assert examples[0].labels["IDENTITY_ATTACK"] == 0.0
    assert examples[1].labels == dict.fromkeys(CATEGORIES, 0.0)
    assert examples[2].labels["IDENTITY_ATTACK"] == 1.0 and examples[2].labels["SEVERE_TOXICITY"] == 1.0


def decisions_file(path: Path, lines: list[dict[str, object]]) -> Path:
    body = [decisions_header("courier"), *lines]
    path.write_text("".join(json.dumps(line) + "\n" for line in body), "utf-8")
    return path


def test_decisions_reject_with_a_category_is_positive_and_approve_negative(tmp_path: Path) -> None:
    path = decisions_file(
        tmp_path / "decisions.jsonl",
        [
            {"text": "I know where you live.", "decision": "reject", "categories": ["TOXICITY", "THREAT"]},
            {"text": "Buy cheap watches", "decision": "reject", "categories": []},
            {"text": "Good reporting.", "decision": "approve", "categories": []},
        ],
    )
    layout, examples = read_source(path, limit=None, seed=1)
    assert layout == "parlour decisions"
    assert [e.text for e in examples] == ["I know where you live.", "Good reporting."]
    assert examples[0].labels == {"TOXICITY": 1.0, "THREAT": 1.0}  # the other categories stay unlabelled
    assert examples[1].labels == dict.fromkeys(CATEGORIES, 0.0)


@pytest.mark.parametrize(
    ("reason", "categories"),
    [
        ("Threat", ["TOXICITY", "THREAT"]),
        ("Dehumanising language: calls them rats", ["TOXICITY", "IDENTITY_ATTACK"]),
        ("Abuse", ["TOXICITY"]),
        ("Abuse: an insult, and a racist one", ["TOXICITY", "INSULT", "IDENTITY_ATTACK"]),
        ("insult, and swearing", ["TOXICITY", "INSULT", "PROFANITY"]),
        ("IDENTITY_ATTACK", ["TOXICITY", "IDENTITY_ATTACK"]),
        ("Spam: a threat to buy watches", []),
        ("Off-topic", []),
        ("", []),
    ],
)
def test_reject_reasons_name_categories(reason: str, categories: list[str]) -> None:
    assert reason_categories(reason) == categories


def test_decision_labels_leave_out_what_says_nothing_about_toxicity() -> None:
    assert decision_labels("reject", []) is None
    assert decision_labels("feature", ["THREAT"]) is None
    assert decision_labels("reject", ["INSULT", "NOT_A_CATEGORY"]) == {"TOXICITY": 1.0, "INSULT": 1.0}


def test_a_limit_samples_reproducibly_with_the_seed() -> None:
    items = [Example(f"t{n}", {}, "x") for n in range(1000)]
    first = [e.text for e in reservoir(iter(items), limit=50, seed=4)]
    assert len(first) == 50 and len(set(first)) == 50
    assert first == [e.text for e in reservoir(iter(items), limit=50, seed=4)]
    assert first != [e.text for e in reservoir(iter(items), limit=50, seed=5)]
    assert first == sorted(first, key=lambda t: int(t[1:]))  # file order kept
    assert first[-1] != "t49"  # later rows can be chosen, not just the first fifty
    assert len(reservoir(iter(items), limit=None, seed=1)) == 1000


@pytest.mark.parametrize(
    "content",
    [
        "id,text,label\n1,hello,0\n",  # a CSV of no known layout
        '{"format": "something-else"}\n',
        "",
        '{"format": "parlour-decisions", "version": 9}\n',
    ],
)
def test_unknown_layouts_are_refused_clearly(tmp_path: Path, content: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content, "utf-8")
    with pytest.raises(LayoutError, match=r"data\.csv"):
        check_source(path)
    with pytest.raises(LayoutError):
        read_source(path, limit=None, seed=1)


def test_a_broken_row_names_the_file_and_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "train.csv", JIGSAW, [{"id": "a", "comment_text": "x", "toxic": "yes"}])
    with pytest.raises(LayoutError, match=r"train\.csv:2: column 'toxic' holds 'yes'"):
        read_source(path, limit=None, seed=1)


def test_train_exits_2_on_a_file_of_unknown_layout(tmp_path: Path) -> None:
    bad = tmp_path / "comments.csv"
    bad.write_text("id,body\n1,hello\n", "utf-8")
    result = CliRunner().invoke(model_app, ["train", "--data", str(bad), "--out", str(tmp_path / "model")])
    assert result.exit_code == 2
    assert "unknown layout" in result.output and not (tmp_path / "model").exists()
    missing = CliRunner().invoke(model_app, ["train", "--data", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_extra_sources_are_read_with_progress_and_change_the_model(tmp_path: Path) -> None:
    """A word only the newsroom's data knows ("zorblat" threats) is learnt when, and only when, it is passed."""
    rows: list[dict[str, object]] = [
        {"id": n, "comment_text": f"I will zorblat you {n}", "toxic": 1, "threat": 1} for n in range(30)
    ] + [{"id": 100 + n, "comment_text": f"the council meets on day {n}"} for n in range(30)]
    path = write_csv(tmp_path / "train.csv", JIGSAW, rows)
    advanced: list[int] = []
    with progress_bar(quiet=True) as step:

        def counting(description: str, total: int) -> object:
            assert total == path.stat().st_size
            step(description, total)
            return advanced.append

        examples, sources = read_extra([path], limit=40, seed=1, step=counting)  # type: ignore[arg-type]
    assert sum(advanced) == path.stat().st_size and len(examples) == 40
    assert (sources[0].layout, sources[0].examples) == ("Jigsaw 2018 toxic comments", 40)
    config = TrainConfig(seed=3, min_df_words=1, min_df_chars=1)
    source = lexicon_json()
    threat = []
    for extra in ([], examples):
        corpus = _tiny_corpus()
        corpus.train += extra
        with progress_bar(quiet=True) as step:
            model, _ = fit_model(corpus, config, lexicons=Lexicons.from_json(source), lexicon_source=source, step=step)
        threat.append(model.predict("I will zorblat them").scores["THREAT"])
    assert threat[1] > threat[0] + 0.1, threat


@pytest.mark.skipif(not (SHARED_DATA / "toxic_spans").is_dir(), reason="needs shared/data/moderation")
def test_the_corpus_takes_extra_examples_into_training_only_and_keeps_test_texts_out() -> None:
    config = TrainConfig()
    lexicons = Lexicons.from_json(lexicon_json())
    with (SHARED_DATA / "toxic_spans" / "typed_posts.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    test_text = next(row["text"] for row in rows if row["split"] == "test")
    dev_text = next(row["text"] for row in rows if row["split"] == "dev")
    extra = [
        Example("A newsroom-only sentence.", {"TOXICITY": 0.0}, "decisions"),
        Example(test_text, {}, "decisions"),
        Example(dev_text.upper(), {}, "decisions"),  # the same post, differently cased, is still the dev post
    ]
    corpus = build_corpus(SHARED_DATA, config, lexicons, extra)
    decided = [e.text for e in corpus.train if e.source == "decisions"]
    assert decided == ["A newsroom-only sentence."]
    assert corpus.counts["decisions"] == 1 and not any(e.source == "decisions" for e in corpus.dev)
