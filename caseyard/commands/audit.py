"""`caseyard audit verify|export`: prove the case event log is intact; export one case's
audit report (timeline, decisions, models and cost, chain verification) as JSON or as
one self-contained HTML file."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

import typer
from pydantic import BaseModel, ConfigDict

from bus import Record
from caseyard.app import App, decode_records, read_records
from caseyard.commands._run import run
from caseyard.commands.cases import describe, status_of
from coordinator import PRODUCER, Break, Link, verify_chain
from schemas import (
    CaseCompleted,
    CaseEvent,
    CaseFailed,
    CaseOpened,
    CaseSubmitted,
    DecodeError,
    Event,
    HumanDecision,
    HumanTaskClaimed,
    HumanTaskOpened,
    PolicyDecision,
    TaskCompleted,
    TaskFailed,
)
from schemas.topology import CASE_EVENTS, HUMAN, INTAKE, RESULTS


def chains(
    decoded: Sequence[tuple[Record, Event]], broken: Sequence[tuple[Record, DecodeError]]
) -> tuple[dict[str, list[Link]], list[Break]]:
    """Each case's case events in log order, and a break for each record that does not
    decode, from the records of the case-events topic."""
    cases: dict[str, list[Link]] = {}
    for record, event in decoded:
        if isinstance(event, CaseEvent):
            cases.setdefault(event.case_id, []).append(Link(_where(record), event))
    breaks = [
        Break(
            (r.key or b"").decode(errors="replace"),
            _where(r),
            f"does not decode (changed): {exc}",
        )
        for r, exc in broken
    ]
    return cases, breaks


async def read_decoded(
    app: App, topic: str, case_id: str | None
) -> tuple[list[tuple[Record, Event]], list[tuple[Record, DecodeError]]]:
    return await decode_records(app, await read_records(app, topic, case_id=case_id))


def _where(record: Record) -> str:
    return f"{record.topic}/{record.partition}/{record.offset}"


# -- the report ------------------------------------------------------------------------


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TimelineEntry(_Row):
    time: datetime
    actor: str
    event: str
    summary: str
    detail: str
    where: str


class PolicyRow(_Row):
    time: datetime
    rule: str
    decision: str
    step: str | None
    reason: str
    inputs: dict[str, str]


class HumanRow(_Row):
    time: datetime
    human_task_id: str
    action: str
    by: str
    comment: str | None
    patches: list[str]


class _AttemptRow(_Row):
    time: datetime
    task_id: str
    step: str
    capability: str
    attempt: int

    @classmethod
    def of(cls, event: TaskCompleted | TaskFailed, **fields: Any) -> Self:
        return cls(
            time=event.occurred_at,
            task_id=event.task_id,
            step=_step_of(event.case_id, event.task_id),
            capability=event.capability,
            attempt=event.attempt,
            **fields,
        )


class ModelRow(_AttemptRow):
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float


class FailureRow(_AttemptRow):
    error_class: str
    message: str
    retryable: bool


class ChainResult(_Row):
    intact: bool
    records: int
    breaks: list[str]


class CaseReport(_Row):
    """Everything the audit export says about one case."""

    case_id: str
    generated_at: datetime
    status: str
    pipeline: str | None
    pipeline_version: int | None
    outcome: str | None
    source: str | None
    document: dict[str, str]
    opened_at: datetime | None
    closed_at: datetime | None
    timeline: list[TimelineEntry]
    policy_decisions: list[PolicyRow]
    human_decisions: list[HumanRow]
    models: list[ModelRow]
    failures: list[FailureRow]
    total_cost_usd: float
    chain: ChainResult
    unreadable: list[str]


def _step_of(case_id: str, task_id: str) -> str:
    """The step (or compensation) of a task id ``<case_id>/<node>/<run>.<attempt>``."""
    return task_id.removeprefix(f"{case_id}/").rpartition("/")[0] or task_id


def _summary(event: Event) -> tuple[str, str]:
    if isinstance(event, CaseSubmitted):
        name = event.metadata.get("filename", event.document.uri)
        return f"submitted by {event.source}: {name}", event.pipeline or ""
    if isinstance(event, TaskCompleted):
        usage = event.usage
        return (
            f"{_step_of(event.case_id, event.task_id)} attempt {event.attempt} by "
            f"{usage.provider}/{usage.model}",
            f"${usage.cost_usd:.6f}, {event.latency_ms:.0f} ms",
        )
    if isinstance(event, TaskFailed):
        return (
            f"{_step_of(event.case_id, event.task_id)} attempt {event.attempt} failed",
            f"{event.error_class}: {event.message}",
        )
    if isinstance(event, HumanTaskOpened):
        return (
            f"{event.human_task_id} waits in {event.queue}",
            f"{event.reason} (SLA {_when(event.sla_deadline)})",
        )
    if isinstance(event, HumanTaskClaimed):
        return f"{event.human_task_id} claimed by {event.claimed_by}", ""
    if isinstance(event, HumanDecision):
        return f"{event.action.value} by {event.decided_by}", event.comment or ""
    return describe(event)


def build_report(
    case_id: str,
    case_events: Sequence[Link],
    records: Sequence[tuple[str, Event]],
    breaks: Sequence[Break],
    unreadable: Sequence[str],
    now: datetime,
) -> CaseReport:
    """The report of one case.

    Args:
        case_id: The case.
        case_events: Its hash chain, in log order.
        records: Every event of the case with where it is: the case-events topic's in
            log order, then the submission, results and human work.
        breaks: Where the chain breaks.
        unreadable: Records of the case that do not decode, with why.
        now: When the report is made.
    """
    seen: set[str] = set()
    everything: list[tuple[str, Event]] = []
    for where, event in records:
        # A redelivered result (same event id) is one result, not two.
        if event.event_id not in seen:
            seen.add(event.event_id)
            everything.append((where, event))
    # Same time: an input before the events it caused (they share its time), then log order.
    everything.sort(
        key=lambda item: (item[1].occurred_at, item[1].producer.service == PRODUCER.service)
    )
    timeline = [
        TimelineEntry(
            time=event.occurred_at,
            actor=event.producer.service,
            event=event.event_type,
            summary=summary,
            detail=detail,
            where=where,
        )
        for where, event in everything
        for summary, detail in [_summary(event)]
    ]
    events = [event for _, event in everything]
    lifecycle: list[Event] = [link.event for link in case_events]
    opened = next((e for e in lifecycle if isinstance(e, CaseOpened)), None)
    submitted = next((e for e in events if isinstance(e, CaseSubmitted)), None)
    closed = next((e for e in lifecycle if isinstance(e, CaseCompleted | CaseFailed)), None)
    document = opened.document if opened else submitted.document if submitted else None
    models = [
        ModelRow.of(
            e,
            provider=e.usage.provider,
            model=e.usage.model,
            input_tokens=e.usage.input_tokens,
            output_tokens=e.usage.output_tokens,
            cost_usd=e.usage.cost_usd,
            latency_ms=e.latency_ms,
        )
        for e in events
        if isinstance(e, TaskCompleted)
    ]
    return CaseReport(
        case_id=case_id,
        generated_at=now,
        status=status_of(lifecycle),
        pipeline=opened.pipeline if opened else None,
        pipeline_version=opened.pipeline_version if opened else None,
        outcome=closed.outcome if isinstance(closed, CaseCompleted) else None,
        source=submitted.source if submitted else None,
        document={}
        if document is None
        else {
            "filename": submitted.metadata.get("filename", "") if submitted else "",
            "uri": document.uri,
            "sha256": document.sha256,
            "media_type": document.media_type,
            "size": str(document.size),
        },
        opened_at=opened.occurred_at if opened else None,
        closed_at=closed.occurred_at if closed else None,
        timeline=timeline,
        policy_decisions=[
            PolicyRow(
                time=e.occurred_at,
                rule=e.rule_id,
                decision=e.decision.value,
                step=e.step,
                reason=e.reason,
                inputs=dict(e.inputs),
            )
            for e in lifecycle
            if isinstance(e, PolicyDecision)
        ],
        human_decisions=[
            HumanRow(
                time=e.occurred_at,
                human_task_id=e.human_task_id,
                action=e.action.value,
                by=e.decided_by,
                comment=e.comment,
                patches=[f"{p.field} = {p.value!r}" for p in e.patches],
            )
            for e in events
            if isinstance(e, HumanDecision)
        ],
        models=models,
        failures=[
            FailureRow.of(
                e,
                error_class=e.error_class,
                message=e.message,
                retryable=e.retryable,
            )
            for e in events
            if isinstance(e, TaskFailed)
        ],
        total_cost_usd=sum(m.cost_usd for m in models),
        chain=ChainResult(
            intact=not breaks, records=len(case_events), breaks=[str(b) for b in breaks]
        ),
        unreadable=list(unreadable),
    )


_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Audit report: {{ r.case_id }}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d232a;
  margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.1rem; margin-top: 2rem; border-bottom: 1px solid #d5dbe1; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem;
  border-bottom: 1px solid #eceff2; }
th { background: #f4f6f8; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.t { white-space: nowrap; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12px; }
.muted { color: #5d6b78; }
.badge { display: inline-block; padding: .1rem .5rem; border-radius: .75rem;
  font-size: 12px; font-weight: 600; background: #e8edf2; }
.ok { background: #dff3e4; color: #17602c; }
.bad { background: #fbe3e3; color: #8a1c1c; }
.allow { color: #17602c; } .deny { color: #8a1c1c; } .escalate { color: #8a5a00; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { color: #5d6b78; } dd { margin: 0; }
</style>
</head>
<body>
<h1>Case {{ r.case_id }} <span class="badge">{{ r.status }}</span></h1>
<p class="muted">Audit report generated {{ r.generated_at|when }} (UTC) by caseyard.</p>

<dl>
<dt>Pipeline</dt>
<dd>{{ r.pipeline or "-" }}{% if r.pipeline_version %} v{{ r.pipeline_version }}{% endif %}</dd>
<dt>Outcome</dt><dd>{{ r.outcome or "-" }}</dd>
<dt>Submitted by</dt><dd>{{ r.source or "-" }}</dd>
{% for key, value in r.document.items() %}
<dt>Document {{ key }}</dt><dd class="mono">{{ value }}</dd>
{% endfor %}
<dt>Opened</dt><dd>{{ r.opened_at|when }}</dd>
<dt>Closed</dt><dd>{{ r.closed_at|when }}</dd>
<dt>Model cost</dt><dd>${{ r.total_cost_usd|usd }}</dd>
</dl>

<h2>Chain verification</h2>
{% if r.chain.intact %}
<p><span class="badge ok">intact</span> each of the {{ r.chain.records }} case events
carries the hash of the one before it.</p>
{% else %}
<p><span class="badge bad">broken</span> {{ r.chain.breaks|length }} break(s) in
{{ r.chain.records }} case events:</p>
<ul>{% for b in r.chain.breaks %}<li class="mono">{{ b }}</li>{% endfor %}</ul>
{% endif %}
{% if r.unreadable %}
<p>Records of this case that do not decode:</p>
<ul>{% for u in r.unreadable %}<li class="mono">{{ u }}</li>{% endfor %}</ul>
{% endif %}

<h2>Timeline</h2>
<table>
<tr><th>Time (UTC)</th><th>Actor</th><th>Event</th><th>What</th><th>Detail</th>
<th>Record</th></tr>
{% for t in r.timeline %}
<tr><td class="mono t">{{ t.time|when }}</td><td>{{ t.actor }}</td><td>{{ t.event }}</td>
<td>{{ t.summary }}</td><td>{{ t.detail }}</td><td class="mono muted">{{ t.where }}</td></tr>
{% endfor %}
</table>

<h2>Policy decisions</h2>
{% if r.policy_decisions %}
<table>
<tr><th>Time (UTC)</th><th>Rule</th><th>Decision</th><th>Step</th><th>Reason</th>
<th>Inputs</th></tr>
{% for p in r.policy_decisions %}
<tr><td class="mono t">{{ p.time|when }}</td><td>{{ p.rule }}</td>
<td class="{{ p.decision }}">{{ p.decision }}</td><td>{{ p.step or "" }}</td>
<td>{{ p.reason }}</td>
<td class="mono">{% for k, v in p.inputs.items() %}{{ k }}={{ v }}<br>{% endfor %}</td></tr>
{% endfor %}
</table>
{% else %}<p class="muted">None.</p>{% endif %}

<h2>Human decisions</h2>
{% if r.human_decisions %}
<table>
<tr><th>Time (UTC)</th><th>Human task</th><th>Action</th><th>By</th><th>Comment</th>
<th>Corrections</th></tr>
{% for h in r.human_decisions %}
<tr><td class="mono t">{{ h.time|when }}</td><td class="mono">{{ h.human_task_id }}</td>
<td>{{ h.action }}</td><td>{{ h.by }}</td><td>{{ h.comment or "" }}</td>
<td class="mono">{% for p in h.patches %}{{ p }}<br>{% endfor %}</td></tr>
{% endfor %}
</table>
{% else %}<p class="muted">None.</p>{% endif %}

<h2>Models and cost</h2>
{% if r.models %}
<table>
<tr><th>Time (UTC)</th><th>Step</th><th>Attempt</th><th>Provider / model</th>
<th>Tokens in / out</th><th>Cost (USD)</th><th>Latency (ms)</th></tr>
{% for m in r.models %}
<tr><td class="mono t">{{ m.time|when }}</td>
<td>{{ m.step }} <span class="muted">({{ m.capability }})</span></td>
<td class="num">{{ m.attempt }}</td><td>{{ m.provider }} / {{ m.model }}</td>
<td class="num">{{ m.input_tokens }} / {{ m.output_tokens }}</td>
<td class="num">{{ m.cost_usd|usd }}</td><td class="num">{{ m.latency_ms|round|int }}</td></tr>
{% endfor %}
<tr><th colspan="5">Total</th><th class="num">{{ r.total_cost_usd|usd }}</th><th></th></tr>
</table>
{% else %}<p class="muted">No task results.</p>{% endif %}
{% if r.failures %}
<h3>Failed attempts</h3>
<table>
<tr><th>Time (UTC)</th><th>Step</th><th>Attempt</th><th>Error</th><th>Retryable</th></tr>
{% for f in r.failures %}
<tr><td class="mono t">{{ f.time|when }}</td><td>{{ f.step }}</td>
<td class="num">{{ f.attempt }}</td><td>{{ f.error_class }}: {{ f.message }}</td>
<td>{{ "yes" if f.retryable else "no" }}</td></tr>
{% endfor %}
</table>
{% endif %}
</body>
</html>
"""


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _usd(value: float) -> str:
    return f"{value:.6f}"


