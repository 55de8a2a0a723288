"""What the classifier sees, per model version: `caseyard models report`.

From the log (results, case events, human decisions) since a time: per model version that
classified documents, how many, the class mix beside the mix it was trained on and their
population stability index (PSI), the confidence distribution, how often the confidence
cascade went past the first model, how often a person was asked, and how often a person
corrected the type (or confirmed it). A PSI above the threshold (`drift_psi_alert`, 0.25 by
default: the usual line for a significant shift) is a drift breach: said in the report,
logged as a warning, and with `--fail-on-drift` the exit status.

PSI = sum over types of (seen - trained) * ln(seen / trained), shares floored at 1e-4 so a
type never seen (or never trained on) counts without dividing by zero.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from coordinator import step_of_task
from schemas import (
    CaseEscalated,
    ClassifyOutput,
    DecisionAction,
    DocType,
    Event,
    HumanDecision,
    TaskCompleted,
)

BINS = 10
"""Confidence histogram bins over [0, 1]."""
FLOOR = 1e-4


def psi(seen: Mapping[str, int], trained: Mapping[str, float]) -> float:
    """Population stability index of the counts `seen` against the shares `trained`."""
    total = sum(seen.values())
    if total == 0:
        return 0.0
    value = 0.0
    for label in set(seen) | set(trained):
        observed = max(seen.get(label, 0) / total, FLOOR)
        expected = max(trained.get(label, 0.0), FLOOR)
        value += (observed - expected) * math.log(observed / expected)
    return value


@dataclass
class VersionReport:
    """One model version's documents since the start of the report."""

    model: str
    first: datetime
    last: datetime
    mix: Counter[str] = field(default_factory=Counter)
    histogram: list[int] = field(default_factory=lambda: [0] * BINS)
    confidence_sum: float = 0.0
    cascaded: int = 0
    escalated: int = 0
    corrected: int = 0
    confirmed: int = 0
    psi: float = 0.0
    breach: bool = False

    @property
    def documents(self) -> int:
        return sum(self.mix.values())

    @property
    def mean_confidence(self) -> float:
        return self.confidence_sum / self.documents if self.documents else 0.0

    def as_dict(self, trained: Mapping[str, float]) -> dict[str, Any]:
        n = self.documents or 1
        return {
            "model": self.model,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "documents": self.documents,
            "mix": {label: round(count / n, 4) for label, count in self.mix.most_common()},
            "trained_mix": {k: round(v, 4) for k, v in sorted(trained.items())},
            "psi": round(self.psi, 4),
            "drift_breach": self.breach,
            "mean_confidence": round(self.mean_confidence, 4),
            "confidence_histogram": self.histogram,
            "cascaded": self.cascaded,
            "escalated": self.escalated,
            "corrected": self.corrected,
            "confirmed": self.confirmed,
        }


def build_report(
    events: Sequence[Event],
    trained: Mapping[str, float],
    *,
    threshold: float,
    since: datetime | None = None,
) -> list[VersionReport]:
    """Per model version, from `events` (the results, case events and human decisions
    read from the log, any order) classified at or after `since`."""
    reviews: dict[tuple[str, str], str] = {}  # (case, step) -> human task id
    decisions: dict[str, HumanDecision] = {}
    for event in events:
        if isinstance(event, CaseEscalated) and event.step is not None:
            reviews.setdefault((event.case_id, event.step), event.human_task_id)
        elif isinstance(event, HumanDecision):
            decisions.setdefault(event.human_task_id, event)
    reports: dict[str, VersionReport] = {}
    for event in events:
        if not isinstance(event, TaskCompleted) or not isinstance(event.output, ClassifyOutput):
            continue
        if since is not None and event.occurred_at < since:
            continue
        output = event.output
        model = f"{event.usage.provider}/{event.usage.model}"
        report = reports.get(model)
        if report is None:
            report = reports[model] = VersionReport(model, event.occurred_at, event.occurred_at)
        report.first = min(report.first, event.occurred_at)
        report.last = max(report.last, event.occurred_at)
        report.mix[output.doc_type.value] += 1
        report.histogram[min(int(output.confidence * BINS), BINS - 1)] += 1
        report.confidence_sum += output.confidence
        report.cascaded += len(event.hops) > 1
        review = reviews.get((event.case_id, step_of_task(event.case_id, event.task_id)))
        if review is None:
            continue
        report.escalated += 1
        decision = decisions.get(review)
        if decision is None:
            continue
        patched = [p.value for p in decision.patches if p.field == "doc_type"]
        if decision.action is DecisionAction.EDIT and patched and patched[-1] != output.doc_type:
            report.corrected += 1
        elif decision.action in (DecisionAction.APPROVE, DecisionAction.EDIT):
            report.confirmed += 1
    for report in reports.values():
        report.psi = psi(report.mix, trained)
        report.breach = report.psi > threshold
    return sorted(reports.values(), key=lambda r: r.first)


