"""The trained lexical model: its artifact on disk (npz arrays + JSON, nothing that runs code) and its predictions.

Three linear parts, all over the features of `vectorize.py`:
- a document model per category (logistic regression over the whole text's n-grams and pattern features);
- token models (logistic regression per word, with its neighbours): one for SemEval's "toxic" spans and one per
  Civil Comments category, trained on where raters put their spans of that category;
- a stacker per category that combines the document logit with the highest token logit, fitted on the dev
  splits, so its output is already a calibrated probability (Platt scaling with one more input);
- a span stacker that turns the SemEval token model's logits into span probabilities, reading each token's logit
  beside the text's top logit and length (fitted on out-of-fold logits of the SemEval training posts).
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from parlour.scoring.features import Token
from parlour.scoring.patterns import PATTERNS, Lexicons
from parlour.scoring.protocol import Span
from parlour.scoring.thresholds import HOLD
from parlour.scoring.vectorize import Analysed, Analyzer, DocVector, FeatureSpace, FloatArray

ARTIFACT = "lexical-v1"
FORMAT = 4
# Token models: the first is SemEval-2021's "toxic" spans; then one per Civil Comments span category trained on the
# raters' spans and the templates' abusive words; then the same trained on the raters' spans alone ("CIVIL_").
TOKEN_COLUMNS: tuple[str, ...] = (
    "TOXIC",
    "INSULT",
    "THREAT",
    "IDENTITY_ATTACK",
    "PROFANITY",
    "CIVIL_INSULT",
    "CIVIL_THREAT",
    "CIVIL_IDENTITY_ATTACK",
    "CIVIL_PROFANITY",
)
# Which token models feed each category's stacker.
STACK_INPUTS: dict[str, tuple[str, ...]] = {
    "TOXICITY": ("TOXIC", "INSULT", "PROFANITY"),
    "SEVERE_TOXICITY": ("THREAT", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "CIVIL_THREAT", "CIVIL_IDENTITY_ATTACK"),
    "INSULT": ("INSULT", "CIVIL_INSULT"),
    "PROFANITY": ("PROFANITY", "CIVIL_PROFANITY"),
    "IDENTITY_ATTACK": ("IDENTITY_ATTACK", "CIVIL_IDENTITY_ATTACK"),
    "THREAT": ("THREAT", "CIVIL_THREAT"),
}
# A category's spans are shown once its probability reaches this share of its hold threshold.
SPAN_FROM_SHARE_OF_HOLD = 0.5
# A threat or an attack on a group is not made harmless by harmless sentences around it: the document model
# averages over the whole text, so "I will kill you." followed by five sentences about the budget scored THREAT
# 0.28. These categories also score each sentence on its own and keep the highest. Not INSULT or SEVERE_TOXICITY:
# there it cost typed_posts AUC (0.011 and 0.07), and a rude sentence in a long comment is not a hold.
SENTENCE_MAX = ("THREAT", "IDENTITY_ATTACK")
# Sentences are scored apart only when a token model of these categories sees something (token logits are not
# diluted by the rest of the text): most comments cost nothing more.
SENTENCE_GATE = 0.2
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
# The token models the gate reads: those that feed the SENTENCE_MAX categories' stackers.
_SENTENCE_TOKEN_COLUMNS = sorted({TOKEN_COLUMNS.index(t) for c in SENTENCE_MAX for t in STACK_INPUTS[c]})
CONTRIBUTION_SHARE = 0.35  # fallback spans: tokens giving at least this share of the top token's contribution


@dataclass(frozen=True)
class Prediction:
    """Calibrated probabilities per category and the spans behind each, for one text."""

    scores: dict[str, float]
    spans: dict[str, list[Span]]


@dataclass
class LexicalModel:
    """Everything `train` writes and `LexicalScorer` reads."""

    name: str
    categories: tuple[str, ...]
    space: FeatureSpace
    analyzer: Analyzer
    coef: FloatArray  # document models: n_features x n_categories
    intercept: FloatArray  # n_categories
    token_coef: FloatArray  # token models: n_token_features x len(TOKEN_COLUMNS)
    token_intercept: FloatArray  # len(TOKEN_COLUMNS)
    stack: FloatArray  # n_categories x len(stack_features()): weights of the stacker's inputs
    stack_bias: FloatArray  # n_categories
    # Per token model: (least probability, least share of the text's top token probability) for a token to join a
    # span. The relative cut keeps a long rant from lighting up every mildly negative word around the abuse.
    token_thresholds: FloatArray
    span_stack: FloatArray  # weights of span_features() for the SemEval token model ("TOXIC"), then its bias
    span_floor: float  # fallback spans: least contribution to a document logit
    meta: dict[str, Any]

    # -- predicting ----------------------------------------------------------------------------------------
    def parts(self, doc: Analysed) -> tuple[DocVector, FloatArray, FloatArray]:
        """The document vector, the document logits, and the token logits (n_tokens x len(TOKEN_COLUMNS))."""
        vec = self.space.vectorise(doc)
        doc_logits = (vec.values @ self.coef[vec.ids] + self.intercept).astype(np.float32)
        tokens = self.space.token_logits(doc, self.token_coef, self.token_intercept)
        return vec, doc_logits, tokens

    def combine(self, doc_logits: FloatArray, token_logits: FloatArray) -> FloatArray:
        """Calibrated probabilities from the document logits and the per-model token maxima."""
        top = token_logits.max(axis=0) if len(token_logits) else self.token_intercept
        features = stack_features(doc_logits, top, len(token_logits))
        z = np.einsum("kf,kf->k", self.stack, features) + self.stack_bias
        out: FloatArray = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
        return out

    def predict(self, text: str) -> Prediction:
        doc = self.analyzer.analyse(text)
        vec, doc_logits, token_logits = self.parts(doc)
        probs = self.sentence_max(text, self.combine(doc_logits, token_logits), token_logits)
        scores = {c: round(float(p), 4) for c, p in zip(self.categories, probs, strict=True)}
        spans: dict[str, list[Span]] = {c: [] for c in self.categories}
        if not doc.tokens:
            return Prediction(scores, spans)
        flagged = flag_tokens(self.token_probabilities(token_logits), self.token_thresholds)  # n_tokens x columns
        contrib: FloatArray | None = None
        for k, category in enumerate(self.categories):
            if probs[k] < SPAN_FROM_SHARE_OF_HOLD * HOLD.get(category, 0.5):
                continue
            if category == "TOXICITY":
                chosen = [int(i) for i in np.flatnonzero(flagged[:, 0])]
            else:
                columns = [TOKEN_COLUMNS.index(c) for c in STACK_INPUTS[category] if c != "TOXIC"]
                chosen = [int(i) for i in np.flatnonzero(flagged[:, columns].any(axis=1))]
                if not chosen:  # the token models are silent: show what drove the document model
                    if contrib is None:
                        contrib = vec.contributions(self.coef)
                    column = contrib[:, k]
                    floor = max(self.span_floor, CONTRIBUTION_SHARE * float(column.max()))
                    chosen = [int(i) for i in np.flatnonzero(column >= floor)]
            spans[category] = merge_spans(doc.tokens, chosen, text)
        return Prediction(scores, spans)

    @cached_property
    def _sentence_columns(self) -> list[int]:
        """Where the SENTENCE_MAX categories sit among this model's categories."""
        return [self.categories.index(c) for c in SENTENCE_MAX if c in self.categories]

    def sentence_max(self, text: str, probs: FloatArray, token_logits: FloatArray) -> FloatArray:
        """`probs`, with the SENTENCE_MAX categories raised to their highest score in any one sentence."""
        columns = self._sentence_columns
        if not columns or not len(token_logits):
            return probs
        if float(1.0 / (1.0 + np.exp(-token_logits[:, _SENTENCE_TOKEN_COLUMNS].max()))) < SENTENCE_GATE:
            return probs
        sentences = [m.group() for m in _SENTENCE.finditer(text) if m.group().strip()]
        if len(sentences) < 2:
            return probs
        raised = probs.copy()
        for sentence in sentences:
            alone = self.combine(*self.parts(self.analyzer.analyse(sentence))[1:])
            raised[columns] = np.maximum(raised[columns], alone[columns])
        return raised

    def token_probabilities(self, token_logits: FloatArray) -> FloatArray:
        """Per token and token model, the probability that the token belongs in a span (n_tokens x columns)."""
        probs: FloatArray = (1.0 / (1.0 + np.exp(-token_logits))).astype(np.float32)
        if len(token_logits):
            probs[:, 0] = stacked_span_probabilities(token_logits[:, 0], self.span_stack)
        return probs

    # -- the artifact ---------------------------------------------------------------------------------------
    def save(self, folder: Path) -> tuple[Path, Path]:
        """Write `<name>.npz` (arrays) and `<name>.json` (vocabulary, lexicons, settings); returns both paths."""
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray[Any, Any]] = {
            "idf": self.space.idf[: self.space.n_text].astype(np.float32),
            "coef": self.coef.astype(np.float16),
            "intercept": self.intercept.astype(np.float32),
            "token_coef": self.token_coef.astype(np.float16),
            "token_intercept": self.token_intercept.astype(np.float32),
            "stack": self.stack.astype(np.float32),
            "stack_bias": self.stack_bias.astype(np.float32),
            "token_thresholds": self.token_thresholds.astype(np.float32),
            "span_stack": self.span_stack.astype(np.float32),
        }
        npz = folder / f"{self.name}.npz"
        _write_npz(npz, arrays)
        doc = {
            "format": FORMAT,
            "name": self.name,
            "categories": list(self.categories),
            "token_columns": list(TOKEN_COLUMNS),
            "patterns": list(PATTERNS),
            "n_unigrams": self.space.n_unigrams,
            "n_words": self.space.n_words,
            "span_floor": self.span_floor,
            "meta": self.meta,
            "lexicons": self.meta.get("lexicons", {}),
            "known": sorted(self.analyzer.normaliser.known - self.analyzer.normaliser.keywords),
            "vocab": self.space.vocab,
        }
        doc["meta"] = {k: v for k, v in self.meta.items() if k != "lexicons"}
        js = folder / f"{self.name}.json"
        js.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", "utf-8")
        return npz, js

    @classmethod
    def load(cls, folder: Path | None = None, name: str = ARTIFACT) -> LexicalModel:
        """Load an artifact from `folder`, or the one shipped in the package; never unpickles anything."""
        if folder is None:
            base = resources.files("parlour.scoring").joinpath("data")
            raw_json = base.joinpath(f"{name}.json").read_text("utf-8")
            raw_npz = base.joinpath(f"{name}.npz").read_bytes()
        else:
            raw_json = (folder / f"{name}.json").read_text("utf-8")
            raw_npz = (folder / f"{name}.npz").read_bytes()
        doc = json.loads(raw_json)
        if (
            doc.get("format") != FORMAT
            or doc["patterns"] != list(PATTERNS)
            or doc["token_columns"] != list(TOKEN_COLUMNS)
        ):
            raise ValueError(f"artifact {name} was written by another version of the lexical model; retrain it")
        with np.load(io.BytesIO(raw_npz), allow_pickle=False) as arrays:
            loaded = {key: arrays[key].astype(np.float32) for key in arrays.files}
        space = FeatureSpace(
            vocab=doc["vocab"], idf=loaded["idf"], n_unigrams=doc["n_unigrams"], n_words=doc["n_words"]
        )
        analyzer = Analyzer(known=doc["known"], lexicons=Lexicons.from_json(doc["lexicons"]))
        return cls(
            name=doc["name"],
            categories=tuple(doc["categories"]),
            space=space,
            analyzer=analyzer,
            coef=loaded["coef"],
            intercept=loaded["intercept"],
            token_coef=loaded["token_coef"],
            token_intercept=loaded["token_intercept"],
            stack=loaded["stack"],
            stack_bias=loaded["stack_bias"],
            token_thresholds=loaded["token_thresholds"],
            span_stack=loaded["span_stack"],
            span_floor=float(doc["span_floor"]),
            meta={**doc["meta"], "lexicons": doc["lexicons"]},
        )


