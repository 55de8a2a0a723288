"""Models built from values that are valid already, without validating them again.

A model's constructor validates every field: 2.3 us for a ``StepStarted``, 4 us for a
``TaskRequested``. The coordinator builds its outputs from parts that were validated
when they came in (the input event, the loaded pipeline, its own state), so validating
them again checks nothing new, and at four or five outputs a transition it was a tenth
of the transition's time. ``trusted`` builds the instance directly, as pydantic's
``model_construct`` does, but through a constructor compiled once per model (keyword
arguments bound by Python, defaults filled in, fields in declaration order, so the
instance serialises and compares exactly as the validated one): about 1 us.

What it does not do is check the values: a value of the wrong type is written as it is.
Only code that builds from validated parts calls it, and the tests validate what the
coordinator builds this way (``tests/unit/coordinator``: every output, revalidated,
equals itself).
"""

from __future__ import annotations

import copy
import functools
import keyword
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_MISSING: Any = object()


def trusted(model: type[M], /, **values: Any) -> M:
    """An instance of ``model`` with these field values, not validated.

    Fields not given take their defaults (a default factory is called). A model this
    cannot build as a plain dict of fields (private attributes, extra fields allowed, a
    field named like a Python keyword) is validated instead.

    Raises:
        TypeError: If a required field is missing or a name is not a field.
    """
    build: Callable[..., M] = _constructor(model)
    return build(**values)


def trusted_constructor(model: type[M]) -> Callable[..., M]:
    """`trusted` for ``model`` as a function of the field values: the same instances,
    without a call and a dict between (for code that builds many of one model)."""
    return _constructor(model)


@functools.cache
def _constructor(model: type[BaseModel]) -> Callable[..., Any]:
    """``def build(*, field1, field2=default, ...)`` for ``model``, compiled once."""
    fields = model.model_fields
    if (
        model.__private_attributes__
        or model.model_config.get("extra") == "allow"
        or any(keyword.iskeyword(name) for name in fields)
    ):
        return model  # not built this way: validated (what needs more than a dict)
    names: dict[str, object] = {
        "_new": object.__new__,
        "_set": object.__setattr__,
        "_model": model,
        "_MISSING": _MISSING,
        "_ALL": frozenset(fields),
    }
    params: list[str] = []
    factories: list[str] = []
    for i, (name, info) in enumerate(fields.items()):
        if info.is_required():
            params.append(name)
        elif info.default_factory is not None or not _hashable(info.default):
            # A mutable default is copied for each instance, as pydantic does.
            factory = info.default_factory or functools.partial(copy.deepcopy, info.default)
            names[f"_f{i}"] = factory
            params.append(f"{name}=_MISSING")
            factories.append(f"    if {name} is _MISSING:\n        {name} = _f{i}()")
        else:
            names[f"_d{i}"] = info.default
            params.append(f"{name}=_d{i}")
    items = ", ".join(f"{name!r}: {name}" for name in fields)
    source = "\n".join(
        [
            f"def build(*, {', '.join(params)}):" if params else "def build():",
            *factories,
            # Locals start with an underscore: no field can be named so.
            "    _obj = _new(_model)",
            f"    _set(_obj, '__dict__', {{{items}}})",
            "    _set(_obj, '__pydantic_fields_set__', set(_ALL))",
            "    _set(_obj, '__pydantic_extra__', None)",
            "    _set(_obj, '__pydantic_private__', None)",
            "    return _obj",
        ]
    )
    # The source is generated from the model's field names only (identifiers).
    exec(compile(source, f"<trusted constructor of {model.__qualname__}>", "exec"), names)
    return names["build"]  # type: ignore[return-value]


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
