"""Policies: the rules checked before and after each step, as pure functions.

Each check returns ``Verdict``s; the engine turns every verdict into a ``PolicyDecision``
event, so the case log says which rule decided what, why, and on which inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field
from fnmatch import fnmatchcase
from typing import overload

from coordinator._expressions import Expression
from coordinator._pipeline import AccessRule, BudgetRule, TaskSpec
from coordinator._values import value
from schemas.human import FieldPatch
from schemas.lifecycle import Decision
from schemas.payloads import (
    ClassifyOutput,
    DocType,
    ExtractedField,
    ExtractOutput,
    FieldType,
    Label,
    TaskOutput,
    Urgency,
)
from schemas.results import ModelUsage

REDACTED = "[redacted]"
"""What a redacted value is replaced with in the outputs a task gets."""


@value
class Verdict:
    """One decision of one rule.

    Attributes:
        rule_id: The rule that decided.
        decision: allow, deny, redact or escalate.
        reason: Why, in words.
        inputs: The values the rule looked at, as text.
    """

    rule_id: str
    decision: Decision
    reason: str
    inputs: Mapping[str, str] = field(default_factory=dict)

    @property
    def denied(self) -> bool:
        """Whether the verdict stops the step."""
        return self.decision is Decision.DENY


def check_access(rules: Iterable[AccessRule], names: Mapping[str, object]) -> list[Verdict]:
    """Evaluate allow/deny rules in order, stopping at the first denial.

    Raises:
        ExpressionError: If a rule's expression fails.
    """
    verdicts = []
    for rule in rules:
        holds = rule.when.test(names)
        denied = holds if rule.kind == "deny" else not holds
        if denied:
            verdict = Verdict(rule.id, Decision.DENY, rule.reason, _condition(rule.when, holds))
        else:
            reason = f"{rule.kind} rule passed: {rule.when.text} is {holds}"
            verdict = Verdict(rule.id, Decision.ALLOW, reason, _condition(rule.when, holds))
        verdicts.append(verdict)
        if verdict.denied:
            break
    return verdicts


def check_condition(rule_id: str, expression: Expression, holds: bool) -> Verdict:
    """The verdict of a step's ``when``: allow runs the step, deny skips it."""
    if holds:
        return Verdict(
            rule_id, Decision.ALLOW, "condition holds: the step runs", _condition(expression, holds)
        )
    return Verdict(
        rule_id,
        Decision.DENY,
        "condition does not hold: the step is skipped",
        _condition(expression, holds),
    )


def _condition(expression: Expression, holds: bool) -> dict[str, str]:
    return {"when": expression.text, "value": str(holds).lower()}


def redaction(spec: TaskSpec) -> Verdict | None:
    """The redaction verdict for a task, or None when no redact rule applies."""
    if not spec.redact:
        return None
    fields = ",".join(spec.redact)
    return Verdict(
        ",".join(spec.redact_rules),
        Decision.REDACT,
        f"fields redacted before {spec.capability}: {fields}",
        {"fields": fields, "capability": spec.capability},
    )


def model_allowlist(spec: TaskSpec) -> Verdict | None:
    """The verdict that restricts a task's models, or None when no models rule applies."""
    if spec.models_rule is None:
        return None
    models = ",".join(spec.models)
    return Verdict(
        spec.models_rule,
        Decision.ALLOW,
        f"{spec.capability} may use only: {models}",
        {"allowed_models": models, "capability": spec.capability},
    )


def model_allowed(patterns: Iterable[str], provider: str, model: str) -> bool:
    """Whether ``provider/model`` (or the bare model name) matches one of ``patterns``."""
    qualified = f"{provider}/{model}"
    return any(fnmatchcase(qualified, p) or fnmatchcase(model, p) for p in patterns)


def check_model_used(spec: TaskSpec, usage: ModelUsage) -> Verdict | None:
    """After a step: the denial when the model that produced the output was not allowed.

    An allowed model gives None: the allow-list decision made when the task was requested
    already covers it.
    """
    if spec.models_rule is None or model_allowed(spec.models, usage.provider, usage.model):
        return None
    used = f"{usage.provider}/{usage.model}"
    inputs = {"model": used, "allowed_models": ",".join(spec.models)}
    return Verdict(
        spec.models_rule, Decision.DENY, f"model {used} is not in the allow-list", inputs
    )


