"""Evaluate the lexical model on every test split, side by side with a TF-IDF + logistic regression baseline.

Run as `parlour model eval` or `python bench/moderation_eval.py`. Needs scikit-learn (training extra); uses
alt-profanity-check as a second baseline when it is installed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Group
from rich.table import Table

from parlour.scoring import datasets as ds
from parlour.scoring.lexical import LexicalScorer
from parlour.scoring.metrics import mean_span_f1, offsets
from parlour.scoring.model import LexicalModel
from parlour.scoring.patterns import Lexicons
from parlour.scoring.thresholds import CATEGORIES, HOLD

CIVIL = {"INSULT": "insult", "THREAT": "threat", "IDENTITY_ATTACK": "identity_attack", "PROFANITY": "obscene"}
HATE_CATEGORIES = ("IDENTITY_ATTACK", "THREAT")  # HateCheck's hate score: the larger of these two
TARGETS = {
    "span_f1": 0.70,
    "hatecheck_auc": 0.85,
    "hatecheck_accuracy": 0.80,
    "hatecheck_min_functionality": 0.50,
    "civil_auc_margin": 0.05,
    "batched_per_second": 1000,
    "p99_ms": 10.0,
}


def _auc(y: Sequence[bool] | Sequence[int], s: Sequence[float]) -> float | None:
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped,unused-ignore]

    if len(set(y)) < 2:
        return None
    return round(float(roc_auc_score(y, s)), 4)


def _f1(y: Sequence[bool], s: Sequence[float], threshold: float) -> float:
    from sklearn.metrics import f1_score  # type: ignore[import-untyped,unused-ignore]

    return round(float(f1_score(y, [v >= threshold for v in s], zero_division=0)), 4)


# -- the baselines ------------------------------------------------------------------------------------------------
class TfidfBaseline:
    """TF-IDF (word 1-2 grams, sublinear tf, min_df 2) + logistic regression (C=1), one per category."""

    name = "tfidf-lr"

    def __init__(self, examples: Sequence[ds.Example], categories: Sequence[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped,unused-ignore]
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped,unused-ignore]

        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        x = self.vectorizer.fit_transform([e.text for e in examples])
        self.models: dict[str, Any] = {}
        for category in categories:
            rows = [i for i, e in enumerate(examples) if category in e.labels]
            y = [examples[i].labels[category] >= 0.5 for i in rows]
            if len(set(y)) < 2:
                continue
            self.models[category] = LogisticRegression(C=1.0, max_iter=2000).fit(x[rows], y)

    def score(self, texts: Sequence[str]) -> dict[str, list[float]]:
        x = self.vectorizer.transform(list(texts))
        return {c: [float(p) for p in m.predict_proba(x)[:, 1]] for c, m in self.models.items()}


_WORD = re.compile(r"\w+(?:'\w+)?")


class TokenBaseline:
    """Spans from a token classifier: TF-IDF of the word and its neighbours + logistic regression."""

    def __init__(self, posts: Sequence[tuple[str, frozenset[int]]], dev: Sequence[tuple[str, frozenset[int]]]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped,unused-ignore]
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped,unused-ignore]

        docs, labels = [], []
        for text, gold in posts:
            for start, end, doc in self._tokens(text):
                docs.append(doc)
                labels.append(any(i in gold for i in range(start, end)))
        self.vectorizer = TfidfVectorizer(token_pattern=r"\S+", sublinear_tf=True, min_df=2)  # noqa: S106 - a regex, not a secret
        self.model = LogisticRegression(C=1.0, max_iter=2000).fit(self.vectorizer.fit_transform(docs), labels)
        self.threshold = max(
            np.arange(0.1, 0.8, 0.05),
            key=lambda t: mean_span_f1(self.predict([p for p, _ in dev], t), [g for _, g in dev]),
        )

    @staticmethod
    def _tokens(text: str) -> list[tuple[int, int, str]]:
        words = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]
        out = []
        for i, (start, end, word) in enumerate(words):
            left = words[i - 1][2] if i else "<s>"
            right = words[i + 1][2] if i + 1 < len(words) else "</s>"
            out.append((start, end, f"w={word} l={left} r={right}"))
        return out

    def predict(self, texts: Sequence[str], threshold: float | None = None) -> list[set[int]]:
        cut = self.threshold if threshold is None else threshold
        out: list[set[int]] = []
        for text in texts:
            tokens = self._tokens(text)
            if not tokens:
                out.append(set())
                continue
            probs = self.model.predict_proba(self.vectorizer.transform([t[2] for t in tokens]))[:, 1]
            out.append({i for (s, e, _), p in zip(tokens, probs, strict=True) if p >= cut for i in range(s, e)})
        return out


def _profanity_check() -> Callable[[Sequence[str]], list[float]] | None:
    try:
        from profanity_check import predict_prob  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except Exception:
        return None

    def run(texts: Sequence[str]) -> list[float]:
        return [float(p) for p in predict_prob(list(texts))]

    return run


# -- speed ----------------------------------------------------------------------------------------------------------
_SPEED_SCRIPT = """
import json, sys, time
texts = json.load(open(sys.argv[1]))
folder = sys.argv[2] or None
from pathlib import Path
from parlour.scoring.lexical import LexicalScorer
from parlour.scoring.model import LexicalModel
t0 = time.perf_counter()
scorer = LexicalScorer(LexicalModel.load(Path(folder)) if folder else None)
load = time.perf_counter() - t0
scorer.score_batch(texts[:200])  # warm-up
t0 = time.perf_counter()
scorer.score_batch(texts)
batched = len(texts) / (time.perf_counter() - t0)
cold = LexicalScorer(LexicalModel.load(Path(folder)) if folder else None)
one = []
for text in texts[:2000]:
    t0 = time.perf_counter()
    cold.score(text)
    one.append((time.perf_counter() - t0) * 1000)
