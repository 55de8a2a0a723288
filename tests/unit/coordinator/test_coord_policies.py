"""Policies before and after steps: allow/deny, redaction, budgets, model allow-lists."""

from __future__ import annotations

import pytest

from coordinator import CaseStatus
from schemas.human import DecisionAction, HumanTaskOpened
from schemas.lifecycle import CaseFailed, Decision, PolicyDecision
from schemas.payloads import DocType, ExtractOutput
from schemas.results import ModelUsage
from tests.unit.coordinator.coord_support import Driver, classify, extract, load, respond

GUARDED = """
name: guarded
version: 1
steps:
  - {{id: classify, capability: classify}}
  - id: extract
    capability: extract
    after: [classify]
    inputs: [classify]
    compensation: {{capability: respond}}
  - {{id: reply, capability: respond, after: [extract], inputs: [classify, extract]}}
policies:
{policies}
"""


def guarded(policies: str) -> Driver:
    return Driver(load(GUARDED.format(policies=policies)))


DENY_IDS = """
  - id: no-identity
    kind: deny
    steps: [extract]
    when: steps.classify.doc_type == 'identity_document'
    reason: identity documents are handled by hand
"""
ONLY_INVOICES = """
  - id: invoices-only
    kind: allow
    capabilities: [extract]
    when: steps.classify.doc_type in ['invoice', 'receipt']
    reason: only invoices and receipts are extracted
"""


@pytest.mark.parametrize(
    ("policies", "doc_type", "denied"),
    [
        (DENY_IDS, DocType.IDENTITY_DOCUMENT, True),
        (DENY_IDS, DocType.INVOICE, False),
        (ONLY_INVOICES, DocType.CONTRACT, True),
        (ONLY_INVOICES, DocType.RECEIPT, False),
    ],
)
def test_allow_and_deny_rules_guard_the_start_of_a_step(
    policies: str, doc_type: DocType, denied: bool
) -> None:
    d = guarded(policies)
    d.submit()
    result = d.complete("classify", classify(doc_type))
    decision = d.of(PolicyDecision)[-1]
    assert decision.step == "extract"
    assert decision.inputs["when"].startswith("steps.classify.doc_type")
    if denied:
        assert decision.decision is Decision.DENY
        assert d.requested(result) == []
        failed = d.of(CaseFailed)[0]
        assert failed.error_class == "PolicyDenied"
        assert decision.reason in failed.reason
        assert failed.step == "extract"
    else:
        assert decision.decision is Decision.ALLOW
        assert d.requested(result) == ["extract#1"]


def test_deny_after_a_step_checks_its_output_and_compensates() -> None:
    d = guarded(
        """
  - id: no-empty-extraction
    kind: deny
    at: after
    steps: [extract]
    when: len(steps.extract.fields) == 0
    reason: nothing was extracted
"""
    )
    d.submit()
    d.complete("classify", classify())
    result = d.complete("extract", ExtractOutput(fields=()))
    assert d.requested(result) == ["undo-extract#1"]
    d.complete("undo-extract", respond())
    failed = d.of(CaseFailed)[0]
    assert (failed.error_class, failed.compensated) == ("PolicyDenied", True)


def test_redaction_names_the_fields_in_the_task_and_masks_prior_outputs() -> None:
    d = guarded(
        """
  - id: no-iban-in-replies
    kind: redact
    capabilities: [respond]
    fields: [iban, email]
"""
    )
    d.submit()
    d.complete("classify", classify())
    assert d.task("extract").redact_fields == ()
    result = d.complete("extract", extract(total_amount="12", iban="DE89"))
    task = d.task("reply")
    assert task.redact_fields == ("iban", "email")
    prior = task.input.prior["extract"]
    assert isinstance(prior, ExtractOutput)
    assert {f.name: f.value for f in prior.fields} == {"total_amount": "12", "iban": "[redacted]"}
    decision = next(e for e in result.events if isinstance(e, PolicyDecision))
    assert (decision.rule_id, decision.decision, decision.step) == (
        "no-iban-in-replies",
        Decision.REDACT,
        "reply",
    )
    assert decision.inputs["fields"] == "iban,email"
    # The state keeps the real values: only what leaves for the agent is redacted.
    assert d.state is not None
    kept = d.state.steps["extract"].output
    assert isinstance(kept, ExtractOutput) and kept.fields[1].value == "DE89"


MODELS = """
  - id: local-only
    kind: models
    capabilities: [classify, extract]
    allow: ["local/*", "tiny-?"]
"""


