"""Typed outputs of the built-in capabilities: classify, extract, score, respond, tool.

Each output has a single-valued ``kind`` (the capability's name), so ``TaskOutput`` is a
discriminated union in pydantic and an unambiguous union of records in Avro.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class DocType(StrEnum):
    """What kind of document a case is about."""

    INVOICE = "invoice"
    RECEIPT = "receipt"
    BANK_STATEMENT = "bank_statement"
    PAYMENT_REQUEST = "payment_request"
    INSURANCE_CLAIM = "insurance_claim"
    COMPLAINT = "complaint"
    CONTRACT = "contract"
    IDENTITY_DOCUMENT = "identity_document"
    FRAUD_REPORT = "fraud_report"
    OTHER = "other"


class Urgency(StrEnum):
    """How soon a case needs attention."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class Label(BaseModel):
    """A label a classifier considered, with its score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str = Field(min_length=1)
    score: Probability


class ClassifyOutput(BaseModel):
    """Output of the ``classify`` capability."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["classify"] = "classify"
    doc_type: DocType
    confidence: Probability
    labels: tuple[Label, ...] = Field(default=(), description="Labels considered, best first.")
    urgency: Urgency = Urgency.NORMAL


class FieldType(StrEnum):
    """The type of an extracted value."""

    STRING = "string"
    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    IBAN = "iban"
    EMAIL = "email"
    PHONE = "phone"
    NAME = "name"
    ADDRESS = "address"
    IDENTIFIER = "identifier"


class Span(BaseModel):
    """Character offsets of a value in the document text, end exclusive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: int = Field(ge=0)
    end: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"span end {self.end} is before its start {self.start}")
        return self


class ExtractedField(BaseModel):
    """One value found in a document."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Field name, e.g. 'total_amount'.")
    value: str = Field(description="The value as written in the document.")
    type: FieldType
    normalized: str | None = Field(
        default=None, description="Canonical form, e.g. ISO date or '1234.50 EUR'."
    )
    span: Span | None = Field(default=None, description="Where the value is in the text.")
    confidence: Probability


class ExtractOutput(BaseModel):
    """Output of the ``extract`` capability."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["extract"] = "extract"
    fields: tuple[ExtractedField, ...] = ()


class RiskBand(StrEnum):
    """Coarse risk level that policies branch on."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ScoreOutput(BaseModel):
    """Output of the ``score`` capability (risk scoring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["score"] = "score"
    score: Probability
    band: RiskBand
    reasons: tuple[str, ...] = Field(default=(), description="Why, most important first.")


class Channel(StrEnum):
    """How a response reaches its recipient."""

    EMAIL = "email"
    SMS = "sms"
    LETTER = "letter"
    PORTAL = "portal"
    WEBHOOK = "webhook"


class RespondOutput(BaseModel):
    """Output of the ``respond`` capability: a drafted message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["respond"] = "respond"
    channel: Channel
    recipient: str = Field(min_length=1)
    subject: str
    body: str
    redactions: tuple[str, ...] = Field(
        default=(), description="Names of the fields redacted before drafting."
    )


class ToolStatus(StrEnum):
    """Whether a tool call's outcome is known."""

    OK = "ok"
    UNKNOWN = "unknown"
    """The call was interrupted (a crash, a lost connection) and the tool is not
    idempotent, so it was not called again: a person says whether it happened."""


class ToolOutput(BaseModel):
    """Output of a tool step: one recorded call of a tool on an MCP server.

    Replay and every later step read this record; the tool is never called again for it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["tool"] = "tool"
    server: str = Field(min_length=1, description="The MCP server, as configured.")
    tool: str = Field(min_length=1, description="The tool's name on that server.")
    idempotency_key: str = Field(
        min_length=1, description="Sent with the call; the same for every retry of it."
    )
    status: ToolStatus = ToolStatus.OK
    result: str = Field(
        default="null",
        description="The tool's result as JSON: its structured content, else its text "
        "(parsed when it is JSON); null when the outcome is unknown.",
    )
    text: str = Field(default="", description="The text content the tool returned.")


TaskOutput = Annotated[
    ClassifyOutput | ExtractOutput | ScoreOutput | RespondOutput | ToolOutput,
    Field(discriminator="kind"),
]
"""The output of any capability; ``kind`` says which."""