def flag_tokens(probs: FloatArray, thresholds: FloatArray) -> npt.NDArray[np.bool_]:
    """Which tokens each token model puts in a span (n_tokens x models), given (absolute, relative) thresholds."""
    if len(probs) == 0:
        return np.zeros(probs.shape, dtype=bool)
    top = probs.max(axis=0)
    out: npt.NDArray[np.bool_] = (probs >= thresholds[:, 0]) & (probs >= thresholds[:, 1] * top)
    return out


def span_features(logits: FloatArray) -> FloatArray:
    """The span stacker's inputs per token: its logit, its distance below the text's top logit, the logit's positive
    part, and log(1 + tokens). The same logit means less in a long post with many candidates than in a short one,
    and the gold spans favour a text's strongest words over a fixed cut."""
    n = len(logits)
    column = logits[:, None]
    distance = column - (logits.max() if n else 0.0)
    length = np.full((n, 1), math.log1p(n), dtype=np.float32)
    out: FloatArray = np.concatenate([column, distance, np.maximum(column, 0), length], axis=1).astype(np.float32)
    return out


def stacked_span_probabilities(logits: FloatArray, span_stack: FloatArray) -> FloatArray:
    """The span stacker's probability per token, from the SemEval token model's logits of one text."""
    z = span_features(logits) @ span_stack[:-1] + span_stack[-1]
    # Clipped: a stacker fitted on a tiny, separable corpus has huge weights, and exp() must not overflow.
    out: FloatArray = (1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))).astype(np.float32)
    return out


