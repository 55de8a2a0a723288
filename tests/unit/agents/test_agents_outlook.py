"""Outlook messages (.msg, real files from Apache POI's test data: tests/fixtures/outlook)
read as an e-mail is, and bad ones refused with their reason."""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import olefile  # type: ignore[import-untyped]
import pytest

from agents import outlook
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
        "Date: Fri, 06 Jul 2007 05:27:17 +0000\n"  # sent, not delivered (05:27:26)
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


def test_an_ole_object_attached_is_no_message() -> None:
    """Outlook stores an attached message (attach method 5) and an OLE object, such as an
    embedded drawing (6), alike as a storage: only the first is read as a message."""
    data = (OUTLOOK / "attachment_msg_pdf.msg").read_bytes()
    method = b"\x03\x00\x05\x37"  # PR_ATTACH_METHOD, an int32, in a property table
    at = re.search(re.escape(method) + b"....\x05\x00\x00\x00", data, re.DOTALL)
    assert at is not None
    as_object = data[: at.start() + 8] + b"\x06" + data[at.start() + 9 :]
    text = read_text(as_object, MSG)
    assert "--- attachment: Test Attachment ---" in read_text(data, MSG)
    assert "--- attachment: Test Attachment ---" not in text
    assert "[attachment Test Attachment not read: an OLE object]" in text
    assert "--- attachment: smbprn.00009008.KdcPjl.pdf ---" in text


def test_attachments_past_the_limit_are_said_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outlook, "MAX_ATTACHMENTS", 1)
    text = _read("attachment_msg_pdf.msg")
    assert "--- attachment: Test Attachment ---" in text
    assert "smbprn" not in text
    assert text.endswith("[1 more attachment not read (a file's limit is 1)]")


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


def test_streams_that_declare_more_than_the_file_holds_are_refused() -> None:
    """A stream's size is its directory entry's word: 200 MB declared in a 17 KB file (a
    sector chain looped onto itself would be read that long) is refused before reading."""
    data = bytearray((OUTLOOK / "simple_test_msg.msg").read_bytes())
    entry = data.find("__substg1.0_1000001E".encode("utf-16-le"))  # the plain body's
    struct.pack_into("<I", data, entry + 120, 200_000_000)  # its size field
    with pytest.raises(CorruptDocument, match="declare more bytes than the file holds"):
        read_text(bytes(data), MSG)


def test_bytes_shorter_than_a_sector_are_no_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """olefile opens bytes shorter than a sector as the file they name: eight bytes must
    not read a file of that name from the worker's directory."""
    (tmp_path / os.fsdecode(olefile.MAGIC)).write_bytes((OUTLOOK / "quick.msg").read_bytes())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CorruptDocument, match="damaged"):
        read_text(olefile.MAGIC, MSG)


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