def test_model_allow_list_is_passed_to_the_task() -> None:
    d = guarded(MODELS)
    opened = d.submit()
    assert d.task("classify").allowed_models == ("local/*", "tiny-?")
    decision = next(e for e in opened.events if isinstance(e, PolicyDecision))
    assert (decision.rule_id, decision.decision) == ("local-only", Decision.ALLOW)
    assert decision.inputs["allowed_models"] == "local/*,tiny-?"
    d.complete("classify", classify())
    d.complete("extract", extract())
    assert d.task("reply").allowed_models == ()


@pytest.mark.parametrize(
    ("provider", "model", "allowed"),
    [("local", "anything", True), ("openai", "tiny-1", True), ("openai", "gpt-4o", False)],
)
def test_a_result_from_a_model_outside_the_allow_list_fails_the_case(
    provider: str, model: str, allowed: bool
) -> None:
    d = guarded(MODELS)
    d.submit()
    d.complete("classify", classify(), usage=ModelUsage(provider=provider, model=model))
    assert d.state is not None
    assert (d.state.status is CaseStatus.RUNNING) == allowed
    if not allowed:
        decision = d.of(PolicyDecision)[-1]
        assert decision.decision is Decision.DENY
        assert decision.inputs["model"] == f"{provider}/{model}"


COST = """
  - id: cost
    kind: budget
    max_cost_usd: 0.05
    on_exceed: {action}
    queue: budget-review
"""


def spend(d: Driver, cost: float) -> None:
    d.submit()
    d.complete("classify", classify(), usage=ModelUsage(provider="local", model="m", cost_usd=cost))


def test_budgets_are_passed_to_tasks_as_what_is_left() -> None:
    d = guarded(
        COST.format(action="fail")
        + """
  - {id: time, kind: budget, max_latency_ms: 1000}
"""
    )
    spend(d, 0.02)
    task = d.task("extract")
    assert task.max_cost_usd == pytest.approx(0.03)
    assert task.max_latency_ms == pytest.approx(990.0)


def test_budget_exceeded_fails_when_so_configured() -> None:
    d = guarded(COST.format(action="fail"))
    spend(d, 0.06)
    decision = d.of(PolicyDecision)[-1]
    assert (decision.rule_id, decision.decision) == ("cost", Decision.DENY)
    assert decision.inputs["max_cost_usd"] == "0.05"
    failed = d.of(CaseFailed)[0]
    assert failed.error_class == "BudgetExceeded"
    assert "exceeds the budget" in failed.reason


def test_budget_exceeded_escalates_and_an_approval_waives_it() -> None:
    d = guarded(COST.format(action="escalate"))
    spend(d, 0.06)
    decision = d.of(PolicyDecision)[-1]
    assert decision.decision is Decision.ESCALATE
    opened = d.of(HumanTaskOpened)[0]
    assert opened.queue == "budget-review"
    assert d.state is not None and d.state.waiting_for_human
    result = d.decide(DecisionAction.APPROVE)
    assert d.requested(result) == ["extract#1"]
    assert d.state is not None and d.state.waived == ("cost",)
    # Waived: the budget no longer limits tasks or escalates again.
    assert d.task("extract").max_cost_usd is None
    d.complete("extract", extract(), usage=ModelUsage(provider="l", model="m", cost_usd=1.0))
    assert len(d.of(HumanTaskOpened)) == 1


def test_budget_escalation_rejected_closes_the_case() -> None:
    d = guarded(COST.format(action="escalate"))
    spend(d, 0.06)
    d.decide(DecisionAction.REJECT)
    assert d.state is not None and d.state.status is CaseStatus.COMPLETED


def test_budget_escalation_cannot_be_edited() -> None:
    d = guarded(COST.format(action="escalate"))
    spend(d, 0.06)
    result = d.decide(DecisionAction.EDIT)
    assert result.dead_letter is not None


def test_expression_failure_at_runtime_fails_the_case_naming_the_expression() -> None:
    d = guarded(
        """
  - id: amount
    kind: deny
    steps: [reply]
    when: float(field(steps.extract, 'total_amount')) > 100
    reason: large amounts need a person
"""
    )
    d.submit()
    d.complete("classify", classify())
    d.complete("extract", extract(iban="DE89"))
    d.complete("undo-extract", respond())
    failed = d.of(CaseFailed)[0]
    assert failed.error_class == "ExpressionError"
    assert "float(field(steps.extract, 'total_amount')) > 100" in failed.reason


def test_policy_decisions_are_case_events_in_the_hash_chain() -> None:
    d = guarded(DENY_IDS)
    d.submit()
    d.complete("classify", classify())
    assert all(e.previous_hash is not None for e in d.of(PolicyDecision))
