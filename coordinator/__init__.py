"""The coordinator's decisions: pipelines, policies, saga state and the pure transition.

Nothing here does I/O. For each input the runtime looks up the case's ``CaseState`` and
calls ``transition(state, event, catalog)``; then, in one transaction, it publishes
``Transition.outputs`` (each with its topic), writes ``Transition.state`` to the changelog
(``CaseState.to_bytes``; a tombstone once ``state.finished``) when it is not the state it
passed in, copies the input to the dead-letter topic when ``Transition.dead_letter`` is
set, and commits the input offset. Its timer loop fires ``CaseState.due_timers(now)``
(or watches ``CaseState.next_due``) by publishing ``timer_fired(state, timer, now)``.
``replay`` runs the same transitions again on recorded inputs and names every recorded
decision they do not reproduce.
"""

from coordinator._audit import Break, Link, Signed, verify_chain, verify_heads
from coordinator._engine import (
    ENGINE_VERSION,
    PRODUCER,
    Output,
    Transition,
    timer_fired,
    transition,
)
from coordinator._expressions import Expression, ExpressionError
from coordinator._ids import case_event_hash, derive_event_id, step_of_task
from coordinator._pipeline import (
    AccessRule,
    BackoffKind,
    BudgetRule,
    Compensation,
    Escalation,
    EscalationTarget,
    Join,
    ModelsRule,
    OnEdit,
    ParallelGroup,
    Pipeline,
    PipelineCatalog,
    PipelineError,
    Plan,
    Policy,
    RedactRule,
    RetryPolicy,
    Step,
    StepDefaults,
    TaskSpec,
    load_pipeline,
    parse_pipeline,
)
from coordinator._policies import apply_patches
from coordinator._replay import CaseReplay, Logged, Mismatch, Replay, consumption_order, replay
from coordinator._service import (
    AUDIT_HEAD,
    OWN_KEYS,
    TOMBSTONE,
    Coordinator,
    CoordinatorStats,
    copartitioned_count,
    gc_paused,
    read_state,
)
from coordinator._state import (
    RECENT_EVENTS,
    CaseState,
    CaseStatus,
    Closing,
    HumanTask,
    HumanTaskKind,
    StepState,
    StepStatus,
    Timer,
)
from coordinator._store import HOT_STATES, StateStore

__all__ = [
    "AUDIT_HEAD",
    "ENGINE_VERSION",
    "HOT_STATES",
    "OWN_KEYS",
    "PRODUCER",
    "RECENT_EVENTS",
    "TOMBSTONE",
    "AccessRule",
    "BackoffKind",
    "Break",
    "BudgetRule",
    "CaseReplay",
    "CaseState",
    "CaseStatus",
    "Closing",
    "Compensation",
    "Coordinator",
    "CoordinatorStats",
    "Escalation",
    "EscalationTarget",
    "Expression",
    "ExpressionError",
    "HumanTask",
    "HumanTaskKind",
    "Join",
    "Link",
    "Logged",
    "Mismatch",
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
    "Replay",
    "RetryPolicy",
    "Signed",
    "StateStore",
    "Step",
    "StepDefaults",
    "StepState",
    "StepStatus",
    "TaskSpec",
    "Timer",
    "Transition",
    "apply_patches",
    "case_event_hash",
    "consumption_order",
    "copartitioned_count",
    "derive_event_id",
    "gc_paused",
    "load_pipeline",
    "parse_pipeline",
    "read_state",
    "replay",
    "step_of_task",
    "timer_fired",
    "transition",
    "verify_chain",
    "verify_heads",
]
