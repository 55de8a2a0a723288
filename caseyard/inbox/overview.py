"""The overview page: what the system did in the last hour, for supervisors and auditors.

Read from the log when the page is asked for (the last `minutes` of the case events, the
results and the dead letters, from their record timestamps on), and from the inbox's own
projection for the open human tasks: cases by pipeline and how they went, cases completed
per five minutes, step latency (StepStarted to StepCompleted), SLA breaches, dead letters by
reason, model calls and spend by model. Charts are inline SVG, drawn here. At high rates
(thousands of cases a minute) an hour is a lot to read per page view: Prometheus and the
Grafana dashboard in `deploy/grafana/` are the live view there.
"""

from __future__ import annotations

import html
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from markupsafe import Markup

from bus import Record
from caseyard.app import App, decode_records, offsets_for_times, read_records, topic_partitions
from caseyard.inbox.projection import HumanTask
from schemas import (
    CaseCompleted,
    CaseEscalated,
    CaseFailed,
    CaseHandedOff,
    CaseOpened,
    Event,
    StepCompleted,
    StepStarted,
    TaskCompleted,
)
from schemas.dead_letters import DLQ_REASON
from schemas.topology import CASE_EVENTS, DEAD_LETTERS, RESULTS

BUCKETS = 12


@dataclass
class Overview:
    """The figures of the page."""

    minutes: int
    since: datetime
    pipelines: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    completed: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    sla_breaches: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    models: dict[str, list[float]] = field(default_factory=dict)
    """provider/model -> [calls, spend in USD]."""
    open_tasks: Counter[str] = field(default_factory=Counter)

    def latency(self) -> list[tuple[str, float, float, int]]:
        """Per step: p50 and p95 in ms and the number of steps."""
        rows = []
        for step, values in sorted(self.latency_ms.items()):
            ordered = sorted(values)
            p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
            rows.append((step, statistics.median(ordered), p95, len(ordered)))
        return rows


async def gather(
    app: App, open_tasks: Sequence[HumanTask], minutes: int, now: datetime | None = None
) -> Overview:
    """The overview of the last `minutes`."""
    now = now or datetime.now(UTC)
    since = now - timedelta(minutes=minutes)
    view = Overview(minutes, since)
    for task in open_tasks:
        view.open_tasks[task.queue] += 1
    bucket = timedelta(minutes=minutes) / BUCKETS
    pipeline_of: dict[str, str] = {}
    started: dict[tuple[str, str], datetime] = {}
    for _, event in await _recent(app, CASE_EVENTS.name, since):
        case = event.case_id
        if isinstance(event, CaseOpened):
            pipeline_of[case] = event.pipeline
            view.pipelines[event.pipeline]["opened"] += 1
        elif isinstance(event, StepStarted):
            started[(case, event.task_id)] = event.occurred_at
        elif isinstance(event, StepCompleted):
            began = started.pop((case, event.task_id), None)
            if began is not None:
                ms = (event.occurred_at - began).total_seconds() * 1000
                view.latency_ms[event.step].append(ms)
        elif isinstance(event, CaseEscalated):
            view.pipelines[pipeline_of.get(case, "?")]["escalated"] += 1
            view.sla_breaches += event.reason.startswith("SLA breached")
        elif isinstance(event, CaseHandedOff):
            view.pipelines[pipeline_of.get(case, "?")]["handed off"] += 1
        elif isinstance(event, CaseCompleted):
            if event.outcome != "handed-off":
                view.pipelines[pipeline_of.get(case, "?")][event.outcome] += 1
            index = int((event.occurred_at - since) / bucket)
            view.completed[min(max(index, 0), BUCKETS - 1)] += 1
        elif isinstance(event, CaseFailed):
            view.pipelines[pipeline_of.get(case, "?")]["failed"] += 1
    for _, event in await _recent(app, RESULTS.name, since):
        if isinstance(event, TaskCompleted):
            hops = event.hops or ()
            calls = [(h.provider, h.model, h.cost_usd) for h in hops if h.outcome != "skipped"]
            if not calls:
                usage = event.usage
                calls = [(usage.provider, usage.model, usage.cost_usd)]
            for provider, model, cost in calls:
                tally = view.models.setdefault(f"{provider}/{model}", [0, 0.0])
                tally[0] += 1
                tally[1] += cost
    for record in await _records(app, DEAD_LETTERS.name, since):
        reason = record.header(DLQ_REASON)
        view.dead_letters[(reason or b"?").decode(errors="replace")[:120]] += 1
    return view


