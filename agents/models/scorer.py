"""Payment-risk scorer: calibrated monotone gradient boosting over counterparty history.

Features compare a document with the counterparty's history (amount outlier, a bank
account never used by a known payee, a sender domain that imitates the known one) and
read the document itself (pressure, secrecy and account-change language, document type,
urgency, a round amount, a missing invoice number, a free-mail sender).

The model is a shallow `HistGradientBoostingClassifier` with monotonic constraints (a red
flag can only raise the score, which a linear model with correlated flags cannot promise),
calibrated by `CalibratedClassifierCV` (sigmoid, 5 folds) so the score is a probability;
scoring walks its trees in plain Python (`_Trees`: the same probabilities, without
scikit-learn's GIL hand-off at each of its 750 trees).
A feature's contribution is how much the log-odds drop when it is switched off; the top
reasons are the present features with the largest contributions. The model trains from
``data/scorer/events.jsonl`` by replaying the events in time order through a fresh
history, exactly as the live scorer sees them, in about a second.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import stdnum.iban
from numpy.typing import NDArray
from sklearn.calibration import CalibratedClassifierCV  # type: ignore[import-untyped]
from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]
from sklearn.metrics import (  # type: ignore[import-untyped]
    average_precision_score,
    brier_score_loss,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

from agents.errors import ModelError
from agents.models import _data
from agents.models._cache import cache_key, file_digest, load_or_build
from agents.models._lexicon import pressure_counts
from agents.models._threads import single_threaded
from agents.models.extractor import field_value, fields_named
from agents.models.history import (
    CounterpartyHistory,
    HistorySnapshot,
    MemoryHistory,
    Payment,
    counterparty_key,
)
from schemas.payloads import (
    ClassifyOutput,
    DocType,
    ExtractOutput,
    RiskBand,
    ScoreOutput,
    Urgency,
)

__all__ = [
    "DEFAULT_BANDS",
    "FEATURES",
    "MODEL_NAME",
    "Bands",
    "Observation",
    "Scorer",
    "ScorerMetrics",
    "features",
    "train",
]

MODEL_NAME = "risk-gbm-calibrated-v1"
"""Reported in `ModelUsage.model`."""
DEFAULT_SEED = 20260312
TEST_SIZE = 0.25
MAX_REASONS = 4
MIN_REASON_LOGIT = 0.1
"""A feature is a reason when switching it off lowers the log-odds by more than this."""
FREE_MAIL = frozenset(
    "gmail.com googlemail.com outlook.com hotmail.com live.com yahoo.com gmx.de gmx.net web.de "
    "protonmail.com proton.me icloud.com aol.com mail.com yandex.com t-online.de orange.fr "
    "free.fr laposte.net".split()
)


@dataclass(frozen=True)
class Bands:
    """Score thresholds: ``score >= high`` is HIGH, ``score >= medium`` is MEDIUM.

    MEDIUM starts near the base rate of fraud in the training data (about 5%): a document
    likelier to be fraud than an average one gets a second look. On the held-out split
    that flags about 5% of legitimate documents as MEDIUM or HIGH and 89% of frauds;
    HIGH (0.5) flags 0.3% of legitimate documents and 80% of frauds.
    """

    medium: float = 0.05
    high: float = 0.5

    def band(self, score: float) -> RiskBand:
        """The band of ``score``."""
        if score >= self.high:
            return RiskBand.HIGH
        if score >= self.medium:
            return RiskBand.MEDIUM
        return RiskBand.LOW


DEFAULT_BANDS = Bands()


@dataclass(frozen=True)
class Observation:
    """What the scorer looks at in one document, however it was extracted."""

    observation_id: str
    counterparty: str | None
    doc_type: DocType
    urgency: Urgency = Urgency.NORMAL
    amount: float | None = None
    currency: str | None = None
    iban: str | None = None
    sender_email: str | None = None
    text: str = ""
    has_invoice_number: bool = False

    @property
    def domain(self) -> str | None:
        """The sender's e-mail domain, lower-cased."""
        if not self.sender_email or "@" not in self.sender_email:
            return None
        return self.sender_email.rsplit("@", 1)[1].lower()

    def payment(self) -> Payment | None:
        """What recording this observation adds to the history (None without counterparty)."""
        if not self.counterparty or not counterparty_key(self.counterparty):
            return None
        return Payment(
            self.observation_id,
            self.counterparty,
            self.amount,
            self.currency,
            self.iban,
            self.domain,
        )

    @classmethod
    def from_outputs(
        cls,
        observation_id: str,
        classification: ClassifyOutput,
        extraction: ExtractOutput,
        text: str = "",
    ) -> Observation:
        """Build an observation from the classifier's and the extractor's outputs.

        The counterparty is the named payee, else the issuer (who the document asks to be
        paid), the account holder, the first organisation (the letterhead), the sender or
        a named person, else the sender's e-mail domain; None when it names nobody.
        """
        sender_email = field_value(extraction, "sender_email", "email")
        counterparty = field_value(
            extraction,
            "payee_name",
            "issuer",
            "account_holder",
            "organization",
            "sender_name",
            "person",
        ) or (sender_email.rsplit("@", 1)[-1] if sender_email else None)
        amount, currency = None, None
        money = field_value(extraction, "total_amount", "amount")
        if money:
            number, _, code = money.partition(" ")
            amount, currency = abs(float(number)), code or None
        return cls(
            observation_id=observation_id,
            counterparty=counterparty,
            doc_type=classification.doc_type,
            urgency=classification.urgency,
            amount=amount,
            currency=currency,
            iban=field_value(extraction, "iban"),
            sender_email=sender_email,
            text=text,
            has_invoice_number=bool(fields_named(extraction, "invoice_number")),
        )


