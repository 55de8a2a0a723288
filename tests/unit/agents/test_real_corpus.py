"""data/real: the manifest, the files and the corpus agree; scripts/real_corpus.py refuses
a missing or changed file with one line naming the document."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
REAL = ROOT / "data" / "real"
SCRIPT = ROOT / "scripts" / "real_corpus.py"


def manifest() -> list[dict[str, object]]:
    lines = (REAL / "manifest.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_every_document_has_a_source_a_licence_and_its_text_in_the_corpus() -> None:
    rows = manifest()
    corpus = {
        row["id"]: row
        for row in map(json.loads, (REAL / "corpus.jsonl").read_text("utf-8").splitlines())
    }
    assert sorted(corpus) == sorted(str(row["id"]) for row in rows)
    for row in rows:
        assert row["licence"] and row["repo"] and row["source"], row["id"]
        assert (REAL / "files" / str(row["file"])).is_file(), row["id"]
        assert corpus[row["id"]]["doc_type"] == row["doc_type"]
    # Text documents need no OCR: their text is quick to check against the reader's.
    text = next(r for r in rows if str(r["file"]).endswith(".txt"))
    from agents.documents import media_type_for, read_text

    data = (REAL / "files" / str(text["file"])).read_bytes()
    assert corpus[text["id"]]["text"] == read_text(data, media_type_for(str(text["file"])))


def test_a_changed_or_missing_file_stops_the_build_naming_the_document(tmp_path: Path) -> None:
    rows = [r for r in manifest() if str(r["file"]).endswith(".txt")][:2]
    files = tmp_path / "files"
    for row in rows:
        target = files / str(row["file"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REAL / "files" / str(row["file"]), target)
    listed = tmp_path / "manifest.jsonl"
    listed.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "corpus.jsonl"

    def build() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                "--manifest",
                str(listed),
                "--files",
                str(files),
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )

    ok = build()
    assert ok.returncode == 0, ok.stderr
    assert len(out.read_text("utf-8").splitlines()) == 2
    changed = files / str(rows[0]["file"])
    changed.write_bytes(changed.read_bytes() + b" ")
    failed = build()
    assert failed.returncode == 1
    assert failed.stderr.strip().count("\n") == 0
    assert str(rows[0]["id"]) in failed.stderr and "sha256" in failed.stderr
    changed.unlink()
    gone = build()
    assert gone.returncode == 1 and "missing" in gone.stderr
