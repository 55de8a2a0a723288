"""`value`: the dataclass decorator of the coordinator's immutable values: the states and
outputs a transition builds, the records a replay reads, the links of an audit chain, a
loaded pipeline's task specs.

The states are immutable by contract: a transition returns new values and never changes the
ones it got. ``@dataclass(frozen=True)`` enforces that at run time by setting each field
through ``object.__setattr__`` in ``__init__``, and a transition builds a new `CaseState`
(23 fields), its new `StepState` and `Timer` values, an `Output` per event and the
`Transition`: with every one of them frozen, the coordinator did 17,600 transitions per
CPU-second (`bench.coordinator`), 19,400 with plain slotted dataclasses, and the saga of
`bench.peers` 1.08 ms of CPU a case against 1.03 (median of six alternating pairs). So `value`
builds plain slotted dataclasses (hashable, as frozen ones are) and declares them frozen
to the type checker (PEP 681 ``frozen_default``): mypy, which `make test` runs strict
over the whole tree, rejects any assignment to their fields. What is no longer caught is
code that is not type-checked assigning a field at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def value(cls: type[T]) -> type[T]:
    """A slotted dataclass, frozen for the type checker, built as fast as a plain one."""
    return dataclass(slots=True, unsafe_hash=True)(cls)
