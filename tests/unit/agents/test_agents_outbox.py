"""Outboxes: idempotent file delivery, SMTP delivery to a local server, retraction."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest

from agents.errors import DeliveryRejected, DeliveryUnavailable
from agents.models import FileOutbox, SmtpOutbox
from schemas.payloads import Channel, RespondOutput

MESSAGE = RespondOutput(
    channel=Channel.EMAIL,
    recipient="h.albers@nordwind-logistik.de",
    subject="We received your invoice (NWL-2026-019) - case c-1",
    body="Dear Henrike Albers,\n\nthank you for your invoice.\n",
)


def test_file_outbox_writes_one_file_per_message(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path / "outbox")
    delivery = outbox.send("task-1", MESSAGE)
    assert delivery.status == "sent"
    stored = json.loads(outbox.path_of("task-1").read_text("utf-8"))
    assert stored["status"] == "sent"
    assert stored["subject"] == MESSAGE.subject
    assert outbox.load("task-1") == MESSAGE
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == ["task-1.json"]


def test_redelivery_never_duplicates(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path)
    assert outbox.send("task-1", MESSAGE).status == "sent"
    changed = MESSAGE.model_copy(update={"body": "a second draft"})
    assert outbox.send("task-1", changed).status == "duplicate"
    assert outbox.load("task-1") == MESSAGE
    assert len(list(tmp_path.iterdir())) == 1


def test_concurrent_redeliveries_send_exactly_once(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: outbox.send("task-9", MESSAGE).status, range(16)))
    assert statuses.count("sent") == 1
    assert statuses.count("duplicate") == 15
    assert [p.name for p in tmp_path.iterdir()] == ["task-9.json"]


def test_retract_marks_the_message_and_writes_a_notice(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path)
    outbox.send("task-1", MESSAGE)
    delivery = outbox.retract("task-1", "sent to the wrong supplier")
    assert delivery.status == "retracted"
    assert outbox.status("task-1") == "retracted"
    stored = json.loads(outbox.path_of("task-1").read_text("utf-8"))
    assert stored["retraction_reason"] == "sent to the wrong supplier"
    notice = json.loads((tmp_path / "task-1.retraction.json").read_text("utf-8"))
    assert notice["retracts"] == "task-1"
    assert notice["recipient"] == MESSAGE.recipient
    assert notice["subject"] == f"Correction: {MESSAGE.subject}"
    assert "sent to the wrong supplier" in notice["body"]
    # Compensation is retried like any step: a second retraction changes nothing.
    assert outbox.retract("task-1", "again").status == "duplicate"
    assert outbox.send("task-1", MESSAGE).status == "suppressed"
    assert len(list(tmp_path.iterdir())) == 2


def test_retract_before_send_suppresses_the_late_send(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path)
    assert outbox.retract("task-2", "case cancelled").status == "retracted"
    assert outbox.status("task-2") == "suppressed"
    assert outbox.send("task-2", MESSAGE).status == "suppressed"
    assert not outbox.path_of("task-2").exists()


def test_unsafe_message_ids_become_safe_file_names(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path / "out")
    outbox.send("../../etc/passwd", MESSAGE)
    (written,) = (tmp_path / "out").iterdir()
    assert written.name.startswith("id-")
    assert outbox.load("../../etc/passwd") == MESSAGE


def test_unwritable_outbox_is_retryable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(DeliveryUnavailable) as caught:
        FileOutbox(blocker / "outbox").send("t", MESSAGE)
    assert caught.value.retryable is True


@dataclass
class _Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    rcpt_reply: str = "250 OK"


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for smtplib: EHLO, MAIL, RCPT, DATA, RSET, QUIT."""

    server: _SmtpServer

    def _reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self._reply("220 localhost test SMTP")
        while line := self.rfile.readline():
            command = line.decode().strip().upper()
            if command.startswith(("EHLO", "HELO")):
                self._reply("250 localhost")
            elif command.startswith("MAIL FROM:") or command in ("RSET", "NOOP"):
                self._reply("250 OK")
            elif command.startswith("RCPT TO:"):
                self._reply(self.server.mailbox.rcpt_reply)
            elif command == "DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                parsed = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                self.server.mailbox.messages.append(parsed)
                self._reply("250 OK queued")
            elif command == "QUIT":
                self._reply("221 Bye")
                return
            else:
                self._reply("502 Command not implemented")


