"""The lexical tier of Parlour's local moderation model: fast, CPU-only, explainable (spans per category)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

from parlour.scoring.model import ARTIFACT, LexicalModel
from parlour.scoring.protocol import Scores

_lock = threading.Lock()
_loaded: dict[tuple[str, str], LexicalModel] = {}


def load_model(folder: Path | None = None, name: str = ARTIFACT) -> LexicalModel:
    """The model in `folder` (default: shipped in the package), read from disk once per process."""
    key = (str(folder) if folder else "<package>", name)
    with _lock:  # one load even when several threads start scoring at once
        model = _loaded.get(key)
        if model is None:
            model = _loaded[key] = LexicalModel.load(folder, name)
        return model


def retrained_name(folder: Path, name: str = ARTIFACT) -> str:
    """A retrained model's name in stored scores: its artifact's name and a digest of its files.

    A newsroom's retrained model has the same file names as the shipped one; the digest keeps their scores apart.
    """
    digest = hashlib.sha256()
    for suffix in (".json", ".npz"):
        digest.update((folder / f"{name}{suffix}").read_bytes())
    return f"{name}+{digest.hexdigest()[:10]}"


class LexicalScorer:
    """Implements `parlour.scoring.protocol.Scorer`; safe to share between threads."""

    def __init__(self, model: LexicalModel | None = None, *, folder: Path | None = None) -> None:
        """The model given, or the one in `folder` (a retrained one), or the shipped one."""
        self.model = model or load_model(folder)
        self.name = retrained_name(folder) if folder is not None and model is None else self.model.name

    def score(self, text: str) -> Scores:
        prediction = self.model.predict(text)
        return Scores(categories=prediction.scores, spans=prediction.spans, model=self.name)

    def score_batch(self, texts: Sequence[str]) -> list[Scores]:
        """Scores for many texts, in order."""
        return [self.score(text) for text in texts]
