"""Office documents: the text of a DOCX or an XLSX (Office Open XML), an ODT or an ODS
(OpenDocument).

Contracts, complaint letters and many invoices are written in a word processor and sent as
the file it saves; bank statements and expense reports come as spreadsheets. Each format is
a ZIP package of XML parts. A word-processing document's text is read from the parts in
the order a reader sees it: the page header (a letterhead), the body, the footer.
A paragraph is a line; a table row is a line of its cells (the way a PDF's text layer
gives a row), a cell's paragraphs joined by spaces. What the page does not show is left
out (deleted and moved-away text of tracked changes, hidden text and sections, comments,
field codes, ruby text, the fallback copy of a text box: a DOCX carries each text box
twice), and so are footnotes, whose text would split the sentences they annotate. A
spreadsheet is its visible sheets' rows and columns, each cell as the sheet shows it: an
XLSX keeps a date as a day count and an amount as a binary number, and its number format
says how they are shown (`2026-03-15`, `1234.50`); an ODS cell holds the text it shows.

Hostile packages: every XML part is parsed by defusedxml (an entity declaration or an
external reference refuses the document) as a stream, its elements dropped once read; the
parts' uncompressed bytes are counted as they are inflated (`MAX_XML_BYTES`), so a small
file that inflates to gigabytes costs that budget, not the memory; the text read stops at
`MAX_CHARS` (a string a thousand cells repeat); parts read whole are bounded apart. A
password-protected file is an encrypted OLE container, not a ZIP, and is said to be one.
"""

from __future__ import annotations

import io
import lzma
import math
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Self
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring, iterparse

from agents.errors import CorruptDocument, DocumentTooLarge

__all__ = [
    "DOCX",
    "MAX_CHARS",
    "MAX_XML_BYTES",
    "ODS",
    "ODT",
    "XLSX",
    "docx_text",
    "ods_text",
    "odt_text",
    "xlsx_text",
]

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"

MAX_XML_BYTES = 64 * 1024 * 1024
"""The XML one document may inflate to, all its parts together: a 1,000-page contract's
is a few tens of MB; a ZIP bomb stops here."""

