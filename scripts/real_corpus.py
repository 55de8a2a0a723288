"""Build ``data/real/corpus.jsonl`` from the real, public documents in ``data/real/files``.

    .venv/bin/python scripts/real_corpus.py

reads ``data/real/manifest.jsonl`` (one document a line: where it came from, its licence,
its doc type and language, its sha256 and, for some, ground-truth ``fields``), checks every
file against its sha256, turns it into text with the product's own reader
(`agents.documents.read_text`, so images and scanned PDFs go through Tesseract exactly as
in production) and writes one JSON line per document, sorted by id::

    {"id", "source", "doc_type", "lang", "text", "fields"}

A document the reader refuses (encrypted PDF, image without readable text) stays in the
corpus with an empty ``text`` and an ``error`` naming the reader's exception: those are
real failures an evaluation should count, not documents to drop quietly.

A missing file, a sha256 that differs or a malformed manifest line stops the run with a
one-line error naming the document. The output depends only on the files and the reader,
so reruns give the same bytes, with any ``--jobs`` (documents read in that many processes at
once, one per core by default). Tesseract is limited to one thread (``OMP_THREAD_LIMIT``)
unless the caller sets another limit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agents.documents import media_type_for, read_text  # noqa: E402
from agents.errors import DocumentError  # noqa: E402
from schemas.payloads import DocType  # noqa: E402

DATA = ROOT / "data" / "real"
REQUIRED = ("id", "file", "source", "repo", "path", "licence", "doc_type", "lang", "sha256")
FIELD_KEYS = frozenset({"total", "currency", "date", "invoice_number", "iban", "issuer"})
FIELDS_FROM = frozenset({"dataset", "read"})


class ManifestError(Exception):
    """A manifest line, or the file it names, is not what the manifest says."""


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    file: str
    source: str
    doc_type: str
    lang: str
    sha256: str
    fields: dict[str, str]


def parse_manifest(path: Path) -> list[Document]:
    """Return the manifest's documents, checked for shape; raise `ManifestError` otherwise."""
    documents: list[Document] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            raw: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{where}: not JSON ({exc.msg})") from exc
        if not isinstance(raw, dict):
            raise ManifestError(f"{where}: not a JSON object")
        document = _document(raw, where)
        if document.id in seen:
            raise ManifestError(f"{document.id}: id appears twice in {path.name}")
        seen.add(document.id)
        documents.append(document)
    return sorted(documents, key=lambda d: d.id)


def _document(raw: dict[str, Any], where: str) -> Document:
    for key in REQUIRED:
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ManifestError(f"{raw.get('id', where)}: missing or empty {key!r} ({where})")
    name = str(raw["id"])
    if raw["doc_type"] not in {t.value for t in DocType}:
        raise ManifestError(f"{name}: unknown doc_type {raw['doc_type']!r}")
    fields = raw.get("fields", {})
    if not isinstance(fields, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
    ):
        raise ManifestError(f"{name}: 'fields' must map names to strings")
    unknown = set(fields) - FIELD_KEYS
    if unknown:
        raise ManifestError(f"{name}: unknown field(s) {sorted(unknown)}")
    if fields and raw.get("fields_from") not in FIELDS_FROM:
        raise ManifestError(f"{name}: 'fields' without 'fields_from' of {sorted(FIELDS_FROM)}")
    file = str(raw["file"])
    if Path(file).is_absolute() or ".." in Path(file).parts:
        raise ManifestError(f"{name}: 'file' must be a path inside data/real/files")
    return Document(
        id=name,
        file=file,
        source=str(raw["source"]),
        doc_type=str(raw["doc_type"]),
        lang=str(raw["lang"]),
        sha256=str(raw["sha256"]).lower(),
        fields={k: str(v) for k, v in sorted(fields.items())},
    )


def load_bytes(document: Document, files: Path) -> bytes:
    """Return the document's bytes after checking them against the manifest's sha256."""
    path = files / document.file
    if not path.is_file():
        raise ManifestError(f"{document.id}: file {document.file} is missing")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != document.sha256:
        raise ManifestError(
            f"{document.id}: sha256 of {document.file} is {digest}, manifest says {document.sha256}"
        )
    return data


def record(document: Document, data: bytes) -> dict[str, Any]:
    """Return the corpus line of one document: its text, or an empty text and the error."""
    row: dict[str, Any] = {
        "id": document.id,
        "source": document.source,
        "doc_type": document.doc_type,
        "lang": document.lang,
    }
    try:
        text = read_text(data, media_type_for(Path(document.file).name))
    except DocumentError as exc:
        row["text"] = ""
        row["error"] = f"{type(exc).__name__}: {exc}"
    else:
        row["text"] = text
    row["fields"] = document.fields
    return row


def build(manifest: Path, files: Path, out: Path, jobs: int = 1) -> list[dict[str, Any]]:
    """Check every document, then read them all (in ``jobs`` processes) and write the corpus
    to ``out``."""
    documents = parse_manifest(manifest)
    blobs = [load_bytes(document, files) for document in documents]
    if jobs > 1:
        spawn = multiprocessing.get_context("spawn")  # no fork of a process with threads
        with ProcessPoolExecutor(jobs, mp_context=spawn) as pool:
            rows = list(pool.map(record, documents, blobs, chunksize=4))
    else:
        rows = [record(document, data) for document, data in zip(documents, blobs, strict=True)]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=DATA / "manifest.jsonl")
    parser.add_argument("--files", type=Path, default=DATA / "files")
    parser.add_argument("--out", type=Path, default=DATA / "corpus.jsonl")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: one per core)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    try:
        rows = build(args.manifest, args.files, args.out, max(1, args.jobs))
    except ManifestError as exc:
        sys.stderr.write(f"real_corpus: {exc}\n")
        return 1
    failed = [row for row in rows if "error" in row]
    for row in failed:
        sys.stderr.write(f"real_corpus: {row['id']}: unreadable ({row['error']})\n")
    sys.stderr.write(f"wrote {len(rows)} documents to {args.out} ({len(failed)} unreadable)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
