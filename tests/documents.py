"""Documents the tests build: PDFs and DOCX packages a reader must refuse or cap."""

from __future__ import annotations

import io
import zipfile

from fpdf import FPDF
from fpdf.enums import EncryptionMethod


def password_protected_pdf(text: str) -> bytes:
    """A one-page PDF that opens only with its user password."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.cell(text=text)
    pdf.set_encryption(
        owner_password="owner", user_password="user", encryption_method=EncryptionMethod.RC4
    )
    return bytes(pdf.output())


def pdf_of_pages(count: int) -> bytes:
    """A PDF of `count` pages of a line of text each."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for n in range(count):
        pdf.add_page()
        pdf.cell(text=f"page {n} " + "x" * 80)
    return bytes(pdf.output())


def encrypted_office_file() -> bytes:
    """The start of what Word saves when a password protects a .docx: an OLE compound file
    whose directory names the encrypted package's streams (UTF-16), not a ZIP."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    names = ("EncryptionInfo", "EncryptedPackage")
    return header + b"".join(name.encode("utf-16-le") + b"\x00" * 64 for name in names)


def zip_bomb_docx(inflated: int) -> bytes:
    """A DOCX of a few KB whose document part inflates to `inflated` bytes of XML."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        with package.open("word/document.xml", "w") as part:
            part.write(b"<document><body>")
            chunk = b" " * (1024 * 1024)
            for _ in range(inflated // len(chunk) + 1):
                part.write(chunk)
    return out.getvalue()
