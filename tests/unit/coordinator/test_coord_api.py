"""The public names of the coordinator package."""

from __future__ import annotations

from pathlib import Path

from mypy import api as mypy_api

import coordinator


def test_public_names() -> None:
    assert sorted(coordinator.__all__) == sorted(
        [
            "AUDIT_HEAD",
            "OWN_KEYS",
            "TOMBSTONE",
            "read_state",
            "copartitioned_count",
            "Break",
            "Link",
            "Signed",
            "verify_chain",
            "verify_heads",
            "CaseReplay",
            "Logged",
            "Mismatch",
            "Replay",
            "consumption_order",
            "apply_patches",
            "replay",
            "Coordinator",
            "CoordinatorStats",
            "ENGINE_VERSION",
            "HOT_STATES",
            "StateStore",
            "PRODUCER",
            "RECENT_EVENTS",
            "AccessRule",
            "BackoffKind",
            "BudgetRule",
            "CaseState",
            "CaseStatus",
            "Closing",
            "Compensation",
            "Escalation",
            "EscalationTarget",
            "Expression",
            "ExpressionError",
            "HumanTask",
            "HumanTaskKind",
            "Join",
            "ModelsRule",
            "OnEdit",
            "Output",
            "ParallelGroup",
            "Pipeline",
            "PipelineCatalog",
            "PipelineError",
            "Plan",
            "Policy",
            "RedactRule",
            "RetryPolicy",
            "Step",
            "StepDefaults",
            "StepState",
            "StepStatus",
            "TaskSpec",
            "Timer",
            "Transition",
            "case_event_hash",
            "derive_event_id",
            "gc_paused",
            "load_pipeline",
            "parse_pipeline",
            "step_of_task",
            "timer_fired",
            "transition",
        ]
    )
    for name in coordinator.__all__:
        assert getattr(coordinator, name) is not None


def test_the_values_a_transition_builds_are_read_only_to_the_type_checker(tmp_path: Path) -> None:
    # `coordinator._values.value` builds plain dataclasses and leaves immutability to mypy
    # (strict over the whole tree in `make test`): an assignment to a field must fail it.
    code = tmp_path / "mutates.py"
    code.write_text(
        "from coordinator import CaseState, Output, StepState, Transition\n"
        "def mutate(c: CaseState, s: StepState, o: Output, t: Transition) -> None:\n"
        "    c.seq = 1\n"
        "    s.run = 2\n"
        "    o.topic = 'x'\n"
        "    t.ignored = 'y'\n"
        "    print(c.seq, s.run, o.topic, t.ignored)\n"
    )
    out, _, status = mypy_api.run(["--no-error-summary", str(code)])
    errors = out.splitlines()
    assert status == 1
    assert [line.split(":")[1] for line in errors] == ["3", "4", "5", "6"], out
    assert all("is read-only" in line for line in errors), out
