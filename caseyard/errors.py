"""The whole error tree, gathered for the composition root (CLI, settings, wiring).

The tree lives on the ground floor, `bus/errors.py` (its root `CaseyardError`, config and
bus errors), with its branches in the packages that raise them (`schemas/errors.py`,
`agents/errors.py`, the coordinator's `PipelineError` and `ExpressionError`); only
`AuditFailed` is the CLI's own. Nothing below `caseyard/` imports this module.
"""

from __future__ import annotations

from bus.errors import (
    BusClosed,
    BusError,
    BusUnavailable,
    CaseyardError,
    CommitFailed,
    ConfigError,
    InvalidTopic,
    RecordTooLarge,
    TransactionError,
    UnknownTopic,
)
from schemas.errors import SchemaError

__all__ = [
    "AuditFailed",
    "BusClosed",
    "BusError",
    "BusUnavailable",
    "CasesFailed",
    "CaseyardError",
    "CommitFailed",
    "ConfigError",
    "InvalidTopic",
    "RecordTooLarge",
    "SchemaError",
    "TransactionError",
    "UnknownTopic",
]


class AuditFailed(CaseyardError):
    """The case event log does not verify: a record was changed, removed or reordered."""


class CasesFailed(CaseyardError):
    """Cases waited for (`submit --wait`) failed or did not finish in time."""
