"""The public names of the coordinator package."""

from __future__ import annotations

import coordinator


def test_public_names() -> None:
    assert sorted(coordinator.__all__) == sorted(
        [
            "AUDIT_HEAD",
            "TOMBSTONE",
            "read_state",
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
            "load_pipeline",
            "parse_pipeline",
            "step_of_task",
            "timer_fired",
            "transition",
        ]
    )
    for name in coordinator.__all__:
        assert getattr(coordinator, name) is not None
