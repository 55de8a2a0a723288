"""Errors raised by the agents' own work (reading documents, models, delivery, state).

Every error derives from `bus.errors.CaseyardError`; library errors (pypdf, sqlite3,
smtplib, pickle) are translated here with ``raise ... from exc``. ``retryable`` says whether
the same task can succeed when tried again later::

    CaseyardError
    └── AgentError
        ├── DocumentError                 the input document is unusable   (not retryable)
        │   ├── EmptyDocument             no bytes, or no text in them
        │   ├── UnsupportedMediaType      a media type no reader handles
        │   ├── CorruptDocument           bytes that do not parse as their media type
        │   └── DocumentTooLarge          over a size or page limit
        ├── MisplacedEvent                an event the agent does not take  (not retryable)
        ├── ModelError                    a model cannot be trained/loaded (not retryable)
        ├── StateError                    durable agent state failed       (retryable)
        ├── DeliveryError                 an outbox could not deliver
        │   ├── DeliveryUnavailable       server unreachable or 4xx        (retryable)
        │   └── DeliveryRejected          refused for good (5xx, channel)  (not retryable)
        └── ToolError                     a tool call failed: the tool said so, or the
            │                             server refused it (retryable when the tool is
            │                             idempotent or read-only)
            └── ToolUnavailable           no connection to its MCP server   (retryable)

This module imports only `bus.errors`.
"""

from __future__ import annotations

from bus.errors import CaseyardError


class AgentError(CaseyardError):
    """Base of the errors an agent's handler can raise."""


class MisplacedEvent(AgentError):
    """A well-formed event on an agent's topic that is not one the agent takes."""


class DocumentError(AgentError):
    """The case document cannot be turned into text; retrying will not help."""


class EmptyDocument(DocumentError):
    """The document has no bytes, or no extractable text."""


class UnsupportedMediaType(DocumentError):
    """No reader handles the document's media type."""


class DocumentTooLarge(DocumentError):
    """The document is over a size or page limit: refused at once, before parsing it."""


class CorruptDocument(DocumentError):
    """The bytes do not parse as the declared media type (or the file is encrypted)."""


class ModelError(AgentError):
    """A model cannot be trained or loaded (missing or invalid training data)."""


class StateError(AgentError):
    """An agent's durable state (e.g. counterparty history) could not be read or written."""

    retryable = True


class DeliveryError(AgentError):
    """An outbox could not deliver or retract a message."""


class DeliveryUnavailable(DeliveryError):
    """The delivery target is unreachable or asked to try later."""

    retryable = True


class DeliveryRejected(DeliveryError):
    """The delivery target refused the message for good."""


class ToolError(AgentError):
    """A tool call failed with a known outcome: the tool reported an error, or its MCP
    server refused the request. Retryable when the tool may be called again safely."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable  # type: ignore[misc]


class ToolUnavailable(ToolError):
    """The tool's MCP server could not be reached or started; nothing was called."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)
