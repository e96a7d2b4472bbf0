"""From text to sparse features: word and character n-grams of the normalised tokens, plus the pattern features.

Every feature occurrence remembers the token it came from, so a linear model's score splits into per-token
contributions (coefficient x feature value x the token's share of that feature) that become the spans.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from parlour.scoring.features import Normaliser, Token, char_ngrams
from parlour.scoring.patterns import PATTERN_INDEX, PATTERNS, Lexicons, pattern_features

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]
_EMPTY_INT: IntArray = np.zeros(0, dtype=np.int32)
CONTEXT_WEIGHT = 0.5  # a neighbouring word counts half as much as the word itself
# Pattern features are worth more than one n-gram: a larger value costs the L2 penalty less per unit of effect,
# so the document models lean on these few general features rather than on the templates' exact wording.
PATTERN_VALUE = 2.0


@dataclass(frozen=True, slots=True)
class Analysed:
    """A text's tokens and the pattern features that fired, with their trigger tokens."""

    tokens: list[Token]
    patterns: dict[str, set[int]]


class Analyzer:
    """Normalises and tokenises text, and finds pattern features; shared by training and scoring."""

    def __init__(self, *, known: Iterable[str], lexicons: Lexicons) -> None:
        self.lexicons = lexicons
        self.normaliser = Normaliser(known=known, keywords=lexicons.keywords())
        self.known = self.normaliser.known

    def analyse(self, text: str) -> Analysed:
        tokens = self.normaliser.tokens(text)
        return Analysed(tokens, pattern_features(tokens, text, self.lexicons, self.known))


@dataclass(frozen=True, slots=True)
class DocVector:
    """One text as sparse features, and how each feature's value splits over the tokens."""

    ids: IntArray  # feature ids, sorted, unique
    values: FloatArray  # their values
    occ_token: IntArray  # per feature occurrence: the token it came from
    occ_pos: IntArray  # per occurrence: index into ids/values
    occ_share: FloatArray  # per occurrence: its share of the feature's value
    n_tokens: int

    def contributions(self, weights: FloatArray) -> FloatArray:
        """Per token and column of `weights` (n_features x k): the token's part of the linear score."""
        k = weights.shape[1]
        out = np.zeros((self.n_tokens, k), dtype=np.float32)
        if self.n_tokens == 0 or len(self.occ_pos) == 0:
            return out
        part = weights[self.ids[self.occ_pos]] * (self.occ_share * self.values[self.occ_pos])[:, None]
        np.add.at(out, self.occ_token, part)
        return out


