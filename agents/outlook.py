"""Outlook messages (.msg): an e-mail as Outlook saves it, to be read as any e-mail is.

A ``.msg`` file is an OLE compound file of MAPI properties (MS-OXMSG): each property a
stream named by its id and type (``__substg1.0_0037001F`` is the subject as UTF-16), the
fixed-size ones (the delivery time, the code page) in a ``__properties_version1.0``
table, each attachment a storage of its own, an attached message a nested one. olefile
reads the container; this module reads the properties a person sees: sender, recipients,
date, subject, the plain and HTML bodies, and the attachments (their bytes, or the
message itself when one is attached). A body Outlook stored only as compressed RTF is not
read (said as such in the text). `agents.documents` renders it as it does an ``.eml``.
"""

from __future__ import annotations

import codecs
import io
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import olefile  # type: ignore[import-untyped]

from agents.errors import CorruptDocument

__all__ = ["MAX_ATTACHMENTS", "MSG", "Attachment", "OutlookMessage", "read_msg"]

MSG = "application/vnd.ms-outlook"

MAX_ATTACHMENTS = 50
"""Attachments read of one file, its attached messages' included."""

_MAX_DEPTH = 3
"""Messages attached to messages read, in depth."""

_OLE_ERRORS = (OSError, ValueError, IndexError, KeyError, struct.error, EOFError, RecursionError)
"""What olefile raises on a damaged container (its own checks raise OSError; a table it
trusts raises the others)."""


@dataclass(frozen=True)
class Attachment:
    name: str
    media_type: str | None
    data: bytes | None
    message: OutlookMessage | None = None
    """An attached message (Outlook's "attach item"), read as one."""


@dataclass(frozen=True)
class OutlookMessage:
    headers: tuple[tuple[str, str], ...]
    """From, To, Cc, Date and Subject, those that are set."""
    plain: str
    html: str
    rtf_only: bool
    """The body is stored only as compressed RTF, which is not read."""
    attachments: tuple[Attachment, ...]
    not_read: tuple[str, ...] = ()
    """What of its attachments was left unread, and why (one line each)."""

    @property
    def subject(self) -> str:
        return dict(self.headers).get("Subject", "")


def read_msg(data: bytes) -> OutlookMessage:
    """The message in an Outlook ``.msg`` file.

    Raises:
        CorruptDocument: Not an OLE file, or no message in it, or a damaged one.
    """
    if not data.startswith(olefile.MAGIC):
        raise CorruptDocument("not an Outlook message (.msg): no OLE compound file signature")
    try:
        # A file object: olefile takes bytes shorter than a sector for a file's name.
        ole = olefile.OleFileIO(io.BytesIO(data))
        try:
            if not ole.exists("__properties_version1.0"):
                raise CorruptDocument("the OLE file holds no Outlook message (no properties)")
            return _Reader(ole, 2 * len(data)).message([], depth=0)
        finally:
            ole.close()
    except _OLE_ERRORS as exc:
        raise CorruptDocument(f"the Outlook message is damaged: {exc}") from exc


# MAPI property ids (MS-OXPROPS) and types.
_SUBJECT = 0x0037
_SENT_REPRESENTING_NAME = 0x0042
_SENDER_NAME = 0x0C1A
_SENDER_ADDRESS = 0x0C1F
_SENDER_SMTP = 0x5D01
_DISPLAY_TO = 0x0E04
_DISPLAY_CC = 0x0E03
_DELIVERY_TIME = 0x0E06
_SUBMIT_TIME = 0x0039
_BODY = 0x1000
_RTF = 0x1009
_HTML = 0x1013
_CODEPAGE = 0x3FFD
_INTERNET_CODEPAGE = 0x3FDE
_ATTACH_DATA = 0x3701
_ATTACH_LONG_NAME = 0x3707
_ATTACH_NAME = 0x3704
_ATTACH_MIME = 0x370E
_ATTACH_METHOD = 0x3705
_EMBEDDED_MESSAGE = 5
_UNICODE, _STRING8, _BINARY, _OBJECT = 0x001F, 0x001E, 0x0102, 0x000D
_INT32, _SYSTIME = 0x0003, 0x0040
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_EMAIL = re.compile(r"[^@\s/]+@[^@\s]+\.[^@\s]+")
_CODECS = {
    65001: "utf-8", 65000: "utf-7", 20127: "ascii", 1200: "utf-16-le", 20866: "koi8_r",
    21866: "koi8_u", 50220: "iso2022_jp", 50221: "iso2022_jp", 50222: "iso2022_jp",
    51932: "euc_jp", 51949: "euc_kr", 54936: "gb18030", 10000: "mac_roman",
    **{28590 + n: f"iso8859_{n}" for n in range(1, 16)},
}  # fmt: skip
"""Windows code pages whose Python codec is not ``cp<number>`` (1250-1258, 932, 936, 949,
950 are)."""


