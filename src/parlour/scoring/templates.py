"""Training examples generated from the hand-written templates in data/templates.json, with obfuscated variants."""

from __future__ import annotations

import hashlib
import json
import random
import re
from importlib import resources
from typing import Any, Literal

from parlour.scoring.datasets import Example
from parlour.scoring.thresholds import CATEGORIES

TEMPLATE_FILE = "templates.json"
_SLOT = re.compile(r"\{([A-Za-z_]+)\}")
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "$", "t": "7"}


def load_templates() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("parlour.scoring").joinpath("data", TEMPLATE_FILE).read_text("utf-8")
    )
    return data


def _gerund(verb: str) -> str:
    first, _, rest = verb.partition(" ")
    if first.endswith("e") and not first.endswith("ee"):
        first = first[:-1] + "ing"
    elif len(first) <= 4 and re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", first):
        first = first + first[-1] + "ing"
    else:
        first += "ing"
    return f"{first} {rest}".strip()


# Slots whose words carry the abuse: in a hateful example, a token model learns these words are the span.
MARKED_SLOTS = frozenset(
    {"vermin", "violent", "neg_attr", "slur", "insult", "profane", "swear", "incite_phrase", "violence_noun"}
)


_SYLLABLES = ("ka", "lo", "ver", "sa", "mi", "dra", "ton", "bel", "qu", "ri", "zan", "or", "te", "vi", "mor", "al",
              "sen", "ga", "rho", "ul", "fen", "ti", "nor", "bra", "esk", "ya", "cor", "di", "han", "ple")  # fmt: skip
_ENDINGS = (("ans", "an", "an"), ("ians", "ian", "ian"), ("ese", "ese", "ese"), ("ites", "ite", "ite"),
            ("ers", "er", "ern"), ("es", "e", "ean"), ("is", "i", "i"), ("ards", "ard", "ardic"))  # fmt: skip


def invented_people(rng: random.Random) -> tuple[str, str, str]:
    """A made-up people: plural, singular and adjective ("Korvans", "Korvan", "Korvan")."""
    stem = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 2, 3)))).capitalize()
    plural, singular, adjective = rng.choice(_ENDINGS)
    return stem + plural, stem + singular, stem + adjective


def _fill(frame: str, slots: dict[str, list[str]], rng: random.Random) -> tuple[str, list[tuple[int, int]]]:
    """The frame with its slots filled, and the [start, end) of every marked slot's filling."""
    chosen: dict[str, list[str]] = {}
    marked: list[tuple[int, int]] = []
    pieces: list[str] = []
    position = 0
    last = 0

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        capital = name[0].isupper()
        key = name.lower()
        base, form = key, ""
        for suffix in ("_pp_past", "_pp", "_sg", "_ing"):
            if key.endswith(suffix):
                base, form = key[: -len(suffix)], suffix
                break
        if base not in chosen:
            pick = rng.choice(slots[base])
            if pick.startswith("@invented"):
                plural, singular, adjective = invented_people(rng)
                pick = adjective if pick == "@invented_adj" else f"{plural}|{singular}"
            chosen[base] = pick.split("|")
        parts = chosen[base]
        if form in ("_pp", "_pp_past", "_sg"):
            text = parts[-1]
        elif form == "_ing":
            text = _gerund(parts[0])
        else:
            text = parts[0]
        return text[0].upper() + text[1:] if capital and text else text

    for match in _SLOT.finditer(frame):
        pieces.append(frame[last : match.start()])
        position += match.start() - last
        filled = value(match)
        if match.group(1).lower().split("_")[0] in {s.split("_")[0] for s in MARKED_SLOTS} and any(
            match.group(1).lower().startswith(s) for s in MARKED_SLOTS
        ):
            marked.append((position, position + len(filled)))
        pieces.append(filled)
        position += len(filled)
        last = match.end()
    pieces.append(frame[last:])
    return "".join(pieces), marked


def obfuscate(
    text: str, keywords: frozenset[str], rng: random.Random, spans: list[tuple[int, int]] | None = None
) -> tuple[str, list[tuple[int, int]]]:
    """Disguise one keyword the way commenters do: leetspeak, stars, spaces, repeats, a dropped or swapped letter.

    `spans` are moved to follow the change.
    """
    spans = list(spans or [])
    words = list(re.finditer(r"[A-Za-z]+", text))
    targets = [m for m in words if m.group().lower() in keywords and len(m.group()) >= 3]
    if not targets:
        return text, spans
    m = rng.choice(targets)
    word = m.group()
    kind = rng.randrange(6)
    if kind == 0:
        new = "".join(_LEET.get(c.lower(), c) if rng.random() < 0.6 else c for c in word)
    elif kind == 1:
        i = rng.randrange(1, len(word) - 1)
        new = word[:i] + "*" + word[i + 1 :]
    elif kind == 2:
        new = " ".join(word)
    elif kind == 3:
        i = rng.randrange(len(word))
        new = word[: i + 1] + word[i] * rng.randrange(2, 5) + word[i + 1 :]
    elif kind == 4:
        i = rng.randrange(1, len(word))
        new = word[:i] + word[i + 1 :]
    else:
        i = rng.randrange(1, len(word) - 1)
        new = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    delta = len(new) - len(word)
    moved = []
    for a, b in spans:
        if a >= m.end():
            moved.append((a + delta, b + delta))
        elif b >= m.end():
            moved.append((a, b + delta))
        else:
            moved.append((a, b))
    return text[: m.start()] + new + text[m.end() :], moved


def _restyle(text: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.12:
        return text.lower()
    if roll < 0.16:
        return text.upper()
    if roll < 0.24:
        return text.rstrip(".") + rng.choice(["!", "!!", "...", " lol", ""])
    return text


def dev_frame(frame: str) -> bool:
    """About one frame in five is kept for dev: a stable choice that does not depend on the seed."""
    return hashlib.sha256(frame.encode("utf-8")).digest()[0] % 5 == 0


def generate(
    seed: int,
    *,
    keywords: frozenset[str],
    scale: float = 1.0,
    obfuscated: float = 0.2,
    weight: float = 1.0,
    part: Literal["train", "dev", "all"] = "all",
) -> list[Example]:
    """Every template set, `n * scale` examples each, a share of them obfuscated; deterministic for a seed.

    `part` picks the frames: "dev" ones (see `dev_frame`), the others ("train"), or all of them.
    """
    data = load_templates()
    rng = random.Random(seed)  # noqa: S311 - reproducible sampling of training text, not security
    slots: dict[str, list[str]] = data["slots"]
    out: list[Example] = []
    for spec in data["sets"]:
        labels = {c: float(spec["labels"][c]) for c in CATEGORIES}
        set_weight = weight * float(spec.get("weight", 1.0))
        frames = [f for f in spec["frames"] if part == "all" or dev_frame(f) == (part == "dev")]
        if not frames:  # a small set with no frame of this part: lend it the first frame
            frames = spec["frames"][:1]
        seen: set[str] = set()
        n = max(1, round(spec["n"] * scale))
        for _ in range(n * 3):
            if len(seen) >= n:
                break
            filled, marked = _fill(rng.choice(frames), slots, rng)
            text = _restyle(filled, rng)
            marked = [(a, min(b, len(text))) for a, b in marked if a < len(text)]
            if rng.random() < obfuscated:
                text, marked = obfuscate(text, keywords, rng, marked)
            if text in seen:
                continue
            seen.add(text)
            out.append(Example(text, dict(labels), f"template:{spec['name']}", set_weight, marked))
    return out
