"""`caseyard replay --what-if classify` as a user types it: a case recorded with a weak
classification that a person corrected, asked again of the local classifier; and a
capability that cannot be asked yet refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.runtime import Outcome
from caseyard.schema_store import REGISTRY_DB
from schemas import (
    CaseCompleted,
    ClassifyOutput,
    DecisionAction,
    DocType,
    FieldPatch,
    HumanTaskOpened,
    TaskRequested,
)
from tests.helpers import run_caseyard
from tests.integration.coordinator_harness import USAGE, harness

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "examples" / "documents" / "invoice_brightwater_0457.txt"
PIPELINE = """
name: intake
version: 1
default: true
steps:
  - id: classify
    capability: classify
    escalate:
      - id: unsure
        when: steps.classify.confidence < 0.5
        queue: review
        reason: the model is unsure of the type
        on_edit: {patch: classify}
  - {id: score, capability: score, after: [classify], inputs: [classify]}
"""


async def _weak(task: TaskRequested) -> Outcome:
    return Outcome(ClassifyOutput(doc_type=DocType.OTHER, confidence=0.3), USAGE)


async def test_what_if_asks_the_candidate_and_compares_with_the_person(tmp_path: Path) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "intake.yaml").write_text(PIPELINE)
    async with harness(
        f"sqlite:///{tmp_path}/bus.db",
        tmp_path / "pipelines",
        registry_db=tmp_path / "data" / REGISTRY_DB,
    ) as h:
        h.scripts["classify"].work = _weak
        submitted = run_caseyard(tmp_path, "submit", str(DOCUMENT), "--json")
        assert submitted.returncode == 0, submitted.stderr
        (row,) = json.loads(submitted.stdout)
        case = row["case"]
        await h.wait_for(case, HumanTaskOpened)
        await h.decide(case, DecisionAction.EDIT, (FieldPatch(field="doc_type", value="invoice"),))
        await h.wait_for(case, CaseCompleted)

    shown = json.loads(run_caseyard(tmp_path, "case", case, "--json").stdout)
    assert shown["status"].startswith("completed") and shown["quarantined"] is None
    assert shown["outputs"]["classify"]["doc_type"] == "other"  # as the agent returned it
    assert shown["outputs"]["score"]["kind"] == "score"
    assert shown["events"][0]["type"] == "CaseOpened"
    table = run_caseyard(tmp_path, "case", case)
    assert "what the agents returned" in table.stdout and "other (0.30)" in table.stdout

    done = run_caseyard(tmp_path, "replay", "--what-if", "classify", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["candidate"].startswith("local/doctype-")
    (only,) = report["cases"]
    assert only["case"] == case
    assert only["recorded"] == {
        "doc_type": "other",
        "confidence": 0.3,
        "urgency": "normal",
        "route": "person (review)",
        "model": "fake/scripted",
    }
    assert only["candidate"]["doc_type"] == "invoice" and only["person"] == "invoice"
    # Sure enough (the pipeline asks a person below 0.5): on by itself, else a person.
    sure = only["candidate"]["confidence"] >= 0.5
    assert only["candidate"]["route"] == ("auto" if sure else "person (review)")
    assert report["summary"]["candidate_agrees"] == 1
    assert report["summary"]["recorded_agrees"] == 0

    table = run_caseyard(tmp_path, "replay", "--what-if", "classify")
    assert table.returncode == 0 and "candidate 1" in table.stdout


def test_a_capability_that_cannot_be_asked_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "intake.yaml").write_text(PIPELINE)
    done = run_caseyard(tmp_path, "replay", "--what-if", "extract")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --what-if 'extract': only classify can be asked of a candidate model "
        "(extract and score are not built yet)"
    ]
