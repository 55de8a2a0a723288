"""Responder: drafts outbound messages from Jinja2 templates and applies redaction.

Templates live in ``templates/`` next to this module: ``<name>.txt.j2`` defines a
``subject`` and a ``body`` block (rendered without autoescaping: it is plain text), and
an optional ``<name>.html.j2`` renders an HTML body with autoescaping on, so a field value
such as ``</p><script>`` stays text. Values are data, never template source: a field that
contains ``{{ ... }}`` is printed as written.

Redaction masks the values of the named fields everywhere: in every context value before
rendering (a free-text summary may quote an IBAN) and again in the rendered subject and
body, including their HTML-escaped and whitespace-compacted spellings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import jinja2

from bus.errors import ConfigError
from schemas.payloads import Channel, ExtractOutput, RespondOutput

__all__ = ["MODEL_NAME", "REDACTION_MASK", "TEMPLATES_DIR", "Responder", "redact"]

MODEL_NAME = "respond-templates-v1"
"""Reported in `ModelUsage.model`."""
TEMPLATES_DIR = Path(__file__).parent / "templates"
REDACTION_MASK = "[REDACTED]"
_MIN_REDACT_LEN = 3
_DOC_LABELS = {
    "invoice": "invoice",
    "receipt": "receipt",
    "bank_statement": "bank statement",
    "payment_request": "payment request",
    "insurance_claim": "insurance claim",
    "complaint": "message",
    "contract": "contract",
    "identity_document": "identity document",
    "fraud_report": "report",
    "other": "document",
}

ContextValue = str | int | float | bool | Sequence[str] | None


class Responder:
    """Composes `RespondOutput` messages from templates.

    Args:
        templates_dir: Directory of ``*.txt.j2`` (and optional ``*.html.j2``) templates.
        signature: Closing line of every message.
    """

    model_name = MODEL_NAME

    def __init__(
        self, templates_dir: Path = TEMPLATES_DIR, signature: str = "Your caseyard team"
    ) -> None:
        loader = jinja2.FileSystemLoader(str(templates_dir))
        self._text = jinja2.Environment(
            loader=loader,
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
        )
        self._html = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined
        )
        self._dir = templates_dir
        self._signature = signature

    def templates(self) -> list[str]:
        """Names of the templates available (without extensions)."""
        return sorted(
            p.name.removesuffix(".txt.j2")
            for p in self._dir.glob("*.txt.j2")
            if not p.name.startswith("_")
        )

    def compose(
        self,
        template: str,
        *,
        recipient: str,
        case_id: str,
        channel: Channel = Channel.EMAIL,
        doc_type: str = "other",
        fields: ExtractOutput | Mapping[str, str] | None = None,
        context: Mapping[str, ContextValue] | None = None,
        redact_fields: Collection[str] = (),
        html_body: bool = False,
    ) -> RespondOutput:
        """Render ``template`` for one recipient.

        Args:
            template: Template name, e.g. ``acknowledgement``, ``request_info``,
                ``rejection``, ``escalation``.
            recipient: Address (or phone number, portal id...) the message goes to.
            case_id: The case the message is about; every template quotes it.
            channel: How the message will be delivered.
            doc_type: The document type, for wording ("your invoice").
            fields: Extracted fields; the first value of each name is available to the
                template (``reference`` defaults to the invoice or policy number).
            context: Extra template variables (``missing``, ``reason``, ``reasons``,
                ``risk_score``, ``greeting``...); they override values derived from fields.
            redact_fields: Names of fields whose values must not appear in the message.
            html_body: Render the body from ``<template>.html.j2``.

        Raises:
            ConfigError: If the template does not exist or uses a variable not supplied.
        """
        values = _field_values(fields)
        variables = _defaults(values, doc_type, case_id, self._signature)
        variables.update(context or {})
        secrets = {name: _secret_spellings(values.get(name, [])) for name in redact_fields}
        secrets = {name: spellings for name, spellings in secrets.items() if spellings}
        variables = {key: _mask_value(value, secrets) for key, value in variables.items()}
        try:
            subject, body = self._render(template, variables, html_body)
        except jinja2.TemplateNotFound as exc:
            raise ConfigError(f"no responder template named {template!r}") from exc
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"responder template {template!r}: {exc}") from exc
        subject, _ = redact(subject, secrets)
        body, _ = redact(body, secrets)
        return RespondOutput(
            channel=channel,
            recipient=recipient,
            subject=subject,
            body=body,
            redactions=tuple(name for name in dict.fromkeys(redact_fields) if name in secrets),
        )

    def retraction(
        self, message_id: str, original: RespondOutput, reason: str = ""
    ) -> RespondOutput:
        """The correction notice that withdraws ``original`` (same channel and recipient)."""
        variables: dict[str, ContextValue] = {
            "greeting": "Hello,",
            "original_subject": original.subject,
            "message_id": message_id,
            "reason": reason,
            "signature": self._signature,
        }
        subject, body = self._render("retraction", variables, html_body=False)
        return RespondOutput(
            channel=original.channel, recipient=original.recipient, subject=subject, body=body
        )

    def _render(
        self, template: str, variables: Mapping[str, object], html_body: bool
    ) -> tuple[str, str]:
        text = self._text.get_template(f"{template}.txt.j2")
        context = text.new_context(dict(variables))
        subject = " ".join("".join(text.blocks["subject"](context)).split())
        if html_body:
            page = self._html.get_template(f"{template}.html.j2")
            body = page.render({**variables, "subject": subject})
        else:
            body = "".join(text.blocks["body"](text.new_context(dict(variables))))
        return subject, body.strip() + "\n"


def redact(text: str, secrets: Mapping[str, Collection[str]]) -> tuple[str, list[str]]:
    """Mask every spelling of every secret in ``text``.

    Args:
        text: Text to clean.
        secrets: Field name -> spellings of its value (see `Responder.compose`).

    Returns:
        The masked text and the names of the fields that occurred in it.
    """
    found = []
    for name, spellings in secrets.items():
        for spelling in sorted(spellings, key=len, reverse=True):
            pattern = _spelling_pattern(spelling)
            text, count = pattern.subn(REDACTION_MASK, text)
            if count and name not in found:
                found.append(name)
    return text, found


def _spelling_pattern(value: str) -> re.Pattern[str]:
    # Identifiers are written with and without spaces ("DE89 3704..." / "DE893704..."), so
    # between the characters of an identifier any run of spaces, dots or dashes matches.
    compact = re.sub(r"[\s.-]", "", value)
    if compact.isalnum() and any(ch.isdigit() for ch in compact):
        return re.compile(r"[\s.-]*".join(re.escape(ch) for ch in compact), re.IGNORECASE)
    return re.compile(re.escape(value), re.IGNORECASE)


def _secret_spellings(values: Sequence[str]) -> set[str]:
    spellings = set()
    for value in values:
        value = value.strip()
        if len(value) >= _MIN_REDACT_LEN:
            spellings.add(value)
            spellings.add(html.escape(value, quote=True))
    return spellings


def _mask_value(value: ContextValue, secrets: Mapping[str, Collection[str]]) -> ContextValue:
    if isinstance(value, str):
        return redact(value, secrets)[0]
    if isinstance(value, list | tuple):
        return [redact(str(v), secrets)[0] for v in value]
    return value


def _field_values(fields: ExtractOutput | Mapping[str, str] | None) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    if isinstance(fields, ExtractOutput):
        for f in fields.fields:
            bucket = values.setdefault(f.name, [])
            bucket.extend(v for v in (f.value, f.normalized) if v and v not in bucket)
    elif fields is not None:
        for name, value in fields.items():
            values[name] = [value]
    return values


def _defaults(
    values: Mapping[str, list[str]], doc_type: str, case_id: str, signature: str
) -> dict[str, ContextValue]:
    def first(*names: str) -> str | None:
        for name in names:
            if values.get(name):
                return values[name][0]
        return None

    name = first("recipient_name", "sender_name", "person")
    return {
        "case_id": case_id,
        "doc_type": doc_type,
        "doc_label": _DOC_LABELS.get(doc_type, doc_type.replace("_", " ")),
        "greeting": f"Dear {name}," if name else "Hello,",
        "reference": first("invoice_number", "policy_number", "claim_number", "order_number"),
        "amount": first("total_amount"),
        "due_date": first("due_date"),
        "counterparty": first("payee_name", "organization"),
        "missing": [],
        "reason": None,
        "reasons": [],
        "risk_score": None,
        "risk_band": None,
        "deadline": None,
        "urgent": False,
        "response_days": 5,
        "signature": signature,
    }
