"""Hostile documents as a user submits them: a corrupt image, a 100-megapixel PNG, a PDF
that declares 10,000 pages and a password-protected PDF, beside a good receipt, through
`caseyard demo` on the embedded bus. Each bad one fails its own case with a reason naming
the problem and leaves one dead letter saying the same; the good one completes; nothing
else stops."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agents.office import MAX_XML_BYTES
from tests.documents import (
    encrypted_office_file,
    password_protected_pdf,
    pdf_of_pages,
    zip_bomb_docx,
)
from tests.e2e.test_cli_user import caseyard

ROOT = Path(__file__).resolve().parents[2]
GOOD = "receipt_cafe_kiosk.txt"
BAD = {
    "corrupt.png": ("CorruptDocument", "not a PNG, JPEG, TIFF, WebP, GIF or BMP image"),
    "huge.png": ("DocumentTooLarge", "10000 x 10000 pixels, over the limit"),
    "pages.pdf": ("DocumentTooLarge", "the PDF has 10,000 pages, over the limit"),
    "locked.pdf": ("CorruptDocument", "the PDF is encrypted with a password"),
    "locked.docx": ("CorruptDocument", "the DOCX is password-protected (encrypted)"),
    "bomb.docx": ("DocumentTooLarge", "the DOCX's XML inflates to over 67,108,864 bytes"),
}


def write_bad_documents(docs: Path) -> None:
    (docs / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    huge = io.BytesIO()
    Image.new("1", (10_000, 10_000), 1).save(huge, "PNG")  # 100 megapixels in ~20 KB
    (docs / "huge.png").write_bytes(huge.getvalue())
    pages = pdf_of_pages(3).replace(b"/Count 3", b"/Count 10000")
    assert b"/Count 10000" in pages
    (docs / "pages.pdf").write_bytes(pages)
    locked = password_protected_pdf("Invoice 2026-001 total 100.00 EUR")
    (docs / "locked.pdf").write_bytes(locked)
    (docs / "locked.docx").write_bytes(encrypted_office_file())
    (docs / "bomb.docx").write_bytes(zip_bomb_docx(MAX_XML_BYTES))


def as_json(*args: str, cwd: Path) -> Any:
    result = caseyard(*args, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The demo's project and, per document name, the case it opened."""
    work = tmp_path_factory.mktemp("bad-documents")
    docs = work / "docs"
    docs.mkdir()
    write_bad_documents(docs)
    shutil.copy(ROOT / "examples" / "documents" / GOOD, docs / GOOD)
    result = caseyard("demo", "--documents", str(docs), "--timeout", "120", cwd=work)
    assert result.returncode == 0, result.stderr
    assert f"outcomes: completed 1, failed {len(BAD)}" in result.stdout
    by_sha = {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in docs.iterdir()}
    cases = {}
    for row in as_json("cases", cwd=work):
        opened = as_json("case", row["case"], cwd=work)["events"][0]
        assert opened["type"] == "CaseOpened"
        cases[by_sha[opened["document"]["sha256"]]] = row["case"]
    assert set(cases) == {GOOD, *BAD}
    return work, cases


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_document_fails_its_case_with_a_reason_naming_the_problem(
    demo: tuple[Path, dict[str, str]], name: str
) -> None:
    work, cases = demo
    error_class, words = BAD[name]
    case = as_json("case", cases[name], cwd=work)
    assert case["status"] == "failed"
    (failed,) = [e for e in case["events"] if e["type"] == "CaseFailed"]
    assert failed["error_class"] == error_class
    assert words in failed["reason"]


def test_each_bad_document_leaves_one_dead_letter_with_its_reason(
    demo: tuple[Path, dict[str, str]],
) -> None:
    work, cases = demo
    letters = as_json("dlq", "list", cwd=work)
    by_case = {letter["case"]: letter for letter in letters}
    assert len(letters) == len(by_case) == len(BAD)
    for name, (error_class, words) in BAD.items():
        letter = by_case[cases[name]]
        assert letter["error_class"] == error_class
        assert words in letter["message"]
        assert letter["reason"] == "classifier: not retryable"


def test_the_good_document_beside_them_completes(demo: tuple[Path, dict[str, str]]) -> None:
    work, cases = demo
    case = as_json("case", cases[GOOD], cwd=work)
    assert case["status"] == "completed"
    assert case["outputs"]["classify"]["doc_type"] == "receipt"