FEATURES: tuple[str, ...] = (
    "new_counterparty",
    "history_depth",
    "amount_outlier",
    "amount_above_max",
    "new_bank_account",
    "bank_country_change",
    "lookalike_domain",
    "unknown_domain",
    "free_mail_sender",
    "account_change_language",
    "urgency_language",
    "secrecy_language",
    "authority_language",
    "payment_request",
    "high_urgency",
    "round_amount",
    "missing_invoice_number",
)
"""Feature names, in vector order."""


def features(obs: Observation, history: HistorySnapshot) -> NDArray[np.float64]:
    """The feature vector of ``obs`` given the counterparty's ``history``."""
    known = history.observations
    amounts = history.amounts_in(obs.currency)
    amount = obs.amount or 0.0
    outlier, above_max = 0.0, 0.0
    if amount > 0 and len(amounts) >= 2:
        logs = [math.log(a) for a in amounts if a > 0]
        median = statistics.median(logs)
        spread = max(statistics.median(abs(x - median) for x in logs) * 1.4826, 0.25)
        outlier = min(max((math.log(amount) - median) / spread, 0.0), 6.0)
    if amount > 0 and amounts:
        above_max = min(max(math.log(amount / max(amounts)), 0.0), 3.0)
    new_account = bool(known and history.ibans and obs.iban and obs.iban not in history.ibans)
    country_change = new_account and _iban_country(obs.iban) not in {
        _iban_country(i) for i in history.ibans
    }
    domain = obs.domain
    lookalike = bool(
        domain
        and history.domains
        and domain not in history.domains
        and any(_similar(domain, d) for d in history.domains)
    )
    unknown_domain = bool(domain and known and history.domains and domain not in history.domains)
    cues = pressure_counts(obs.text)
    values = {
        "new_counterparty": float(known == 0),
        "history_depth": math.log1p(known),
        "amount_outlier": outlier,
        "amount_above_max": above_max,
        "new_bank_account": float(new_account),
        "bank_country_change": float(country_change),
        "lookalike_domain": float(lookalike),
        "unknown_domain": float(unknown_domain and not lookalike),
        "free_mail_sender": float(domain in FREE_MAIL),
        "account_change_language": float(min(cues["account_change"], 2)),
        "urgency_language": float(min(cues["urgency"], 2)),
        "secrecy_language": float(min(cues["secrecy"], 2)),
        "authority_language": float(min(cues["authority"], 2)),
        "payment_request": float(obs.doc_type is DocType.PAYMENT_REQUEST),
        "high_urgency": float(obs.urgency in (Urgency.HIGH, Urgency.CRITICAL)),
        "round_amount": float(amount >= 1000 and amount % 500 == 0),
        "missing_invoice_number": float(
            obs.doc_type in (DocType.INVOICE, DocType.PAYMENT_REQUEST)
            and not obs.has_invoice_number
        ),
    }
    return np.array([values[name] for name in FEATURES], dtype=np.float64)


def _iban_country(iban: str | None) -> str:
    return stdnum.iban.compact(iban)[:2] if iban else ""


