"""Classifier: quality on the sample documents, urgency, caching, reproducible training."""

from __future__ import annotations

import json
import os
import pickle
import random
import re
from pathlib import Path
from typing import Any

import pytest

from agents.errors import ModelError
from agents.models import Classifier
from agents.models import classifier as classifier_module
from agents.models._data import (
    CLASSIFIER_CALIBRATION,
    CLASSIFIER_CORPUS,
    CLASSIFIER_HELD_OUT,
    CLASSIFIER_METRICS,
)
from agents.models.classifier import (
    Confidence,
    LabeledDocument,
    held_out_answers,
    load_corpus,
    train,
)
from agents.models.evaluation import RealDocument, load_real, read_answers
from schemas.payloads import DocType, Urgency

MIN_EXAMPLE_ACCURACY = 0.9
"""Measured 51 of 55 (0.927) on examples/documents with v6 on 654 real documents (50 of 55
on 631, 49 of 54 on 606): a romance-scam report and a travel-cancellation claim read as
complaints, a reminder as a payment request, a payment request as an invoice (README
"Measured"). The examples' generated look is not what the model is chosen on; 0.9 says
when it drifts."""
_ORDER = list(Urgency)


def test_accuracy_on_sample_documents(
    classifier: Classifier, expected: dict[str, Any], example_texts: dict[str, str]
) -> None:
    wrong = {}
    for name, text in example_texts.items():
        predicted = classifier.classify(text).doc_type.value
        if predicted != expected["documents"][name]["doc_type"]:
            wrong[name] = predicted
    accuracy = 1 - len(wrong) / len(example_texts)
    assert accuracy >= MIN_EXAMPLE_ACCURACY, wrong


def test_every_type_is_recognised_at_least_once(
    classifier: Classifier, expected: dict[str, Any], example_texts: dict[str, str]
) -> None:
    hits = {
        expected["documents"][name]["doc_type"]
        for name, text in example_texts.items()
        if classifier.classify(text).doc_type.value == expected["documents"][name]["doc_type"]
    }
    assert hits == {t.value for t in DocType}


def test_output_shape(classifier: Classifier, example_texts: dict[str, str]) -> None:
    out = classifier.classify(example_texts["invoice_brightwater_0457.txt"])
    assert out.kind == "classify"
    assert out.labels[0].label == out.doc_type.value
    assert out.labels[0].score == out.confidence
    scores = [label.score for label in out.labels]
    assert scores == sorted(scores, reverse=True)
    assert 1 < len(out.labels) <= 5
    assert classifier.model_name.startswith("doctype-tfidf-svm-v6+")


@pytest.mark.parametrize(
    ("name", "at_least"),
    [
        ("fraud_card_skimming.eml", Urgency.HIGH),
        ("fraud_romance_scam.txt", Urgency.HIGH),
        ("payment_urgent_unknown_supplier.txt", Urgency.HIGH),
        ("payment_nordwind_new_bank_details.eml", Urgency.HIGH),
    ],
)
def test_urgent_documents_are_urgent(
    classifier: Classifier, example_texts: dict[str, str], name: str, at_least: Urgency
) -> None:
    urgency = classifier.classify(example_texts[name]).urgency
    assert _ORDER.index(urgency) >= _ORDER.index(at_least)


@pytest.mark.parametrize(
    "name",
    [
        "receipt_cafe_kiosk.txt",
        "other_newsletter.html",
        "statement_march_2026.pdf",
        "contract_mutual_nda.txt",
    ],
)
def test_routine_documents_are_not_urgent(
    classifier: Classifier, example_texts: dict[str, str], name: str
) -> None:
    assert classifier.classify(example_texts[name]).urgency in (Urgency.LOW, Urgency.NORMAL)


def test_explicit_cues_raise_urgency(classifier: Classifier) -> None:
    text = "Dear customer, this is the FINAL NOTICE before legal action regarding invoice 12."
    assert classifier.classify(text).urgency is Urgency.CRITICAL


