"""The lexical moderation model: normalisation, spans, use and mention, the artifact, reproducible training."""

from __future__ import annotations

import json
import pickle
import threading
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from parlour.scoring import make_scorer
from parlour.scoring.datasets import Example
from parlour.scoring.lexical import LexicalScorer, load_model, retrained_name
from parlour.scoring.metrics import mean_span_f1, span_f1
from parlour.scoring.model import LexicalModel, stacked_span_probabilities
from parlour.scoring.patterns import Lexicons
from parlour.scoring.protocol import Scorer
from parlour.scoring.templates import generate
from parlour.scoring.thresholds import CATEGORIES, HOLD, REJECT, verdict
from parlour.scoring.train import Corpus, TrainConfig, fit_model, lexicon_json, progress_bar


@pytest.fixture(scope="module")
def scorer() -> LexicalScorer:
    return LexicalScorer()


def words(text: str, scorer: LexicalScorer) -> list[str]:
    return [t.text for t in scorer.model.analyzer.normaliser.tokens(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what the f*ck", "fuck"),
        ("f**k this", "fuck"),
        ("total sh1t", "shit"),
        ("$hit show", "shit"),
        ("you @ss", "ass"),
        ("f u c k you", "fuck"),
        ("f.u.c.k you", "fuck"),
        ("idiooooot", "idiot"),
        ("fuuuuuck", "fuck"),
        ("v3rm1n", "vermin"),
        ("FÜCK", "fuck"),
    ],
)
def test_obfuscations_are_undone(scorer: LexicalScorer, text: str, expected: str) -> None:
    assert expected in words(text, scorer)


def test_a_dropped_letter_in_a_group_name_is_restored(scorer: LexicalScorer) -> None:
    assert {"woman", "women"} & set(words("womn are", scorer))
    assert "muslims" in words("musl1ms are", scorer)


def test_ordinary_words_are_left_alone(scorer: LexicalScorer) -> None:
    assert words("The mp3 player cost 40 dollars in 2024, a good deal.", scorer) == [
        "the", "mp3", "player", "cost", "<num>", "dollars", "in", "<num>", "a", "good", "deal",
    ]  # fmt: skip


def test_obfuscated_abuse_scores_like_the_plain_word(scorer: LexicalScorer) -> None:
    plain = scorer.score("you are a fucking idiot").categories
    for disguised in ("you are a f*cking idi0t", "you are a fuuuucking idiooot", "you are a f u c k i n g idiot"):
        scores = scorer.score(disguised).categories
        assert scores["PROFANITY"] >= HOLD["PROFANITY"], disguised
        assert abs(scores["INSULT"] - plain["INSULT"]) < 0.2, disguised


def test_spans_point_at_the_original_characters(scorer: LexicalScorer) -> None:
    text = "Ünïcode first 😀 — then: you are a f*ck1ng idiooooot!!"
    scores = scorer.score(text)
    shown = {text[s.start : s.end] for spans in scores.spans.values() for s in spans}
    assert "idiooooot" in shown or "f*ck1ng idiooooot" in shown
    assert any("f*ck1ng" in s for s in shown)
    for spans in scores.spans.values():
        for span in spans:
            assert 0 <= span.start < span.end <= len(text)
            assert not text[span.start].isspace() and not text[span.end - 1].isspace()


def test_spaced_letters_span_the_whole_word(scorer: LexicalScorer) -> None:
    text = "well f u c k you then"
    spans = scorer.score(text).spans["PROFANITY"]
    assert any(text[s.start : s.end].startswith("f u c k") for s in spans)


@pytest.mark.parametrize(
    "text",
    [
        "As a gay man, I think the council got this right.",
        "The Muslim community centre is hosting a food drive on Saturday.",
        "Jewish families lit candles in the square last night.",
        "My neighbours are immigrants from Syria and they are lovely.",
        "The slaughter of civilians was condemned by the UN.",
        "Police said the suspect threatened to kill his neighbour.",
        'Calling Serranes "vermin" is dehumanising and has no place here.',
        "The MP was sacked after saying Serranes are vermin.",
        "Serranes are not vermin, they are people.",
        "Rats are vermin and the council should clear the bins.",
        "The council should fund more buses on the north side.",
    ],
)
def test_mentions_and_neutral_identity_stay_below_hold(scorer: LexicalScorer, text: str) -> None:
    scores = scorer.score(text).categories
    assert verdict(scores).decision == "publish", scores


@pytest.mark.parametrize(
    "text",
    [
        # in the short_replies templates
        "Yes",
        "Exactly.",
        "Source?",
        "lol",
        # not in them: the model must generalise from the set, not remember it
        "Yep, agreed.",
        "No idea.",
        "Ok then.",
        "Why though?",
        "Thanks, that helps.",
        "Me neither.",
    ],
)
def test_ordinary_short_replies_are_published(scorer: LexicalScorer, text: str) -> None:
    scores = scorer.score(text).categories
    assert verdict(scores).decision == "publish", scores


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Serranes are vermin.", "IDENTITY_ATTACK"),
        ("Continue the slaughter.", "THREAT"),
        ("Round them up and shoot them.", "THREAT"),
        ("Muslims are cockroaches.", "IDENTITY_ATTACK"),
        ("I will kill you.", "THREAT"),
        ("You are a complete idiot.", "INSULT"),
    ],
)
def test_attacks_reach_hold(scorer: LexicalScorer, text: str, category: str) -> None:
    result = scorer.score(text)
    assert result.categories[category] >= HOLD[category], result.categories
    assert result.spans[category], "a held score names the words behind it"
    assert verdict(result.categories).decision != "publish"