class _SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.mailbox = _Mailbox()


@pytest.fixture
def smtp() -> Iterator[_SmtpServer]:
    server = _SmtpServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _outbox(server: _SmtpServer, **kwargs: object) -> SmtpOutbox:
    host, port = server.server_address[:2]
    return SmtpOutbox(str(host), int(port), sender="cases@caseyard.example", timeout=5, **kwargs)  # type: ignore[arg-type]


def test_smtp_delivers_once_with_a_stable_message_id(smtp: _SmtpServer) -> None:
    outbox = _outbox(smtp)
    assert outbox.send("task-1", MESSAGE).status == "sent"
    assert outbox.send("task-1", MESSAGE).status == "duplicate"
    (mail,) = smtp.mailbox.messages
    assert mail["To"] == MESSAGE.recipient
    assert mail["From"] == "cases@caseyard.example"
    assert mail["Subject"] == MESSAGE.subject
    assert mail["Message-ID"] == "<task-1@caseyard>"
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == MESSAGE.body


def test_smtp_sends_html_bodies_with_a_text_alternative(smtp: _SmtpServer) -> None:
    html = MESSAGE.model_copy(
        update={"body": "<!DOCTYPE html><html><body><p>Hi &amp; bye</p></body></html>"}
    )
    _outbox(smtp).send("task-h", html)
    (mail,) = smtp.mailbox.messages
    plain = mail.get_body(preferencelist=("plain",))
    rich = mail.get_body(preferencelist=("html",))
    assert plain is not None
    assert rich is not None
    assert plain.get_content().strip() == "Hi & bye"
    assert "<p>Hi &amp; bye</p>" in rich.get_content()


def test_smtp_retract_mails_a_correction(smtp: _SmtpServer) -> None:
    outbox = _outbox(smtp)
    outbox.send("task-1", MESSAGE)
    assert outbox.retract("task-1", "wrong amount").status == "retracted"
    assert outbox.retract("task-1", "wrong amount").status == "duplicate"
    original, correction = smtp.mailbox.messages
    assert correction["Subject"] == f"Correction: {MESSAGE.subject}"
    assert correction["In-Reply-To"] == original["Message-ID"]
    assert correction["To"] == MESSAGE.recipient
    assert outbox.send("task-1", MESSAGE).status == "duplicate"
    assert len(smtp.mailbox.messages) == 2


def test_smtp_retract_before_send_sends_nothing(smtp: _SmtpServer) -> None:
    outbox = _outbox(smtp)
    assert outbox.retract("task-3").status == "retracted"
    assert outbox.send("task-3", MESSAGE).status == "suppressed"
    assert smtp.mailbox.messages == []


def test_smtp_journal_survives_a_restart(smtp: _SmtpServer, tmp_path: Path) -> None:
    assert _outbox(smtp, journal_dir=tmp_path).send("task-1", MESSAGE).status == "sent"
    restarted = _outbox(smtp, journal_dir=tmp_path)
    assert restarted.send("task-1", MESSAGE).status == "duplicate"
    assert restarted.retract("task-1").status == "retracted"
    assert len(smtp.mailbox.messages) == 2


def test_smtp_refusals_are_classified(smtp: _SmtpServer) -> None:
    outbox = _outbox(smtp)
    smtp.mailbox.rcpt_reply = "550 No such user"
    with pytest.raises(DeliveryRejected) as rejected:
        outbox.send("task-5", MESSAGE)
    assert rejected.value.retryable is False
    smtp.mailbox.rcpt_reply = "451 Try again later"
    with pytest.raises(DeliveryUnavailable) as deferred:
        outbox.send("task-5", MESSAGE)
    assert deferred.value.retryable is True
    smtp.mailbox.rcpt_reply = "250 OK"
    assert outbox.send("task-5", MESSAGE).status == "sent"


def test_smtp_unreachable_server_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outbox = SmtpOutbox("127.0.0.1", port, timeout=2)
    with pytest.raises(DeliveryUnavailable) as caught:
        outbox.send("task-6", MESSAGE)
    assert caught.value.retryable is True


def test_smtp_only_delivers_email() -> None:
    sms = MESSAGE.model_copy(update={"channel": Channel.SMS, "recipient": "+4915123456789"})
    with pytest.raises(DeliveryRejected, match="sms"):
        SmtpOutbox("127.0.0.1", 25).send("task-7", sms)
