"""`caseyard audit export`: the report of a case built from its events, rendered as JSON
and as one self-contained, escaped HTML file."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from caseyard.audit_report import CaseReport, ReportFormat, build_report, render
from coordinator import Link, PipelineCatalog, Transition, verify_chain
from schemas import CaseEvent, ModelUsage
from schemas.human import DecisionAction
from schemas.payloads import RiskBand
from schemas.topology import CASE_EVENTS
from tests.unit.coordinator.coord_support import CASE, Driver, classify, load, respond, score

PIPELINE = load(
    """
name: audited
version: 3
steps:
  - {id: classify, capability: classify, retry: {max_attempts: 2, backoff: fixed,
     initial_delay: 0s, max_delay: 0s}}
  - id: score
    capability: score
    after: [classify]
    escalate: [{id: high-risk, when: "steps.score.score >= 0.7", queue: risk, reason: high risk}]
  - {id: respond, capability: respond, after: [score]}
"""
)
SCRIPT = '<script>alert("owned")</script>'
NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def story() -> Driver:
    d = Driver(catalog=PipelineCatalog([PIPELINE]))
    paid = ModelUsage(provider="openai", model="gpt-4o-mini", cost_usd=0.0125, latency_ms=800)
    steps: list[Callable[[], Transition]] = [
        d.submit,
        lambda: d.fail("classify"),
        lambda: d.complete("classify", classify(), usage=paid),
        lambda: d.complete("score", score(0.9, RiskBand.HIGH)),
        lambda: d.claim("ana"),
        lambda: d.decide(DecisionAction.APPROVE, comment=SCRIPT),
        lambda: d.complete("respond", respond()),
    ]
    for step in steps:
        step()
        d.advance(timedelta(seconds=1))
    return d


def report_of(d: Driver, *, edit: int | None = None) -> CaseReport:
    """The report of `d`'s case; `edit` changes that case event after the fact."""
    events = [o.event for r in d.log for o in r.outputs if o.topic == CASE_EVENTS.name]
    if edit is not None:
        events[edit] = events[edit].model_copy(update={"occurred_at": NOW})
    logged = [(f"caseyard.case-events/0/{i}", e) for i, e in enumerate(events)]
    links = [Link(where, e) for where, e in logged if isinstance(e, CaseEvent)]
    inputs = [(f"caseyard.inputs/0/{i}", e) for i, e in enumerate(d.inputs)]
    return build_report(CASE, links, [*logged, *inputs], verify_chain(CASE, links), [], NOW)


def test_the_report_has_the_decisions_models_cost_and_chain() -> None:
    report = json.loads(render(report_of(story()), ReportFormat.JSON))
    assert (report["case_id"], report["status"], report["outcome"]) == (
        CASE,
        "completed",
        "completed",
    )
    assert (report["pipeline"], report["pipeline_version"]) == ("audited", 3)
    chain = report["chain"]
    assert (chain["intact"], chain["breaks"]) == (True, [])
    assert len(chain["proof"]["events"]) == chain["records"]
    assert chain["proof"]["checkpoint"] is None  # none was given
    rules = [(p["rule"], p["decision"]) for p in report["policy_decisions"]]
    assert ("high-risk", "escalate") in rules and ("high-risk", "allow") in rules
    (human,) = report["human_decisions"]
    assert (human["action"], human["by"], human["comment"]) == ("approve", "ana", SCRIPT)
    models = [(m["step"], m["provider"], m["model"]) for m in report["models"]]
    assert models == [
        ("classify", "openai", "gpt-4o-mini"),
        ("score", "local", "tiny"),
        ("respond", "local", "tiny"),
    ]
    assert report["total_cost_usd"] == 0.0125 + 0.01 + 0.01
    (failure,) = report["failures"]
    assert (failure["step"], failure["attempt"], failure["error_class"]) == (
        "classify",
        1,
        "ProviderError",
    )
    events = [t["event"] for t in report["timeline"]]
    assert events[:3] == ["CaseSubmitted", "CaseOpened", "StepStarted"]
    assert events.count("TaskCompleted") == 3 and "HumanTaskClaimed" in events


def test_html_is_one_file_with_inline_css_and_every_value_escaped() -> None:
    html = render(report_of(story()), ReportFormat.HTML)
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in html
    assert "<script" not in html
    external = re.findall(r"https?://|<link|\bsrc=|@import|url\(", html)
    assert external == []
    assert f"Case {CASE}" in html and "gpt-4o-mini" in html
    assert "intact" in html and "0.032500" in html


def test_an_edited_case_event_shows_as_a_broken_chain() -> None:
    d = story()
    report = report_of(d, edit=3)
    assert not report.chain.intact
    (problem,) = report.chain.breaks
    assert "does not follow caseyard.case-events/0/3: that record was changed" in problem
    html = render(report, ReportFormat.HTML)
    assert "broken" in html and "caseyard.case-events/0/3" in html
