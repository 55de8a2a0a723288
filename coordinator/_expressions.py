"""Safe expressions over case data: compiled once at load, evaluated with simpleeval.

Expressions are Python-like (``steps.score.band == 'high' or steps.score.score >= 0.7``)
but run in simpleeval's restricted evaluator, never ``eval``. The data they see is plain:
dicts, lists, strings, numbers, booleans and None. ``a.b`` on a dict reads key ``b`` (and
nothing else: there is no attribute access on any object, and no name starting with ``_``),
so an expression can neither reach Python internals nor call methods.

Names an expression may use (see ``NAMES``):

- ``steps``: ``{step id: output}`` of the steps that completed, outputs as JSON-like dicts
  (a tool step's ``result`` is the tool's JSON result itself, not its text);
- ``case``: ``id``, ``pipeline``, ``version``, ``source``, ``metadata``, ``media_type``,
  ``size``;
- ``usage``: ``cost_usd`` and ``latency_ms`` used so far;
- ``loops``: ``{escalation rule id: feedback loops taken}``;
- ``step``: ``id`` and ``capability`` of the step being guarded.

Functions: ``len min max abs round int float str bool any all lower upper get field``.
``get(mapping, key, default=None)`` reads an optional key; ``field(output, name,
default=None)`` reads an extracted field's value (normalised when known) from an
``extract`` output.
"""

from __future__ import annotations

import ast
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema
from simpleeval import (  # type: ignore[import-untyped]
    MAX_STRING_LENGTH,
    AttributeDoesNotExist,
    EvalWithCompoundTypes,
    FeatureNotAvailable,
    InvalidExpression,
)

from bus.errors import CaseyardError

NAMES = frozenset({"steps", "case", "usage", "loops", "step"})
"""The names every expression may use."""


def expression_view(output: BaseModel) -> dict[str, Any]:
    """A step output as expressions see it: JSON-like, a tool's result parsed."""
    view: dict[str, Any] = output.model_dump(mode="json")
    if view.get("kind") == "tool":
        try:
            view["result"] = json.loads(view.get("result") or "null")
        except ValueError:
            pass  # the agent writes JSON; anything else stays the text it is
    return view


class StepViews(Mapping[str, dict[str, Any]]):
    """``steps`` as expressions see it: each output's view is built when an expression
    first reads it (most read one or two steps of many), then kept in ``cache``.

    Args:
        outputs: The outputs of the steps that completed, by step id.
        cache: ``{step id: (output, view)}``, shared by the views of one transition; an
            entry is reused only for the very output it was built from.
    """

    __slots__ = ("_cache", "_outputs")

    def __init__(
        self,
        outputs: Mapping[str, BaseModel],
        cache: dict[str, tuple[BaseModel, dict[str, Any]]],
    ) -> None:
        self._outputs = outputs
        self._cache = cache

    def __getitem__(self, step: str) -> dict[str, Any]:
        output = self._outputs[step]
        cached = self._cache.get(step)
        if cached is None or cached[0] is not output:
            cached = self._cache[step] = (output, expression_view(output))
        return cached[1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._outputs)

    def __len__(self) -> int:
        return len(self._outputs)

    def __contains__(self, step: object) -> bool:
        return step in self._outputs

    def __repr__(self) -> str:
        return repr(dict(self))


class ExpressionError(CaseyardError):
    """An expression failed to evaluate; the message names the expression."""


def _get(mapping: object, key: object, default: object = None) -> object:
    if isinstance(mapping, Mapping):
        return mapping.get(key, default)
    return default


def _field(output: object, name: str, default: object = None) -> object:
    if not isinstance(output, Mapping):
        return default
    for item in output.get("fields") or ():
        if isinstance(item, Mapping) and item.get("name") == name:
            normalized = item.get("normalized")
            return normalized if normalized is not None else item.get("value")
    return default


def _lower(value: object) -> str:
    return str(value).lower()


def _upper(value: object) -> str:
    return str(value).upper()


FUNCTIONS: Mapping[str, Callable[..., object]] = {
    "len": len,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "any": any,
    "all": all,
    "lower": _lower,
    "upper": _upper,
    "get": _get,
    "field": _field,
}
"""The functions every expression may call (deterministic ones only: no random, no clock)."""

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.keyword,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.Name,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Set,
    ast.ListComp,
    ast.GeneratorExp,
    ast.comprehension,
    ast.JoinedStr,
    ast.FormattedValue,
    ast.Load,
    ast.Store,
    ast.boolop,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
)


