"""OCR against the text it should have read (issue 13): real documents scanned at 200 and
300 dpi, their fields beside the fields of their text versions.

The documents are those of ``data/real`` of the chosen types (receipts by default) that are
PDFs with a text layer and field ground truth. Each page is rendered by pdfium (the engine
the inbox renders with) at 200 and at 300 dpi in 8-bit grey and saved as an image-only PDF,
as a flatbed scanner saves one; the product reads it as it reads any scan
(`agents.documents.read_text`: no text layer, so Tesseract) and the extractor's fields are
compared with the ground truth, beside the same comparison on the text layer. Target: every
field of a scan within 5 points of its text version. Also the seconds of OCR per page.

    python -m bench.ocr [--types receipt invoice ...]

Prints a table and writes bench/results/ocr.json.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2  # type: ignore[import-untyped]
from PIL import Image
from rich.console import Console
from rich.table import Table

from agents.documents import read_text
from agents.models import evaluation, extract
from bench._report import run_info, save

ROOT = Path(__file__).resolve().parent.parent
FILES = ROOT / "data" / "real" / "files"
MANIFEST = ROOT / "data" / "real" / "manifest.jsonl"
DPIS = (300, 200)
TARGET_POINTS = 5.0
"""A scan's field accuracy may trail its text version's by at most this many points."""


@dataclass(frozen=True)
class Document:
    id: str
    fields: dict[str, str]
    data: bytes


def text_pdfs(types: Sequence[str]) -> list[Document]:
    """The real documents of `types` with field ground truth that are PDFs with text."""
    out = []
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["doc_type"] not in types or not entry.get("fields"):
            continue
        if not entry["file"].lower().endswith(".pdf"):
            continue
        data = (FILES / entry["file"]).read_bytes()
        if any(
            page.get_textpage().get_text_range().strip() for page in pypdfium2.PdfDocument(data)
        ):
            out.append(Document(entry["id"], entry["fields"], data))
    return out


def scanned(data: bytes, dpi: int) -> tuple[bytes, int]:
    """`data`'s pages rendered at `dpi` in grey, as an image-only PDF; and its page count."""
    pdf = pypdfium2.PdfDocument(data)
    pages: list[Image.Image] = [
        page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for page in pdf
    ]
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=dpi)
    return out.getvalue(), len(pages)


def right_fields(doc: Document, text: str) -> dict[str, bool]:
    found = evaluation.extracted_fields(extract(text))
    return {f: evaluation.same_value(f, found.get(f), v) for f, v in doc.fields.items()}


def measure(types: Sequence[str], console: Console) -> dict[str, Any]:
    docs = text_pdfs(types)
    if not docs:
        raise SystemExit(f"no real PDF with a text layer and fields of types {list(types)}")
    right: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    ocr_s: dict[int, list[float]] = defaultdict(list)
    for doc in docs:
        versions = {"text": right_fields(doc, read_text(doc.data, "application/pdf"))}
        for dpi in DPIS:
            scan, pages = scanned(doc.data, dpi)
            began = time.perf_counter()
            text = read_text(scan, "application/pdf")
            ocr_s[dpi].append((time.perf_counter() - began) / pages)
            versions[f"{dpi} dpi"] = right_fields(doc, text)
        for version, oks in versions.items():
            for name, ok in oks.items():
                right[name][version].append(ok)
        console.print(
            f"  {doc.id:<55} "
            + "  ".join(f"{v}: {sum(f.values())}/{len(f)}" for v, f in versions.items())
        )
    return {
        "types": list(types),
        "documents": [d.id for d in docs],
        "fields": {
            name: {
                version: {"exact": sum(oks), "documents": len(oks), "accuracy": sum(oks) / len(oks)}
                for version, oks in by_version.items()
            }
            for name, by_version in sorted(right.items())
        },
        "ocr_s_per_page_median": {
            f"{dpi} dpi": sorted(s)[len(s) // 2] for dpi, s in sorted(ocr_s.items())
        },
    }


def report(console: Console, out: dict[str, Any]) -> None:
    table = Table(title=f"{', '.join(out['types'])}: scans against their text versions")
    table.add_column("field", justify="left")
    table.add_column("text", justify="right")
    for dpi in DPIS:
        table.add_column(f"{dpi} dpi", justify="right")
        table.add_column("points", justify="right")
    misses = []
    for name, by_version in out["fields"].items():
        text = by_version["text"]
        row = [name, f"{text['exact']}/{text['documents']}"]
        for dpi in DPIS:
            scan = by_version[f"{dpi} dpi"]
            points = (scan["accuracy"] - text["accuracy"]) * 100
            row += [f"{scan['exact']}/{scan['documents']}", f"{points:+.0f}"]
            if points < -TARGET_POINTS:
                misses.append(f"{name} at {dpi} dpi ({points:+.0f} points)")
        table.add_row(*row)
    console.print(table)
    per_page = ", ".join(f"{k} {v:.1f} s" for k, v in out["ocr_s_per_page_median"].items())
    console.print(f"  OCR per page (median): {per_page}")
    verdict = "met" if not misses else "missed: " + "; ".join(misses)
    console.print(f"  target: every field within {TARGET_POINTS:g} points of the text: {verdict}")
    out["target_missed"] = misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", nargs="+", default=["receipt"], help="document types")
    args = parser.parse_args()
    console = Console()
    out = run_info(args=vars(args)) | measure(args.types, console)
    report(console, out)
    save(out, "ocr", console)


if __name__ == "__main__":
    main()
