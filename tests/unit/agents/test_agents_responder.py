"""Responder: templates, escaping, and redaction of named fields."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agents.models import Responder, extract
from agents.models.responder import REDACTION_MASK, redact
from caseyard.errors import ConfigError
from schemas.payloads import Channel

PIPELINES = Path(__file__).resolve().parents[3] / "pipelines"
IBAN = "DE89 3704 0044 0532 0130 00"
INVOICE = (
    "From: Henrike Albers <h.albers@nordwind-logistik.de>\n\n"
    "Rechnung Nr. NWL-2026-019\nGesamtbetrag: 4.402,80 EUR\nFällig am 05.04.2026\n"
    f"IBAN {IBAN}\n"
)


@pytest.fixture
def responder() -> Responder:
    return Responder()


def test_templates_are_listed(responder: Responder) -> None:
    assert responder.templates() == [
        "acknowledgement",
        "escalation",
        "fraud-alert-notice",
        "rejection",
        "request_info",
        "retraction",
    ]


@pytest.mark.parametrize("template", ["acknowledgement", "request_info", "rejection", "escalation"])
@pytest.mark.parametrize("html_body", [False, True])
def test_every_template_renders(responder: Responder, template: str, html_body: bool) -> None:
    out = responder.compose(
        template,
        recipient="h.albers@nordwind-logistik.de",
        case_id="case-42",
        doc_type="invoice",
        fields=extract(INVOICE),
        context={"missing": ["purchase order number"], "reason": "duplicate invoice"},
        html_body=html_body,
    )
    assert out.kind == "respond"
    assert out.channel is Channel.EMAIL
    assert "case-42" in out.subject
    assert "\n" not in out.subject
    assert "case-42" in out.body
    assert "NWL-2026-019" in out.subject
    assert out.body.startswith("<!DOCTYPE html>") is html_body
    assert out.redactions == ()


def test_every_template_a_shipped_pipeline_names_exists(responder: Responder) -> None:
    # A missing one only shows when a case reaches that step: the fraud-alert pipeline's
    # respond step dead-lettered every case this way before hand-offs sent cases there.
    named = {
        step["parameters"]["template"]
        for path in PIPELINES.glob("*.yaml")
        for step in yaml.safe_load(path.read_text("utf-8"))["steps"]
        if "template" in step.get("parameters", {})
    }
    assert named and named <= set(responder.templates())


def test_fraud_alert_notice_tells_the_reporter_what_to_do_now(responder: Responder) -> None:
    out = responder.compose(
        "fraud-alert-notice",
        recipient="ingrid@example.org",
        case_id="case-7",
        doc_type="fraud_report",
        fields=extract("I think I have been scammed."),
        context={"urgent": True},
    )
    assert "case-7" in out.subject and "fraud" in out.subject.lower()
    assert "priority" in out.body and "do not make further payments" in out.body


def test_acknowledgement_wording(responder: Responder) -> None:
    out = responder.compose(
        "acknowledgement",
        recipient="a@b.example",
        case_id="c-1",
        doc_type="invoice",
        fields=extract(INVOICE),
    )
    assert out.subject == "We received your invoice (NWL-2026-019) - case c-1"
    assert out.body.startswith("Dear Henrike Albers,\n\nthank you for your invoice NWL-2026-019.")
    assert "Amount: 4402.80 EUR" not in out.body  # the value as written is what people read
    assert "Amount: 4.402,80 EUR" in out.body
    assert "Due date: 05.04.2026" in out.body


def test_request_info_lists_what_is_missing(responder: Responder) -> None:
    out = responder.compose(
        "request_info",
        recipient="a@b.example",
        case_id="c-2",
        doc_type="insurance_claim",
        context={"missing": ["policy number", "date of the incident", "photos of the damage"]},
    )
    assert "  - policy number\n  - date of the incident\n  - photos of the damage\n" in out.body
    assert out.body.startswith("Hello,\n\nto process your insurance claim")


def test_escalation_lists_the_reasons(responder: Responder) -> None:
    out = responder.compose(
        "escalation",
        recipient="reviewers@caseyard.example",
        case_id="c-3",
        doc_type="payment_request",
        fields=extract(INVOICE),
        channel=Channel.PORTAL,
        context={
            "risk_score": "0.96",
            "risk_band": "high",
            "reasons": ["sender domain imitates the known one", "new bank account"],
        },
    )
    assert out.subject.startswith("[Review needed] Payment request NWL-2026-019 - case c-3")
    assert "  - sender domain imitates the known one\n  - new bank account\n" in out.body
    assert out.channel is Channel.PORTAL


def test_named_fields_are_redacted_everywhere(responder: Responder) -> None:
    fields = extract(INVOICE)
    out = responder.compose(
        "escalation",
        recipient="reviewers@caseyard.example",
        case_id="c-4",
        doc_type="invoice",
        fields=fields,
        context={
            "reasons": [
                f"pays to {IBAN.replace(' ', '')}",
                "contact h.albers@nordwind-logistik.de",
            ],
            "counterparty": f"Nordwind (IBAN {IBAN})",
        },
        redact_fields=["iban", "sender_email", "not_extracted"],
    )
    text = out.subject + out.body
    assert "3704" not in text
    assert "h.albers@" not in text
    assert text.count(REDACTION_MASK) == 3
    assert out.redactions == ("iban", "sender_email")


def test_redaction_reaches_html_escaped_values(responder: Responder) -> None:
    out = responder.compose(
        "acknowledgement",
        recipient="a@b.example",
        case_id="c-5",
        fields={"recipient_name": "Seán O'Brien & Partners", "invoice_number": "A-1"},
        redact_fields=["recipient_name"],
        html_body=True,
    )
    assert "Brien" not in out.body
    assert REDACTION_MASK in out.body
    assert out.redactions == ("recipient_name",)


def test_redact_matches_identifier_spellings() -> None:
    text, found = redact(
        "a DE89370400440532013000 b de89 3704 0044 0532 0130 00 c DE89-3704-0044-0532-0130-00",
        {"iban": {IBAN}},
    )
    assert text == f"a {REDACTION_MASK} b {REDACTION_MASK} c {REDACTION_MASK}"
    assert found == ["iban"]


def test_malicious_values_cannot_break_out_of_html(responder: Responder) -> None:
    evil = '</strong></p><script>alert("x")</script><img src=x onerror=alert(1)>'
    out = responder.compose(
        "acknowledgement",
        recipient="a@b.example",
        case_id="c-6",
        fields={"invoice_number": evil, "recipient_name": "<b>Mallory</b>"},
        html_body=True,
    )
    assert "<script>" not in out.body
    assert "<img" not in out.body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in out.body
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in out.body
    assert out.body.count("<strong>") == out.body.count("</strong>")


def test_values_are_data_not_template_code(responder: Responder) -> None:
    out = responder.compose(
        "acknowledgement",
        recipient="a@b.example",
        case_id="{{ 7 * 7 }}",
        fields={"invoice_number": "{% for x in range(3) %}boom{% endfor %}"},
    )
    assert "{{ 7 * 7 }}" in out.subject
    assert "49" not in out.subject
    assert "{% for x in range(3) %}boom{% endfor %}" in out.body
    assert "boomboom" not in out.body


def test_unknown_template_and_missing_variables_are_config_errors(
    responder: Responder, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="no responder template named 'thanks'"):
        responder.compose("thanks", recipient="a@b.example", case_id="c")
    (tmp_path / "custom.txt.j2").write_text(
        "{% block subject %}Hi {{ nickname }}{% endblock %}{% block body %}x{% endblock %}",
        encoding="utf-8",
    )
    custom = Responder(tmp_path)
    with pytest.raises(ConfigError, match="nickname"):
        custom.compose("custom", recipient="a@b.example", case_id="c")
    assert (
        custom.compose(
            "custom", recipient="a@b.example", case_id="c", context={"nickname": "Al"}
        ).subject
        == "Hi Al"
    )


def test_retraction_notice(responder: Responder) -> None:
    original = responder.compose("rejection", recipient="a@b.example", case_id="c-7")
    notice = responder.retraction("msg-1", original, "the invoice was accepted after all")
    assert notice.subject == f"Correction: {original.subject}"
    assert notice.recipient == "a@b.example"
    assert "please disregard our previous message" in notice.body
    assert "the invoice was accepted after all" in notice.body