class _Reader:
    def __init__(self, ole: Any, budget: int) -> None:
        self._ole = ole
        self._attachments = 0
        self._left = budget
        """Bytes the streams read may hold together: an OLE file stores each once, so
        twice its size is plenty, and a sector chain looped onto itself, which olefile
        follows for the size a stream declares, stops here."""

    def message(self, path: list[str], depth: int) -> OutlookMessage:
        """The message stored under `path` (the file's root: ``[]``)."""
        # The property table's header: 32 bytes for the file's message, 24 for an
        # attached one (MS-OXMSG 2.4.1).
        fixed = self._fixed(path, 32 if not path else 24)
        # 8-bit strings are in the message's code page; the HTML body's bytes in the
        # Internet one (MS-OXCMSG 2.2.1.4, 2.2.1.6): a UTF-8 body beside cp1252 strings.
        codepage = _codec(fixed.get(_CODEPAGE) or fixed.get(_INTERNET_CODEPAGE))
        html_codepage = _codec(fixed.get(_INTERNET_CODEPAGE) or fixed.get(_CODEPAGE))

        def text(prop: int) -> str:
            return self._string(path, prop, codepage)

        sender = text(_SENT_REPRESENTING_NAME) or text(_SENDER_NAME)
        address = text(_SENDER_SMTP) or text(_SENDER_ADDRESS)
        # An Exchange sender's address is a directory name ("/O=.../CN=..."), no e-mail.
        if _EMAIL.fullmatch(address) and address not in sender:
            sender = f"{sender} <{address}>" if sender else address
        # An e-mail's Date is when its sender sent it (MS-OXCMAIL), not when it arrived.
        sent = fixed.get(_SUBMIT_TIME) or fixed.get(_DELIVERY_TIME)
        headers = (
            ("From", sender),
            ("To", text(_DISPLAY_TO)),
            ("Cc", text(_DISPLAY_CC)),
            ("Date", _date(sent) if sent else ""),
            ("Subject", text(_SUBJECT)),
        )
        attachments, not_read = self._attached(path, depth, codepage)
        html = self._binary(path, _HTML)
        plain = text(_BODY)
        rich = _decoded(html, html_codepage) if html else text(_HTML)
        return OutlookMessage(
            headers=tuple((name, value.strip()) for name, value in headers if value.strip()),
            plain=plain,
            html=rich,
            rtf_only=not plain.strip() and not rich.strip() and self._has(path, _RTF, _BINARY),
            attachments=tuple(attachments),
            not_read=tuple(not_read),
        )

    def _attached(
        self, path: list[str], depth: int, codepage: str
    ) -> tuple[list[Attachment], list[str]]:
        """The attachments read, and a line for each left unread."""
        found: list[Attachment] = []
        not_read: list[str] = []
        storages = sorted(
            {entry[len(path)] for entry in self._ole.listdir(streams=True, storages=True)
             if len(entry) > len(path) and entry[: len(path)] == path
             and entry[len(path)].startswith("__attach_version1.0_#")}
        )  # fmt: skip
        for n, storage in enumerate(storages):
            if self._attachments >= MAX_ATTACHMENTS:
                left = len(storages) - n
                not_read.append(
                    f"{left} more attachment{'s' if left > 1 else ''} not read (a file's "
                    f"limit is {MAX_ATTACHMENTS})"
                )
                break
            self._attachments += 1
            where = [*path, storage]
            name = self._string(where, _ATTACH_LONG_NAME, codepage) or self._string(
                where, _ATTACH_NAME, codepage
            )
            media_type = self._string(where, _ATTACH_MIME, codepage) or None
            # An attached message (attach method 5) is a storage of its own; so is an OLE
            # object's (6), which is no message and not read.
            method = self._fixed(where, 8).get(_ATTACH_METHOD)
            if self._has(where, _ATTACH_DATA, _OBJECT):
                if method != _EMBEDDED_MESSAGE:
                    not_read.append(f"attachment {name or 'object'} not read: an OLE object")
                elif depth >= _MAX_DEPTH:
                    not_read.append(
                        f"attachment {name or 'message'} not read: messages attached inside "
                        f"messages over {_MAX_DEPTH} deep"
                    )
                else:
                    inner = self.message(
                        _property(where, _ATTACH_DATA, _OBJECT).split("/"), depth + 1
                    )
                    found.append(Attachment(name or "message", None, None, inner))
            else:
                data = self._binary(where, _ATTACH_DATA)
                found.append(Attachment(name or "attachment", media_type, data or None))
        return found, not_read

    def _stream(self, path: list[str], prop: int, kind: int) -> bytes | None:
        name = _property(path, prop, kind)
        if not self._ole.exists(name):
            return None
        return self._read(name)

    def _read(self, name: str) -> bytes:
        self._left -= int(self._ole.get_size(name))
        if self._left < 0:
            raise CorruptDocument(
                f"the Outlook message's streams declare more bytes than the file holds ({name})"
            )
        return bytes(self._ole.openstream(name).read())

    def _has(self, path: list[str], prop: int, kind: int) -> bool:
        return bool(self._ole.exists(_property(path, prop, kind)))

    def _string(self, path: list[str], prop: int, codepage: str) -> str:
        wide = self._stream(path, prop, _UNICODE)
        if wide is not None:
            return wide.decode("utf-16-le", errors="replace").rstrip("\x00")
        narrow = self._stream(path, prop, _STRING8)
        return "" if narrow is None else _decoded(narrow, codepage).rstrip("\x00")

    def _binary(self, path: list[str], prop: int) -> bytes:
        return self._stream(path, prop, _BINARY) or b""

    def _fixed(self, path: list[str], header: int) -> dict[int, int]:
        """The 32- and 64-bit properties of the table: an entry is 16 bytes, the tag
        (type, then id), flags and the value."""
        name = "/".join([*path, "__properties_version1.0"])
        if not self._ole.exists(name):
            return {}
        table = self._read(name)
        values: dict[int, int] = {}
        for offset in range(header, len(table) - 15, 16):
            kind, prop, _flags, value = struct.unpack_from("<HHIq", table, offset)
            if kind == _INT32:
                values[prop] = value & 0xFFFFFFFF
            elif kind == _SYSTIME:
                values[prop] = value
        return values


def _property(path: list[str], prop: int, kind: int) -> str:
    """The stream of a property of the object at `path` (MS-OXMSG 2.1.3)."""
    return "/".join([*path, f"__substg1.0_{prop:04X}{kind:04X}"])


def _codec(codepage: int | None) -> str:
    """Python's codec for a Windows code page number; Western European if unknown."""
    if not codepage:
        return "cp1252"
    name = _CODECS.get(codepage, f"cp{codepage}")
    try:
        codecs.lookup(name)
    except LookupError:
        return "cp1252"
    return name


def _decoded(data: bytes, codepage: str) -> str:
    """8-bit text in its code page; as Windows' Western European when the page named does
    not decode it (a message that says UTF-8 and holds cp1252, as Outlook writes some)."""
    try:
        return data.decode(codepage)
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _date(filetime: int) -> str:
    """A FILETIME (100 ns since 1601) as an e-mail's Date header says it."""
    try:
        return format_datetime(_FILETIME_EPOCH + timedelta(microseconds=filetime // 10))
    except (OverflowError, ValueError):
        return ""