class FeatureSpace:
    """A fixed vocabulary of features: word unigrams, then bigrams, then character n-grams, then patterns."""

    def __init__(self, *, vocab: Sequence[str], idf: FloatArray, n_unigrams: int, n_words: int) -> None:
        self.vocab = list(vocab)
        self.index = {f: i for i, f in enumerate(self.vocab)}
        self.n_unigrams = n_unigrams  # ids [0, n_unigrams) are "w <word>"
        self.n_words = n_words  # ids [n_unigrams, n_words) are "b <a> <b>"; then "c<gram>" until the patterns
        self.n_text = len(self.vocab)
        self.n_features = self.n_text + len(PATTERNS)
        self.idf = np.concatenate([idf.astype(np.float32), np.ones(len(PATTERNS), dtype=np.float32)])
        self._token_cache: dict[str, tuple[int, IntArray]] = {}
        self._score_cache: dict[str, tuple[FloatArray, FloatArray, FloatArray]] = {}  # for _score_key
        self._score_key: object = None

    # -- building the vocabulary ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        docs: Sequence[Analysed],
        *,
        max_words: int = 40_000,
        max_chars: int = 50_000,
        min_df_words: int = 2,
        min_df_chars: int = 3,
        always: Iterable[str] = (),
    ) -> FeatureSpace:
        """Keep the most frequent features (by document frequency), plus every word in `always`."""
        df: Counter[str] = Counter()
        grams_of: dict[str, list[str]] = {}
        for doc in docs:
            feats: set[str] = set()
            words = [t.text for t in doc.tokens]
            for word in set(words):
                feats.add("w " + word)
                grams = grams_of.get(word)
                if grams is None:
                    grams = grams_of[word] = ["c" + g for g in char_ngrams(word)]
                feats.update(grams)
            feats.update(_bigrams(doc.tokens))
            df.update(feats)
        n_docs = len(docs)
        forced = {"w " + w for w in always}
        unigrams = [f for f, n in df.items() if f.startswith("w ") and (n >= min_df_words or f in forced)]
        bigrams = [f for f, n in df.items() if f.startswith("b ") and n >= min_df_words]
        words = sorted(unigrams + bigrams, key=lambda f: (f not in forced, -df[f], f))[:max_words]
        unigram_list = sorted(f for f in words if f.startswith("w "))
        bigram_list = sorted(f for f in words if f.startswith("b "))
        chars = [f for f, n in df.items() if f.startswith("c") and n >= min_df_chars]
        char_list = sorted(sorted(chars, key=lambda f: (-df[f], f))[:max_chars])
        vocab = unigram_list + bigram_list + char_list
        idf = np.array([math.log((1 + n_docs) / (1 + df[f])) + 1.0 for f in vocab], dtype=np.float32)
        return cls(vocab=vocab, idf=idf, n_unigrams=len(unigram_list), n_words=len(unigram_list) + len(bigram_list))

    # -- one text --------------------------------------------------------------------------------------------
    def _token_ids(self, word: str) -> tuple[int, IntArray]:
        hit = self._token_cache.get(word)
        if hit is None:
            unigram = self.index.get("w " + word, -1)
            grams = [self.index.get("c" + g, -1) for g in char_ngrams(word)]
            hit = (unigram, np.array([g for g in grams if g >= 0], dtype=np.int32))
            if len(self._token_cache) < 300_000:
                self._token_cache[word] = hit
        return hit

    def vectorise(self, doc: Analysed) -> DocVector:
        """The features of one analysed text, L2-normalised per block (words, characters); patterns are 0/1."""
        tokens = doc.tokens
        occ_ids: list[IntArray] = []
        occ_tok: list[IntArray] = []
        occ_w: list[FloatArray] = []
        singles_id: list[int] = []
        singles_tok: list[int] = []
        singles_w: list[float] = []
        for i, token in enumerate(tokens):
            unigram, grams = self._token_ids(token.text)
            if unigram >= 0:
                singles_id.append(unigram)
                singles_tok.append(i)
                singles_w.append(1.0)
            if len(grams):
                occ_ids.append(grams)
                occ_tok.append(np.full(len(grams), i, dtype=np.int32))
                occ_w.append(np.ones(len(grams), dtype=np.float32))
        for i in range(len(tokens) - 1):
            if tokens[i].sentence == tokens[i + 1].sentence:
                bigram = self.index.get(f"b {tokens[i].text} {tokens[i + 1].text}", -1)
                if bigram >= 0:
                    singles_id += [bigram, bigram]
                    singles_tok += [i, i + 1]
                    singles_w += [0.5, 0.5]
        for name, triggers in doc.patterns.items():
            pid = self.n_text + PATTERN_INDEX[name]
            share = 1.0 / max(1, len(triggers))
            for t in triggers:
                singles_id.append(pid)
                singles_tok.append(t)
                singles_w.append(share)
        occ_ids.append(np.array(singles_id, dtype=np.int32))
        occ_tok.append(np.array(singles_tok, dtype=np.int32))
        occ_w.append(np.array(singles_w, dtype=np.float32))
        all_ids = np.concatenate(occ_ids)
        if len(all_ids) == 0:
            empty = np.zeros(0, dtype=np.float32)
            return DocVector(_EMPTY_INT, empty, _EMPTY_INT, _EMPTY_INT, empty, len(tokens))
        all_tok = np.concatenate(occ_tok)
        all_w = np.concatenate(occ_w)
        ids, inverse = np.unique(all_ids, return_inverse=True)
        counts = np.bincount(inverse, weights=all_w).astype(np.float32)
        is_pattern = ids >= self.n_text
        values = np.where(is_pattern, PATTERN_VALUE, (1.0 + np.log(np.maximum(counts, 1.0))) * self.idf[ids]).astype(
            np.float32
        )
        for block in (ids < self.n_words, (ids >= self.n_words) & ~is_pattern):
            norm = float(np.sqrt(np.sum(values[block] ** 2)))
            if norm > 0:
                values[block] /= norm
        shares: FloatArray = (all_w / counts[inverse]).astype(np.float32)
        return DocVector(ids.astype(np.int32), values, all_tok, inverse.astype(np.int32), shares, len(tokens))

    # -- tokens, for the span model ---------------------------------------------------------------------------
    @property
    def n_token_features(self) -> int:
        """Token-model features: the shared ids, then left- and right-context unigrams."""
        return self.n_features + 2 * self.n_unigrams

    def token_rows(self, doc: Analysed) -> tuple[IntArray, IntArray, FloatArray]:
        """The span model's input as (token, feature, value) triplets: each word, its n-grams, neighbours, patterns."""
        tokens = doc.tokens
        uni = [self._token_ids(t.text) for t in tokens]
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for name, triggers in doc.patterns.items():
            for t in triggers:
                rows.append(t)
                cols.append(self.n_text + PATTERN_INDEX[name])
                vals.append(1.0)
        left_base = self.n_features
        right_base = self.n_features + self.n_unigrams
        gram_rows: list[IntArray] = []
        gram_cols: list[IntArray] = []
        gram_vals: list[FloatArray] = []
        for i in range(len(tokens)):
            unigram, grams = uni[i]
            if unigram >= 0:
                rows.append(i)
                cols.append(unigram)
                vals.append(1.0)
            for d, base in ((-1, left_base), (1, right_base)):
                j = i + d
                if 0 <= j < len(tokens) and tokens[j].sentence == tokens[i].sentence and uni[j][0] >= 0:
                    rows.append(i)
                    cols.append(base + uni[j][0])
                    vals.append(CONTEXT_WEIGHT)
            if len(grams):
                gram_rows.append(np.full(len(grams), i, dtype=np.int32))
                gram_cols.append(grams)
                gram_vals.append(np.full(len(grams), 1.0 / math.sqrt(len(grams)), dtype=np.float32))
        return (
            np.concatenate([np.array(rows, dtype=np.int32), *gram_rows]),
            np.concatenate([np.array(cols, dtype=np.int32), *gram_cols]),
            np.concatenate([np.array(vals, dtype=np.float32), *gram_vals]),
        )

    def token_logits(self, doc: Analysed, weights: FloatArray, bias: FloatArray) -> FloatArray:
        """Token models' logits (n_tokens x k) for `weights` (n_token_features x k), from per-word cached parts."""
        tokens = doc.tokens
        n = len(tokens)
        k = weights.shape[1]
        if self._score_key is not weights:
            self._score_cache = {}
            self._score_key = weights
        cache = self._score_cache
        own = np.empty((n, k), dtype=np.float32)
        as_left = np.zeros((n, k), dtype=np.float32)
        as_right = np.zeros((n, k), dtype=np.float32)
        for i, token in enumerate(tokens):
            hit = cache.get(token.text)
            if hit is None:
                unigram, grams = self._token_ids(token.text)
                value = weights[unigram].copy() if unigram >= 0 else np.zeros(k, dtype=np.float32)
                if len(grams):
                    value += weights[grams].sum(axis=0) / math.sqrt(len(grams))
                if unigram >= 0:
                    left = CONTEXT_WEIGHT * weights[self.n_features + unigram]
                    right = CONTEXT_WEIGHT * weights[self.n_features + self.n_unigrams + unigram]
                else:
                    left = right = np.zeros(k, dtype=np.float32)
                hit = (value, left, right)
                if len(cache) < 300_000:
                    cache[token.text] = hit
            own[i] = hit[0]
            as_left[i] = hit[1]
            as_right[i] = hit[2]
        out = own + bias
        if n > 1:
            same = np.array([tokens[i].sentence == tokens[i + 1].sentence for i in range(n - 1)])
            out[1:] += np.where(same[:, None], as_left[:-1], 0.0)  # the word before, seen from the right
            out[:-1] += np.where(same[:, None], as_right[1:], 0.0)
        for name, triggers in doc.patterns.items():
            row = weights[self.n_text + PATTERN_INDEX[name]]
            for t in triggers:
                out[t] += row
        result: FloatArray = out.astype(np.float32)
        return result


def _bigrams(tokens: Sequence[Token]) -> set[str]:
    return {f"b {a.text} {b.text}" for a, b in itertools.pairwise(tokens) if a.sentence == b.sentence}