def stack_features(doc_logits: FloatArray, token_max: FloatArray, n_tokens: int) -> FloatArray:
    """Per category: its document logit, the token maxima and the positive parts of each (a hinge lets the stacker
    trust a confident part more than a linear blend would), all again times log(1 + tokens), and that log alone:
    a short, explicit sentence and a long rant with one bad word call for different blends."""
    k = len(doc_logits)
    d = doc_logits[:, None]
    t = np.broadcast_to(token_max, (k, len(token_max)))
    base = np.concatenate([d, np.maximum(d, 0), t, np.maximum(t, 0)], axis=1)
    length = math.log1p(n_tokens)
    out: FloatArray = np.concatenate([base, base * length, np.full((k, 1), length)], axis=1).astype(np.float32)
    return out


def stack_columns(category: str) -> list[int]:
    """Which stacker inputs a category uses: its document logit and the token models named in STACK_INPUTS."""
    n = len(TOKEN_COLUMNS)
    width = 2 + 2 * n
    tokens = [TOKEN_COLUMNS.index(c) for c in STACK_INPUTS[category]]
    base = [0, 1, *(2 + i for i in tokens), *(2 + n + i for i in tokens)]
    return [*base, *(width + c for c in base), 2 * width]


def merge_spans(tokens: list[Token], chosen: list[int], text: str) -> list[Span]:
    """Spans over the original text for the chosen tokens; neighbours separated only by spaces merge into one."""
    out: list[Span] = []
    for i in sorted(set(chosen)):
        start, end = tokens[i].start, tokens[i].end
        gap = text[out[-1].end : start] if out else ""
        if out and gap.isspace() and len(gap) <= 2:
            out[-1] = Span(out[-1].start, end)
        elif out and start < out[-1].end:  # two tokens from one word (split run-together words)
            out[-1] = Span(out[-1].start, max(end, out[-1].end))
        else:
            out.append(Span(start, end))
    return out


def _write_npz(path: Path, arrays: dict[str, np.ndarray[Any, Any]]) -> None:
    """np.savez_compressed with fixed zip timestamps, so the same model always gives the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