FILLER = "The council met on Tuesday to discuss the budget for the new bridge. "


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I will find you and kill you. ", "THREAT"),
        ("Serranes are vermin. Round them up. ", "IDENTITY_ATTACK"),
        ("Continue the slaughter. ", "THREAT"),
    ],
)
@pytest.mark.parametrize("fillers", [0, 3, 10, 30])
def test_harmless_sentences_around_an_attack_do_not_hide_it(
    scorer: LexicalScorer, text: str, category: str, fillers: int
) -> None:
    # The document model averages over the text: padding diluted "I will kill you" below hold. Each sentence of
    # a threat or an attack on a group is also scored on its own.
    for padded in (text + FILLER * fillers, FILLER * fillers + text):
        result = scorer.score(padded)
        assert result.categories[category] >= HOLD[category], (fillers, result.categories)
        assert result.spans[category]


def test_harmless_sentences_stay_harmless_together(scorer: LexicalScorer) -> None:
    assert verdict(scorer.score(FILLER * 5 + "The Muslim community centre opens on Sunday.").categories).decision == (
        "publish"
    )


@pytest.mark.parametrize(
    ("text", "pattern", "fires"),
    [
        ("I met some Serranes at work today. They are all vile.", "pat:group_ref_negative", True),
        ("I met some Serranes at work today. They were really kind.", "pat:group_ref_negative", False),
        ("The bins were full today. They are all vile.", "pat:group_ref_negative", False),
        ("Serranes can never be trusted.", "pat:negated_regard", True),
        ("I will never respect a Muslim.", "pat:negated_regard", True),
        ("Muslims deserve respect.", "pat:negated_regard", False),
        ("This bridge can never be trusted.", "pat:negated_regard", False),
    ],
)
def test_reference_and_denied_regard_need_a_group(scorer: LexicalScorer, text: str, pattern: str, fires: bool) -> None:
    assert (pattern in scorer.model.analyzer.analyse(text).patterns) == fires


def test_the_span_stacker_ranks_tokens_by_logit_and_favours_a_texts_strongest_word(scorer: LexicalScorer) -> None:
    stack = scorer.model.span_stack
    probs = stacked_span_probabilities(np.array([-1.0, 0.5, 3.0, 0.0], dtype=np.float32), stack)
    assert list(np.argsort(probs)) == [0, 3, 1, 2]
    alone = stacked_span_probabilities(np.array([0.5, -3.0, -3.0, -3.0], dtype=np.float32), stack)
    assert alone[0] > probs[1], "the same word counts for less beside a stronger one"


def test_scores_are_probabilities_for_every_category(scorer: LexicalScorer) -> None:
    for text in ("", "   ", "ok", "x" * 5000, "🙂🙂🙂", "a" * 30):
        result = scorer.score(text)
        assert set(result.categories) == set(CATEGORIES)
        assert all(0.0 <= p <= 1.0 for p in result.categories.values())
        assert result.model == scorer.name == "lexical-v1"


def test_scorer_implements_the_protocol_and_batches_in_order(scorer: LexicalScorer) -> None:
    implementation: Scorer = scorer
    texts = ["you idiot", "lovely day", "Serranes are vermin."]
    assert [s.categories for s in scorer.score_batch(texts)] == [implementation.score(t).categories for t in texts]


def test_scoring_is_thread_safe() -> None:
    scorer = LexicalScorer(LexicalModel.load())  # a fresh model: empty caches filled by racing threads
    texts = [f"comment {i}: you are a f*cking idiot number {i}" for i in range(200)]
    expected = [LexicalScorer().score(t) for t in texts]
    results: dict[int, object] = {}

    def work(offset: int) -> None:
        for i in range(offset, len(texts), 4):
            results[i] = scorer.score(texts[i])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i] for i in range(len(texts))] == expected


def test_the_shipped_model_loads_once() -> None:
    assert load_model() is load_model()