def test_load_uses_the_cache_and_rebuilds_a_broken_one(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    docs = load_corpus()[:150]
    corpus.write_text(
        "".join(
            json.dumps({"text": d.text, "doc_type": d.doc_type, "urgency": d.urgency}) + "\n"
            for d in docs
        ),
        encoding="utf-8",
    )
    cache = tmp_path / "cache"
    first = Classifier.load(cache, corpus)
    (cached,) = cache.glob("classifier-*.pkl")
    stamp = cached.stat().st_mtime_ns
    second = Classifier.load(cache, corpus)
    assert cached.stat().st_mtime_ns == stamp
    assert second.model_name == first.model_name
    cached.write_bytes(b"not a pickle")
    third = Classifier.load(cache, corpus)
    assert (
        third.classify("Invoice total 12 EUR").doc_type
        == first.classify("Invoice total 12 EUR").doc_type
    )
    assert isinstance(pickle.loads(cached.read_bytes()), Classifier)
    # A changed corpus is a new model under a new key.
    corpus.write_text(corpus.read_text("utf-8") + corpus.read_text("utf-8"), encoding="utf-8")
    Classifier.load(cache, corpus)
    assert len(list(cache.glob("classifier-*.pkl"))) == 2


SAMPLED_SOURCES = 12
"""One real source in this many is fitted again by the reproducibility test (and one of
each type's): the evaluation's 148 fits took 285-464 s here, 27% of `make test`. The
sources are drawn anew each run (a run's seed is in its failure message; set
CASEYARD_SAMPLE_SEED to draw the same again), so that runs check all of the committed
answers over time, not a fixed twelfth of them; right answers pass with any draw."""


def test_training_is_reproducible_and_matches_the_committed_metrics(tmp_path: Path) -> None:
    committed = json.loads(CLASSIFIER_METRICS.read_text("utf-8"))
    real = load_real()
    answers = read_answers(CLASSIFIER_HELD_OUT, real)
    # The committed held-out answers are the evaluation's: a sample of the sources, of every
    # type, is fitted again as the evaluation fits it, and answers exactly the same.
    seed = int(os.environ.get("CASEYARD_SAMPLE_SEED") or random.SystemRandom().randrange(2**32))
    draw = random.Random(seed)
    sources = sorted({d.source for d in real})
    sample = set(draw.sample(sources, len(sources) // SAMPLED_SOURCES))
    for doc_type in DocType:
        of_type = sorted({d.source for d in real if d.doc_type is doc_type})
        if of_type and not sample & set(of_type):
            sample.add(draw.choice(of_type))
    again = held_out_answers(load_corpus(), real, committed["seed"], sources=sample)
    expected = [a for d, a in zip(real, answers, strict=True) if d.source in sample]
    assert again == expected, f"sources {sorted(sample)} (CASEYARD_SAMPLE_SEED={seed})"
    # The metrics, the calibration and the answers file follow from the answers.
    calibration = tmp_path / "calibration.json"
    written = tmp_path / "held_out.jsonl"
    trained, metrics = train(
        CLASSIFIER_CORPUS,
        committed["seed"],
        real=real,
        calibration_path=calibration,
        answers_path=written,
        answers=answers,
    )
    assert json.loads(metrics.to_json()) == committed
    assert written.read_text("utf-8") == CLASSIFIER_HELD_OUT.read_text("utf-8")
    # The shipped calibration is the one this training fits, and the classifier carries it.
    assert calibration.read_text("utf-8") == CLASSIFIER_CALIBRATION.read_text("utf-8")
    assert trained.confidence == Confidence.load(CLASSIFIER_CALIBRATION) != Confidence()
    assert metrics.synthetic_macro_f1 >= 0.9
    held = metrics.held_out_by_source
    assert held is not None
    assert held["documents"] == len(real)
    assert held["sources"] == len({d.source for d in real})


def test_same_seed_same_metrics_other_seed_other_split() -> None:
    docs = load_corpus()[:200]
    _, a = train(docs, seed=7)
    _, b = train(docs, seed=7)
    _, c = train(docs, seed=8)
    assert a == b
    assert a.to_json() != c.to_json()


def test_bad_corpus_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        load_corpus(tmp_path / "missing.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "x", "doc_type": "poem", "urgency": "low"}\n', encoding="utf-8")
    with pytest.raises(ModelError, match=":1:"):
        load_corpus(broken)
    tiny = [LabeledDocument("an invoice", DocType.INVOICE, Urgency.LOW)]
    with pytest.raises(ModelError, match="split"):
        train(tiny)


def test_model_name_constant_is_versioned() -> None:
    assert re.fullmatch(r"[a-z0-9-]+-v\d+", classifier_module.MODEL_NAME)


def test_a_sources_real_documents_of_a_type_weigh_a_fixed_amount_together() -> None:
    """Many documents from one source must not outweigh a few from another: each real
    (source, type) group weighs SOURCE_TYPE_WEIGHT in all; a generated document weighs
    SYNTHETIC_WEIGHT, a reviewer's feedback 1."""
    docs = [
        *(LabeledDocument(f"c{i}", DocType.COMPLAINT, None, "big-db") for i in range(12)),
        LabeledDocument("f", DocType.FRAUD_REPORT, None, "big-db"),
        *(LabeledDocument(f"i{i}", DocType.INSURANCE_CLAIM, None, "small") for i in range(2)),
        LabeledDocument("s", DocType.INVOICE, Urgency.LOW),
        LabeledDocument("r", DocType.RECEIPT, None, "feedback"),
    ]
    weights = classifier_module._weights(docs)
    total = classifier_module.SOURCE_TYPE_WEIGHT
    assert weights[:12].sum() == pytest.approx(total)
    assert weights[12] == pytest.approx(total)
    assert weights[13:15].tolist() == pytest.approx([total / 2, total / 2])
    assert weights[15:].tolist() == [classifier_module.SYNTHETIC_WEIGHT, 1.0]


def test_a_folds_counted_features_give_the_models_own_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The held-out evaluation counts every text's terms once (`_Counts`) and keeps, per
    fold, what the served pipeline's vectorizers would learn from the fold alone: the
    same answers, to the last digits."""
    from agents.models.evaluation import RealDocument

    # Fewer character n-grams than these texts have, so the most frequent are chosen.
    (words, characters) = classifier_module._FEATURES
    monkeypatch.setattr(
        classifier_module, "_FEATURES", (words, (characters[0], characters[1], 2000))
    )

    generated = load_corpus()[:150]
    real = [
        RealDocument(f"s{i % 3}/{i}", f"s{i % 3}", d.doc_type, "en", d.text)
        for i, d in enumerate(load_corpus()[150:210])
    ]
    held = [d for d in real if d.source == "s0"]
    rest = [d for d in real if d.source != "s0"]
    fit = classifier_module._FitWith(tuple(generated), (), tuple(d.text for d in real), 7)
    counted = fit(rest)([d.text for d in held])
    docs = [*generated, *(LabeledDocument(d.text, d.doc_type, None, d.source) for d in rest)]
    served = classifier_module._fit_doc_types(docs, 7)
    plain = classifier_module._predict(served, [d.text for d in held])
    assert [t for t, _ in counted] == [t for t, _ in plain]
    assert [p for _, p in counted] == pytest.approx([p for _, p in plain], abs=1e-9)
    # A text the counts were not made for is refused, not silently read as empty.
    with pytest.raises(ModelError, match="counts were not made for"):
        fit(rest)(["a text no fold has seen"])


def test_a_confidence_map_is_learned_from_right_and_wrong_answers() -> None:
    # Nothing to tell apart: the probabilities stay as they are.
    assert Confidence.fit([(0.7, True)] * 5) == Confidence()
    assert Confidence()(0.42) == 0.42
    # A model whose answers at 0.6 are right 9 times in 10 and at 0.3 once in 3 is
    # underconfident at the top: the map says more there, and keeps the order.
    answers = [(0.6, True)] * 9 + [(0.6, False)] + [(0.3, True)] * 2 + [(0.3, False)] * 4
    learned = Confidence.fit(answers)
    assert learned.slope > 0
    assert learned(0.6) > 0.75
    assert learned(0.3) < learned(0.45) < learned(0.6) < learned(0.9)


def test_a_confidence_map_is_written_read_and_refused_when_broken(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    assert Confidence.load(path) == Confidence()  # none written: the identity
    path.write_text(Confidence(1.25, 0.5).to_json(), encoding="utf-8")
    assert Confidence.load(path) == Confidence(1.25, 0.5)
    for broken, message in (
        ("not json", "not a classifier calibration"),
        ('{"slope": 1.0}', "not a classifier calibration"),
        ('{"slope": -1.0, "intercept": 0.0}', "slope must be positive"),
        ('{"slope": NaN, "intercept": 0.0}', "slope must be positive"),
    ):
        path.write_text(broken, encoding="utf-8")
        with pytest.raises(ModelError, match=message):
            Confidence.load(path)


def test_labels_and_confidence_are_read_through_the_map(
    classifier: Classifier, example_texts: dict[str, str]
) -> None:
    text = example_texts["invoice_brightwater_0457.txt"]
    raw = classifier.with_confidence(Confidence()).classify(text)
    surer = classifier.with_confidence(Confidence(1.0, 2.0)).classify(text)
    assert surer.doc_type == raw.doc_type
    assert [label.label for label in surer.labels] == [label.label for label in raw.labels]
    assert surer.confidence > raw.confidence
    assert surer.labels[0].score == surer.confidence
    assert surer.labels[1].score > raw.labels[1].score


def test_the_held_out_calibration_of_a_source_is_learned_from_the_others() -> None:
    def doc(source: str, n: int, doc_type: DocType) -> RealDocument:
        return RealDocument(f"{source}/{n}", source, doc_type, "en", f"text {source} {n}")

    real = [doc(s, n, DocType.INVOICE) for s in ("a", "b", "c") for n in range(6)]
    answers = [
        (DocType.INVOICE if n % 3 else DocType.RECEIPT, 0.4 + 0.05 * n + 0.01 * i)
        for i, s in enumerate(("a", "b", "c"))
        for n in range(6)
    ]
    calibrated = classifier_module._cross_fitted(real, answers)
    for source in ("a", "b", "c"):
        others = [(d, a) for d, a in zip(real, answers, strict=True) if d.source != source]
        learned = Confidence.fit((p, t == d.doc_type) for d, (t, p) in others)
        expected = [
            (t, learned(p)) for d, (t, p) in zip(real, answers, strict=True) if d.source == source
        ]
        assert [a for d, a in zip(real, calibrated, strict=True) if d.source == source] == expected
