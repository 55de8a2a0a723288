"""Outboxes deliver drafted messages: files by default, SMTP to a configured server.

Delivery is idempotent by message id (derive it from the task id): a redelivered task
finds the message already sent and gets ``duplicate`` back instead of a second copy.
``retract`` is the compensation action: the file outbox marks the message retracted and
writes a retraction notice; the SMTP outbox mails a correction to the same recipient.
A retraction that arrives before the message (the saga compensated a step whose send was
still in flight) leaves a tombstone, so the late send is suppressed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import smtplib
import tempfile
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Literal, Protocol

from agents.documents import html_to_text
from agents.errors import DeliveryRejected, DeliveryUnavailable
from agents.models.responder import Responder
from schemas.payloads import Channel, RespondOutput

__all__ = ["Delivery", "DeliveryStatus", "FileOutbox", "Outbox", "SmtpOutbox"]

DeliveryStatus = Literal["sent", "duplicate", "retracted", "suppressed"]


@dataclass(frozen=True)
class Delivery:
    """The outcome of a send or retract call.

    ``sent``: delivered now. ``duplicate``: this message id was already handled, nothing
    was delivered again. ``retracted``: the retraction was delivered now. ``suppressed``:
    the message had been retracted before it was sent, so it was not sent.
    """

    message_id: str
    status: DeliveryStatus
    location: str = ""


class Outbox(Protocol):
    """Where the responder's messages go."""

    def send(self, message_id: str, message: RespondOutput) -> Delivery:
        """Deliver ``message`` once per ``message_id``."""
        ...

    def retract(self, message_id: str, reason: str = "") -> Delivery:
        """Compensate: withdraw the message and tell the recipient."""
        ...


_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _file_stem(message_id: str) -> str:
    """A file name for ``message_id``; ids that are not filename-safe are hashed."""
    if _SAFE_ID.match(message_id):
        return message_id
    return "id-" + hashlib.sha256(message_id.encode()).hexdigest()[:32]