def _similar(a: str, b: str) -> bool:
    """Whether domain ``a`` looks like ``b`` (edit distance <= 2, or one extends the other)."""
    name_a, name_b = a.split(".", 1)[0], b.split(".", 1)[0]
    if name_a == name_b:
        return True  # same name, other top-level domain: the classic lookalike
    if name_a.startswith(name_b) or name_b.startswith(name_a):
        return min(len(name_a), len(name_b)) >= 4
    return _edit_distance(name_a, name_b) <= 2


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class ScorerMetrics:
    """Held-out quality of a training run (``data/scorer/metrics.json``)."""

    model: str
    seed: int
    events_sha256: str
    n_train: int
    n_test: int
    positive_rate: float
    auc: float
    brier: float
    average_precision: float
    high_band_precision: float
    high_band_recall: float
    bands: dict[str, float]

    def to_json(self) -> str:
        """Stable JSON so reruns produce identical files."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


_NODE_FIELDS = ("is_leaf", "feature_idx", "num_threshold", "missing_go_to_left", "left", "right")


class _Trees:
    """The trees of a fitted binary `HistGradientBoostingClassifier` as tuples, walked in
    plain Python: its `decision_function`, the same floats.

    scikit-learn predicts one tree at a time, a call each that releases the GIL and takes
    it back (750 trees for the calibrated model's 5 x 150): 18 ms a document here, and
    330 ms when another thread of the process is busy, as an agent's event loop is under
    load (the GIL's 5 ms switch interval, paid again and again). numpy walking every tree
    a level at a time releases it too (110 ms then). These trees are 3 levels deep:
    walked here a document takes 0.7 ms, 5 ms beside a busy thread. Each leaf's value is
    added in the trees' order, one addition after another, as scikit-learn adds them."""

    def __init__(self, model: HistGradientBoostingClassifier) -> None:
        self.baseline = float(model._baseline_prediction.ravel()[0])
        self.trees: list[tuple[tuple[Any, ...], ...]] = []
        # Binary: one tree an iteration (the unpacking refuses more).
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise ValueError("categorical splits are not walked here")
            columns = [nodes[name].tolist() for name in _NODE_FIELDS]
            self.trees.append(tuple(zip(*columns, nodes["value"].tolist(), strict=True)))

    def decision(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = []
        for row in x.tolist():
            raw = self.baseline
            for tree in self.trees:
                node = tree[0]
                while not node[0]:  # is_leaf, feature, threshold, nan goes left, left, right
                    seen = row[node[1]]
                    left = node[3] if seen != seen else seen <= node[2]
                    node = tree[node[4] if left else node[5]]
                raw += node[6]  # the leaf's value
            out.append(raw)
        return np.array(out, dtype=np.float64)


class _Probability:
    """`CalibratedClassifierCV.predict_proba(x)[:, 1]` of a binary sigmoid-calibrated
    model of gradient-boosted trees, with its trees walked by `_Trees` (the same
    floats: the calibrators are the model's own, averaged as it averages them)."""

    def __init__(self, model: CalibratedClassifierCV) -> None:
        self.features = int(model.n_features_in_)
        self.parts = []
        for part in model.calibrated_classifiers_:
            (calibrator,) = part.calibrators  # binary: one
            self.parts.append((_Trees(part.estimator), calibrator))

    def __call__(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        if x.ndim != 2 or x.shape[1] != self.features:
            # As scikit-learn refuses them: a model trained on other features.
            raise ValueError(f"X has shape {x.shape}, the model expects {self.features} features")
        total = np.zeros(len(x))
        for trees, calibrator in self.parts:
            p = calibrator.predict(trees.decision(x))
            p[(1.0 < p) & (p <= 1.0 + 1e-5)] = 1.0
            total += p
        return total / len(self.parts)


class Scorer:
    """Scores documents for payment risk against a counterparty history."""

    def __init__(self, model: CalibratedClassifierCV, version: str, bands: Bands) -> None:
        self._model = model
        self._version = version
        self.bands = bands
        self._probability = _Probability(model)

    def __getstate__(self) -> dict[str, Any]:
        # The model cache keeps the model; the trees' tuples are made again when it is
        # read (a scorer cached before they existed has none).
        return {k: v for k, v in self.__dict__.items() if k != "_probability"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._probability = _Probability(self._model)

    @property
    def model_name(self) -> str:
        """Model identity for `ModelUsage.model`."""
        return f"{MODEL_NAME}+{self._version}"

    @classmethod
    def fit(
        cls,
        x: NDArray[np.float64],
        y: NDArray[np.int64],
        seed: int = DEFAULT_SEED,
        version: str = "custom",
        bands: Bands = DEFAULT_BANDS,
    ) -> Scorer:
        """Train on a feature matrix and labels (1 = fraud)."""
        model = CalibratedClassifierCV(_base_model(seed), method="sigmoid", cv=5)
        with single_threaded():
            model.fit(x, y)
        return cls(model, version, bands)

    @classmethod
    def load(
        cls,
        cache_dir: Path,
        events: Path = _data.SCORER_EVENTS,
        seed: int = DEFAULT_SEED,
        bands: Bands = DEFAULT_BANDS,
    ) -> Scorer:
        """Return the scorer trained on ``events``, from the cache when it is current.

        Raises:
            ModelError: If the events cannot be read or the cache cannot be written.
        """
        digest = file_digest(events)
        key = cache_key(MODEL_NAME, digest, seed)

        def build() -> Scorer:
            x, y = replay(load_events(events))
            return cls.fit(x, y, seed, digest[:12], bands)

        scorer = load_or_build(cache_dir, "scorer", key, Scorer, build)
        scorer.bands = bands
        return scorer

    def assess(self, obs: Observation, history: HistorySnapshot) -> ScoreOutput:
        """Score ``obs`` against a history snapshot (pure: nothing is recorded)."""
        x = features(obs, history)
        score = float(self._probability(x.reshape(1, -1))[0])
        return ScoreOutput(
            score=round(score, 4),
            band=self.bands.band(score),
            reasons=tuple(_describe(name, obs, history) for name in self._top_features(x)),
        )

    def score(self, obs: Observation, history: CounterpartyHistory) -> ScoreOutput:
        """Score ``obs`` against the counterparty's history, then record it.

        Idempotent by ``obs.observation_id``: a redelivered task sees the same history
        (its own earlier recording is excluded) and is not recorded twice. Observations
        scored HIGH are recorded as untrusted, so their account never becomes "known".

        Raises:
            StateError: If the history cannot be read or written.
        """
        payment = obs.payment()
        if payment is None:
            # Nobody named: there is no history to compare with, and none to teach.
            return self.assess(obs, HistorySnapshot())
        snapshot = history.snapshot(payment.counterparty, exclude=obs.observation_id)
        result = self.assess(obs, snapshot)
        history.record(payment, trusted=result.band is not RiskBand.HIGH)
        return result

    def _top_features(self, x: NDArray[np.float64]) -> list[str]:
        present = [i for i, name in enumerate(FEATURES) if x[i] > 0 and name in _REASONS]
        if not present:
            return []
        # One batch: the document as it is, then once with each present feature switched off.
        rows = np.repeat(x.reshape(1, -1), len(present) + 1, axis=0)
        for row, i in enumerate(present, start=1):
            rows[row, i] = 0.0
        logits = _logit(self._probability(rows))
        drops = logits[0] - logits[1:]
        ranked = sorted(zip(drops, present, strict=True), key=lambda t: (-t[0], t[1]))
        return [FEATURES[i] for drop, i in ranked if drop > MIN_REASON_LOGIT][:MAX_REASONS]


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(clipped / (1 - clipped)), dtype=np.float64)


_UNCONSTRAINED = frozenset({"history_depth", "new_counterparty"})


def _base_model(seed: int) -> HistGradientBoostingClassifier:
    # Every feature but the history size is a red flag: more of it may never lower the risk.
    monotonic = [0 if name in _UNCONSTRAINED else 1 for name in FEATURES]
    return HistGradientBoostingClassifier(
        max_iter=150,
        learning_rate=0.1,
        max_depth=3,
        min_samples_leaf=20,
        monotonic_cst=monotonic,
        random_state=seed,
    )


_REASONS = {
    "new_counterparty": "first document from {name}: no payment history",
    "amount_outlier": "amount {amount} is {ratio:.1f}x the usual {usual} for {name}",
    "amount_above_max": "amount {amount} is above anything paid to {name} before ({max})",
    "new_bank_account": "bank account {iban} was never used by {name} ({known} known)",
    "bank_country_change": "bank account moved to another country ({country})",
    "lookalike_domain": "sender domain {domain} imitates {known_domain}",
    "unknown_domain": "sender domain {domain} was never used by {name}",
    "free_mail_sender": "sent from a free-mail address ({domain})",
    "account_change_language": "asks to pay to changed bank details",
    "urgency_language": "pressure to pay immediately",
    "secrecy_language": "asks for secrecy or avoids verification",
    "authority_language": "invokes an executive's authority",
    "payment_request": "payment request rather than an invoice",
    "high_urgency": "marked urgent",
    "round_amount": "large round amount ({amount})",
    "missing_invoice_number": "no invoice number",
}


def _describe(feature: str, obs: Observation, history: HistorySnapshot) -> str:
    amounts = history.amounts_in(obs.currency)
    usual = statistics.median(amounts) if amounts else 0.0
    currency = f" {obs.currency}" if obs.currency else ""
    known_domain = min(history.domains, default="")
    if obs.domain:
        similar = sorted(d for d in history.domains if _similar(obs.domain, d))
        known_domain = similar[0] if similar else known_domain
    return _REASONS[feature].format(
        name=obs.counterparty or "the counterparty",
        amount=f"{obs.amount or 0:,.2f}{currency}",
        ratio=(obs.amount or 0) / usual if usual else 0.0,
        usual=f"{usual:,.2f}{currency}",
        max=f"{max(amounts, default=0):,.2f}{currency}",
        iban=_mask_iban(obs.iban),
        known=len(history.ibans),
        country=_iban_country(obs.iban),
        domain=obs.domain or "",
        known_domain=known_domain,
    )


def _mask_iban(iban: str | None) -> str:
    if not iban:
        return ""
    compact = stdnum.iban.compact(iban)
    return f"{compact[:4]}…{compact[-4:]}"


def load_events(path: Path = _data.SCORER_EVENTS) -> list[tuple[Observation, int]]:
    """Read the scorer's training events (JSON lines) as observations with labels.

    Raises:
        ModelError: If the file is missing or a line is malformed.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ModelError(f"cannot read the scorer events {path}: {exc}") from exc
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            obs = Observation(
                observation_id=str(row["event_id"]),
                counterparty=str(row["counterparty"]),
                doc_type=DocType(row["doc_type"]),
                urgency=Urgency(row["urgency"]),
                amount=float(row["amount"]),
                currency=str(row["currency"]),
                iban=stdnum.iban.compact(row["iban"]) if row.get("iban") else None,
                sender_email=row.get("sender_email"),
                text=str(row.get("text", "")),
                has_invoice_number=bool(row.get("invoice_number")),
            )
            out.append((obs, int(row["label"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}:{number}: not a scorer event: {exc}") from exc
    if not out:
        raise ModelError(f"the scorer events {path} are empty")
    return out


def replay(
    events: Sequence[tuple[Observation, int]],
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Features of every event, each computed against the history before it.

    Events are replayed in the given (time) order through a fresh `MemoryHistory`;
    legitimate events are recorded as trusted, fraudulent ones as untrusted.
    """
    history = MemoryHistory()
    rows, labels = [], []
    for obs, label in events:
        payment = obs.payment()
        snapshot = (
            history.snapshot(payment.counterparty) if payment is not None else HistorySnapshot()
        )
        rows.append(features(obs, snapshot))
        labels.append(label)
        if payment is not None:
            history.record(payment, trusted=label == 0)
    return np.vstack(rows), np.array(labels, dtype=np.int64)


def train(
    events: Path = _data.SCORER_EVENTS,
    seed: int = DEFAULT_SEED,
    metrics_path: Path | None = None,
    bands: Bands = DEFAULT_BANDS,
) -> tuple[Scorer, ScorerMetrics]:
    """Measure the scorer on a stratified held-out split, then train on every event.

    Returns:
        The scorer trained on all events, and the held-out metrics (AUC, Brier...).

    Raises:
        ModelError: If the events cannot be read or are too few to split.
    """
    digest = file_digest(events)
    x, y = replay(load_events(events))
    try:
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=TEST_SIZE, random_state=seed, stratify=y
        )
    except ValueError as exc:
        raise ModelError(f"the scorer events cannot be split for evaluation: {exc}") from exc
    held_out = Scorer.fit(x_train, y_train, seed, digest[:12], bands)
    with single_threaded():
        scores = held_out._model.predict_proba(x_test)[:, 1]
    flagged = scores >= bands.high
    true_flags = int(np.sum(flagged & (y_test == 1)))
    metrics = ScorerMetrics(
        model=MODEL_NAME,
        seed=seed,
        events_sha256=digest,
        n_train=len(y_train),
        n_test=len(y_test),
        positive_rate=round(float(np.mean(y)), 4),
        auc=round(float(roc_auc_score(y_test, scores)), 4),
        brier=round(float(brier_score_loss(y_test, scores)), 4),
        average_precision=round(float(average_precision_score(y_test, scores)), 4),
        high_band_precision=round(true_flags / max(int(np.sum(flagged)), 1), 4),
        high_band_recall=round(true_flags / max(int(np.sum(y_test == 1)), 1), 4),
        bands={"medium": bands.medium, "high": bands.high},
    )
    if metrics_path is not None:
        metrics_path.parent.mkdir(parents=True, exist_ok=True)
        metrics_path.write_text(metrics.to_json(), encoding="utf-8")
    return Scorer.fit(x, y, seed, digest[:12], bands), metrics
