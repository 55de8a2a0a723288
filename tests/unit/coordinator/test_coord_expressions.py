"""The safe expression engine: what compiles, what it evaluates to, and how it fails."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from coordinator import Expression, ExpressionError
from coordinator._expressions import StepViews
from schemas import ClassifyOutput, DocType, RiskBand, ScoreOutput, Urgency

NAMES: dict[str, object] = {
    "steps": {
        "classify": {"doc_type": "invoice", "confidence": 0.91, "labels": []},
        "score": {"score": 0.72, "band": "high", "reasons": ["new payee"]},
        "extract": {
            "fields": [
                {"name": "total_amount", "value": "1.200,00", "normalized": "1200.00"},
                {"name": "iban", "value": "DE89", "normalized": None},
            ]
        },
    },
    "case": {"id": "c1", "metadata": {"customer": "acme"}, "media_type": "application/pdf"},
    "usage": {"cost_usd": 0.12, "latency_ms": 900.0},
    "loops": {"high-risk": 1},
    "step": {"id": "score", "capability": "score"},
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("steps.score.band == 'high' or steps.score.score >= 0.7", True),
        ("steps.classify.doc_type in ['invoice', 'receipt']", True),
        ("steps.classify.doc_type not in ('invoice',)", False),
        ("steps['score']['score'] > 0.8", False),
        ("'extract' in steps and float(field(steps.extract, 'total_amount')) > 1000", True),
        ("field(steps.extract, 'iban')", "DE89"),
        ("field(steps.extract, 'missing', 'none')", "none"),
        ("'respond' in steps", False),
        ("get(case.metadata, 'customer') == 'acme'", True),
        ("get(case.metadata, 'region', 'eu')", "eu"),
        ("usage.cost_usd < 0.5 and usage.latency_ms < 1000", True),
        ("get(loops, 'high-risk', 0) < 2", True),
        ("len(steps.score.reasons)", 1),
        ("lower('ABC') + upper('d')", "abcD"),
        ("any([f['normalized'] == None for f in steps.extract.fields])", True),
        ("max(steps.score.score, 0.9) if step.id == 'score' else 0", 0.9),
        ("round(steps.classify.confidence, 1)", 0.9),
    ],
)
def test_evaluates(text: str, value: object) -> None:
    assert Expression(text).evaluate(NAMES) == value


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty expression"),
        ("steps.score.band ==", "invalid syntax"),
        ("steps.__class__", "access to '__class__' is not allowed"),
        ("steps._private", "access to '_private' is not allowed"),
        ("open('/etc/passwd')", "only these functions can be called"),
        ("steps.get('x')", "only these functions can be called"),
        ("__import__('os')", "only these functions can be called"),
        ("secret + 1", "unknown name 'secret'"),
        ("lambda: 1", "Lambda is not allowed"),
        ("(x := 1)", "NamedExpr is not allowed"),
        ("{k: v for k, v in steps}", "DictComp is not allowed"),
        ("steps.a; steps.b", "invalid syntax"),
    ],
)
def test_refuses_at_compile_time(text: str, why: str) -> None:
    with pytest.raises(ValueError, match="expression") as caught:
        Expression(text)
    assert why in str(caught.value)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("steps.respond.channel == 'email'", "'respond' does not exist"),
        ("steps['respond']", "no key 'respond'"),
        ("steps.score.score > 'high'", "TypeError"),
        ("float(steps.classify.doc_type)", "ValueError"),
        ("steps.score.reasons.count", "attribute access is only for mappings"),
        ("1 / 0", "ZeroDivisionError"),
    ],
)
def test_evaluation_errors_name_the_expression(text: str, why: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        Expression(text).evaluate(NAMES)
    assert f"expression {text!r} failed" in str(caught.value)
    assert why in str(caught.value)


@pytest.mark.parametrize(
    ("text", "refs"),
    [
        ("steps.score.band == 'high'", {"score"}),
        ("steps['extract'] and 'classify' in steps", {"extract", "classify"}),
        ("'x' not in steps", {"x"}),
        ("usage.cost_usd > 1", set()),
    ],
)
def test_step_references_are_known_at_compile_time(text: str, refs: set[str]) -> None:
    assert Expression(text).step_refs == refs


def test_expressions_compare_by_text() -> None:
    assert Expression("1 + 1") == Expression("1 + 1")
    assert Expression("1 + 1") != Expression("2")
    assert len({Expression("1"), Expression("1")}) == 1
    assert repr(Expression("1")) == "Expression('1')"


def test_step_views_build_only_the_outputs_an_expression_reads() -> None:
    classify = ClassifyOutput(doc_type=DocType.INVOICE, confidence=0.91, urgency=Urgency.NORMAL)
    score = ScoreOutput(score=0.72, band=RiskBand.HIGH, reasons=("new payee",))
    cache: dict[str, tuple[BaseModel, dict[str, Any]]] = {}
    steps = StepViews({"classify": classify, "score": score}, cache)
    names = {**NAMES, "steps": steps}

    assert Expression("steps.score.band == 'high' and 'classify' in steps").test(names)
    assert list(cache) == ["score"]  # classify was only tested for presence
    assert Expression("len(steps)").evaluate(names) == 2
    assert Expression("[s for s in steps]").evaluate(names) == ["classify", "score"]
    assert Expression("get(steps, 'triage', 'none')").evaluate(names) == "none"
    assert Expression("steps['classify'].doc_type").evaluate(names) == "invoice"
    view = cache["score"][1]
    assert steps["score"] is view  # built once per output
    assert str(dict(steps)) == repr(steps)
    with pytest.raises(ExpressionError, match="triage"):
        Expression("steps.triage.score").evaluate(names)
    # A new output for a step (a loop ran it again) is never shown through the old view.
    again = StepViews({"score": score.model_copy(update={"score": 0.1})}, cache)
    assert again["score"]["score"] == 0.1


@pytest.mark.parametrize(
    ("text", "direct"),
    [
        ("steps.score.band == 'high' or steps.score.score >= 0.7", True),
        ("steps.classify.doc_type in ['invoice', 'receipt']", False),  # a list
        ("steps.classify.doc_type not in ('invoice',)", False),  # a tuple
        ("steps['score']['score'] > 0.8", True),
        ("'respond' in steps", True),
        ("'score' in steps and steps.score.band", True),
        ("usage.cost_usd < 0.5 and usage.latency_ms < 1000 and loops", True),
        ("0 < steps.classify.confidence <= 1 < 2", True),
        ("0 < steps.classify.confidence > 1 < 2", True),
        ("not steps.score.reasons", True),
        ("-usage.cost_usd", True),
        ("case.metadata.customer is not None", True),
        ("steps.classify.labels or 'none'", True),
        ("step.id == 'score' and case.media_type != 'image/png'", True),
        ("len(steps.score.reasons) > 0", False),  # a call
        # Failures: where the direct path raises, simpleeval's error is the one reported.
        ("steps.respond.channel == 'email'", True),
        ("steps['respond']", True),
        ("steps.score.score > 'high'", True),
        ("steps.score.reasons.count", True),
        ("-steps.score.band", True),
    ],
)
def test_a_condition_evaluated_directly_is_what_simpleeval_makes_of_it(
    text: str, direct: bool
) -> None:
    """Most conditions (key reads, comparisons, and/or/not) run as compiled closures
    (`_expressions._direct`), not in simpleeval: same value, or the same error."""
    from coordinator._expressions import _direct

    expression = Expression(text)
    slow = Expression(text)
    object.__setattr__(slow, "_direct", None)  # simpleeval only
    assert (_direct(expression._node) is not None) is direct
    try:
        expected: object = slow.evaluate(NAMES)
    except ExpressionError as exc:
        with pytest.raises(ExpressionError) as caught:
            expression.evaluate(NAMES)
        assert str(caught.value) == str(exc)
    else:
        assert expression.evaluate(NAMES) == expected