class FileOutbox:
    """Writes one JSON file per message into a directory.

    ``<id>.json`` holds the message and its status (``sent`` or ``retracted``);
    ``<id>.retraction.json`` holds the retraction notice (or, when the message was never
    sent, a tombstone). Files are created atomically and never overwritten by a send, so
    concurrent redeliveries cannot produce two copies.

    Args:
        directory: Where messages are written; created when missing.
        responder: Renders retraction notices (the default templates otherwise).
    """

    def __init__(self, directory: str | Path, responder: Responder | None = None) -> None:
        self._dir = Path(directory)
        self._dir_name = str(self._dir)
        self._responder = responder or Responder()

    @property
    def directory(self) -> Path:
        """The outbox directory."""
        return self._dir

    def path_of(self, message_id: str) -> Path:
        """Path of the file that holds ``message_id``."""
        return Path(self._file(message_id))

    def _file(self, message_id: str, suffix: str = ".json") -> str:
        # Names of files, not `Path`s: Python 3.11's pathlib interns every part it parses,
        # and two new names per message churned the interpreter's table of interned
        # strings until it resized (a one-time step of 1.8 MiB in `bench.soak`).
        return os.path.join(self._dir_name, f"{_file_stem(message_id)}{suffix}")

    def _retraction_path(self, message_id: str) -> str:
        return self._file(message_id, ".retraction.json")

    def send(self, message_id: str, message: RespondOutput) -> Delivery:
        """Write the message unless this id was already sent or retracted.

        Raises:
            DeliveryUnavailable: If the directory cannot be written.
        """
        path = self._file(message_id)
        if os.path.exists(self._retraction_path(message_id)):
            return Delivery(message_id, "suppressed", path)
        record = {"message_id": message_id, "status": "sent", **message.model_dump(mode="json")}
        created = self._create(path, record)
        if created and os.path.exists(self._retraction_path(message_id)):
            # A retraction raced this send and left its tombstone first: honour it.
            self._replace(path, {**record, "status": "retracted"})
            return Delivery(message_id, "suppressed", path)
        return Delivery(message_id, "sent" if created else "duplicate", path)

    def retract(self, message_id: str, reason: str = "") -> Delivery:
        """Mark the message retracted and write a retraction notice (idempotent).

        Raises:
            DeliveryUnavailable: If the directory cannot be written.
        """
        notice_path = self._retraction_path(message_id)
        path = self._file(message_id)
        original = self.load(message_id)
        if original is None:
            tombstone: dict[str, object] = {
                "message_id": message_id,
                "status": "suppressed",
                "reason": reason,
            }
            created = self._create(notice_path, tombstone)
            return Delivery(message_id, "retracted" if created else "duplicate", notice_path)
        notice = self._responder.retraction(message_id, original, reason)
        record = {
            "message_id": message_id,
            "status": "retraction",
            "retracts": message_id,
            "reason": reason,
            **notice.model_dump(mode="json"),
        }
        created = self._create(notice_path, record)
        if self.status(message_id) != "retracted":
            stored = json.loads(_read(path))
            stored.update(status="retracted", retraction_reason=reason)
            self._replace(path, stored)
        return Delivery(message_id, "retracted" if created else "duplicate", notice_path)

    def load(self, message_id: str) -> RespondOutput | None:
        """The message sent under ``message_id``, or None."""
        path = self._file(message_id)
        try:
            stored = json.loads(_read(path))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise DeliveryUnavailable(f"cannot read {path}: {exc}") from exc
        fields = {k: v for k, v in stored.items() if k in RespondOutput.model_fields}
        return RespondOutput.model_validate(fields)

    def status(self, message_id: str) -> str | None:
        """``sent``, ``retracted``, ``suppressed`` (tombstone only) or None."""
        path = self._file(message_id)
        if os.path.exists(path):
            try:
                return str(json.loads(_read(path))["status"])
            except (OSError, ValueError, KeyError) as exc:
                raise DeliveryUnavailable(f"cannot read {path}: {exc}") from exc
        if os.path.exists(self._retraction_path(message_id)):
            return "suppressed"
        return None

    def _create(self, path: str, record: dict[str, object]) -> bool:
        """Atomically create ``path``; False if it already exists."""
        tmp = self._write_tmp(record)
        try:
            # link() fails if the target exists: create-if-absent with no window for a race.
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            raise DeliveryUnavailable(f"cannot write {path}: {exc}") from exc
        finally:
            _unlink(tmp)

    def _replace(self, path: str, record: dict[str, object]) -> None:
        tmp = self._write_tmp(record)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            _unlink(tmp)
            raise DeliveryUnavailable(f"cannot write {path}: {exc}") from exc

    def _write_tmp(self, record: dict[str, object]) -> str:
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle, ensure_ascii=False, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise DeliveryUnavailable(f"cannot write to the outbox {self._dir}: {exc}") from exc
        return tmp


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class _MemoryJournal:
    """What `SmtpOutbox` remembers when no journal directory is given (one process)."""

    def __init__(self) -> None:
        self._status: dict[str, str] = {}
        self._messages: dict[str, RespondOutput] = {}

    def status(self, message_id: str) -> str | None:
        return self._status.get(message_id)

    def load(self, message_id: str) -> RespondOutput | None:
        return self._messages.get(message_id)

    def send(self, message_id: str, message: RespondOutput) -> Delivery:
        if message_id in self._status:
            return Delivery(message_id, "duplicate")
        self._status[message_id] = "sent"
        self._messages[message_id] = message
        return Delivery(message_id, "sent")

    def retract(self, message_id: str, reason: str = "") -> Delivery:
        previous = self._status.get(message_id)
        if previous in ("retracted", "suppressed"):
            return Delivery(message_id, "duplicate")
        self._status[message_id] = "retracted" if previous == "sent" else "suppressed"
        return Delivery(message_id, "retracted")


