"""Personal data masked before a remote model: each kind found (and checked: a checksum,
Luhn), amounts, dates and references left alone, allowed kinds let through, and what the
OpenAI-compatible endpoint receives (a real local HTTP server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agents.router import CompletionRequest, OpenAICompatibleProvider, redact_pii
from tests.unit.agents.test_router_http import FakeApi, api, server  # noqa: F401 - fixtures

LETTER = """From: Jane Roe <jane.roe@example.com>, Tel. +49 30 1234567
Pay 4,189.05 EUR to DE44 5001 0517 5407 3249 31 (BIC MARKDEF1500) by 2026-01-30.
Card 4111 1111 1111 1111, CVV: 123. SSN 078-05-1120, NI number AB 12 34 56 C.
Invoice NWL-2025-118."""


def test_each_kind_is_masked_and_the_rest_kept() -> None:
    masked, counts = redact_pii(LETTER)
    for secret in (
        "jane.roe@example.com",
        "+49 30 1234567",
        "DE44 5001 0517 5407 3249 31",
        "4111 1111 1111 1111",
        "123",
        "078-05-1120",
        "AB 12 34 56 C",
    ):
        assert secret not in masked, secret
    for kept in ("4,189.05 EUR", "2026-01-30", "NWL-2025-118", "MARKDEF1500", "Jane Roe"):
        assert kept in masked, kept
    assert counts == {
        "email": 1, "phone": 1, "iban": 1, "card": 1, "cvv": 1, "national-id": 2,
    }  # fmt: skip


def test_numbers_that_fail_their_check_are_not_taken_for_an_iban_or_a_card() -> None:
    text = "Order DE44 5001 0517 5407 3249 32, ticket 4111 1111 1111 1112"
    masked, counts = redact_pii(text)
    assert "iban" not in counts and "card" not in counts
    assert "DE44 5001 0517 5407 3249 32" in masked


def test_an_account_under_an_iban_label_is_masked_though_its_check_digits_fail() -> None:
    """What the extractor answers for such a page (a misprint, an altered account) is an
    account all the same: it does not leave unmasked."""
    text = "IBAN: DE12 5001 0517 5407 3249 32\nRef DE12 5001 0517 5407 3249 32"
    masked, counts = redact_pii(text)
    assert masked == "IBAN: [iban]\nRef DE12 5001 0517 5407 3249 32"
    assert counts == {"iban": 1}
    # Under the label, a number that is no account of its country's format stays.
    assert redact_pii("IBAN: DE12 5001 0517 5407 3249 3")[1] == {}


def test_allowed_kinds_pass() -> None:
    masked, counts = redact_pii(LETTER, allow={"email", "phone"})
    assert "jane.roe@example.com" in masked and "+49 30 1234567" in masked
    assert "email" not in counts and counts["iban"] == 1


@pytest.fixture
async def endpoint(api: FakeApi) -> AsyncIterator[OpenAICompatibleProvider]:  # noqa: F811
    async with OpenAICompatibleProvider(api.url, model="small", name="remote") as opened:
        yield opened


@pytest.mark.anyio
async def test_the_endpoint_receives_the_masked_text(
    endpoint: OpenAICompatibleProvider,
    api: FakeApi,  # noqa: F811
) -> None:
    await endpoint.complete(CompletionRequest.from_prompt("score", LETTER, system="score it"))
    sent = api.seen[-1].body["messages"][1]["content"]
    assert "DE44 5001" not in sent and "[iban]" in sent and "[card]" in sent
    allowed = CompletionRequest.from_prompt("respond", LETTER)
    await endpoint.complete(
        CompletionRequest(
            capability=allowed.capability,
            messages=allowed.messages,
            allow_pii=frozenset({"email"}),
        )
    )
    assert "jane.roe@example.com" in api.seen[-1].body["messages"][0]["content"]
    await endpoint.embed([LETTER])
    assert "[email]" in api.seen[-1].body["input"][0]


@pytest.mark.anyio
async def test_masking_can_be_turned_off_for_a_trusted_endpoint(api: FakeApi) -> None:  # noqa: F811
    async with OpenAICompatibleProvider(
        api.url, model="small", name="in-house", redact_pii=False
    ) as trusted:
        await trusted.complete(CompletionRequest.from_prompt("score", LETTER))
    assert "DE44 5001 0517 5407 3249 31" in api.seen[-1].body["messages"][0]["content"]