class ReportFormat(StrEnum):
    JSON = "json"
    HTML = "html"


def render(report: CaseReport, fmt: ReportFormat) -> str:
    """The report as JSON, or as one HTML file (inline CSS, every value escaped)."""
    if fmt is ReportFormat.JSON:
        return report.model_dump_json(indent=2) + "\n"
    import jinja2

    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(when=_when, usd=_usd)
    return env.from_string(_HTML).render(r=report)


def register(app: typer.Typer) -> None:
    audit = typer.Typer(help="Audit the case event log.", no_args_is_help=True)
    app.add_typer(audit, name="audit")

    @audit.command("verify")
    def verify(
        case_id: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
    ) -> None:
        """Check each case's hash chain; name every changed, removed or reordered record.

        Example: caseyard audit verify --case case-0192f3a8c2d1
        """
        from caseyard.app import open_app
        from caseyard.cli import console, settings
        from caseyard.errors import AuditFailed

        async def body() -> None:
            async with open_app(settings()) as app:
                cases, breaks = chains(*await read_decoded(app, CASE_EVENTS.name, case_id))
            breaks += [b for c, links in cases.items() for b in verify_chain(c, links)]
            for problem in breaks:
                console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
            checked = sum(len(links) for links in cases.values())
            if breaks:
                raise AuditFailed(
                    f"{len(breaks)} break(s) in the hash chains of "
                    f"{len({b.case_id for b in breaks})} case(s) ({checked} records checked)"
                )
            console.print(f"intact: {checked} records of {len(cases)} case(s)")

        run(body)

    @audit.command("export")
    def export(
        case_id: Annotated[str, typer.Option("--case", help="The case to report on.")],
        fmt: Annotated[
            ReportFormat, typer.Option("--format", help="json, or html (one self-contained file).")
        ] = ReportFormat.HTML,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
        ] = None,
    ) -> None:
        """Export one case's audit report: timeline, policy and human decisions, models used
        and their cost, and whether its hash chain verifies.

        Example: caseyard audit export --case case-0192f3a8c2d1 --format html -o case.html
        """
        from caseyard.app import open_app
        from caseyard.cli import console, settings
        from caseyard.errors import ConfigError

        async def body() -> None:
            records: list[tuple[str, Event]] = []
            unreadable: list[str] = []
            async with open_app(settings()) as app:
                decoded, broken = await read_decoded(app, CASE_EVENTS.name, case_id)
                cases, breaks = chains(decoded, broken)
                records += [(_where(r), e) for r, e in decoded]
                for topic in (INTAKE.name, RESULTS.name, HUMAN.name):
                    decoded, broken = await read_decoded(app, topic, case_id)
                    records += [(_where(r), e) for r, e in decoded]
                    unreadable += [f"{_where(r)}: {e}" for r, e in broken]
            links = cases.get(case_id, [])
            mine = [b for b in breaks if b.case_id == case_id]
            if not links and not mine:
                raise ConfigError(f"no case {case_id!r} in the case-events log")
            report = build_report(
                case_id,
                links,
                records,
                [*mine, *verify_chain(case_id, links)],
                unreadable,
                datetime.now(UTC),
            )
            text = render(report, fmt)
            if output is None:
                sys.stdout.write(text)
                return
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot write {output}: {exc.strerror or exc}") from exc
            console.print(
                f"wrote {output} ({fmt.value}, {len(report.timeline)} events, chain "
                f"{'intact' if report.chain.intact else 'broken'})",
                soft_wrap=True,
            )

        run(body)