one.sort()
# VmHWM, not ru_maxrss: the latter keeps the high-water mark of the forked parent across exec.
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"batched_per_second": round(batched), "p50_ms": round(one[len(one) // 2], 3),
                  "p99_ms": round(one[int(len(one) * 0.99)], 3), "load_seconds": round(load, 2),
                  "peak_rss_mib": round(rss / 1024, 1), "n": len(texts)}))
"""


def measure_speed(texts: Sequence[str], model_folder: Path | None) -> dict[str, Any]:
    """Throughput (one process, one core: BLAS threads pinned to 1), single-comment latency and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "texts.json"
        path.write_text(json.dumps(list(texts)), "utf-8")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        cmd = ["taskset", "-c", "0"] if _has_taskset() else []
        cmd += [sys.executable, "-c", _SPEED_SCRIPT, str(path), str(model_folder or "")]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True, timeout=600)  # noqa: S603
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def _has_taskset() -> bool:
    from shutil import which

    return which("taskset") is not None


# -- the evaluation -------------------------------------------------------------------------------------------------
def evaluate(
    data: Path, *, model_folder: Path | None = None, baseline: bool = True, speed: bool = True
) -> dict[str, Any]:
    """Every metric of the model card, as a JSON-able dict."""
    from parlour.scoring.templates import generate
    from parlour.scoring.train import TrainConfig, build_corpus, lexicon_json

    model = LexicalModel.load(model_folder) if model_folder else LexicalModel.load()
    scorer = LexicalScorer(model)
    results: dict[str, Any] = {"model": model.name, "hold_thresholds": HOLD, "targets": TARGETS}

    posts = [p for p in ds.typed_posts(data) if p.split == "test"]
    span_test = ds.semeval(data, "test")
    tweets = [t for t in ds.davidson(data) if t.split == "test"]
    cases = ds.hatecheck(data)
    texts = {
        "typed": [p.text for p in posts],
        "semeval": [t for t, _ in span_test],
        "davidson": [t.text for t in tweets],
        "hatecheck": [c.text for c in cases],
    }
    ours = {name: scorer.score_batch(items) for name, items in texts.items()}

    def column(name: str, category: str) -> list[float]:
        return [s.categories[category] for s in ours[name]]

    systems: dict[str, dict[str, dict[str, list[float]]]] = {
        model.name: {name: {c: column(name, c) for c in CATEGORIES} for name in texts}
    }
    spans: dict[str, list[set[int]]] = {model.name: [offsets(s.spans["TOXICITY"]) for s in ours["semeval"]]}
    thresholds: dict[str, dict[str, float]] = {model.name: HOLD}

    if baseline:
        config = TrainConfig()
        lexicons = Lexicons.from_json(lexicon_json())
        corpus = build_corpus(data, config, lexicons)
        same = TfidfBaseline(corpus.train, CATEGORIES)
        systems["tfidf-lr (same data)"] = {name: same.score(items) for name, items in texts.items()}
        thresholds["tfidf-lr (same data)"] = dict.fromkeys(CATEGORIES, 0.5)
        typed_train = ds.typed_examples(ds.typed_posts(data), "train", binary=True)
        civil = TfidfBaseline(typed_train, list(CIVIL))
        systems["tfidf-lr (typed only)"] = {"typed": civil.score(texts["typed"])}
        thresholds["tfidf-lr (typed only)"] = dict.fromkeys(CATEGORIES, 0.5)
        tokens = TokenBaseline(corpus.span_train, corpus.span_dev)
        spans["tfidf-lr token model"] = tokens.predict(texts["semeval"])
        # Templates are checked against HateCheck only here, at test time: training never reads HateCheck.
        generated = {ds.text_key(e.text) for e in generate(config.seed, keywords=lexicons.keywords())}
        results["hatecheck_cases_equal_to_a_template"] = sum(ds.text_key(c.text) in generated for c in cases)
    profanity = _profanity_check()
    if profanity is not None:
        systems["alt-profanity-check"] = {
            name: {c: profanity(items) for c in ("TOXICITY", "PROFANITY")} for name, items in texts.items()
        }
        thresholds["alt-profanity-check"] = {"TOXICITY": 0.5, "PROFANITY": 0.5}
    else:
        results["alt-profanity-check"] = "skipped: not installed (pip install alt-profanity-check)"

    results["typed_posts_test"] = _typed(posts, systems, thresholds)
    results["semeval_spans_test"] = {
        name: round(mean_span_f1(predicted, [g for _, g in span_test]), 4) for name, predicted in spans.items()
    }
    results["semeval_spans_test_no_gold_share"] = round(sum(1 for _, g in span_test if not g) / len(span_test), 4)
    results["hatecheck"] = _hatecheck(cases, systems, thresholds)
    results["davidson_test"] = _davidson(tweets, systems, thresholds)
    if speed:
        sample = (texts["typed"] + texts["davidson"])[:4000]
        results["speed"] = measure_speed(sample, model_folder)
        results["speed"]["mean_chars"] = round(sum(map(len, sample)) / len(sample))
    return results