async def _records(app: App, topic: str, since: datetime) -> list[Record]:
    tps = await topic_partitions(app.bus, topic)
    starts = await offsets_for_times(app.bus, dict.fromkeys(tps, int(since.timestamp() * 1000)))
    return await read_records(app, topic, start=starts)


async def _recent(app: App, topic: str, since: datetime) -> list[tuple[Record, Event]]:
    decoded, _ = await decode_records(app, await _records(app, topic, since))
    return decoded


# -- charts -----------------------------------------------------------------------------


def bars(rows: Sequence[tuple[str, float]], *, unit: str = "", css: str = "bars") -> Markup:
    """Horizontal bars, one per (label, value)."""
    if not rows:
        return Markup('<p class="muted">none</p>')
    width, bar, gap, left = 520, 14, 6, 190
    top = max(value for _, value in rows) or 1
    height = len(rows) * (bar + gap) + 4
    scale = width - left - 90
    parts = [f'<svg role="img" class="{css}" width="{width}" height="{height}">']
    for i, (label, value) in enumerate(rows):
        y = 2 + i * (bar + gap)
        length = value / top * scale
        shown = (
            f"{value:.2f}" if isinstance(value, float) and not value.is_integer() else f"{value:g}"
        )
        parts.append(f'<text x="0" y="{y + bar - 3}">{html.escape(label[:30])}</text>')
        parts.append(
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="#1d3557">'
            f"<title>{html.escape(label)}: {shown}{unit}</title></rect>"
        )
        parts.append(f'<text x="{left + length + 4:.1f}" y="{y + bar - 3}">{shown}{unit}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(values: Sequence[int], since: datetime, step: timedelta) -> Markup:
    """Vertical columns over time (cases completed per bucket)."""
    width, height = 520, 120
    top = max(values) or 1
    each = width / len(values)
    parts = [f'<svg role="img" class="throughput" width="{width}" height="{height + 18}">']
    for i, value in enumerate(values):
        h = value / top * height
        at = since + step * i
        parts.append(
            f'<rect x="{i * each + 2:.1f}" y="{height - h:.1f}" width="{each - 4:.1f}" '
            f'height="{h:.1f}" fill="#1d3557"><title>{at:%H:%M}: {value}</title></rect>'
        )
    parts.append(f'<text x="0" y="{height + 14}">{since:%H:%M}</text>')
    parts.append(f'<text x="{width - 34}" y="{height + 14}">now</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def charts(view: Overview) -> Mapping[str, Markup]:
    """The page's charts by name."""
    return {
        "pipelines": bars(
            [
                (f"{pipeline}: {status}", float(count))
                for pipeline, counts in sorted(view.pipelines.items())
                for status, count in counts.most_common()
            ],
            css="pipelines",
        ),
        "throughput": columns(
            view.completed, view.since, timedelta(minutes=view.minutes) / BUCKETS
        ),
        "latency": bars(
            [(f"{step} p95", p95) for step, _, p95, _ in view.latency()], unit=" ms", css="latency"
        ),
        "dead_letters": bars(
            [(reason, float(n)) for reason, n in view.dead_letters.most_common(10)],
            css="dead-letters",
        ),
        "models": bars(
            [(model, float(calls)) for model, (calls, _) in sorted(view.models.items())],
            css="models",
        ),
        "open_tasks": bars(
            [(queue, float(n)) for queue, n in view.open_tasks.most_common()], css="open-tasks"
        ),
    }
