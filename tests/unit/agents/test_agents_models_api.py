"""The public names of `agents.models` are pinned: removing one breaks the agent services."""

from __future__ import annotations

import agents.models
from agents.models import classifier, extractor, responder, scorer


def test_public_names() -> None:
    assert agents.models.__all__ == [
        "Bands",
        "Classifier",
        "ClassifierMetrics",
        "CounterpartyHistory",
        "Delivery",
        "Extractor",
        "FileOutbox",
        "HistorySnapshot",
        "MemoryHistory",
        "Observation",
        "Outbox",
        "Responder",
        "Scorer",
        "ScorerMetrics",
        "SmtpOutbox",
        "SqliteHistory",
        "extract",
        "field_value",
        "fields_named",
    ]
    for name in agents.models.__all__:
        assert getattr(agents.models, name) is not None


def test_every_model_reports_a_versioned_name() -> None:
    names = [classifier.MODEL_NAME, extractor.MODEL_NAME, scorer.MODEL_NAME, responder.MODEL_NAME]
    assert names == [
        "doctype-tfidf-svm-v6",
        "extract-rules-v8",
        "risk-gbm-calibrated-v1",
        "respond-templates-v1",
    ]
    assert agents.models.Extractor.model_name == extractor.MODEL_NAME
    assert agents.models.Responder.model_name == responder.MODEL_NAME