def check_budget(rule: BudgetRule, cost_usd: float, latency_ms: float) -> Verdict | None:
    """The verdict of an exceeded budget (escalate or deny), or None within budget."""
    reason = rule.exceeded(cost_usd, latency_ms)
    if reason is None:
        return None
    inputs = {"cost_usd": f"{cost_usd:.6f}", "latency_ms": f"{latency_ms:.0f}"}
    if rule.max_cost_usd is not None:
        inputs["max_cost_usd"] = f"{rule.max_cost_usd:g}"
    if rule.max_latency_ms is not None:
        inputs["max_latency_ms"] = f"{rule.max_latency_ms:g}"
    decision = Decision.ESCALATE if rule.on_exceed == "escalate" else Decision.DENY
    return Verdict(rule.id, decision, reason, inputs)


def remaining(
    budgets: Iterable[BudgetRule], waived: Iterable[str], cost_usd: float, latency_ms: float
) -> tuple[float | None, float | None]:
    """What a task may still spend: ``(max_cost_usd, max_latency_ms)``, None if unbounded."""
    skip = set(waived)
    cost: float | None = None
    latency: float | None = None
    for rule in budgets:
        if rule.id in skip:
            continue
        if rule.max_cost_usd is not None:
            left = max(rule.max_cost_usd - cost_usd, 0.0)
            cost = left if cost is None else min(cost, left)
        if rule.max_latency_ms is not None:
            left = max(rule.max_latency_ms - latency_ms, 0.0)
            latency = left if latency is None else min(latency, left)
    return cost, latency


def redact_output(output: TaskOutput, fields: Iterable[str]) -> TaskOutput:
    """Return ``output`` with the values of the named extracted fields redacted."""
    if not isinstance(output, ExtractOutput):
        return output
    names = set(fields)
    if not any(f.name in names for f in output.fields):
        return output
    return output.model_copy(
        update={
            "fields": tuple(
                f.model_copy(update={"value": REDACTED, "normalized": None})
                if f.name in names
                else f
                for f in output.fields
            )
        }
    )


Patchable = ExtractOutput | ClassifyOutput
"""The outputs a person may correct: extracted fields, and a classification's type and
urgency."""


@overload
def apply_patches(output: ExtractOutput, patches: Iterable[FieldPatch]) -> ExtractOutput: ...
@overload
def apply_patches(output: ClassifyOutput, patches: Iterable[FieldPatch]) -> ClassifyOutput: ...
@overload
def apply_patches(output: Patchable, patches: Iterable[FieldPatch]) -> Patchable: ...
def apply_patches(output: Patchable, patches: Iterable[FieldPatch]) -> Patchable:
    """Return ``output`` corrected by a human.

    Extracted fields are replaced, added or (value None) removed; a corrected value is
    taken as certain and canonical (confidence 1, normalised to itself) and its text span
    no longer applies. A classification takes ``doc_type`` and ``urgency``: the corrected
    answer is certain (confidence 1).

    Raises:
        ValueError: A classification patch names another field or a value it cannot take.
    """
    if isinstance(output, ClassifyOutput):
        return _patched_classification(output, patches)
    fields = {f.name: f for f in output.fields}
    for patch in patches:
        if patch.value is None:
            fields.pop(patch.field, None)
            continue
        old = fields.get(patch.field)
        fields[patch.field] = ExtractedField(
            name=patch.field,
            value=patch.value,
            type=old.type if old is not None else FieldType.STRING,
            normalized=patch.value,
            span=None,
            confidence=1.0,
        )
    return ExtractOutput(fields=tuple(fields.values()))


def _patched_classification(
    output: ClassifyOutput, patches: Iterable[FieldPatch]
) -> ClassifyOutput:
    changes: dict[str, object] = {}
    for patch in patches:
        if patch.field not in ("doc_type", "urgency") or patch.value is None:
            raise ValueError(
                f"a classification takes doc_type and urgency, not {patch.field!r}"
                + (" removed" if patch.value is None else "")
            )
        kind = DocType if patch.field == "doc_type" else Urgency
        try:
            changes[patch.field] = kind(patch.value)
        except ValueError:
            raise ValueError(
                f"{patch.field} {patch.value!r} is not one of {', '.join(v.value for v in kind)}"
            ) from None
    if "doc_type" in changes:
        doc_type = changes["doc_type"]
        assert isinstance(doc_type, DocType)
        changes |= {"confidence": 1.0, "labels": (Label(label=doc_type.value, score=1.0),)}
    return output.model_copy(update=changes)