def test_the_artifact_loads_without_executing_code(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the artifact must not be unpickled")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    model = LexicalModel.load()
    folder = Path(__file__).resolve().parents[2] / "src" / "parlour" / "scoring" / "data"
    with np.load(folder / "lexical-v1.npz", allow_pickle=False) as arrays:
        assert all(arrays[key].dtype.kind == "f" for key in arrays.files)
    meta = json.loads((folder / "lexical-v1.json").read_text("utf-8"))
    assert meta["name"] == model.name
    assert (folder / "lexical-v1.npz").stat().st_size + (folder / "lexical-v1.json").stat().st_size < 8 * 2**20


def test_verdict_uses_the_one_table_of_thresholds() -> None:
    assert verdict({}).decision == "publish"
    held = verdict({"THREAT": HOLD["THREAT"]})
    assert held.decision == "hold" and held.reasons == [f"score:THREAT>={HOLD['THREAT']:g}"]
    assert verdict({"INSULT": REJECT["INSULT"], "THREAT": HOLD["THREAT"]}).decision == "reject"
    assert all(HOLD[c] < REJECT[c] for c in CATEGORIES)


def test_span_f1_is_the_task5_metric() -> None:
    assert span_f1(set(), set()) == 1.0
    assert span_f1({1}, set()) == 0.0
    assert span_f1(set(), {1}) == 0.0
    assert span_f1({1, 2, 3, 4}, {3, 4, 5, 6}) == 0.5
    assert mean_span_f1([set(), {1}], [set(), {1}]) == 1.0


# -- training ---------------------------------------------------------------------------------------------------------
def _tiny_corpus() -> Corpus:
    keywords = Lexicons.from_json(lexicon_json()).keywords()
    train = generate(7, keywords=keywords, scale=0.02)
    dev = generate(8, keywords=keywords, scale=0.02)
    posts = [
        ("You are an idiot and a fool.", "idiot"),
        ("What a stupid take, moron.", "moron"),
        ("They should all be shot.", "shot"),
        ("Shut up, you clown.", "clown"),
        ("This is a fine article about the budget.", ""),
    ] * 4

    def marked(text: str, word: str) -> frozenset[int]:
        start = text.find(word) if word else -1
        return frozenset(range(start, start + len(word))) if start >= 0 else frozenset()

    spans = [(text, marked(text, word)) for text, word in posts]
    rated = [
        (text, {c: marked(text, word) for c in ("INSULT", "THREAT", "IDENTITY_ATTACK", "PROFANITY")})
        for text, word in posts
    ]
    extra = [Example(text, {"TOXICITY": float(bool(w)), "INSULT": float(bool(w))}, "typed_posts") for text, w in posts]
    return Corpus(train + extra, dev + extra, spans, spans, rated, rated)


def test_training_is_reproducible(tmp_path: Path) -> None:
    config = TrainConfig(seed=3, min_df_words=1, min_df_chars=1)
    lexicons = lexicon_json()
    outputs = []
    for run in ("a", "b"):
        with progress_bar(quiet=True) as step:
            model, metrics = fit_model(
                _tiny_corpus(), config, lexicons=Lexicons.from_json(lexicons), lexicon_source=lexicons, step=step
            )
        npz, js = model.save(tmp_path / run)
        outputs.append((npz.read_bytes(), js.read_bytes(), json.dumps(metrics, sort_keys=True)))
    assert outputs[0] == outputs[1]
    reloaded = LexicalModel.load(tmp_path / "a")
    assert reloaded.predict("you idiot").scores == model.predict("you idiot").scores


def test_the_stackers_also_learn_from_rated_training_posts_held_out_of_the_models() -> None:
    lexicons = lexicon_json()
    fitted = {}
    for folds in (0, 5):
        with progress_bar(quiet=True) as step:
            fitted[folds] = fit_model(
                _tiny_corpus(),
                TrainConfig(seed=3, min_df_words=1, min_df_chars=1, stack_folds=folds),
                lexicons=Lexicons.from_json(lexicons),
                lexicon_source=lexicons,
                step=step,
            )
    (plain, plain_metrics), (folded, folded_metrics) = fitted[0], fitted[5]
    rated = sum(1 for e in _tiny_corpus().train if e.source == "typed_posts")
    assert (plain_metrics["stack_rows_out_of_fold"], folded_metrics["stack_rows_out_of_fold"]) == (0, rated)
    assert "auc_typed_posts_out_of_fold" in folded_metrics["dev"]["INSULT"]["stacked"]
    insult, toxicity = CATEGORIES.index("INSULT"), CATEGORIES.index("TOXICITY")
    assert not np.array_equal(plain.stack[insult], folded.stack[insult])
    # TOXICITY is not folded: every rated post is toxic, so its stacker must not change.
    assert np.array_equal(plain.stack[toxicity], folded.stack[toxicity])
    assert plain.stack_bias[toxicity] == folded.stack_bias[toxicity]


def test_a_retrained_model_is_loaded_from_its_folder_and_named_by_its_files(tmp_path: Path) -> None:
    shipped = resources.files("parlour.scoring").joinpath("data")
    for suffix in (".json", ".npz"):
        (tmp_path / f"lexical-v1{suffix}").write_bytes(shipped.joinpath(f"lexical-v1{suffix}").read_bytes())
    scorer = make_scorer("lexical", tmp_path)
    assert isinstance(scorer, LexicalScorer)
    assert scorer.name.startswith("lexical-v1+") and len(scorer.name) == len("lexical-v1+") + 10
    text = "You are an idiot and your kind are vermin."
    mine, theirs = scorer.score(text), LexicalScorer().score(text)
    assert mine.categories == theirs.categories and mine.model == scorer.name != theirs.model
    with (tmp_path / "lexical-v1.npz").open("ab") as changed:  # another model: another name
        changed.write(b"\0")
    assert retrained_name(tmp_path) != scorer.name
