"""Where the shipped training data lives (``data/`` at the repository root)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
CLASSIFIER_CORPUS = DATA_DIR / "classifier" / "corpus.jsonl"
CLASSIFIER_METRICS = DATA_DIR / "classifier" / "metrics.json"
SCORER_EVENTS = DATA_DIR / "scorer" / "events.jsonl"
SCORER_METRICS = DATA_DIR / "scorer" / "metrics.json"
REAL_CORPUS = DATA_DIR / "real" / "corpus.jsonl"
REAL_MANIFEST = DATA_DIR / "real" / "manifest.jsonl"
EXTRACTOR_METRICS = DATA_DIR / "extractor" / "metrics.json"