class SmtpOutbox:
    """Sends e-mail through an SMTP server (stdlib smtplib).

    The journal remembers what was sent, for idempotence and to address retractions; pass
    ``journal_dir`` to keep it across restarts (a `FileOutbox` holds it), otherwise it
    lives in memory for the life of this object.

    Calls block on the network; async callers use ``anyio.to_thread.run_sync``.

    Args:
        host: SMTP server host.
        port: SMTP server port.
        sender: The From address.
        timeout: Seconds to wait for the server.
        journal_dir: Directory of the durable journal.
        starttls: Upgrade the connection with STARTTLS before sending.
        username: Login name, if the server requires authentication.
        password: Password for ``username``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str = "caseyard@localhost",
        timeout: float = 10.0,
        journal_dir: str | Path | None = None,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        responder: Responder | None = None,
    ) -> None:
        self._host, self._port, self._timeout = host, port, timeout
        self._sender = sender
        self._starttls = starttls
        self._login = (username, password or "") if username else None
        self._responder = responder or Responder()
        self._journal: FileOutbox | _MemoryJournal = (
            FileOutbox(journal_dir, self._responder) if journal_dir else _MemoryJournal()
        )
        self._lock = threading.Lock()

    def send(self, message_id: str, message: RespondOutput) -> Delivery:
        """Send the message unless this id was already sent (or retracted).

        Raises:
            DeliveryRejected: For a non-e-mail channel or a permanent (5xx) refusal.
            DeliveryUnavailable: If the server is unreachable or answers 4xx.
        """
        if message.channel is not Channel.EMAIL:
            raise DeliveryRejected(f"the SMTP outbox cannot deliver {message.channel} messages")
        with self._lock:
            previous = self._journal.status(message_id)
            if previous in ("sent", "retracted"):
                return Delivery(message_id, "duplicate", self._where())
            if previous == "suppressed":
                return Delivery(message_id, "suppressed", self._where())
            self._deliver(_email(message, self._sender, message_id))
            self._journal.send(message_id, message)
        return Delivery(message_id, "sent", self._where())

    def retract(self, message_id: str, reason: str = "") -> Delivery:
        """Mail a correction for a sent message; tombstone an unsent one.

        Raises:
            DeliveryRejected: For a permanent refusal by the server.
            DeliveryUnavailable: If the server is unreachable or answers 4xx.
        """
        with self._lock:
            status = self._journal.status(message_id)
            if status in ("retracted", "suppressed"):
                return Delivery(message_id, "duplicate", self._where())
            original = self._journal.load(message_id)
            if original is not None:
                notice = self._responder.retraction(message_id, original, reason)
                mail = _email(notice, self._sender, f"{message_id}.retraction")
                mail["In-Reply-To"] = _message_id_header(message_id)
                mail["References"] = _message_id_header(message_id)
                self._deliver(mail)
            self._journal.retract(message_id, reason)
        return Delivery(message_id, "retracted", self._where())

    def _where(self) -> str:
        return f"smtp://{self._host}:{self._port}"

    def _deliver(self, mail: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls()
                if self._login is not None:
                    smtp.login(*self._login)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(code >= 500 for code in codes):
                raise DeliveryRejected(f"recipient refused: {exc.recipients}") from exc
            raise DeliveryUnavailable(f"recipient deferred: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            error = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            if exc.smtp_code >= 500:
                raise DeliveryRejected(f"SMTP {exc.smtp_code}: {error}") from exc
            raise DeliveryUnavailable(f"SMTP {exc.smtp_code}: {error}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryUnavailable(
                f"cannot deliver through {self._host}:{self._port}: {exc}"
            ) from exc


def _message_id_header(message_id: str) -> str:
    return f"<{_file_stem(message_id)}@caseyard>"


def _email(message: RespondOutput, sender: str, message_id: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    # A stable Message-ID lets receiving systems drop a copy we could not know was sent.
    mail["Message-ID"] = _message_id_header(message_id) if message_id else make_msgid()
    body = message.body
    if body.lstrip().lower().startswith(("<!doctype html", "<html")):
        mail.set_content(html_to_text(body))
        mail.add_alternative(body, subtype="html")
    else:
        mail.set_content(body)
    return mail
