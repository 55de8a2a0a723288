"""Reviewers' decisions become training examples the classifier learns from."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from agents.errors import ModelError
from agents.models.classifier import Classifier, LabeledDocument, load_corpus, load_feedback
from caseyard.feedback import examples, write
from schemas import (
    ClassifyOutput,
    DecisionAction,
    DocType,
    ExtractOutput,
    FieldPatch,
    HumanDecision,
    HumanTaskOpened,
    ModelUsage,
    TaskCompleted,
    TaskOutput,
)
from schemas.topology import RESULTS
from tests.unit.inbox.inbox_support import (
    DOCUMENT,
    EVIDENCE_FIELDS,
    T0,
    World,
    envelope,
    running_inbox,
    task_id,
)

TEXT = b"I think I have been scammed: please stop the last transfer.\n"


def opened(case: str, evidence: dict[str, TaskOutput], world: World) -> HumanTaskOpened:
    ref = world.app.blobs.put(TEXT, "text/plain") if case != "case-lost" else DOCUMENT
    return HumanTaskOpened(
        **envelope(case, T0),
        human_task_id=task_id(case),
        queue="document-review",
        reason="unsure",
        document=ref,
        evidence=evidence,
        sla_deadline=T0 + timedelta(hours=4),
    )


def decision(
    case: str, action: DecisionAction, *patches: FieldPatch, who: str = "ana"
) -> HumanDecision:
    return HumanDecision(
        **envelope(case, T0 + timedelta(minutes=5)),
        human_task_id=task_id(case),
        decided_by=who,
        action=action,
        patches=patches,
    )


async def classified(world: World, case: str, model: str) -> None:
    result = TaskCompleted(
        **envelope(case, T0),
        task_id=f"{case}/classify/1.1",
        capability="classify",
        attempt=1,
        output=ClassifyOutput(doc_type=DocType.COMPLAINT, confidence=0.4),
        usage=ModelUsage(provider="local", model=model),
        latency_ms=3.0,
    )
    await world.app.bus.publish(
        RESULTS.name, await world.app.codec.encode(result, RESULTS.name), key=case.encode()
    )


@pytest.mark.anyio
async def test_each_kind_of_decision_becomes_an_example_or_is_said_why_not(
    tmp_path: Path, users_file: Path
) -> None:
    unsure = ClassifyOutput(doc_type=DocType.COMPLAINT, confidence=0.4)
    async with running_inbox(tmp_path, users_file) as world:
        await classified(world, "case-fix", "doctype-tfidf-svm-v2+abc")
        await world.publish(
            [
                opened("case-fix", {"classify": unsure}, world),
                opened("case-ok", {"classify": unsure}, world),
                opened("case-no", {"classify": unsure}, world),
                opened("case-fields", {"extract": ExtractOutput(fields=EVIDENCE_FIELDS)}, world),
                opened("case-lost", {"classify": unsure}, world),
                decision(
                    "case-fix",
                    DecisionAction.EDIT,
                    FieldPatch(field="doc_type", value="fraud_report"),
                    FieldPatch(field="urgency", value="high"),
                ),
                decision("case-ok", DecisionAction.APPROVE),
                decision("case-no", DecisionAction.REJECT),
                decision(
                    "case-fields", DecisionAction.EDIT, FieldPatch(field="total", value="12.50 EUR")
                ),
                decision("case-lost", DecisionAction.APPROVE),
            ]
        )
        rows, skipped = await examples(world.app)
    by_case = {r["case_id"]: r for r in rows}
    assert set(by_case) == {"case-fix", "case-ok", "case-fields"}  # a rejection teaches nothing
    fix = by_case["case-fix"]
    assert (fix["doc_type"], fix["urgency"], fix["source"], fix["decided_by"]) == (
        "fraud_report",
        "high",
        "feedback",
        "ana",
    )
    assert fix["corrects"]["classify"] == {
        "model": "local/doctype-tfidf-svm-v2+abc",
        "doc_type": "complaint",
        "confidence": 0.4,
    }
    assert fix["text"].startswith("I think I have been scammed")
    assert by_case["case-ok"]["doc_type"] == "complaint"  # confirmed as it was
    assert by_case["case-fields"]["fields"] == {"total": "12.50 EUR"}
    assert "doc_type" not in by_case["case-fields"]
    [lost] = skipped
    assert lost.human_task_id == task_id("case-lost") and "BlobNotFound" in lost.reason


def test_feedback_trains_the_classifier_and_is_part_of_its_version(tmp_path: Path) -> None:
    feedback = tmp_path / "feedback.jsonl"
    phrase = "zorglub quarterly widget manifest, stamped and countersigned"
    rows = [
        {"id": str(n), "source": "feedback", "doc_type": "contract", "text": f"{phrase} {n}"}
        for n in range(40)
    ]
    write([*rows, {"id": "f", "source": "feedback", "fields": {"total": "1"}}], feedback)
    loaded = load_feedback(feedback)
    assert len(loaded) == 40 and {d.doc_type for d in loaded} == {DocType.CONTRACT}
    assert load_feedback(tmp_path / "none.jsonl") == []
    corpus = tmp_path / "corpus.jsonl"
    base = load_corpus()[:300]
    corpus.write_text(
        "".join(
            json.dumps({"text": d.text, "doc_type": d.doc_type, "urgency": d.urgency}) + "\n"
            for d in base
        ),
        encoding="utf-8",
    )
    plain = Classifier.load(tmp_path / "cache", corpus)
    taught = Classifier.load(tmp_path / "cache", corpus, feedback=feedback)
    assert taught.model_name != plain.model_name  # a new version, named by its data
    assert taught.classify(phrase).doc_type is DocType.CONTRACT
    assert isinstance(loaded[0], LabeledDocument) and loaded[0].urgency is None


def test_a_broken_feedback_line_is_a_model_error(tmp_path: Path) -> None:
    broken = tmp_path / "feedback.jsonl"
    broken.write_text('{"doc_type": "poem", "text": "x"}\n', encoding="utf-8")
    with pytest.raises(ModelError, match=":1:"):
        load_feedback(broken)