class _Evaluator(EvalWithCompoundTypes):  # type: ignore[misc]
    """simpleeval with attribute access limited to reading keys of mappings."""

    def __init__(self) -> None:
        super().__init__(functions=dict(FUNCTIONS), names={})
        # `list`, `dict`... are added by the base class; expressions do not need them.
        for name in ("list", "tuple", "dict", "set"):
            self.functions.pop(name, None)

    def _check_disallowed_items(self, item: object) -> None:
        # simpleeval walks every intermediate result looking for modules and dangerous
        # functions. Here the names are JSON-like data the engine builds and the functions
        # are the fixed FUNCTIONS, so no such value can appear, and the walk would cost
        # more than the evaluation itself.
        return

    def _eval_attribute(self, node: ast.Attribute) -> object:
        if node.attr.startswith("_"):
            raise FeatureNotAvailable(f"access to {node.attr!r} is not allowed")
        value = self._eval(node.value)
        if isinstance(value, Mapping):
            try:
                return value[node.attr]
            except KeyError:
                raise AttributeDoesNotExist(node.attr, self.expr) from None
        raise FeatureNotAvailable(
            f"attribute access is only for mappings, not {type(value).__name__} (.{node.attr})"
        )


_local = threading.local()


def _evaluator() -> _Evaluator:
    # Building an evaluator costs more than most evaluations, and one is not safe to share
    # between threads (it keeps the current names): one per thread.
    evaluator: _Evaluator | None = getattr(_local, "evaluator", None)
    if evaluator is None:
        evaluator = _local.evaluator = _Evaluator()
    return evaluator