def _typed(
    posts: Sequence[ds.TypedPost], systems: dict[str, Any], thresholds: dict[str, dict[str, float]]
) -> dict[str, Any]:
    """Per Civil category, label = at least one rater marked a span of it (`<cat>_frac > 0`)."""
    out: dict[str, Any] = {"label": "<cat>_frac > 0", "n": len(posts), "positives": {}}
    for category, column in CIVIL.items():
        y = [p.fracs[column] > 0 for p in posts]
        out["positives"][category] = sum(y)
        for name, by_set in systems.items():
            scores = by_set.get("typed", {}).get(category)
            if scores is None:
                continue
            out.setdefault(name, {})[category] = {
                "auc": _auc(y, scores),
                "f1": _f1(y, scores, thresholds[name].get(category, 0.5)),
            }
    y_severe = [ds.severe(p) >= 0.5 for p in posts]
    for name, by_set in systems.items():
        scores = by_set.get("typed", {}).get("SEVERE_TOXICITY")
        if scores is not None:
            out[name]["SEVERE_TOXICITY (weak label)"] = {"auc": _auc(y_severe, scores)}
    return out


def _hate_score(by_set: dict[str, dict[str, list[float]]]) -> list[float] | None:
    hc = by_set.get("hatecheck", {})
    if not all(c in hc for c in HATE_CATEGORIES):
        return None
    return [max(a, b) for a, b in zip(*(hc[c] for c in HATE_CATEGORIES), strict=True)]


def _hatecheck(cases: Sequence[ds.Case], systems: dict[str, Any], thresholds: dict[str, dict[str, float]]) -> Any:
    """Hate score = max(IDENTITY_ATTACK, THREAT); a case is called hateful when either reaches its hold threshold."""
    out: dict[str, Any] = {"hate_score": "max(IDENTITY_ATTACK, THREAT)", "n": len(cases)}
    y = [c.hateful for c in cases]
    for name, by_set in systems.items():
        score = _hate_score(by_set)
        if score is None:
            continue
        hc = by_set["hatecheck"]
        called = [any(hc[c][i] >= thresholds[name].get(c, 0.5) for c in HATE_CATEGORIES) for i in range(len(cases))]
        per: dict[str, list[bool]] = defaultdict(list)
        for case, call in zip(cases, called, strict=True):
            per[case.functionality].append(call == case.hateful)
        accuracy = {f: round(sum(v) / len(v), 3) for f, v in sorted(per.items())}
        out[name] = {
            "auc": _auc(y, score),
            "accuracy": round(sum(c == h for c, h in zip(called, y, strict=True)) / len(y), 4),
            "min_functionality": min(accuracy.values()),
            "per_functionality": accuracy,
        }
    return out


