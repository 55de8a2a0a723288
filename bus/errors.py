"""The one error tree of caseyard, on the ground floor: every package may import it.

Every error a caller can see derives from `CaseyardError`; library errors (aiokafka,
sqlite3, httpx) are translated at the edge with `raise ... from exc`. `retryable` says
whether trying the same thing again later can succeed::

    CaseyardError
    ├── ConfigError                   bad setting or URL                  (not retryable)
    │   └── PipelineError             (coordinator/) a pipeline file is invalid
    ├── ExpressionError               (coordinator/) a condition cannot be evaluated
    ├── BusError                      (here)
    │   ├── BusUnavailable            broker/db unreachable or timed out  (retryable)
    │   ├── BusClosed                 used after close                    (not retryable)
    │   ├── InvalidTopic              name breaks Kafka's topic rules     (not retryable)
    │   ├── UnknownTopic              topic does not exist                (not retryable)
    │   ├── RecordTooLarge            record over max_message_bytes       (not retryable)
    │   ├── CommitFailed              partition lost to a rebalance       (retryable)
    │   └── TransactionError          transaction aborted or fenced       (retryable)
    ├── SchemaError                   (schemas/errors.py: encode, decode, registry)
    ├── AgentError                    (agents/errors.py: documents, models, delivery, routing)
    └── AuditFailed                   (caseyard/errors.py: the case log does not verify)

This module imports nothing of ours. `caseyard.errors` gathers the whole tree for the
composition root; nothing below it imports `caseyard`.
"""

from __future__ import annotations

from typing import ClassVar


class CaseyardError(Exception):
    """Base of every caseyard error."""

    retryable: ClassVar[bool] = False


class ConfigError(CaseyardError):
    """A setting, URL or definition is invalid."""


class BusError(CaseyardError):
    """Something went wrong moving bytes."""


class BusUnavailable(BusError):
    """The broker or database cannot be reached (within the bounded wait)."""

    retryable = True


class BusClosed(BusError):
    """The bus, consumer or transaction was used after it was closed."""


class InvalidTopic(BusError):
    """A topic name breaks Kafka's rules (1-249 chars of [a-zA-Z0-9._-], not '.' or '..')."""


class UnknownTopic(BusError):
    """The topic does not exist; create it with `ensure_topics`."""


class RecordTooLarge(BusError):
    """A record is larger than the bus's `max_message_bytes`."""


class CommitFailed(BusError):
    """Offsets could not be committed because the partition moved to another member."""

    retryable = True


class TransactionError(BusError):
    """A transaction was aborted by the broker or fenced by a newer instance."""

    retryable = True