def training_mix(labels: Sequence[DocType]) -> dict[str, float]:
    """The share of each document type among training labels."""
    counts = Counter(label.value for label in labels)
    total = sum(counts.values()) or 1
    return {label: count / total for label, count in counts.items()}


def default_training_mix() -> dict[str, float]:
    """The share of each document type in the corpora the default classifier trains on
    (what the report and the live drift metrics compare with; reading them takes ~2 s)."""
    from agents.models.classifier import DEFAULT_CORPORA, load_corpus

    return training_mix([d.doc_type for p in DEFAULT_CORPORA for d in load_corpus(p)])


def render_html(
    reports: Sequence[VersionReport], trained: Mapping[str, float], *, since: str, threshold: float
) -> str:
    """A self-contained page (inline SVG, no script): per version, the class mix beside the
    training mix, the confidence histogram and the review figures."""
    sections = []
    for report in reports:
        n = report.documents or 1
        labels = sorted(set(report.mix) | set(trained), key=lambda k: -trained.get(k, 0.0))
        mix_rows = [
            (label, report.mix.get(label, 0) / n, trained.get(label, 0.0)) for label in labels
        ]
        state = "drift breach" if report.breach else "within threshold"
        sections.append(
            f"""<section class="version{" breach" if report.breach else ""}">
<h2>{html.escape(report.model)}</h2>
<p>{report.documents} documents, {html.escape(report.first.isoformat(timespec="seconds"))} to
{html.escape(report.last.isoformat(timespec="seconds"))}. PSI against the training mix:
<strong class="psi">{report.psi:.3f}</strong> ({state}; threshold {threshold:g}).
Mean confidence {report.mean_confidence:.2f}; the cascade went past the first model for
{report.cascaded}; a person was asked for {report.escalated}, corrected the type of
{report.corrected} and confirmed {report.confirmed}.</p>
<figure><figcaption>Class mix: seen (dark) and trained on (light)</figcaption>
{_mix_svg(mix_rows)}</figure>
<figure><figcaption>Confidence</figcaption>{_histogram_svg(report.histogram)}</figure>
</section>"""
        )
    body = "\n".join(sections) or "<p>No classifications in this period.</p>"
    return html_page(
        "caseyard models report",
        f"""<h1>What the classifier sees</h1>
<p>Since {html.escape(since)}, per model version.</p>
{body}""",
    )


def html_page(title: str, body: str) -> str:
    """A self-contained page (inline SVG, no script) in the reports' one style."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }}
section {{ border-left: 4px solid #3a7; padding-left: 1em; margin-bottom: 2em; }}
section.breach {{ border-color: #c33; }}
figure {{ display: inline-block; margin: 0 2em 0 0; vertical-align: top; }}
text {{ font: 11px system-ui, sans-serif; }}
table {{ border-collapse: collapse; }}
th, td {{ text-align: left; padding: 2px 10px 2px 0; border-bottom: 1px solid #ddd; }}
</style></head><body>
{body}
</body></html>
"""


def _mix_svg(rows: Sequence[tuple[str, float, float]]) -> str:
    width, bar, gap, left = 460, 9, 6, 130
    height = len(rows) * (2 * bar + gap) + 10
    parts = [f'<svg role="img" width="{width}" height="{height}" class="mix">']
    for i, (label, seen, trained) in enumerate(rows):
        y = 5 + i * (2 * bar + gap)
        scale = width - left - 90
        parts.append(f'<text x="0" y="{y + bar + 3}">{html.escape(label)}</text>')
        parts.append(
            f'<rect x="{left}" y="{y}" width="{seen * scale:.1f}" height="{bar}" fill="#246"/>'
        )
        parts.append(
            f'<rect x="{left}" y="{y + bar}" width="{trained * scale:.1f}" height="{bar}" '
            'fill="#9bd"/>'
        )
        parts.append(
            f'<text x="{left + max(seen, trained) * scale + 4:.1f}" y="{y + bar + 3}">'
            f"{seen:.0%} / {trained:.0%}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _histogram_svg(counts: Sequence[int]) -> str:
    width, height, top = 300, 140, max(counts) or 1
    step = width / len(counts)
    parts = [f'<svg role="img" width="{width}" height="{height + 20}" class="confidence">']
    for i, count in enumerate(counts):
        h = count / top * height
        parts.append(
            f'<rect x="{i * step + 1:.1f}" y="{height - h:.1f}" width="{step - 2:.1f}" '
            f'height="{h:.1f}" fill="#246"><title>{i / len(counts):.1f}-'
            f"{(i + 1) / len(counts):.1f}: {count}</title></rect>"
        )
    parts.append(f'<text x="0" y="{height + 14}">0</text>')
    parts.append(f'<text x="{width - 10}" y="{height + 14}">1</text>')
    parts.append("</svg>")
    return "".join(parts)
