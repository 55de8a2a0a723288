"""Fixtures for the agents' model tests: trained models (once per session) and samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents.documents import media_type_for, read_text
from agents.models import Classifier, Scorer

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "documents"


@pytest.fixture(scope="session")
def classifier(model_cache: Path) -> Classifier:
    return Classifier.load(model_cache)


@pytest.fixture(scope="session")
def scorer(model_cache: Path) -> Scorer:
    return Scorer.load(model_cache)


@pytest.fixture(scope="session")
def expected() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((EXAMPLES / "EXPECTED.json").read_text("utf-8"))
    return manifest


@pytest.fixture(scope="session")
def example_texts(expected: dict[str, Any]) -> dict[str, str]:
    return {
        name: read_text((EXAMPLES / name).read_bytes(), media_type_for(name))
        for name in expected["documents"]
    }