class Expression:
    """A compiled expression.

    Args:
        text: The expression source.

    Raises:
        ValueError: If the expression does not parse or uses something not allowed; the
            message names the expression.
    """

    __slots__ = ("_direct", "_node", "step_refs", "text")

    _names_hint: ClassVar[str] = ", ".join(sorted(NAMES))

    def __init__(self, text: str) -> None:
        self.text = text
        self._node, self.step_refs = _compile(text)
        self._direct = _direct(self._node)

    def evaluate(self, names: Mapping[str, object]) -> object:
        """Evaluate the expression with ``names`` bound.

        Raises:
            ExpressionError: If evaluation fails (missing key, wrong type...).
        """
        if self._direct is not None:
            try:
                return self._direct(names)
            except Exception:
                pass  # simpleeval, below, says what failed
        evaluator = _evaluator()
        evaluator.names = names
        try:
            return evaluator.eval(self.text, previously_parsed=self._node)
        except (InvalidExpression, LookupError, TypeError, ValueError, ArithmeticError) as exc:
            raise ExpressionError(f"expression {self.text!r} failed: {_describe(exc)}") from None
        finally:
            evaluator.names = {}

    def test(self, names: Mapping[str, object]) -> bool:
        """Evaluate the expression as a condition.

        Raises:
            ExpressionError: If evaluation fails.
        """
        return bool(self.evaluate(names))

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Validate from a string (compiling it); serialise back to the string."""
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            json_schema_input_schema=core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value.text, when_used="always"
            ),
        )

    @classmethod
    def _validate(cls, value: object) -> Expression:
        if isinstance(value, Expression):
            return value
        if not isinstance(value, str):
            raise ValueError(f"expected an expression string, got {type(value).__name__}")
        return cls(value)


_Direct = Callable[[Mapping[str, Any]], object]
_OPERATORS: Mapping[type[ast.AST], Callable[..., object]] = _Evaluator().operators


def _direct(node: ast.expr) -> _Direct | None:
    """The expression as plain Python closures, when it uses only names, constants,
    key reads (``steps.score.band``, ``steps['x']``), comparisons, ``and``/``or`` and
    unary operators: what most conditions are. None for anything else (calls,
    arithmetic, comprehensions...), which simpleeval evaluates.

    A closure does what simpleeval does with the same node (the same operator functions,
    key reads on mappings only), so where it returns a value it is simpleeval's value
    (`tests/unit/coordinator`: both are compared on every kind of node); where it raises,
    `Expression.evaluate` asks simpleeval, whose error is the one reported. It takes a
    condition from ~3 us to ~0.5 us (it runs on every step a case starts or completes).
    """
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, str | bytes) and len(value) > MAX_STRING_LENGTH:
            return None
        return lambda names: value
    if isinstance(node, ast.Name):
        if node.id not in NAMES:
            return None
        name = node.id
        return lambda names: names[name]
    if isinstance(node, ast.Attribute):
        inner = _direct(node.value)
        if inner is None or node.attr.startswith("_"):
            return None
        key = node.attr

        def attribute(names: Mapping[str, Any]) -> object:
            value = inner(names)
            if isinstance(value, Mapping):
                return value[key]
            raise TypeError(key)

        return attribute
    if isinstance(node, ast.Subscript):
        container, index = _direct(node.value), _direct(node.slice)
        if container is None or index is None:
            return None
        return lambda names: container(names)[index(names)]  # type: ignore[index]
    if isinstance(node, ast.UnaryOp):
        unary, operand = _OPERATORS.get(type(node.op)), _direct(node.operand)
        if unary is None or operand is None:
            return None
        return lambda names: unary(operand(names))
    if isinstance(node, ast.BoolOp):
        values = [_direct(v) for v in node.values]
        if any(v is None for v in values):
            return None
        parts = tuple(v for v in values if v is not None)
        # `and` stops at the first falsy value, `or` at the first truthy one; either
        # gives the value it stopped at, else the last.
        stop_at = isinstance(node.op, ast.Or)

        def boolean(names: Mapping[str, Any]) -> object:
            result: object = False
            for part in parts:
                result = part(names)
                if bool(result) is stop_at:
                    break
            return result

        return boolean
    if isinstance(node, ast.Compare):
        first = _direct(node.left)
        pairs = zip(node.ops, node.comparators, strict=True)
        rest = [(_OPERATORS.get(type(o)), _direct(c)) for o, c in pairs]
        if first is None or any(o is None or c is None for o, c in rest):
            return None
        chain = tuple((o, c) for o, c in rest if o is not None and c is not None)
        if len(chain) == 1:
            ((compare, other),) = chain
            return lambda names: compare(first(names), other(names))

        def compared(names: Mapping[str, Any]) -> object:
            right = first(names)
            result: object = True
            for compare, comparator in chain:
                if not result:
                    break
                left, right = right, comparator(names)
                result = compare(left, right)
            return result

        return compared
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no key {exc.args[0]!r}" if exc.args else "missing key"
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, InvalidExpression) else str(exc)


def _compile(text: str) -> tuple[ast.expr, frozenset[str]]:
    if not text.strip():
        raise ValueError("empty expression")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"invalid expression {text!r}: {exc.msg}") from None
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension):
            bound.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
    refs: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ValueError(f"invalid expression {text!r}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.Name) and node.id not in NAMES and node.id not in bound:
            if node.id not in FUNCTIONS:
                raise ValueError(
                    f"invalid expression {text!r}: unknown name {node.id!r} "
                    f"(names: {Expression._names_hint})"
                )
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ValueError(f"invalid expression {text!r}: access to {node.attr!r} is not allowed")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise ValueError(
                    f"invalid expression {text!r}: only these functions can be called: "
                    + ", ".join(FUNCTIONS)
                )
        ref = _step_ref(node)
        if ref is not None:
            refs.add(ref)
    return tree.body, frozenset(refs)


def _is_steps(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "steps"


def _step_ref(node: ast.AST) -> str | None:
    """The step id in ``steps.x``, ``steps['x']`` or ``'x' in steps``, if ``node`` is one."""
    if isinstance(node, ast.Attribute) and _is_steps(node.value):
        return node.attr
    if (
        isinstance(node, ast.Subscript)
        and _is_steps(node.value)
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        return node.slice.value
    if (
        isinstance(node, ast.Compare)
        and isinstance(node.left, ast.Constant)
        and isinstance(node.left.value, str)
        and len(node.comparators) == 1
        and _is_steps(node.comparators[0])
        and isinstance(node.ops[0], ast.In | ast.NotIn)
    ):
        return node.left.value
    return None
