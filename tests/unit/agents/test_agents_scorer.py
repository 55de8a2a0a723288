"""Scorer: suspicious samples score high, history matters, recording is idempotent."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.errors import ModelError, StateError
from agents.models import (
    Classifier,
    MemoryHistory,
    Observation,
    Scorer,
    SqliteHistory,
    extract,
)
from agents.models._data import SCORER_EVENTS, SCORER_METRICS
from agents.models.history import Payment, counterparty_key
from agents.models.scorer import Bands, load_events, replay, train
from schemas.payloads import DocType, RiskBand, ScoreOutput, Urgency

KNOWN_IBAN = "DE44500105175407324931"
NEW_IBAN = "LT737300010012345678"


def _score_samples(
    classifier: Classifier,
    scorer: Scorer,
    expected: dict[str, Any],
    texts: dict[str, str],
    history: MemoryHistory | SqliteHistory,
) -> dict[str, ScoreOutput]:
    results = {}
    for name in expected["scorer_sequence"]:
        text = texts[name]
        obs = Observation.from_outputs(name, classifier.classify(text), extract(text), text)
        results[name] = scorer.score(obs, history)
    return results


def test_suspicious_samples_score_high_and_normal_ones_low(
    classifier: Classifier,
    scorer: Scorer,
    expected: dict[str, Any],
    example_texts: dict[str, str],
    tmp_path: Path,
) -> None:
    with SqliteHistory(tmp_path / "history.db") as history:
        results = _score_samples(classifier, scorer, expected, example_texts, history)
    risky = {n for n, e in expected["documents"].items() if e.get("risk") == "high"}
    normal = {n for n, e in expected["documents"].items() if e.get("risk") == "low"}
    assert len(risky) >= 3
    assert len(normal) >= 3
    for name in risky:
        assert results[name].band is RiskBand.HIGH, (name, results[name])
        assert results[name].reasons, name
    for name in normal:
        assert results[name].band is not RiskBand.HIGH, (name, results[name])
    # The supplier the history knows, paying to the account it knows, is plainly low risk.
    assert results["payment_brightwater_statement_request.eml"].band is RiskBand.LOW
    assert min(results[n].score for n in risky) > max(results[n].score for n in normal)


def test_redirection_attempt_is_explained(
    classifier: Classifier,
    scorer: Scorer,
    expected: dict[str, Any],
    example_texts: dict[str, str],
) -> None:
    results = _score_samples(classifier, scorer, expected, example_texts, MemoryHistory())
    reasons = " | ".join(results["payment_nordwind_new_bank_details.eml"].reasons)
    assert "nordwind-logistlk.de imitates nordwind-logistik.de" in reasons
    assert "never used by Nordwind Logistik GmbH" in reasons


def _invoice(n: int, **changes: Any) -> Observation:
    base = Observation(
        observation_id=f"inv-{n}",
        counterparty="Nordwind Logistik GmbH",
        doc_type=DocType.INVOICE,
        urgency=Urgency.NORMAL,
        amount=4000.0 + 150 * (n % 4),
        currency="EUR",
        iban=KNOWN_IBAN,
        sender_email="buchhaltung@nordwind-logistik.de",
        text="Anbei unsere Rechnung für die Transporte im letzten Monat.",
        has_invoice_number=True,
    )
    return replace(base, **changes)


def _history_with(scorer: Scorer, count: int) -> MemoryHistory:
    history = MemoryHistory()
    for n in range(count):
        scorer.score(_invoice(n), history)
    return history


def test_new_bank_account_for_a_known_payee_raises_the_score(scorer: Scorer) -> None:
    history = _history_with(scorer, 5)
    snapshot = history.snapshot("Nordwind Logistik GmbH")
    # assess() records nothing, so each variant meets the same history.
    usual = scorer.assess(_invoice(10), snapshot)
    new_account = scorer.assess(_invoice(10, iban=NEW_IBAN), snapshot)
    lookalike = scorer.assess(
        _invoice(10, iban=NEW_IBAN, sender_email="buchhaltung@nordwind-logistlk.de"), snapshot
    )
    assert usual.band is RiskBand.LOW
    assert new_account.band is RiskBand.MEDIUM
    assert new_account.score > usual.score * 3
    assert lookalike.score > new_account.score
    assert any("never used by Nordwind Logistik GmbH" in r for r in new_account.reasons)
    assert any("imitates nordwind-logistik.de" in r for r in lookalike.reasons)


def test_the_same_document_without_history_is_not_judged_by_it(scorer: Scorer) -> None:
    # Without history a new account is not "new for this payee": the history is what makes it
    # suspicious, so the same observation scores lower against an empty history.
    with_history = scorer.score(_invoice(20, iban=NEW_IBAN), _history_with(scorer, 5))
    without = scorer.score(_invoice(20, iban=NEW_IBAN), MemoryHistory())
    assert with_history.score > without.score


def test_amount_far_above_the_history_raises_the_score(scorer: Scorer) -> None:
    snapshot = _history_with(scorer, 6).snapshot("Nordwind Logistik GmbH")
    usual = scorer.assess(_invoice(30), snapshot)
    inflated = scorer.assess(_invoice(30, amount=48000.0), snapshot)
    assert inflated.score > usual.score
    assert any("x the usual" in r for r in inflated.reasons)


def test_pressure_language_raises_the_score(scorer: Scorer) -> None:
    calm = scorer.score(_invoice(40, counterparty="Fresh Supplier Ltd"), MemoryHistory())
    pushy = scorer.score(
        _invoice(
            41,
            counterparty="Fresh Supplier Ltd",
            doc_type=DocType.PAYMENT_REQUEST,
            sender_email="fresh.supplier@gmail.com",
            text="URGENT: pay today. Keep this confidential and do not call the office.",
            has_invoice_number=False,
        ),
        MemoryHistory(),
    )
    assert pushy.band is RiskBand.HIGH
    assert calm.score < pushy.score


def test_scoring_is_idempotent_per_observation(scorer: Scorer, tmp_path: Path) -> None:
    with SqliteHistory(tmp_path / "h.db") as history:
        for n in range(4):
            scorer.score(_invoice(n), history)
        obs = _invoice(99, amount=4100.0)
        first = scorer.score(obs, history)
        again = scorer.score(obs, history)
        assert first == again
        assert history.snapshot("Nordwind Logistik GmbH").observations == 5


def test_high_risk_accounts_do_not_become_known(scorer: Scorer) -> None:
    history = _history_with(scorer, 5)
    fraud = _invoice(
        50,
        iban=NEW_IBAN,
        sender_email="h.albers@nordwind-logistlk.de",
        doc_type=DocType.PAYMENT_REQUEST,
        text="Our bank details have changed. Pay today, urgent. Keep this confidential.",
    )
    assert scorer.score(fraud, history).band is RiskBand.HIGH
    assert NEW_IBAN not in history.snapshot("Nordwind Logistik GmbH").ibans
    # A second attempt with the same account is still suspicious.
    assert scorer.score(replace(fraud, observation_id="51"), history).band is RiskBand.HIGH


def test_documents_without_a_counterparty_have_no_history(scorer: Scorer) -> None:
    history = MemoryHistory()
    obs = _invoice(60, counterparty=None)
    assert obs.payment() is None
    scorer.score(obs, history)
    assert history.snapshot("Nordwind Logistik GmbH").observations == 0


def test_sqlite_history_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state" / "history.db"
    with SqliteHistory(path) as history:
        history.record(
            Payment("a", "Nordwind Logistik GmbH", 10.0, "EUR", KNOWN_IBAN, "n.de"), trusted=True
        )
        history.record(
            Payment("a", "Nordwind Logistik GmbH", 99.0, "EUR", NEW_IBAN, "x.de"), trusted=True
        )
        history.record(
            Payment("b", "NORDWIND LOGISTIK", 20.0, "EUR", NEW_IBAN, "x.de"), trusted=False
        )
    with SqliteHistory(path) as reopened:
        snap = reopened.snapshot("Nordwind-Logistik GmbH.")
        assert snap.observations == 1
        assert snap.amounts == ((10.0, "EUR"),)
        assert snap.ibans == frozenset({KNOWN_IBAN})
        assert reopened.snapshot("nordwind logistik", exclude="a").observations == 0
        assert reopened.counterparties() == ["nordwind logistik"]


def test_counterparty_key_folds_spelling_variants() -> None:
    assert counterparty_key("Nordwind Logistik GmbH") == "nordwind logistik"
    assert counterparty_key("NORDWIND-LOGISTIK GMBH.") == "nordwind logistik"
    assert counterparty_key("Atelier Lumière SARL") == "atelier lumiere"
    assert counterparty_key("Eventos Mirador S.L.") == "eventos mirador"


def test_unusable_history_path_is_a_retryable_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(StateError) as caught:
        SqliteHistory(blocker / "history.db")
    assert caught.value.retryable is True


def test_bands() -> None:
    bands = Bands()
    assert bands.band(0.0) is RiskBand.LOW
    assert bands.band(0.05) is RiskBand.MEDIUM
    assert bands.band(0.5) is RiskBand.HIGH
    assert Bands(medium=0.3, high=0.9).band(0.5) is RiskBand.MEDIUM


def test_training_is_reproducible_and_matches_the_committed_metrics() -> None:
    committed = json.loads(SCORER_METRICS.read_text("utf-8"))
    _, metrics = train(SCORER_EVENTS, committed["seed"])
    assert json.loads(metrics.to_json()) == committed
    _, again = train(SCORER_EVENTS, committed["seed"])
    assert again == metrics
    assert metrics.auc >= 0.9
    assert metrics.brier <= 0.05


def test_bad_events_are_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        load_events(tmp_path / "missing.jsonl")
    broken = tmp_path / "events.jsonl"
    broken.write_text('{"event_id": "e1"}\n', encoding="utf-8")
    with pytest.raises(ModelError, match=":1:"):
        load_events(broken)


def test_model_name(scorer: Scorer) -> None:
    assert scorer.model_name.startswith("risk-gbm-calibrated-v1+")


def test_the_counterparty_is_the_payee_else_the_issuer_before_the_letterhead() -> None:
    from schemas.payloads import ClassifyOutput, ExtractedField, ExtractOutput, FieldType

    def observed(*fields: tuple[str, str]) -> str | None:
        extraction = ExtractOutput(
            fields=tuple(
                ExtractedField(name=n, value=v, type=FieldType.NAME, confidence=0.9)
                for n, v in fields
            )
        )
        classification = ClassifyOutput(doc_type=DocType.INVOICE, confidence=0.9)
        return Observation.from_outputs("o", classification, extraction).counterparty

    assert observed(("organization", "Bank AG"), ("issuer", "Nordwind GmbH")) == "Nordwind GmbH"
    assert observed(("issuer", "Nordwind GmbH"), ("payee_name", "N. Logistik")) == "N. Logistik"
    assert observed(("organization", "Bank AG")) == "Bank AG"


def test_the_scores_are_scikit_learns_own_and_a_cached_scorer_reads_back(scorer: Scorer) -> None:
    """The scorer walks the model's trees itself (scikit-learn's one call a tree, each
    releasing the GIL, took 18 ms a document, 330 ms beside a busy thread): the
    probabilities are the model's `predict_proba`, float for float, on the training
    features and on arbitrary ones (missing values, extremes); a scorer pickled before it
    kept its trees as tuples (the model cache's older files) scores the same."""
    x, _ = replay(load_events(SCORER_EVENTS))
    rng = np.random.default_rng(7)
    wild = rng.choice([0.0, 0.5, 1.0, 3.0, 1e9, -1.0, np.nan], size=(500, x.shape[1]))
    for features_ in (x, wild):
        expected = scorer._model.predict_proba(features_)[:, 1]
        assert np.array_equal(scorer._probability(features_), expected)
    for width in (x.shape[1] - 1, x.shape[1] + 1):  # a model trained on other features
        with pytest.raises(ValueError, match="features"):
            scorer._probability(np.zeros((1, width)))
    kept = pickle.dumps(scorer)  # as the model cache keeps it: the model, not the tuples
    assert "_probability" not in scorer.__getstate__()
    again = pickle.loads(kept)
    assert np.array_equal(again._probability(x[:50]), scorer._probability(x[:50]))