MAX_CHARS = 1_000_000
"""The text read of one document; the rest is not read (``agents.documents`` keeps half
of it): a small sheet whose one long string fills a thousand cells stops here."""

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The signature of an OLE compound file: a Word 97-2003 .doc, or an encrypted package."""


def _nothing_hidden(_name: str, _el: Element) -> bool:
    return False


@dataclass(frozen=True)
class _Format:
    """How one format marks up what `_Reader` reads (local names, namespaces dropped)."""

    paragraphs: frozenset[str]
    rows: frozenset[str]
    cells: frozenset[str]
    text: frozenset[str]
    """Elements whose own text is the document's (a DOCX run's ``t``)."""
    mixed: bool
    """Text sits between elements too (ODT: a paragraph's text and its children's tails)."""
    skipped: frozenset[str]
    """Subtrees that are not on the page, or that are left out (footnotes)."""
    marks: dict[str, str]
    """Elements that stand for a character: a tab, a line break, a non-breaking hyphen."""
    hidden: Callable[[str, Element], bool] = _nothing_hidden
    """An element whose attributes say the page does not show it (an ODF section set not
    to display, a collapsed spreadsheet row)."""
    foreign: str = ""
    """The namespace (as a tag starts, ``{...}``) none of whose elements is text on the
    page; none if empty."""
    repeats: tuple[str, str] = ("", "")
    """The attributes by which a row and a cell stand for several equal ones."""

    def skips(self, name: str, el: Element) -> bool:
        return name in self.skipped or bool(self.foreign and el.tag.startswith(self.foreign))


_OFF = {"0", "false", "off"}


def _docx_hidden(name: str, el: Element) -> bool:
    """A run formatted as hidden text (``w:vanish``); known once the run is read."""
    if name != "r":
        return False
    for props in el:
        if _local(props.tag) == "rPr":
            for prop in props:
                if _local(prop.tag) in ("vanish", "specVanish"):
                    return (_attribute(prop, "val") or "").lower() not in _OFF
    return False


def _odf_hidden(name: str, el: Element) -> bool:
    if name == "section":
        return _attribute(el, "display") == "none"
    if name == "table-row":
        return _attribute(el, "visibility") in ("collapse", "filter")
    return False


_DOCX = _Format(
    paragraphs=frozenset({"p"}),
    rows=frozenset({"tr"}),
    cells=frozenset({"tc"}),
    text=frozenset({"t"}),
    mixed=False,
    # Properties (a tab stop is a `tab` too), the text box's VML copy, tracked deletions
    # and moves, ruby text above its base. (Field codes, `instrText`, and deleted text,
    # `delText`, are no `t`.)
    skipped=frozenset(
        {"pPr", "rPr", "tblPr", "trPr", "tcPr", "sectPr", "Fallback", "del", "moveFrom", "rt"}
    ),
    marks={"tab": "\t", "ptab": "\t", "br": "\n", "cr": "\n", "noBreakHyphen": "-"},
    hidden=_docx_hidden,
)
_ODF = _Format(
    paragraphs=frozenset({"p", "h"}),
    rows=frozenset({"table-row"}),
    cells=frozenset({"table-cell"}),
    text=frozenset(),
    mixed=True,
    # Tracked deletions, comments, a merged cell's hidden copy, text shown on a condition;
    # footnotes are left out as a DOCX's are (their marks would split the sentence).
    skipped=frozenset(
        {"tracked-changes", "annotation", "note", "deletion", "covered-table-cell", "hidden-text"}
    ),
    marks={"tab": "\t", "line-break": "\n"},
    hidden=_odf_hidden,
    # An image's title and description: its alternative text.
    foreign="{urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0}",
    repeats=("number-rows-repeated", "number-columns-repeated"),
)


def docx_text(data: bytes, _charset: str | None = None) -> str:
    """The text of a DOCX: its headers, body and footers.

    Raises:
        CorruptDocument: Not a DOCX package (or a password-protected or Word 97-2003
            file), a part that is not well-formed XML or declares an entity.
        DocumentTooLarge: Its XML inflates past `MAX_XML_BYTES`.
    """
    package = _Package(data, "DOCX")
    main = package.main_part("word/document.xml")
    related = package.related(main)
    headers = [p for _, kind, p in related if kind == "header"]
    footers = [p for _, kind, p in related if kind == "footer"]
    return _joined(
        [package.read(p, _DOCX) for p in headers],
        [package.read(main, _DOCX)],
        [package.read(p, _DOCX) for p in footers],
    )


def odt_text(data: bytes, _charset: str | None = None) -> str:
    """The text of an ODT: its master page's header, the body, the footer.

    Raises:
        As `docx_text`.
    """
    return _opendocument(data, "ODT")


def ods_text(data: bytes, _charset: str | None = None) -> str:
    """The text of an ODS spreadsheet: each table's rows, a row a line of its cells as they
    are shown (an OpenDocument cell holds its value and the text it displays).

    Raises:
        As `docx_text`.
    """
    return _opendocument(data, "ODS")


def _opendocument(data: bytes, kind: str) -> str:
    """An ODT's text with its page header and footer; an ODS's without: a spreadsheet's
    are for printing (``??? Page 1 / 99``: the fields of a sheet's name and page count),
    not what its reader sees."""
    package = _Package(data, kind)
    if package.has("META-INF/manifest.xml") and b"encryption-data" in package.raw(
        "META-INF/manifest.xml"
    ):
        raise CorruptDocument(f"the {kind} is password-protected (encrypted): it cannot be read")
    if not package.has("content.xml"):
        raise CorruptDocument(f"the {kind} package has no content.xml: not an OpenDocument file")
    styles = package.has("styles.xml") and kind == "ODT"
    return _joined(
        [package.read("styles.xml", _ODF, within=_ODF_HEADERS)] if styles else [],
        [package.read("content.xml", _ODF, within=frozenset({"body"}))],
        [package.read("styles.xml", _ODF, within=_ODF_FOOTERS)] if styles else [],
    )


def xlsx_text(data: bytes, _charset: str | None = None) -> str:
    """The text of an XLSX workbook: each visible sheet's rows, a row a line of its cells
    as the sheet shows them (a date as a date, an amount with its format's decimals), the
    sheet's name above its rows when there are several; hidden sheets, rows and columns
    left out.

    Raises:
        As `docx_text`.
    """
    package = _Package(data, "XLSX")
    book = package.main_part("xl/workbook.xml")
    related = package.related(book)
    parts = {rid: name for rid, _, name in related}
    kinds = {kind: name for _, kind, name in related}
    root = package.tree(book)
    date1904 = any(
        _local(el.tag) == "workbookPr" and _flag(el.get("date1904")) for el in root.iter()
    )
    sheets = [
        (el.get("name") or "", _attribute(el, "id") or "")  # its r:id
        for el in root.iter()
        if _local(el.tag) == "sheet" and el.get("state", "visible") == "visible"
    ]
    cells = _Cells(
        _shared_strings(package, kinds.get("sharedStrings")),
        _cell_formats(package, kinds.get("styles")),
        date1904,
    )
    texts = []
    for name, rid in sheets:
        part = parts.get(rid)
        if part is None or not package.has(part):
            continue
        rows, full = _rows(package, part, cells)
        if rows:
            heading = [f"Sheet: {name}"] if len(sheets) > 1 else []
            texts.append("\n".join([*heading, *rows]))
        if full:
            break
    return "\n\n".join(texts)


def _flag(value: str | None) -> bool:
    """An OOXML boolean attribute set (``1``/``true``)."""
    return (value or "").lower() in ("1", "true")


def _shared_strings(package: _Package, part: str | None) -> list[str]:
    """The workbook's strings, by index (a cell of type ``s`` holds one's index)."""
    if part is None or not package.has(part):
        return []
    strings: list[str] = []
    root: Element | None = None
    with package.open(part) as stream:
        for event, el in _events(stream, package.what(part)):
            if root is None:
                root = el
            elif event == "end" and _local(el.tag) == "si":
                strings.append(_runs(el))
                root.clear()
    return strings


def _runs(string: Element) -> str:
    """A string's text (``si`` or an inline ``is``): its ``t``, or its rich text runs'; the
    phonetic guide of a Japanese string (``rPh``) is no part of it."""
    pieces = []
    for child in string:
        name = _local(child.tag)
        if name == "t":
            pieces.append(child.text or "")
        elif name == "r":
            pieces.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return "".join(pieces).strip()


@dataclass(frozen=True)
class _NumberFormat:
    """What a cell's number format says of how its number is shown."""

    date: bool = False
    time: bool = False
    seconds: bool = False
    elapsed: str = ""
    """A duration counted in hours, minutes or seconds (``[h]:mm`` shows 36:00 for a day
    and a half), not a time of day: its unit, ``h``, ``m`` or ``s``."""
    percent: bool = False
    decimals: int | None = None


_GENERAL = _NumberFormat()
_BUILT_IN = {
    1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 5: "$#,##0", 6: "$#,##0", 7: "$#,##0.00",
    8: "$#,##0.00", 9: "0%", 10: "0.00%", 11: "0.00E+00", 12: "# ?/?", 13: "# ??/??",
    14: "yyyy-mm-dd", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy", 18: "h:mm AM/PM",
    19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss", 22: "yyyy-mm-dd h:mm", 37: "#,##0",
    38: "#,##0", 39: "#,##0.00", 40: "#,##0.00", 45: "mm:ss", 46: "[h]:mm:ss", 47: "mm:ss.0",
    48: "##0.0E+0", 49: "@",
    **{n: "yyyy-mm-dd" for n in (*range(27, 37), *range(50, 59))},
}  # fmt: skip
"""Number formats every workbook has without writing them down (ECMA-376 18.8.30; 14 and
22 show the reader's locale's date, the East Asian 27-36 and 50-58 theirs, 5-8 the
locale's currency)."""
_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_ELAPSED = re.compile(r"\[(h+|m+|s+)\]")
_MAX_DECIMALS = 30
"""Excel's own limit."""


def _cell_formats(package: _Package, part: str | None) -> list[_NumberFormat]:
    """The number format of each cell style (``cellXfs``), by the index a cell's ``s``
    gives."""
    if part is None or not package.has(part):
        return []
    root = package.tree(part)
    codes = dict(_BUILT_IN)
    for el in root.iter():
        number = _index(el.get("numFmtId"))
        if _local(el.tag) == "numFmt" and number is not None:
            codes[number] = el.get("formatCode", "")
    styles = next((el for el in root.iter() if _local(el.tag) == "cellXfs"), None)
    if styles is None:
        return []
    formats = []
    for xf in styles:
        number = _index(xf.get("numFmtId", "0"))
        formats.append(_number_format(codes.get(number, "") if number is not None else ""))
    return formats


def _number_format(code: str) -> _NumberFormat:
    """What a format code (its part for positive numbers) shows: the text in quotes, the
    colours and locales in brackets and the escaped characters are no part of it."""
    positive = code.split(";")[0].lower()
    elapsed = _ELAPSED.search(positive)
    if elapsed is not None:
        return _NumberFormat(elapsed=elapsed.group(1)[0], seconds="s" in positive)
    shown = _LITERALS.sub("", positive)
    if shown in ("", "general", "@"):
        return _GENERAL
    time = "h" in shown or "s" in shown
    date = "d" in shown or "y" in shown or ("m" in shown and not time)
    decimals = re.search(r"\.(0+)", shown)
    return _NumberFormat(
        date=date,
        time=time,
        seconds="s" in shown,
        percent="%" in shown,
        decimals=min(len(decimals[1]), _MAX_DECIMALS) if decimals else 0 if "0" in shown else None,
    )


_EPOCHS = {False: datetime(1899, 12, 30), True: datetime(1904, 1, 1)}
_LAST_DAY = 2_958_465
"""31 December 9999, the last day a sheet can show."""
_LOTUS_LEAP_DAY = 60
"""Day 60 of the 1900 system is 29 February 1900, which was no day (Lotus 1-2-3's error,
kept by Excel): the days before it are one day later than a count from 1899-12-30."""


@dataclass(frozen=True)
class _Cells:
    """How a workbook's cells read: its strings, its number formats, its date system."""

    strings: list[str]
    formats: list[_NumberFormat]
    date1904: bool

    def text(self, cell: Element) -> str:
        kind = cell.get("t", "n")
        value: str | None = None
        inline = ""
        for child in cell:
            name = _local(child.tag)
            if name == "v":
                value = (child.text or "").strip()
            elif name == "is":
                inline = _runs(child)
        if kind == "inlineStr":
            return inline
        if value is None:
            return ""
        if kind == "s":
            index = _index(value)
            return self.strings[index] if index is not None and index < len(self.strings) else ""
        if kind == "b":
            return "TRUE" if value == "1" else "FALSE"
        if kind == "d":  # an ISO 8601 date, with a time of day only if it has one
            return value.removesuffix("T00:00:00")
        if kind != "n":  # a formula's string, an error (#N/A)
            return value
        style = _index(cell.get("s", "0")) or 0
        return self._number(value, self.formats[style] if style < len(self.formats) else _GENERAL)

    def _number(self, value: str, shown: _NumberFormat) -> str:
        try:
            number = float(value)
        except ValueError:
            return value
        if not math.isfinite(number):
            return value
        if shown.elapsed:
            return _duration(number, shown)
        if shown.date or shown.time:
            return self._moment(number, shown) or value
        if shown.percent:
            number *= 100
        if shown.decimals is not None and abs(number) < 1e15:
            text = f"{number:.{shown.decimals}f}"
        elif number.is_integer() and abs(number) < 1e15:
            text = str(int(number))
        else:
            text = f"{number:.15g}"  # as Excel shows it: 30.3, not 30.299999999999997
        return text + "%" if shown.percent else text

    def _moment(self, number: float, shown: _NumberFormat) -> str | None:
        """A day count as the date, time or both it shows; None outside the calendar."""
        if not 0 <= number <= _LAST_DAY:
            return None
        epoch = _EPOCHS[self.date1904]
        if not self.date1904 and number < _LOTUS_LEAP_DAY:
            epoch += timedelta(days=1)
        try:
            when = epoch + timedelta(seconds=round(number * 86_400))
        except OverflowError:  # past 9999 in the 1904 system
            return None
        clock = f"{when:%H:%M:%S}" if shown.seconds else f"{when:%H:%M}"
        if not shown.date:
            return clock
        return f"{when.date().isoformat()} {clock}" if shown.time else when.date().isoformat()


def _duration(number: float, shown: _NumberFormat) -> str:
    """A day count as a duration in its format's unit: 1.5 days as ``36:00`` (``[h]:mm``),
    ``2160`` (``[m]``) or ``129600`` (``[s]``)."""
    if abs(number) > _LAST_DAY:
        return f"{number:.15g}"
    seconds = round(number * 86_400)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    if shown.elapsed == "s":
        return str(seconds)
    text = f"{hours}:{minute:02}" if shown.elapsed == "h" else str(minutes)
    return f"{text}:{second:02}" if shown.seconds else text


_MAX_COLUMNS = 16_384
"""XFD, a sheet's last column."""


def _rows(package: _Package, part: str, cells: _Cells) -> tuple[list[str], bool]:
    """A sheet's rows, each a line of its visible cells that show something, and whether
    the text budget ran out on it."""
    rows: list[str] = []
    row: list[str] = []
    hidden_columns: set[int] = set()
    hidden_row = False
    column = 0
    data: Element | None = None
    holder: Element | None = None
    with package.open(part) as stream:
        try:
            for event, el in _events(stream, package.what(part)):
                name = _local(el.tag)
                if event == "start":
                    if name == "sheetData":
                        data = el
                    elif name == "row":
                        holder, hidden_row, column = el, _flag(el.get("hidden")), 0
                    continue
                if name == "col" and _flag(el.get("hidden")):
                    first, last = _index(el.get("min")), _index(el.get("max"))
                    if first is not None and last is not None:
                        hidden_columns.update(range(first, min(last, _MAX_COLUMNS) + 1))
                elif name == "c":
                    column = _column(el.get("r"), column)
                    if not hidden_row and column not in hidden_columns:
                        text = cells.text(el)
                        if text:
                            package.spend(len(text) + 1)
                            row.append(text)
                    if holder is not None:
                        holder.clear()  # the cells read (the row's attributes were)
                elif name == "row":
                    if row:
                        rows.append("\t".join(row))
                    row = []
                    if data is not None:
                        data.clear()  # the rows read
        except _Full:
            return [*rows, "\t".join(row)] if row else rows, True
    return rows, False


_COLUMN = re.compile(r"[A-Z]{1,3}")


def _column(reference: str | None, previous: int) -> int:
    """A cell's column (1 for A) from its reference ("B4"); the one after the previous
    cell's when it has none."""
    letters = _COLUMN.match(reference or "")
    if letters is None:
        return previous + 1
    number = 0
    for letter in letters.group():
        number = number * 26 + ord(letter) - 64
    return number


_ODF_HEADERS = frozenset({"header", "header-first", "header-left"})
_ODF_FOOTERS = frozenset({"footer", "footer-first", "footer-left"})


def _joined(*groups: list[str]) -> str:
    """The parts' texts in order, a text that repeats another (the same letterhead as the
    first page's and the other pages' header) once."""
    seen: set[str] = set()
    out = []
    for group in groups:
        for text in group:
            if text.strip() and text not in seen:
                seen.add(text)
                out.append(text)
    return "\n\n".join(out)


class _Package:
    """A ZIP package whose XML parts are read within one inflated-bytes budget."""

    def __init__(self, data: bytes, kind: str) -> None:
        self._kind = kind
        self._left = MAX_XML_BYTES
        self._chars = MAX_CHARS
        if data.startswith(_OLE):
            encrypted = "EncryptedPackage".encode("utf-16-le") in data
            raise CorruptDocument(
                f"the {kind} is password-protected (encrypted): it cannot be read"
                if encrypted
                else f"not a {kind} but an OLE file (a Word 97-2003 .doc?): save it as "
                f"{kind} or PDF"
            )
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
            raise CorruptDocument(f"the {kind} is not a ZIP package: {exc}") from exc
        self._names = set(self._zip.namelist())

    def has(self, name: str) -> bool:
        return name in self._names

    def main_part(self, usual: str) -> str:
        """The main document part the package's relationships name (``officeDocument``),
        else the `usual` one (``word/document.xml``)."""
        for _, kind, target in self.related(""):
            if kind == "officeDocument" and self.has(target):
                return target
        if self.has(usual):
            return usual
        raise CorruptDocument(f"the {self._kind} package has no main document part")

    def related(self, part: str) -> list[tuple[str, str, str]]:
        """The (id, type, part name) of `part`'s internal relationships, in their order;
        the package's own (``_rels/.rels``) for part ``""``."""
        folder, name = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", f"{name}.rels")
        if not self.has(rels):
            return []
        root = self.tree(rels)
        out = []
        for rel in root.iter():
            target = rel.get("Target")
            if not rel.tag.endswith("Relationship") or not target:
                continue
            if rel.get("TargetMode") == "External":
                continue
            name = posixpath.normpath(posixpath.join(folder, target)).lstrip("/")
            out.append((rel.get("Id", ""), rel.get("Type", "").rpartition("/")[2], name))
        return out

    def raw(self, name: str, limit: int = MAX_XML_BYTES) -> bytes:
        with self.open(name) as stream:
            chunks: list[bytes] = []
            size = 0
            while chunk := stream.read():
                size += len(chunk)
                if size > limit:
                    raise DocumentTooLarge(
                        f"the {self._kind}'s {name} inflates to over {limit:,} bytes"
                    )
                chunks.append(chunk)
            return b"".join(chunks)

    def read(self, name: str, fmt: _Format, within: frozenset[str] | None = None) -> str:
        """The text of XML part `name`; only what is inside an element of `within` if
        given."""
        with self.open(name) as stream:
            return _Reader(fmt, within, self).read(stream, self.what(name))

    def what(self, name: str) -> str:
        return f"the {self._kind}'s {name}"

    def tree(self, name: str) -> Element:
        """A small part (relationships, a workbook, styles) as a tree, at most
        `_MAX_TREE_BYTES` of it: what is built whole is bounded apart."""
        return _tree(self.raw(name, _MAX_TREE_BYTES), self.what(name))

    def spend(self, chars: int) -> None:
        """Count `chars` of text read; past `MAX_CHARS` the reading stops (`_Full`)."""
        self._chars -= chars
        if self._chars < 0:
            raise _Full

    def open(self, name: str) -> _Bounded:
        try:
            return _Bounded(self._zip.open(name), self, name)
        except (KeyError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
            raise CorruptDocument(f"the {self._kind}'s {name} cannot be opened: {exc}") from exc

    def inflated(self, name: str, size: int) -> None:
        self._left -= size
        if self._left < 0:
            raise DocumentTooLarge(
                f"the {self._kind}'s XML inflates to over {MAX_XML_BYTES:,} bytes ({name})"
            )


class _Bounded:
    """A part's inflating stream that charges what it reads to its package's budget and
    reports a broken stream as the document's fault."""

    def __init__(self, stream: IO[bytes], package: _Package, name: str) -> None:
        self._stream = stream
        self._package = package
        self._name = name

    def read(self, size: int = -1) -> bytes:
        try:
            chunk = self._stream.read(size if 0 < size <= _CHUNK else _CHUNK)
        except (
            zipfile.BadZipFile,
            zlib.error,
            lzma.LZMAError,
            EOFError,
            OSError,
            ValueError,
        ) as exc:
            raise CorruptDocument(f"{self._name} is damaged: {exc}") from exc
        self._package.inflated(self._name, len(chunk))
        return chunk

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self._stream.close()


_CHUNK = 1 << 16
_MAX_TREE_BYTES = 16 * 1024 * 1024
"""A part read whole (relationships, a workbook, its styles): real ones are kilobytes."""


class _Full(Exception):
    """The package's text budget (`MAX_CHARS`) is spent: what was read is its text."""


def _tree(data: bytes, what: str) -> Element:
    with _as_document(what):
        return fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)


def _events(stream: _Bounded, what: str) -> Iterator[tuple[str, Element]]:
    """The start and end of each element of an XML part, as it is inflated."""
    with _as_document(what):
        yield from iterparse(
            stream,
            events=("start", "end"),
            forbid_dtd=False,
            forbid_entities=True,
            forbid_external=True,
        )


@contextmanager
def _as_document(what: str) -> Iterator[None]:
    """The parser's refusals as the document's fault (`CorruptDocument`)."""
    try:
        yield
    except DefusedXmlException as exc:
        raise CorruptDocument(f"{what} declares {type(exc).__name__}: not read") from exc
    except ParseError as exc:
        raise CorruptDocument(f"{what} is not well-formed XML: {exc}") from exc
    except (LookupError, ValueError) as exc:  # an encoding Python does not know
        raise CorruptDocument(f"{what} cannot be decoded: {exc}") from exc


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


class _Reader:
    """The lines of one XML part, read as a stream: a paragraph is read when it ends and
    goes to the table cell it is in, else to the lines; a row's cells make one line.
    Elements read are dropped from the tree as it grows."""

    def __init__(self, fmt: _Format, within: frozenset[str] | None, package: _Package) -> None:
        self._fmt = fmt
        self._within = within
        self._package = package
        self._lines: list[str] = []
        self._cells: list[tuple[list[str], int]] = []
        """The open cells' paragraphs and how many cells each stands for, innermost last."""
        self._rows: list[tuple[list[str], int]] = []
        self._path: list[Element] = []
        self._skipping = 0
        self._hidden: set[int] = set()
        """The open elements left out, by id (their attributes, which said so, may be
        cleared with what was read under them before they end)."""
        self._inside = 0 if within is not None else 1
        self._paragraphs = 0
        """Paragraphs open: one in another is a text box's."""

    def read(self, stream: _Bounded, what: str) -> str:
        try:
            for event, el in _events(stream, what):
                if event == "start":
                    self._path.append(el)
                    self._on(_local(el.tag), el, 1)
                else:
                    self._path.pop()
                    self._on(_local(el.tag), el, -1)
        except _Full:  # what was read is the text, the row being read included
            self._lines.extend("\t".join(cells) for cells, _ in self._rows if cells)
        except RecursionError as exc:
            raise CorruptDocument(f"{what} nests its elements too deep to read") from exc
        return "\n".join(self._lines).strip()

    def _on(self, name: str, el: Element, step: int) -> None:
        """An element starts (`step` 1) or ends (-1)."""
        fmt = self._fmt
        if step > 0 and (fmt.skips(name, el) or fmt.hidden(name, el)):
            self._skipping += 1
            self._hidden.add(id(el))
        elif step < 0 and id(el) in self._hidden:
            self._hidden.discard(id(el))
            self._skipping -= 1
            self._drop()
        elif self._within is not None and name in self._within:
            self._inside += step
        elif self._skipping or not self._inside:
            return
        elif name in fmt.paragraphs:
            self._paragraphs += step
            if step < 0:
                self._add(self._inline(el))
                self._drop()
        elif name in fmt.cells:
            if step > 0:
                self._cells.append(([], _repeats(el, fmt.repeats[1])))
            elif self._cells:
                paragraphs, times = self._cells.pop()
                cell = " ".join(paragraphs)
                if self._rows and cell:
                    self._package.spend((len(cell) + 1) * times)
                    self._rows[-1][0].extend([cell] * times)
        elif name in fmt.rows:
            if step > 0:
                self._rows.append(([], _repeats(el, fmt.repeats[0])))
            elif self._rows:
                cells, times = self._rows.pop()
                line = "\t".join(cells)
                for _ in range(times if line else 1):
                    self._add(line)
                self._drop()

    def _add(self, line: str) -> None:
        """A paragraph or a row: to the open cell, if any, else a line (an empty paragraph
        too: the blank line a writer leaves between blocks)."""
        line = line.strip()
        if self._cells:
            if line:
                self._cells[-1][0].append(line)
        else:
            self._package.spend(len(line) + 1)
            self._lines.append(line)

    def _drop(self) -> None:
        """Forget the elements read so far under the element that holds the one that
        ended, unless a paragraph around it is still being read (an ODT paragraph's text
        after a text box is the box's tail)."""
        if self._path and not self._paragraphs:
            self._path[-1].clear()

    def _inline(self, paragraph: Element) -> str:
        """A paragraph's text: its runs, tabs and line breaks, not what is skipped, nor a
        nested paragraph (a text box's, read when it ended)."""
        fmt = self._fmt
        out: list[str] = []

        def walk(el: Element) -> None:
            for child in el:
                name = _local(child.tag)
                if name in fmt.text:
                    out.append(child.text or "")
                elif name in fmt.marks:
                    out.append(fmt.marks[name])
                elif name == "s" and fmt.mixed:  # ODT's run of spaces
                    out.append(" " * _count(child))
                elif not (
                    fmt.skips(name, child)
                    or fmt.hidden(name, child)
                    or name in fmt.paragraphs
                    or name in fmt.rows
                ):
                    if fmt.mixed and child.text:
                        out.append(child.text)
                    walk(child)
                if fmt.mixed and child.tail:
                    out.append(child.tail)

        if fmt.mixed and paragraph.text:
            out.append(paragraph.text)
        walk(paragraph)
        return "".join(out)


def _count(el: Element) -> int:
    """ODT's ``text:s``: how many spaces (at most 100)."""
    return min(_index(_attribute(el, "c")) or 1, 100)


_MAX_REPEATS = 100
"""Equal rows or cells written once that are read as many times, at most: a sheet's
million empty rows are one, a run of equal transactions is each of them."""


def _repeats(el: Element, attribute: str) -> int:
    return min(_index(_attribute(el, attribute)) or 1, _MAX_REPEATS) if attribute else 1


def _attribute(el: Element, local: str) -> str | None:
    """An attribute by its local name, whatever its namespace."""
    return next((v for k, v in el.attrib.items() if _local(k) == local), None)


def _index(value: str | None) -> int | None:
    """A count or an index written in decimal digits; None for anything else (a "²", or
    a number of thousands of digits, which int() refuses)."""
    if value is None or not value.isdecimal() or len(value) > 9:
        return None
    return int(value)
