"""Live drift of the classifier, per model version, as Prometheus metrics.

`caseyard models report` reads the log for the audit view; this is the live one, in the
process that classifies. Each classification an agent emits is counted by model version
and document type, its confidence goes into a histogram, an answer that came after the
first route counts as cascaded; over the last WINDOW classifications of each version, the
population stability index of the class mix against the training mix is a gauge
(`caseyard_classify_psi`, once MIN_SAMPLE are in). Crossing `drift_psi_alert` upwards is a
drift breach: counted (`caseyard_drift_breaches_total`) and logged once per crossing.

The training mix is the one `caseyard models report` compares with (the default corpora);
it is read in a thread on the first classification (about two seconds), so the PSI starts
once it is there. Share of cases corrected by people is in the report only: the decisions
are not seen where the classifier runs.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from agents.runtime import Emit, Handler
from caseyard.models_report import default_training_mix, psi
from schemas import ClassifyOutput, Event, TaskCompleted

log = logging.getLogger(__name__)

WINDOW = 500
"""Classifications of one model version the live class mix is taken over."""
MIN_SAMPLE = 100
"""Classifications of a version before its PSI is computed (fewer say little)."""
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

TrainingMix = Callable[[], Mapping[str, float]]


class DriftWatch:
    """Counts what the classifier answers and watches its class mix drift.

    Args:
        registry: Where the metrics go.
        threshold: The PSI above which a version's mix is a drift breach.
        trained: Reads the training mix (called once, in a thread).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        threshold: float,
        trained: TrainingMix = default_training_mix,
    ) -> None:
        self._threshold = threshold
        self._read_trained = trained
        self._trained: Mapping[str, float] | None = None
        self._reading: threading.Thread | None = None
        self._recent: dict[str, deque[str]] = {}
        self._breached: set[str] = set()
        self._classified = Counter(
            "caseyard_classified",
            "Documents classified, by model version and document type.",
            ["model", "doc_type"],
            registry=registry,
        )
        self._confidence = Histogram(
            "caseyard_classify_confidence",
            "The classifier's confidence in the type it chose, by model version.",
            ["model"],
            buckets=CONFIDENCE_BUCKETS,
            registry=registry,
        )
        self._cascaded = Counter(
            "caseyard_classify_cascaded",
            "Classifications answered after the first route (the confidence cascade went on).",
            ["model"],
            registry=registry,
        )
        self._psi = Gauge(
            "caseyard_classify_psi",
            f"Population stability index of the last {WINDOW} classifications' class mix "
            "against the training mix, by model version.",
            ["model"],
            registry=registry,
        )
        self._breaches = Counter(
            "caseyard_drift_breaches",
            "Times a model version's class mix crossed the drift threshold (drift_psi_alert).",
            ["model"],
            registry=registry,
        )

    def watching(self, handler: Handler) -> Handler:
        """`handler`, with what it emits observed."""
        return _Watched(handler, self.observe)

    def observe(self, event: Event) -> None:
        """Count `event` if it is a classification."""
        if not isinstance(event, TaskCompleted) or not isinstance(event.output, ClassifyOutput):
            return
        output = event.output
        model = f"{event.usage.provider}/{event.usage.model}"
        self._classified.labels(model, output.doc_type.value).inc()
        self._confidence.labels(model).observe(output.confidence)
        if len(event.hops) > 1:
            self._cascaded.labels(model).inc()
        recent = self._recent.get(model)
        if recent is None:
            recent = self._recent[model] = deque(maxlen=WINDOW)
        recent.append(output.doc_type.value)
        trained = self._training_mix()
        if trained is None or len(recent) < MIN_SAMPLE:
            return
        value = psi(Tally(recent), trained)
        self._psi.labels(model).set(value)
        if value <= self._threshold:
            self._breached.discard(model)
        elif model not in self._breached:
            self._breached.add(model)
            self._breaches.labels(model).inc()
            log.warning(
                "drift: the class mix of %s moved from its training mix (PSI %.2f over the "
                "last %d classifications, alert above %.2f)",
                model,
                value,
                len(recent),
                self._threshold,
                extra={"model": model, "psi": round(value, 4)},
            )

    def training_mix_read(self, timeout: float | None = None) -> bool:
        """Wait until the training mix is read, if its reading has started; whether it is."""
        if self._reading is not None:
            self._reading.join(timeout)
        return self._trained is not None

    def _training_mix(self) -> Mapping[str, float] | None:
        if self._trained is None and self._reading is None:
            self._reading = threading.Thread(target=self._read, name="training-mix", daemon=True)
            self._reading.start()
        return self._trained

    def _read(self) -> None:
        try:
            self._trained = self._read_trained()
        except Exception:  # the live PSI is lost, the classifier goes on
            log.exception("drift: the training mix could not be read; no live PSI")


class _Watched:
    """A handler whose emitted events are shown to `observe` (nothing else changes)."""

    def __init__(self, inner: Handler, observe: Callable[[Event], None]) -> None:
        self._inner = inner
        self._observe = observe

    @property
    def takes(self) -> str:
        return self._inner.takes

    def accepts(self, event: Event) -> bool:
        return self._inner.accepts(event)

    def key(self, event: Event) -> str:
        return self._inner.key(event)

    async def handle(self, event: Event) -> Sequence[Emit]:
        emitted = await self._inner.handle(event)
        for emit in emitted:
            self._observe(emit.event)
        return emitted

    def failed(self, event: Event, error: BaseException, attempts: int) -> Sequence[Emit]:
        return self._inner.failed(event, error, attempts)
