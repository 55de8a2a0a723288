"""Documents the tests build: PDFs a reader must refuse or cap."""

from __future__ import annotations

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
