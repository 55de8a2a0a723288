"""Where the shipped training data lives (``data/`` at the repository root)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agents.errors import ModelError

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
CLASSIFIER_CORPUS = DATA_DIR / "classifier" / "corpus.jsonl"
CLASSIFIER_METRICS = DATA_DIR / "classifier" / "metrics.json"
CLASSIFIER_CALIBRATION = DATA_DIR / "classifier" / "calibration.json"
CLASSIFIER_HELD_OUT = DATA_DIR / "classifier" / "held_out.jsonl"
SCORER_EVENTS = DATA_DIR / "scorer" / "events.jsonl"
SCORER_METRICS = DATA_DIR / "scorer" / "metrics.json"
REAL_CORPUS = DATA_DIR / "real" / "corpus.jsonl"
REAL_MANIFEST = DATA_DIR / "real" / "manifest.jsonl"
EXTRACTOR_METRICS = DATA_DIR / "extractor" / "metrics.json"
EXTRACTOR_CALIBRATION = DATA_DIR / "extractor" / "calibration.json"


def json_lines(path: Path, what: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) of each non-empty line of `path`.

    Raises:
        ModelError: If the file cannot be read, or a line is not JSON (naming the line).
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"cannot read the {what} {path}: {exc}") from exc
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except ValueError as exc:
                raise ModelError(f"{path}:{number}: not JSON: {exc}") from exc
