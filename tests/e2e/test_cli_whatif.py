"""`caseyard replay --what-if classify|extract|score` as a user types it: a case recorded
with a weak classification that a person corrected, asked again of the local classifier;
one whose total the recorded extractor misread and a person corrected, asked again of the
local rules; a supplier's invoices and then its "new bank details", scored again by the
local scorer over a counterparty history rebuilt in the order they came; the loop from a
person's correction through `feedback export` and `train` to a what-if that agrees with
them; and a capability that cannot be asked refused in one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from agents.runtime import Outcome
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
from tests.e2e.test_inbox_browser import browser, chromium, shoot  # noqa: F401 (fixture)
from tests.helpers import run_caseyard
from tests.integration.coordinator_harness import USAGE, cli_harness

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


def submit(tmp_path: Path, document: Path) -> str:
    """`caseyard submit DOCUMENT --json` as a user types it: the case it opened."""
    submitted = run_caseyard(tmp_path, "submit", str(document), "--json")
    assert submitted.returncode == 0, submitted.stderr
    (row,) = json.loads(submitted.stdout)
    return str(row["case"])


async def _weak(task: TaskRequested) -> Outcome:
    return Outcome(ClassifyOutput(doc_type=DocType.OTHER, confidence=0.3), USAGE)


async def test_what_if_asks_the_candidate_and_compares_with_the_person(tmp_path: Path) -> None:
    async with cli_harness(tmp_path, PIPELINE) as h:
        h.scripts["classify"].work = _weak
        case = submit(tmp_path, DOCUMENT)
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
    done = run_caseyard(tmp_path, "replay", "--what-if", "respond")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --what-if 'respond': a candidate can be asked for classify, extract, score"
    ]
    done = run_caseyard(tmp_path, "replay", "--what-if", "extract=feedback.jsonl")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --what-if 'extract=feedback.jsonl': only the classifier trains with a feedback file"
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

    async with cli_harness(tmp_path, EXTRACT_PIPELINE) as h:
        h.scripts["extract"].work = misread
        h.scripts["score"].work = high
        case = submit(tmp_path, DOCUMENT)
        await h.wait_for(case, HumanTaskOpened)
        await h.decide(
            case, DecisionAction.EDIT, (FieldPatch(field="total_amount", value=rules_total),)
        )
        await h.wait_for(case, CaseCompleted)

    done = run_caseyard(tmp_path, "replay", "--what-if", "extract", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["candidate"] == "local/extract-rules-v8"
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


CLASSIFIER_FILES = ("metrics.json", "calibration.json")


def _few_real_documents(path: Path) -> Path:
    """Two documents of each of three sources of data/real, as a corpus of their own: what
    `caseyard train classifier --real` measures on here (all of data/real's sources take
    minutes, and the unit tests measure them)."""
    by_source: dict[str, list[str]] = {}
    for line in (ROOT / "data" / "real" / "corpus.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        if row["source"] in ("invoice2data", "cfpb-narratives", "cuad"):
            by_source.setdefault(row["source"], []).append(line)
    path.write_text("".join(f"{line}\n" for lines in by_source.values() for line in lines[:2]))
    return path


async def test_a_correction_trains_a_version_whose_what_if_agrees_with_the_person(
    tmp_path: Path,
) -> None:
    """The loop: the recorded model called a romance scam a complaint, a person corrected
    it to a fraud report; `caseyard feedback export` makes it an example, `caseyard train`
    measures a classifier with it, and the what-if of the local model before the export
    still says complaint, after it fraud report, as the person did."""

    async def unsure_complaint(task: TaskRequested) -> Outcome:
        return Outcome(ClassifyOutput(doc_type=DocType.COMPLAINT, confidence=0.4), USAGE)

    async with cli_harness(tmp_path, PIPELINE) as h:
        h.scripts["classify"].work = unsure_complaint
        case = submit(tmp_path, ROMANCE)
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
    # --real writes nothing: the repo's data/classifier files are the shipped model's.
    shipped = [(ROOT / "data" / "classifier" / n).read_bytes() for n in CLASSIFIER_FILES]
    real = _few_real_documents(tmp_path / "real.jsonl")
    trained = run_caseyard(
        tmp_path, "train", "classifier", "--feedback", feedback, "--real", str(real)
    )
    assert trained.returncode == 0, trained.stderr
    assert [(ROOT / "data" / "classifier" / n).read_bytes() for n in CLASSIFIER_FILES] == shipped
    assert re.search(r"n_feedback\W+1\b", trained.stdout), trained.stdout  # measured with it
    assert re.search(r"by source: sources\W+3\b", trained.stdout), trained.stdout
    after = what_if()
    assert after["doc_type"] == "fraud_report", "the version trained with it agrees"


SCORE_PIPELINE = """
name: intake
version: 1
default: true
steps:
  - {id: classify, capability: classify}
  - {id: extract, capability: extract, after: [classify]}
  - id: score
    capability: score
    after: [extract]
    inputs: [classify, extract]
    escalate:
      - id: high
        when: steps.score.band == 'high'
        queue: risk-review
        reason: high risk
