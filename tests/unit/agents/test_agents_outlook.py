"""Outlook messages (.msg, real files from Apache POI's test data: tests/fixtures/outlook)
read as an e-mail is, and bad ones refused with their reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.documents import media_type_for, read_text
from agents.errors import CorruptDocument, EmptyDocument
from agents.outlook import MSG, read_msg
from tests.documents import encrypted_office_file

OUTLOOK = Path(__file__).resolve().parents[2] / "fixtures" / "outlook"


def _read(name: str) -> str:
    return read_text((OUTLOOK / name).read_bytes(), media_type_for(name))


def test_a_message_reads_as_an_e_mail_with_its_headers_and_body() -> None:
    assert media_type_for("Fwd invoice.MSG") == MSG
    assert _read("simple_test_msg.msg") == (
        "From: Travis Ferguson <travis@overwrittenstack.com>\n"
        "To: travis@overwrittenstack.com\n"
        "Date: Fri, 06 Jul 2007 05:27:26 +0000\n"
        "Subject: test message\n\n"
        "This is a test message."
    )


def test_an_exchange_senders_directory_name_is_no_e_mail_address() -> None:
    assert _read("quick.msg").startswith("From: Kevin Roast\nTo: Kevin Roast\n")


def test_an_attached_message_and_pdf_are_read_under_their_names() -> None:
    text = _read("attachment_msg_pdf.msg")
    assert "Subject: test email\n\nTest email with 1 msg attachment, 1 pdf" in text
    inner = text.index("--- attachment: Test Attachment ---\nFrom: Nick Booth")
    pdf = text.index("--- attachment: smbprn.00009008.KdcPjl.pdf ---\n")
    assert inner < text.index("Subject: Test Attachment\n\nBlah blah blah") < pdf


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # The message names UTF-8 and holds cp1252 bytes, as some Outlook versions wrote.
        ("ASCII_UTF-8_CP1252_LCID1031.msg", "Subject: Subject öäü Subject\n\nBody öäü Body"),
        # No plain body: the HTML body's bytes, in the message's Windows-1251.
        ("HTMLBodyBinary_CP1251.msg", "HTML автоматически"),
    ],
)
def test_8_bit_text_in_its_code_page(name: str, expected: str) -> None:
    assert _read(name).endswith(expected)


def test_a_body_stored_only_as_rtf_is_said_so() -> None:
    assert read_msg((OUTLOOK / "keywords.msg").read_bytes()).rtf_only
    assert _read("keywords.msg").endswith(
        "Subject: Test Keywords\n\n"
        "[the message's body is stored only as rich text (RTF), which is not read]"
    )


def test_a_damaged_attachment_is_said_and_the_message_read() -> None:
    text = _read("clusterfuzz-4735011465854976.msg")
    assert text.startswith("From: Nicolas1 23456 <nicolas1.23456@free.fr>\n")
    assert "Subject: test pièce jointe 1\n\ncontenu\n\n[attachment " in text
    assert text.endswith("could not be read: no reader for media type 'application/octet-stream']")


@pytest.mark.parametrize(
    ("data", "error", "reason"),
    [
        (b"From: x\n\nnot an OLE file", CorruptDocument, "no OLE compound file signature"),
        (encrypted_office_file(), CorruptDocument, "the Outlook message is damaged"),
        ((OUTLOOK / "quick.msg").read_bytes()[:2000], CorruptDocument, "is damaged"),
    ],
)
def test_a_bad_message_is_refused_with_its_reason(
    data: bytes, error: type[Exception], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        read_text(data, MSG)


def test_a_message_with_nothing_to_read_is_empty() -> None:
    with pytest.raises(EmptyDocument, match="no subject, body or readable attachment"):
        read_text(_blank(), MSG)


def _blank() -> bytes:
    """A message of headers only: POI's blank.msg is not among the fixtures, so one made
    by cutting the subject and body streams' names out of a real message."""
    data = (OUTLOOK / "simple_test_msg.msg").read_bytes()
    for stream in ("__substg1.0_0037", "__substg1.0_1000", "__substg1.0_1013"):
        data = data.replace(stream.encode("utf-16-le"), b"X\x00" * len(stream))
    return data
