"""`caseyard replay --what-if classify|extract` as a user types it: a case recorded with a
weak classification that a person corrected, asked again of the local classifier; one
whose total the recorded extractor misread and a person corrected, asked again of the
local rules; the loop from a person's correction through `feedback export` and `train` to
a what-if that agrees with them; and a capability that cannot be asked yet refused in one
line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agents.runtime import Outcome
from caseyard.schema_store import REGISTRY_DB
from schemas import (
    CaseCompleted,
    ClassifyOutput,
    DecisionAction,
    DocType,
    ExtractedField,
    ExtractOutput,
    FieldPatch,
    FieldType,
    HumanTaskOpened,
    RiskBand,
    ScoreOutput,
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
    done = run_caseyard(tmp_path, "replay", "--what-if", "score")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --what-if 'score': only classify and extract can be asked of a candidate "
        "model (score reads the counterparty history as it was, which the log does not hold)"
    ]
    done = run_caseyard(tmp_path, "replay", "--what-if", "extract=feedback.jsonl")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --what-if 'extract=feedback.jsonl': the extractor is rules, it takes no "
        "feedback file"
    ]


EXTRACT_PIPELINE = """
name: intake
version: 1
default: true
steps:
  - id: extract
    capability: extract
  - id: score
    capability: score
    after: [extract]
    inputs: [extract]
    escalate:
      - id: high
        when: steps.score.band == 'high'
        queue: risk-review
        reason: high risk
        on_edit: {patch: extract}
"""


async def test_what_if_extract_compares_the_fields_with_what_the_person_settled(
    tmp_path: Path,
) -> None:
    """The recorded extractor misread the total; a person corrected it to what the local
    rules read; the what-if shows the change and that the candidate agrees with them."""
    from agents.documents import read_text
    from agents.models.extractor import extract, field_value

    rules_total = field_value(
        extract(read_text(DOCUMENT.read_bytes(), "text/plain")), "total_amount"
    )
    assert rules_total is not None

    async def misread(task: TaskRequested) -> Outcome:
        wrong = ExtractedField(
            name="total_amount",
            value="1.00 EUR",
            type=FieldType.MONEY,
            normalized="1.00 EUR",
            confidence=0.6,
        )
        return Outcome(ExtractOutput(fields=(wrong,)), USAGE)

    async def high(task: TaskRequested) -> Outcome:
        return Outcome(ScoreOutput(score=0.9, band=RiskBand.HIGH), USAGE)

    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "intake.yaml").write_text(EXTRACT_PIPELINE)
    async with harness(
        f"sqlite:///{tmp_path}/bus.db",
        tmp_path / "pipelines",
        registry_db=tmp_path / "data" / REGISTRY_DB,
    ) as h:
        h.scripts["extract"].work = misread
        h.scripts["score"].work = high
        submitted = run_caseyard(tmp_path, "submit", str(DOCUMENT), "--json")
        assert submitted.returncode == 0, submitted.stderr
        (row,) = json.loads(submitted.stdout)
        case = row["case"]
        await h.wait_for(case, HumanTaskOpened)
        await h.decide(
            case, DecisionAction.EDIT, (FieldPatch(field="total_amount", value=rules_total),)
        )
        await h.wait_for(case, CaseCompleted)

    done = run_caseyard(tmp_path, "replay", "--what-if", "extract", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["candidate"] == "local/extract-rules-v1"
    (only,) = report["cases"]
    assert only["recorded"]["fields"] == {"total_amount": "1.00 EUR"}
    assert only["candidate"]["fields"]["total_amount"] == rules_total
    assert f"total_amount: 1.00 EUR -> {rules_total}" in only["changes"]
    assert only["person"] == {"total_amount": rules_total}
    summary = report["summary"]
    assert (summary["fields_settled_by_people"], summary["recorded_agrees"]) == (1, 0)
    assert summary["candidate_agrees"] == 1

    table = run_caseyard(tmp_path, "replay", "--what-if", "extract")
    assert table.returncode == 0 and "candidate 1" in table.stdout


ROMANCE = ROOT / "examples" / "documents" / "fraud_romance_scam.txt"


async def test_a_correction_trains_a_version_whose_what_if_agrees_with_the_person(
    tmp_path: Path,
) -> None:
    """The loop: the recorded model called a romance scam a complaint, a person corrected
    it to a fraud report; `caseyard feedback export` makes it an example, `caseyard train`
    measures a classifier with it, and the what-if of the local model before the export
    still says complaint, after it fraud report, as the person did."""

    async def unsure_complaint(task: TaskRequested) -> Outcome:
        return Outcome(ClassifyOutput(doc_type=DocType.COMPLAINT, confidence=0.4), USAGE)

    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "intake.yaml").write_text(PIPELINE)
    async with harness(
        f"sqlite:///{tmp_path}/bus.db",
        tmp_path / "pipelines",
        registry_db=tmp_path / "data" / REGISTRY_DB,
    ) as h:
        h.scripts["classify"].work = unsure_complaint
        submitted = run_caseyard(tmp_path, "submit", str(ROMANCE), "--json")
        assert submitted.returncode == 0, submitted.stderr
        (row,) = json.loads(submitted.stdout)
        case = row["case"]
        await h.wait_for(case, HumanTaskOpened)
        correction = (FieldPatch(field="doc_type", value="fraud_report"),)
        await h.decide(case, DecisionAction.EDIT, correction)
        await h.wait_for(case, CaseCompleted)

    def what_if() -> dict[str, object]:
        done = run_caseyard(tmp_path, "replay", "--what-if", "classify", "--json")
        assert done.returncode == 0, done.stderr
        (only,) = json.loads(done.stdout)["cases"]
        assert only["case"] == case and only["person"] == "fraud_report"
        return only["candidate"]  # type: ignore[no-any-return]

    before = what_if()
    assert before["doc_type"] == "complaint", "the shipped model errs as the recorded one"
    exported = run_caseyard(tmp_path, "feedback", "export")
    assert exported.returncode == 0, exported.stderr
    (example,) = [
        json.loads(line)
        for line in (tmp_path / "data" / "feedback.jsonl").read_text().splitlines()
        if line.strip()
    ]
    assert (example["case_id"], example["doc_type"]) == (case, "fraud_report")
    feedback = str(tmp_path / "data" / "feedback.jsonl")
    # --no-write: the repo's data/classifier/metrics.json is the shipped model's, not this.
    trained = run_caseyard(tmp_path, "train", "classifier", "--feedback", feedback, "--no-write")
    assert trained.returncode == 0, trained.stderr
    assert re.search(r"n_feedback\W+1\b", trained.stdout), trained.stdout  # measured with it
    after = what_if()
    assert after["doc_type"] == "fraud_report", "the version trained with it agrees"
