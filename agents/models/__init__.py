"""The agents' offline models: pure functions from a document's text to typed outputs.

Each model reports the name to put in ``ModelUsage.model``:

- `Classifier` (TF-IDF + linear SVM): document type and urgency -> ``ClassifyOutput``.
- `extract` / `Extractor` (rules + python-stdnum + phonenumbers) -> ``ExtractOutput``.
- `Scorer` (calibrated logistic regression over counterparty history) -> ``ScoreOutput``,
  with the history in a `SqliteHistory` (or any `CounterpartyHistory`).
- `Responder` (Jinja2 templates + redaction) -> ``RespondOutput``, delivered through a
  `FileOutbox` or `SmtpOutbox`, with ``retract`` as the compensation.

Training data lives in ``data/``; `agents.models.training` retrains and writes metrics.
"""

from agents.models.classifier import Classifier, ClassifierMetrics
from agents.models.extractor import Extractor, extract, field_value, fields_named
from agents.models.history import CounterpartyHistory, HistorySnapshot, MemoryHistory, SqliteHistory
from agents.models.outbox import Delivery, FileOutbox, Outbox, SmtpOutbox
from agents.models.responder import Responder
from agents.models.scorer import Bands, Observation, Scorer, ScorerMetrics

__all__ = [
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
