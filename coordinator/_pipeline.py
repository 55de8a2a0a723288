"""Pipeline definitions: YAML in, validated frozen models out.

A pipeline is data. Loading it checks everything that can be checked before a case runs:
field types, unknown fields, references between steps, groups and policies, dependency
cycles, and every expression (compiled once here). An error is one line naming the file,
the step (or group, policy, escalation) and the field::

    pipelines/x.yaml: step 'score': after: unknown step 'extrct' (did you mean 'extract'?)

Semantics the engine relies on:

- A step runs when everything in its ``after`` is done: a step is done when it completed,
  was skipped (its ``when`` was false) or was cancelled; a parallel group is done when its
  ``join`` is met (``all`` members, the ``first`` one, or a ``quorum`` of them).
  Skipped members do not count: a group whose members were all skipped is done.
- Steps may not depend directly on a member of a ``first``/``quorum`` group (that member
  may be cancelled or may fail without failing the case): they depend on the group.
- ``inputs`` names earlier steps whose outputs the task gets (as ``{alias: step}`` or a
  list of steps); ``when`` and ``inputs`` may only refer to steps the step comes after,
  so a condition never races with the step it reads.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from bus.errors import ConfigError
from coordinator._expressions import Expression
from coordinator._values import value
from schemas.tasks import CAPABILITY_PATTERN


class PipelineError(ConfigError):
    """A pipeline definition is invalid.

    Attributes:
        problems: Every problem found, one line each; the message is the first.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _duration(value: object) -> object:
    """Accept ``'500ms' '30s' '5m' '2h' '1d'`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '30s', '5m' or '2h'")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"expected a duration like '30s', '5m' or '2h', got {value!r}")
        return timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    return value


def _non_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("a duration cannot be negative")
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("a duration must be more than zero")
    return value


Delay = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_non_negative)]
"""A duration that may be zero (``'0s'``)."""

Duration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive)]
"""A duration: ``'500ms'``, ``'30s'``, ``'5m'``, ``'2h'``, ``'1d'`` or seconds."""

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
"""Ids of steps, groups, rules and pipelines: lowercase, digits, '-' and '_'."""

Capability = Annotated[str, Field(pattern=CAPABILITY_PATTERN, max_length=64)]

Queue = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=100)]
"""The name of a human work queue in the inbox."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BackoffKind(StrEnum):
    """How the wait between attempts grows."""

    FIXED = "fixed"
    EXPONENTIAL = "exponential"