"""
EXAMPLES = ROOT / "examples" / "documents"
NORDWIND = (
    "invoice_nordwind_2025-118.pdf",
    "invoice_nordwind_2026-007.eml",
    "invoice_nordwind_2026-019.txt",
    "payment_nordwind_new_bank_details.eml",
)
MEDIA = {".pdf": "application/pdf", ".eml": "message/rfc822", ".txt": "text/plain"}


async def test_what_if_score_rebuilds_the_counterparty_history_in_order(
    tmp_path: Path,
    chromium: Path,  # noqa: F811
) -> None:
    """Recorded: a naive scorer that called the third Nordwind invoice high risk (a person
    cleared it) and the "new bank details" low. The local scorer, asked again over a
    history rebuilt from the three invoices first, calls the new account high risk and the
    invoice not: both bands change, and the candidate agrees with the person. The HTML
    report, opened in headless Chromium, maps the recorded bands to the candidate's."""
    import hashlib

    from agents.documents import read_text
    from agents.models.extractor import extract

    expected = json.loads((EXAMPLES / "EXPECTED.json").read_text())["documents"]
    by_hash: dict[str, str] = {}
    extracted: dict[str, ExtractOutput] = {}
    for name in NORDWIND:
        data = (EXAMPLES / name).read_bytes()
        by_hash[hashlib.sha256(data).hexdigest()] = name
        extracted[name] = extract(read_text(data, MEDIA[Path(name).suffix]))

    def name_of(task: TaskRequested) -> str:
        document = task.input.document
        assert document is not None
        return by_hash[document.sha256]

    async def classify(task: TaskRequested) -> Outcome:
        doc_type = DocType(expected[name_of(task)]["doc_type"])
        return Outcome(ClassifyOutput(doc_type=doc_type, confidence=0.9), USAGE)

    async def rules(task: TaskRequested) -> Outcome:
        return Outcome(extracted[name_of(task)], USAGE)

    async def naive(task: TaskRequested) -> Outcome:
        if name_of(task) == "invoice_nordwind_2026-019.txt":
            return Outcome(ScoreOutput(score=0.9, band=RiskBand.HIGH), USAGE)
        return Outcome(ScoreOutput(score=0.1, band=RiskBand.LOW), USAGE)

    cases: dict[str, str] = {}
    async with cli_harness(tmp_path, SCORE_PIPELINE) as h:
        h.scripts["classify"].work = classify
        h.scripts["extract"].work = rules
        h.scripts["score"].work = naive
        for name in NORDWIND:  # one after the other: the order the history is rebuilt in
            cases[name] = submit(tmp_path, EXAMPLES / name)
            if name == "invoice_nordwind_2026-019.txt":
                await h.wait_for(cases[name], HumanTaskOpened)
                await h.decide(cases[name], DecisionAction.APPROVE)
            await h.wait_for(cases[name], CaseCompleted)

    page = tmp_path / "what-if.html"
    done = run_caseyard(tmp_path, "replay", "--what-if", "score", "--json", "--html", str(page))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["candidate"].startswith("local/")
    rows = {r["case"]: r for r in report["cases"]}
    assert set(rows) == set(cases.values())
    redirect = rows[cases["payment_nordwind_new_bank_details.eml"]]
    assert (redirect["recorded"]["band"], redirect["candidate"]["band"]) == ("low", "high")
    assert (redirect["recorded"]["route"], redirect["candidate"]["route"]) == (
        "auto",
        "person (risk-review)",
    )
    cleared = rows[cases["invoice_nordwind_2026-019.txt"]]
    assert cleared["recorded"]["band"] == "high" and cleared["candidate"]["band"] != "high"
    assert cleared["person"] == "cleared"
    for name in NORDWIND[:2]:
        assert rows[cases[name]]["candidate"]["band"] != "high", name
    summary = report["summary"]
    assert summary["band_changed"] >= 2 and summary["route_changed"] >= 2
    assert (summary["decided_by_people"], summary["recorded_agrees"]) == (1, 0)
    assert summary["candidate_agrees"] == 1

    table = run_caseyard(tmp_path, "replay", "--what-if", "score")
    assert table.returncode == 0, table.stderr
    assert "rebuilt from these cases alone" in table.stdout and "candidate 1" in table.stdout

    async with browser(chromium, tmp_path / "profile") as context:
        tab = await context.new_page()
        await tab.goto(page.as_uri())
        await expect(tab.locator("h1")).to_have_text(re.compile(r"What if score were local/"))
        matrix = tab.locator("svg.matrix")
        await expect(matrix).to_be_visible()
        # The new account: recorded low, the candidate high (a red, off-diagonal cell).
        await expect(matrix.locator("title", has_text="low -> high: 1")).to_have_count(1)
        await expect(matrix.locator("title", has_text="high -> high")).to_have_count(1)
        await expect(tab.locator("table.cases tr")).to_have_count(1 + len(NORDWIND))
        await expect(tab.locator("p").first).to_contain_text("recorded model agrees 0, candidate 1")
        await shoot(tab, "what-if-score.png")
