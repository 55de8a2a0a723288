"""Tool steps in the coordinator: arguments evaluated at dispatch and carried by the task,
a tool's JSON result readable by later expressions, an unknown outcome sent to a person,
a compensating tool call reading the output it undoes, and bad definitions refused."""

from __future__ import annotations

import json

import pytest

from coordinator import CaseStatus, PipelineError, StepStatus
from schemas.human import DecisionAction, HumanTaskOpened
from schemas.lifecycle import CaseCompleted, CaseFailed
from schemas.payloads import ToolOutput, ToolStatus
from tests.unit.coordinator.coord_support import CASE, Driver, extract, load

SOURCE = """
name: tools
version: 1
steps:
  - {id: extract, capability: extract}
  - id: vendor
    after: [extract]
    tool:
      server: vendors
      name: check_vendor_iban
      arguments:
        iban: field(steps.extract, 'iban')
        case: case.id
        fixed: "{'n': 1, 'tags': ['a', 'b']}"
  - id: hold
    after: [vendor]
    when: not steps.vendor.result.known
    tool:
      server: vendors
      name: hold_payment
      arguments: {iban: "field(steps.extract, 'iban')"}
      unknown_outcome: {queue: payments-desk, sla: 2h}
    compensation:
      tool:
        server: vendors
        name: release_payment
        arguments: {hold_id: steps.hold.result.hold_id}
  - {id: respond, capability: respond, after: [hold]}
"""


def output(tool: str, result: object, status: ToolStatus = ToolStatus.OK) -> ToolOutput:
    return ToolOutput(
        server="vendors",
        tool=tool,
        idempotency_key="k",
        status=status,
        result=json.dumps(result),
    )


def started() -> Driver:
    d = Driver(load(SOURCE))
    d.submit()
    d.complete("extract", extract(iban="DE02120300000000202051"))
    return d


def test_a_tool_step_is_a_task_of_the_tool_capability_with_evaluated_arguments() -> None:
    d = started()
    task = d.task("vendor")
    assert task.capability == "tool"
    assert dict(task.input.parameters) == {"server": "vendors", "tool": "check_vendor_iban"}
    assert task.input.arguments is not None
    assert json.loads(task.input.arguments) == {
        "iban": "DE02120300000000202051",
        "case": CASE,
        "fixed": {"n": 1, "tags": ["a", "b"]},
    }


def test_later_expressions_read_the_tool_s_json_result() -> None:
    d = started()
    assert d.requested(d.complete("vendor", output("check_vendor_iban", {"known": True}))) == [
        "respond#1"
    ]
    assert d.state is not None and d.state.steps["hold"].status is StepStatus.SKIPPED

    d = started()
    result = d.complete("vendor", output("check_vendor_iban", {"known": False}))
    assert d.requested(result) == ["hold#1"]


def test_an_unknown_outcome_asks_a_person_whether_it_happened() -> None:
    d = started()
    d.complete("vendor", output("check_vendor_iban", {"known": False}))
    d.complete("hold", output("hold_payment", None, ToolStatus.UNKNOWN))
    opened = d.of(HumanTaskOpened)[-1]
    assert opened.queue == "payments-desk"
    assert opened.reason.startswith("did this happen?")
    assert set(opened.evidence) == {"hold"}
    # Yes, it happened: the case goes on (nothing is called again).
    assert d.requested(d.decide(DecisionAction.APPROVE)) == ["respond#1"]


def test_no_it_did_not_happen_stops_the_case() -> None:
    d = started()
    d.complete("vendor", output("check_vendor_iban", {"known": False}))
    d.complete("hold", output("hold_payment", None, ToolStatus.UNKNOWN))
    d.decide(DecisionAction.REJECT)
    # It did not happen, so there is nothing to undo: no compensation of the step.
    assert d.of(CaseCompleted)[-1].outcome == "rejected"
    with pytest.raises(AssertionError, match="no task requested"):
        d.task("undo-hold")


def test_a_compensating_tool_reads_the_output_it_undoes() -> None:
    d = started()
    d.complete("vendor", output("check_vendor_iban", {"known": False}))
    d.complete("hold", output("hold_payment", {"hold_id": "H-1"}))
    d.fail("respond", retryable=False)
    task = d.task("undo-hold")
    assert task.capability == "tool"
    assert task.input.parameters["tool"] == "release_payment"
    assert json.loads(task.input.arguments or "") == {"hold_id": "H-1"}
    d.complete("undo-hold", output("release_payment", {"released": True}))
    assert d.of(CaseFailed)[-1].compensated


def test_arguments_that_fail_to_evaluate_fail_the_case_with_the_expression() -> None:
    source = SOURCE.replace("case: case.id", "case: case.nope.deeper")
    d = Driver(load(source))
    d.submit()
    d.complete("extract", extract(iban="X"))
    failed = d.of(CaseFailed)[-1]
    assert "tool arguments" in failed.reason and failed.error_class == "ExpressionError"
    assert d.state is not None and d.state.status is CaseStatus.FAILED
    assert d.of(CaseCompleted) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            (
                "iban: field(steps.extract, 'iban')\n        case",
                "iban: steps.hold.x\n        case",
            ),
            "step 'vendor': tool: arguments: iban: step 'hold' has not run before 'vendor'",
        ),
        (("name: check_vendor_iban", "name: 'bad name'"), "tool.name"),
        (("server: vendors\n      name: check", "server: Vendors!\n      name: check"), "server"),
    ],
)
def test_bad_tool_definitions_are_refused_at_load(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in SOURCE
    with pytest.raises(PipelineError, match=r"test\.yaml") as info:
        load(SOURCE.replace(old, new, 1))
    assert message in str(info.value)


def test_a_redact_rule_on_a_tool_step_keeps_the_values_from_the_tool() -> None:
    source = SOURCE + (
        "policies:\n  - {id: no-ibans-to-tools, kind: redact, steps: [vendor], fields: [iban]}\n"
    )
    d = Driver(load(source))
    d.submit()
    d.complete("extract", extract(iban="DE02120300000000202051"))
    arguments = json.loads(d.task("vendor").input.arguments or "")
    assert arguments["iban"] != "DE02120300000000202051"
    assert "DE02120300000000202051" not in json.dumps(arguments)