def _davidson(tweets: Sequence[ds.Tweet], systems: dict[str, Any], thresholds: dict[str, dict[str, float]]) -> Any:
    """toxic = hate or offensive (scored by TOXICITY); hate = class 0 (scored by IDENTITY_ATTACK)."""
    out: dict[str, Any] = {"n": len(tweets)}
    toxic = [t.label != 2 for t in tweets]
    hate = [t.label == 0 for t in tweets]
    for name, by_set in systems.items():
        d = by_set.get("davidson", {})
        row: dict[str, Any] = {}
        if "TOXICITY" in d:
            row["toxic_auc"] = _auc(toxic, d["TOXICITY"])
            row["toxic_f1"] = _f1(toxic, d["TOXICITY"], thresholds[name].get("TOXICITY", 0.5))
        if "IDENTITY_ATTACK" in d:
            row["hate_auc"] = _auc(hate, d["IDENTITY_ATTACK"])
        if row:
            out[name] = row
    return out


# -- the report -----------------------------------------------------------------------------------------------------
def render(results: dict[str, Any]) -> Group:
    """Rich tables of the results, ours beside the baselines."""
    tables = []
    typed = results["typed_posts_test"]
    systems = [k for k, v in typed.items() if isinstance(v, dict) and k != "positives"]
    table = Table(title=f"typed_posts test (n={typed['n']}, label {typed['label']}): ROC-AUC / F1 at hold")
    table.add_column("category")
    for name in systems:
        table.add_column(name, justify="right")
    for category in [*CIVIL, "SEVERE_TOXICITY (weak label)"]:
        cells = []
        for name in systems:
            cell = typed[name].get(category)
            cells.append("-" if cell is None else f"{cell['auc']}" + (f" / {cell['f1']}" if "f1" in cell else ""))
        table.add_row(category, *cells)
    tables.append(table)

    spans = Table(title="SemEval-2021 Task 5 test: character span F1")
    spans.add_column("system")
    spans.add_column("span F1", justify="right")
    for name, value in results["semeval_spans_test"].items():
        spans.add_row(name, str(value))
    tables.append(spans)

    hc = results["hatecheck"]
    hate = Table(title=f"HateCheck (n={hc['n']}), hate score {hc['hate_score']}")
    hate_systems = [k for k, v in hc.items() if isinstance(v, dict)]
    hate.add_column("functionality")
    for name in hate_systems:
        hate.add_column(name, justify="right")
    hate.add_row("ROC-AUC", *[str(hc[n]["auc"]) for n in hate_systems])
    hate.add_row("accuracy", *[str(hc[n]["accuracy"]) for n in hate_systems])
    for functionality in hc[hate_systems[0]]["per_functionality"] if hate_systems else []:
        hate.add_row(functionality, *[str(hc[n]["per_functionality"][functionality]) for n in hate_systems])
    tables.append(hate)

    dav = results["davidson_test"]
    davidson = Table(title=f"Davidson test (n={dav['n']})")
    davidson.add_column("system")
    for key in ("toxic_auc", "toxic_f1", "hate_auc"):
        davidson.add_column(key, justify="right")
    for name, row in dav.items():
        if isinstance(row, dict):
            davidson.add_row(name, *[str(row.get(k, "-")) for k in ("toxic_auc", "toxic_f1", "hate_auc")])
    tables.append(davidson)

    if "speed" in results:
        speed = Table(title="speed (one core)")
        for key in results["speed"]:
            speed.add_column(key, justify="right")
        speed.add_row(*[str(v) for v in results["speed"].values()])
        tables.append(speed)
    return Group(*tables)


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    from rich.console import Console

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ds.default_data_dir())
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error("pass --data PATH")
    t0 = time.perf_counter()
    results = evaluate(args.data, model_folder=args.model, baseline=not args.no_baseline, speed=not args.no_speed)
    results["eval_seconds"] = round(time.perf_counter() - t0)
    Console().print(render(results))
    if args.output:
        args.output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", "utf-8")