class RetryPolicy(_Model):
    """How often a step is tried and how long to wait between tries."""

    max_attempts: int = Field(default=3, ge=1, le=100)
    backoff: BackoffKind = BackoffKind.EXPONENTIAL
    initial_delay: Delay = timedelta(seconds=1)
    max_delay: Delay = timedelta(minutes=1)
    multiplier: float = Field(default=2.0, ge=1.0, le=10.0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_delay < self.initial_delay:
            raise ValueError("max_delay is shorter than initial_delay")
        return self

    def delay(self, attempt: int) -> timedelta:
        """Return how long to wait after attempt number ``attempt`` failed."""
        if self.backoff is BackoffKind.FIXED:
            return self.initial_delay
        # In float seconds: a large factor would overflow timedelta before the cap applies.
        seconds = self.initial_delay.total_seconds() * self.multiplier ** min(attempt - 1, 64)
        return timedelta(seconds=min(seconds, self.max_delay.total_seconds()))


class StepDefaults(_Model):
    """Timeout and retry policy of steps (and compensations) that set none."""

    timeout: Duration = timedelta(minutes=5)
    retry: RetryPolicy = RetryPolicy()


class OnEdit(_Model):
    """What a human ``edit`` does: patch a step's extracted fields, maybe loop back."""

    patch: Identifier = Field(description="Step whose extract output the patches correct.")
    loop_to: Identifier | None = Field(
        default=None, description="Step to run again (with everything after it)."
    )
    max_loops: int = Field(default=1, ge=0, le=100)


class EscalationTarget(_Model):
    """Where a human task goes and how long it may wait there.

    On an SLA breach the task moves to the next queue of ``chain`` with a fresh SLA; after
    the last one it stays where it is.
    """

    queue: Queue
    sla: Duration = timedelta(hours=24)
    chain: tuple[Queue, ...] = ()


class Escalation(EscalationTarget):
    """After the step completes: when ``when`` holds, a human reviews before the case goes on."""

    id: Identifier
    when: Expression | None = Field(default=None, description="None escalates always.")
    reason: str = Field(min_length=1)
    evidence: tuple[Identifier, ...] | None = Field(
        default=None, description="Steps whose outputs the reviewer sees; None shows all."
    )
    on_edit: OnEdit | None = None


TOOL_CAPABILITY = "tool"
"""The capability of tool steps: the tools agent calls the tool on its MCP server."""

UNKNOWN_OUTCOME_QUEUE = "tool-outcomes"


class ToolCall(_Model):
    """A call of a tool on an MCP server (a step's, or a compensation's).

    ``arguments`` are expressions over the case (``steps``, ``case``...), evaluated when
    the task is dispatched; the task carries their values as JSON. ``server`` names an
    entry of the tool servers file the tools agent loads.
    """

    server: Identifier
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    arguments: Mapping[str, Expression] = Field(default_factory=dict)
    unknown_outcome: EscalationTarget = Field(
        default_factory=lambda: EscalationTarget(queue=UNKNOWN_OUTCOME_QUEUE),
        description="Where a person says whether an interrupted call of a tool that is "
        "not idempotent happened.",
    )


def _tool_capability(data: object) -> object:
    """A step or compensation with ``tool`` has the tool capability unless it says one."""
    if isinstance(data, dict) and data.get("tool") is not None and "capability" not in data:
        return {**data, "capability": TOOL_CAPABILITY}
    return data


class Compensation(_Model):
    """The task that undoes a completed step when the case fails or is rejected.

    The compensating task gets the document, ``parameters`` and the step's output (keyed by
    the step id). ``id`` defaults to ``undo-<step>``. With ``tool`` it is a tool call
    (its arguments may read ``steps.<step>``, the output being undone).
    """

    id: Identifier
    capability: Capability
    parameters: Mapping[str, str] = Field(default_factory=dict)
    tool: ToolCall | None = None
    timeout: Duration | None = None
    retry: RetryPolicy | None = None

    @model_validator(mode="before")
    @classmethod
    def _capability(cls, data: object) -> object:
        return _tool_capability(data)


class HandOff(_Model):
    """After the step completes (approved, if it was escalated): when ``when`` holds, the
    case ends here and goes on as a new case in pipeline ``to`` (same document, same
    correlation id), submitted in the same transaction."""

    id: Identifier
    when: Expression
    to: Identifier = Field(description="Name of the pipeline the case goes on in.")
    reason: str = Field(min_length=1)


def _inputs(value: object) -> object:
    if isinstance(value, list | tuple):
        return {item: item for item in value}
    return value


class Step(_Model):
    """One step of a pipeline: a capability an agent performs, or a tool call (``tool``)."""

    id: Identifier
    capability: Capability
    after: tuple[Identifier, ...] = ()
    inputs: Annotated[Mapping[str, Identifier], BeforeValidator(_inputs)] = Field(
        default_factory=dict, description="{alias: step} of earlier outputs the task gets."
    )
    parameters: Mapping[str, str] = Field(default_factory=dict)
    tool: ToolCall | None = None
    when: Expression | None = None
    timeout: Duration | None = None
    retry: RetryPolicy | None = None
    compensation: Compensation | None = None
    escalate: tuple[Escalation, ...] = ()
    hand_off: tuple[HandOff, ...] = Field(
        default=(), description="Rules that hand the case to another pipeline, first match wins."
    )

    @model_validator(mode="before")
    @classmethod
    def _compensation_id(cls, data: object) -> object:
        data = _tool_capability(data)
        if isinstance(data, dict):
            compensation = data.get("compensation")
            if isinstance(compensation, dict) and "id" not in compensation:
                return {**data, "compensation": {"id": f"undo-{data.get('id')}", **compensation}}
        return data

    @model_validator(mode="after")
    def _unknown_outcome(self) -> Self:
        """A tool step escalates, first of all, a call whose outcome is unknown."""
        if self.tool is None:
            return self
        target = self.tool.unknown_outcome
        rule = Escalation(
            id=f"{self.id}-outcome-unknown",
            when=Expression(f"steps[{self.id!r}].status == 'unknown'"),
            reason=(
                f"did this happen? the call of tool {self.tool.name!r} on {self.tool.server!r} "
                "was interrupted and the tool is not idempotent, so it was not called again: "
                "approve if it took effect, reject to stop the case"
            ),
            evidence=(self.id,),
            queue=target.queue,
            sla=target.sla,
            chain=target.chain,
        )
        if any(existing.id == rule.id for existing in self.escalate):
            return self
        return self.model_copy(update={"escalate": (rule, *self.escalate)})


class Join(StrEnum):
    """When a parallel group is done."""

    ALL = "all"
    FIRST = "first"
    QUORUM = "quorum"


class ParallelGroup(_Model):
    """Steps that run side by side; steps after the group wait for its ``join``."""

    id: Identifier
    steps: tuple[Identifier, ...] = Field(min_length=2)
    join: Join = Join.ALL
    quorum: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _quorum(self) -> Self:
        if self.join is Join.QUORUM:
            if self.quorum is None:
                raise ValueError("join: quorum needs 'quorum: N'")
            if self.quorum > len(self.steps):
                raise ValueError(f"quorum {self.quorum} is more than the group's steps")
        elif self.quorum is not None:
            raise ValueError("quorum is only for 'join: quorum'")
        return self

    def needed(self, members: int) -> int:
        """How many completed members the group needs when ``members`` were not skipped."""
        if self.join is Join.FIRST:
            return min(1, members)
        if self.join is Join.QUORUM and self.quorum is not None:
            return min(self.quorum, members)
        return members


class _Targeted(_Model):
    """A rule about some steps: those listed, and those of the capabilities listed.

    With neither list the rule applies to every step.
    """

    id: Identifier
    steps: tuple[Identifier, ...] = ()
    capabilities: tuple[Capability, ...] = ()

    def applies_to(self, step: str, capability: str) -> bool:
        """Whether the rule applies to ``step`` (of ``capability``)."""
        if not self.steps and not self.capabilities:
            return True
        return step in self.steps or capability in self.capabilities


class AccessRule(_Targeted):
    """Allow or deny a step. A denied step fails the case with ``reason``.

    ``deny``: denied when ``when`` holds. ``allow``: denied unless ``when`` holds.
    ``at: before`` guards the start of the step, ``at: after`` checks its output.
    """

    kind: Literal["allow", "deny"]
    when: Expression
    at: Literal["before", "after"] = "before"
    reason: str = Field(min_length=1)


class RedactRule(_Targeted):
    """Fields the agent must redact before any model sees the document or prior outputs."""

    kind: Literal["redact"]
    fields: tuple[str, ...] = Field(min_length=1)


class ModelsRule(_Targeted):
    """The models an agent may use: glob patterns over ``provider/model``.

    After the step, a result produced by a model outside the list fails the case.
    """

    kind: Literal["models"]
    allow: tuple[str, ...] = Field(min_length=1)


class BudgetRule(_Model):
    """A cost and/or latency budget per case.

    Exceeding it fails the case (``on_exceed: fail``) or hands it to a human
    (``on_exceed: escalate``, with ``queue``); a human approval waives the rule for the
    rest of the case. Latency is the sum of the attempts' wall times.
    """

    id: Identifier
    kind: Literal["budget"]
    max_cost_usd: float | None = Field(default=None, gt=0)
    max_latency_ms: float | None = Field(default=None, gt=0)
    on_exceed: Literal["escalate", "fail"] = "fail"
    queue: Queue | None = None
    sla: Duration = timedelta(hours=24)
    chain: tuple[Queue, ...] = ()

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.max_cost_usd is None and self.max_latency_ms is None:
            raise ValueError("a budget needs max_cost_usd or max_latency_ms")
        if self.on_exceed == "escalate" and self.queue is None:
            raise ValueError("on_exceed: escalate needs a queue")
        return self

    def exceeded(self, cost_usd: float, latency_ms: float) -> str | None:
        """Return why the budget is exceeded, or None if it is not."""
        if self.max_cost_usd is not None and cost_usd > self.max_cost_usd:
            return f"cost {cost_usd:.4f} USD exceeds the budget of {self.max_cost_usd:g} USD"
        if self.max_latency_ms is not None and latency_ms > self.max_latency_ms:
            return f"latency {latency_ms:.0f} ms exceeds the budget of {self.max_latency_ms:g} ms"
        return None


Policy = Annotated[AccessRule | RedactRule | ModelsRule | BudgetRule, Field(discriminator="kind")]


@value
class TaskSpec:
    """What the engine needs to dispatch a node: a step or a compensation.

    Attributes:
        id: The step or compensation id.
        capability: The capability to request.
        parameters: Parameters of the task.
        inputs: ``{alias: step}`` of outputs the task gets.
        timeout: How long one attempt may take.
        retry: How often to try.
        compensates: For a compensation, the step it undoes; None for a step.
        redact: Fields to redact, from the redact rules that apply.
        redact_rules: Ids of those rules.
        models: The allowed models, from the models rule that applies (empty: any).
        models_rule: Id of that rule.
        tool: For a tool call, the tool; None otherwise.
    """

    id: str
    capability: str
    parameters: Mapping[str, str]
    inputs: Mapping[str, str]
    timeout: timedelta
    retry: RetryPolicy
    compensates: str | None
    redact: tuple[str, ...]
    redact_rules: tuple[str, ...]
    models: tuple[str, ...]
    models_rule: str | None
    tool: ToolCall | None = None


@value
class Plan:
    """Indexes derived from a pipeline once, so transitions never recompute them.

    Attributes:
        order: Step ids in a topological order (declaration order where free).
        steps: Steps by id.
        nodes: Task specs of steps and compensations by id.
        groups: Parallel groups by id.
        group_of: The group of each grouped step.
        deps: What each step waits for (steps and groups).
        descendants: Steps that transitively come after each step.
        before: Access rules guarding the start of each step.
        after: Access rules checking the output of each step.
        escalations: ``(step, rule)`` by escalation rule id.
        budgets: The budget rules.
    """

    order: tuple[str, ...]
    steps: Mapping[str, Step]
    nodes: Mapping[str, TaskSpec]
    groups: Mapping[str, ParallelGroup]
    group_of: Mapping[str, ParallelGroup]
    deps: Mapping[str, tuple[str, ...]]
    descendants: Mapping[str, frozenset[str]]
    before: Mapping[str, tuple[AccessRule, ...]]
    after: Mapping[str, tuple[AccessRule, ...]]
    escalations: Mapping[str, tuple[str, Escalation]]
    budgets: tuple[BudgetRule, ...]


class Pipeline(_Model):
    """A versioned pipeline definition.

    A running case keeps the (name, version) it started with; a new version applies to
    new cases only.
    """

    name: Identifier
    version: int = Field(ge=1)
    description: str = ""
    default: bool = Field(
        default=False, description="Cases submitted without a pipeline get this one."
    )
    outcome: str = Field(
        default="completed", min_length=1, description="CaseCompleted.outcome on success."
    )
    deadline: Duration | None = Field(
        default=None, description="The case fails if it is still running after this."
    )
    defaults: StepDefaults = StepDefaults()
    steps: tuple[Step, ...] = Field(min_length=1)
    parallel: tuple[ParallelGroup, ...] = ()
    policies: tuple[Policy, ...] = ()
    compensation_escalation: EscalationTarget = EscalationTarget(queue="compensation-failures")

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = _check_pipeline(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @functools.cached_property
    def plan(self) -> Plan:
        """The derived indexes the engine uses (built once, on first use)."""
        return _build_plan(self)

    @property
    def key(self) -> tuple[str, int]:
        """``(name, version)``."""
        return self.name, self.version


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _topological(steps: Mapping[str, Step], deps: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Return the step ids in dependency order, or raise naming a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(step: str, path: list[str]) -> None:
        mark = state.get(step)
        if mark == 2:
            return
        if mark == 1:
            cycle = [*path[path.index(step) :], step]
            raise ValueError(f"step {cycle[0]!r}: after: dependency cycle " + " -> ".join(cycle))
        state[step] = 1
        for dep in deps[step]:
            visit(dep, [*path, step])
        state[step] = 2
        order.append(step)

    for step in steps:
        visit(step, [])
    return order


def _step_deps(pipeline: Pipeline) -> dict[str, tuple[str, ...]]:
    """Each step's direct step dependencies, with groups expanded to their members."""
    groups = {group.id: group for group in pipeline.parallel}
    deps: dict[str, tuple[str, ...]] = {}
    for step in pipeline.steps:
        expanded: list[str] = []
        for dep in step.after:
            expanded.extend(groups[dep].steps if dep in groups else (dep,))
        deps[step.id] = tuple(dict.fromkeys(expanded))
    return deps


def _check_pipeline(pipeline: Pipeline) -> list[str]:
    problems: list[str] = []
    steps = {step.id: step for step in pipeline.steps}
    groups = {group.id: group for group in pipeline.parallel}
    ids: dict[str, str] = {}

    def claim(identifier: str, what: str) -> None:
        if identifier in ids:
            problems.append(f"{what}: id: {identifier!r} is already used by {ids[identifier]}")
        else:
            ids[identifier] = what

    for step in pipeline.steps:
        claim(step.id, f"step {step.id!r}")
    for group in pipeline.parallel:
        claim(group.id, f"parallel group {group.id!r}")
    for step in pipeline.steps:
        if step.compensation is not None:
            claim(step.compensation.id, f"step {step.id!r}: compensation")
    if problems:
        return problems

    group_of: dict[str, ParallelGroup] = {}
    for group in pipeline.parallel:
        where = f"parallel group {group.id!r}: steps"
        for member in group.steps:
            if member not in steps:
                problems.append(f"{where}: unknown step {member!r}{_did_you_mean(member, steps)}")
            elif member in group_of:
                problems.append(f"{where}: {member!r} is already in group {group_of[member].id!r}")
            else:
                group_of[member] = group

    for step in pipeline.steps:
        where = f"step {step.id!r}: after"
        for dep in step.after:
            if dep == step.id:
                problems.append(f"{where}: a step cannot come after itself")
            elif dep in steps:
                tolerant = group_of.get(dep)
                if tolerant is not None and tolerant.join is not Join.ALL:
                    problems.append(
                        f"{where}: {dep!r} is in parallel group {tolerant.id!r} "
                        f"(join: {tolerant.join}); come after the group instead"
                    )
            elif dep in groups:
                if step.id in groups[dep].steps:
                    problems.append(f"{where}: a step cannot come after its own group {dep!r}")
            else:
                known = [*steps, *groups]
                problems.append(f"{where}: unknown step {dep!r}{_did_you_mean(dep, known)}")
    if problems:
        return problems

    deps = _step_deps(pipeline)
    try:
        _topological(steps, deps)
    except ValueError as exc:
        return [str(exc)]
    ancestors = _ancestors(steps, deps)

    for group in pipeline.parallel:
        for member in group.steps:
            inside = ancestors[member] & set(group.steps)
            if inside:
                problems.append(
                    f"parallel group {group.id!r}: steps: {member!r} comes after "
                    f"{sorted(inside)[0]!r} of the same group, so they cannot run in parallel"
                )

    for step in pipeline.steps:
        earlier = ancestors[step.id]
        for alias, source in step.inputs.items():
            if source not in steps:
                problems.append(
                    f"step {step.id!r}: inputs: {alias}: unknown step {source!r}"
                    f"{_did_you_mean(source, steps)}"
                )
            elif source not in earlier:
                problems.append(
                    f"step {step.id!r}: inputs: {alias}: {source!r} does not come before "
                    f"{step.id!r} (add it to after)"
                )
        if step.when is not None:
            problems.extend(_refs(f"step {step.id!r}: when", step.when, steps, earlier, step.id))
        if step.tool is not None:
            for name, argument in step.tool.arguments.items():
                where = f"step {step.id!r}: tool: arguments: {name}"
                problems.extend(_refs(where, argument, steps, earlier, step.id))
        mine = earlier | {step.id}
        compensation = step.compensation
        if compensation is not None and compensation.tool is not None:
            for name, argument in compensation.tool.arguments.items():
                where = f"step {step.id!r}: compensation: tool: arguments: {name}"
                problems.extend(_refs(where, argument, steps, mine, step.id))
        for rule in step.escalate:
            where = f"step {step.id!r}: escalate {rule.id!r}"
            if rule.when is not None:
                problems.extend(_refs(f"{where}: when", rule.when, steps, mine, step.id))
            for name in rule.evidence or ():
                if name not in mine:
                    problems.append(f"{where}: evidence: {name!r} is not {step.id!r} or before it")
            if rule.on_edit is not None:
                edits: tuple[tuple[str, str | None], ...] = (
                    ("patch", rule.on_edit.patch),
                    ("loop_to", rule.on_edit.loop_to),
                )
                for field, target in edits:
                    if target is not None and target not in mine:
                        problems.append(
                            f"{where}: on_edit.{field}: {target!r} is not {step.id!r} or before it"
                        )
            claim(rule.id, where)
        for handoff in step.hand_off:
            where = f"step {step.id!r}: hand_off {handoff.id!r}"
            problems.extend(_refs(f"{where}: when", handoff.when, steps, mine, step.id))
            if handoff.to == pipeline.name:
                problems.append(f"{where}: to: a pipeline cannot hand a case to itself")
            claim(handoff.id, where)

    problems.extend(_check_policies(pipeline, steps, ancestors, claim))
    return problems


def _ancestors(
    steps: Mapping[str, Step], deps: Mapping[str, tuple[str, ...]]
) -> dict[str, frozenset[str]]:
    result: dict[str, frozenset[str]] = {}
    for step in _topological(steps, deps):
        found: set[str] = set()
        for dep in deps[step]:
            found.add(dep)
            found |= result[dep]
        result[step] = frozenset(found)
    return result


def _refs(
    where: str,
    expression: Expression,
    steps: Mapping[str, Step],
    allowed: frozenset[str],
    step: str,
) -> list[str]:
    problems = []
    for ref in sorted(expression.step_refs):
        if ref not in steps:
            problems.append(f"{where}: unknown step {ref!r}{_did_you_mean(ref, steps)}")
        elif ref not in allowed:
            problems.append(f"{where}: step {ref!r} has not run before {step!r} (add it to after)")
    return problems


def _check_policies(
    pipeline: Pipeline,
    steps: Mapping[str, Step],
    ancestors: Mapping[str, frozenset[str]],
    claim: Callable[[str, str], None],
) -> list[str]:
    problems: list[str] = []
    models_for: dict[str, str] = {}
    for policy in pipeline.policies:
        where = f"policy {policy.id!r}"
        claim(policy.id, where)
        if isinstance(policy, BudgetRule):
            continue
        for name in policy.steps:
            if name not in steps:
                problems.append(
                    f"{where}: steps: unknown step {name!r}{_did_you_mean(name, steps)}"
                )
        targets = [s for s in pipeline.steps if policy.applies_to(s.id, s.capability)]
        if isinstance(policy, AccessRule):
            for step in targets:
                seen = ancestors[step.id] | ({step.id} if policy.at == "after" else set())
                for ref in sorted(policy.when.step_refs):
                    if ref not in steps:
                        problems.append(
                            f"{where}: when: unknown step {ref!r}{_did_you_mean(ref, steps)}"
                        )
                        break
                    if ref not in seen:
                        problems.append(
                            f"{where}: when: step {ref!r} has not run {policy.at} step "
                            f"{step.id!r} (limit the rule with steps: or capabilities:)"
                        )
                        break
        elif isinstance(policy, ModelsRule):
            for step in targets:
                other = models_for.setdefault(step.id, policy.id)
                if other != policy.id:
                    problems.append(
                        f"{where}: step {step.id!r} already has the models rule {other!r}"
                    )
    return problems


def _build_plan(pipeline: Pipeline) -> Plan:
    steps = {step.id: step for step in pipeline.steps}
    groups = {group.id: group for group in pipeline.parallel}
    step_deps = _step_deps(pipeline)
    order = tuple(_topological(steps, step_deps))
    ancestors = _ancestors(steps, step_deps)
    descendants = {
        step: frozenset(other for other in order if step in ancestors[other]) for step in order
    }
    targeted = [p for p in pipeline.policies if not isinstance(p, BudgetRule)]

    def spec(
        node: str,
        capability: str,
        parameters: Mapping[str, str],
        inputs: Mapping[str, str],
        timeout: timedelta | None,
        retry: RetryPolicy | None,
        compensates: str | None,
        tool: ToolCall | None,
    ) -> TaskSpec:
        redact = [
            p
            for p in targeted
            if isinstance(p, RedactRule) and p.applies_to(compensates or node, capability)
        ]
        models = [
            p
            for p in targeted
            if isinstance(p, ModelsRule) and p.applies_to(compensates or node, capability)
        ]
        if tool is not None:
            parameters = {**parameters, "server": tool.server, "tool": tool.name}
        return TaskSpec(
            id=node,
            capability=capability,
            parameters=parameters,
            inputs=inputs,
            timeout=timeout or pipeline.defaults.timeout,
            retry=retry or pipeline.defaults.retry,
            compensates=compensates,
            redact=tuple(dict.fromkeys(f for rule in redact for f in rule.fields)),
            redact_rules=tuple(rule.id for rule in redact),
            models=models[0].allow if models else (),
            models_rule=models[0].id if models else None,
            tool=tool,
        )

    nodes: dict[str, TaskSpec] = {}
    for step in pipeline.steps:
        nodes[step.id] = spec(
            step.id,
            step.capability,
            step.parameters,
            step.inputs,
            step.timeout,
            step.retry,
            None,
            step.tool,
        )
        if step.compensation is not None:
            c = step.compensation
            nodes[c.id] = spec(
                c.id, c.capability, c.parameters, {}, c.timeout, c.retry, step.id, c.tool
            )

    def access(step: Step, at: str) -> tuple[AccessRule, ...]:
        return tuple(
            p
            for p in targeted
            if isinstance(p, AccessRule) and p.at == at and p.applies_to(step.id, step.capability)
        )

    return Plan(
        order=order,
        steps=steps,
        nodes=nodes,
        groups=groups,
        group_of={member: group for group in pipeline.parallel for member in group.steps},
        deps={step.id: step.after for step in pipeline.steps},
        descendants=descendants,
        before={step.id: access(step, "before") for step in pipeline.steps},
        after={step.id: access(step, "after") for step in pipeline.steps},
        escalations={rule.id: (step.id, rule) for step in pipeline.steps for rule in step.escalate},
        budgets=tuple(p for p in pipeline.policies if isinstance(p, BudgetRule)),
    )


_LABELS = {
    "steps": "step",
    "parallel": "parallel group",
    "policies": "policy",
    "escalate": "escalate",
}


def _describe_error(data: object, error: ErrorDetails) -> list[str]:
    """Turn one pydantic error into lines ``<where>: <field>: <message>``."""
    labels: list[str] = []
    fields: list[str] = []
    node = data
    loc = list(error["loc"])
    i = 0
    while i < len(loc):
        part = loc[i]
        child = node.get(part) if isinstance(node, dict) and isinstance(part, str) else None
        if (
            isinstance(part, str)
            and part in _LABELS
            and isinstance(child, list)
            and (i + 1 < len(loc) and isinstance(loc[i + 1], int))
        ):
            index = loc[i + 1]
            assert isinstance(index, int)
            item = child[index] if index < len(child) else None
            name = item.get("id") if isinstance(item, dict) else None
            label = f"{_LABELS[part]} {name!r}" if isinstance(name, str) else f"{part}[{index}]"
            labels.append(label)
            fields.clear()
            node = item
            i += 2
            # A discriminated union adds its tag to the location: skip it.
            if isinstance(item, dict) and i < len(loc) and loc[i] == item.get("kind"):
                i += 1
            continue
        fields.append(str(part))
        node = node.get(part) if isinstance(node, dict) and isinstance(part, str) else None
        i += 1
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "union_tag_invalid":
        context = error.get("ctx") or {}
        fields.append(str(context.get("discriminator", "kind")).strip("'"))
        message = f"unknown kind {context.get('tag')!r} (expected {context.get('expected_tags')})"
    prefix = ": ".join(labels + ([".".join(fields)] if fields else []))
    return [f"{prefix}: {line}" if prefix else line for line in message.split("\n")]


def parse_pipeline(text: str, source: str = "<string>") -> Pipeline:
    """Parse and validate one pipeline from YAML text.

    Args:
        text: The YAML document.
        source: Where it came from (a file name), for error messages.

    Raises:
        PipelineError: If the YAML is invalid or the pipeline breaks a rule.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise PipelineError([f"{source}: invalid YAML{where}: {problem}"]) from None
    if not isinstance(data, dict):
        raise PipelineError([f"{source}: expected a mapping with name, version and steps"])
    try:
        return Pipeline.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A list with an invalid item is also reported as too short: only say the cause.
        causes = [
            error
            for error in errors
            if not (
                error["type"] == "too_short"
                and any(
                    other["loc"][: len(error["loc"])] == error["loc"] and other is not error
                    for other in errors
                )
            )
        ]
        lines = [line for error in causes for line in _describe_error(data, error)]
        raise PipelineError([f"{source}: {line}" for line in lines]) from None


def load_pipeline(path: str | os.PathLike[str]) -> Pipeline:
    """Load and validate one pipeline file.

    Raises:
        PipelineError: If the file cannot be read or the pipeline is invalid.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PipelineError([f"{os.fspath(path)}: cannot read: {exc.strerror}"]) from None
    return parse_pipeline(text, os.fspath(path))


class PipelineCatalog:
    """The loaded pipelines by (name, version), and which one a new case gets.

    A running case looks its pipeline up by the (name, version) it started with, so old
    versions stay in the catalog (keep their files) while their cases run. The default
    pipeline, for cases submitted without one, is ``default``, else the one whose file says
    ``default: true``, else the only pipeline name there is.

    Args:
        pipelines: The pipelines.
        default: Name of the default pipeline.

    Raises:
        PipelineError: If two pipelines share a (name, version), several names claim to be
            the default, ``default`` names no pipeline, or a hand-off names a pipeline
            that is not loaded.
    """

    def __init__(self, pipelines: Iterable[Pipeline] = (), *, default: str | None = None) -> None:
        self._by_key: dict[tuple[str, int], Pipeline] = {}
        for pipeline in pipelines:
            if pipeline.key in self._by_key:
                raise PipelineError(
                    [f"pipeline {pipeline.name!r} version {pipeline.version} is defined twice"]
                )
            self._by_key[pipeline.key] = pipeline
        self._latest: dict[str, Pipeline] = {}
        for pipeline in sorted(self._by_key.values(), key=lambda p: p.version):
            self._latest[pipeline.name] = pipeline
        self._default = self._choose_default(default)
        unknown = [
            f"pipeline {p.name!r} version {p.version}: step {step.id!r}: hand_off "
            f"{rule.id!r}: to: no pipeline {rule.to!r} is loaded"
            f"{_did_you_mean(rule.to, self._latest)}"
            for p in self._by_key.values()
            for step in p.steps
            for rule in step.hand_off
            if rule.to not in self._latest
        ]
        if unknown:
            raise PipelineError(unknown)

    def _choose_default(self, default: str | None) -> str | None:
        if default is not None:
            if default not in self._latest:
                raise PipelineError([f"default pipeline {default!r} is not loaded"])
            return default
        flagged = sorted({p.name for p in self._by_key.values() if p.default})
        if len(flagged) > 1:
            raise PipelineError([f"several pipelines say 'default: true': {', '.join(flagged)}"])
        if flagged:
            return flagged[0]
        return next(iter(self._latest)) if len(self._latest) == 1 else None

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], *, default: str | None = None
    ) -> PipelineCatalog:
        """Load every ``*.yaml``/``*.yml`` file of ``directory``.

        Raises:
            PipelineError: If the directory has no pipelines or one of them is invalid.
        """
        root = Path(directory)
        if not root.is_dir():
            raise PipelineError([f"{os.fspath(directory)}: not a directory"])
        files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
        if not files:
            raise PipelineError([f"{os.fspath(directory)}: no pipeline files (*.yaml)"])
        pipelines: list[Pipeline] = []
        seen: dict[tuple[str, int], Path] = {}
        for path in files:
            pipeline = load_pipeline(path)
            if pipeline.key in seen:
                raise PipelineError(
                    [
                        f"{path}: pipeline {pipeline.name!r} version {pipeline.version} "
                        f"is also defined in {seen[pipeline.key]}"
                    ]
                )
            seen[pipeline.key] = path
            pipelines.append(pipeline)
        return cls(pipelines, default=default)

    @property
    def default(self) -> str | None:
        """Name of the pipeline cases get when they do not ask for one."""
        return self._default

    def get(self, name: str, version: int | None = None) -> Pipeline | None:
        """Return pipeline ``name`` at ``version`` (the latest if None), or None."""
        if version is None:
            return self._latest.get(name)
        return self._by_key.get((name, version))

    def select(self, requested: str | None) -> Pipeline | None:
        """Return the pipeline for a new case: ``'name'``, ``'name@version'`` or the default."""
        if requested is None:
            return self._latest.get(self._default) if self._default is not None else None
        name, _, version = requested.partition("@")
        if version:
            return self.get(name, int(version)) if version.isdigit() else None
        return self.get(name)

    def versions(self, name: str) -> tuple[int, ...]:
        """The loaded versions of pipeline ``name``, oldest first."""
        return tuple(sorted(v for n, v in self._by_key if n == name))

    def __iter__(self) -> Iterator[Pipeline]:
        return iter(sorted(self._by_key.values(), key=lambda p: p.key))

    def __len__(self) -> int:
        return len(self._by_key)
