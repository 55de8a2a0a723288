"""What people decided, as training examples: each classification a person confirmed or
corrected, and each extracted field a person corrected, with the case, the decision and
the model version it corrects.

`caseyard feedback export` writes them to ``<data dir>/feedback.jsonl``
(`Settings.feedback_path`; `agents.models.classifier.load_feedback` reads it);
the classifier agent learns from that file too, and ``caseyard train --feedback`` measures
with it. The examples train; they are never in the held-out evaluation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.documents import read_text
from caseyard.app import App, read_topic
from caseyard.errors import CaseyardError
from schemas import (
    ClassifyOutput,
    DecisionAction,
    ExtractOutput,
    HumanDecision,
    HumanTaskOpened,
    TaskCompleted,
)
from schemas.topology import CASE_EVENTS, HUMAN, RESULTS


@dataclass(frozen=True)
class Skipped:
    human_task_id: str
    reason: str


async def examples(app: App) -> tuple[list[dict[str, Any]], list[Skipped]]:
    """Every decided review with a classification or extracted fields in its evidence, as
    a labelled example; and the decisions that could not become one, with the reason."""
    opened: dict[str, HumanTaskOpened] = {}
    for _, event in await read_topic(app, CASE_EVENTS.name):
        if isinstance(event, HumanTaskOpened):
            opened[event.human_task_id] = event
    models: dict[tuple[str, str], str] = {}
    for _, event in await read_topic(app, RESULTS.name):
        if isinstance(event, TaskCompleted):
            models[(event.case_id, event.capability)] = (
                f"{event.usage.provider}/{event.usage.model}"
            )
    rows: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for _, event in await read_topic(app, HUMAN.name):
        if not isinstance(event, HumanDecision) or event.human_task_id in seen:
            continue
        seen.add(event.human_task_id)
        task = opened.get(event.human_task_id)
        if event.action is DecisionAction.REJECT or task is None:
            continue
        row = _example(task, event, models)
        if row is None:
            continue
        if task.document is None:
            skipped.append(Skipped(event.human_task_id, "the task names no document"))
            continue
        try:
            data = app.blobs.get(task.document)
            row["text"] = read_text(data, task.document.media_type)
        except CaseyardError as exc:
            skipped.append(Skipped(event.human_task_id, f"{type(exc).__name__}: {exc}"))
            continue
        rows.append(row)
    return sorted(rows, key=lambda r: str(r["id"])), skipped


def _example(
    task: HumanTaskOpened, decision: HumanDecision, models: dict[tuple[str, str], str]
) -> dict[str, Any] | None:
    classify = next((o for o in task.evidence.values() if isinstance(o, ClassifyOutput)), None)
    extract = next((o for o in task.evidence.values() if isinstance(o, ExtractOutput)), None)
    patches = {p.field: p.value for p in decision.patches}
    row: dict[str, Any] = {
        "id": decision.human_task_id,
        "source": "feedback",
        "case_id": decision.case_id,
        "decided_by": decision.decided_by,
        "decided_at": decision.occurred_at.isoformat(),
        "action": decision.action.value,
    }
    corrects: dict[str, Any] = {}
    if classify is not None:
        # Approved, the classification is verified; edited, corrected.
        row["doc_type"] = patches.get("doc_type") or classify.doc_type.value
        if "urgency" in patches:
            row["urgency"] = patches["urgency"]
        corrects["classify"] = {
            "model": models.get((decision.case_id, "classify"), ""),
            "doc_type": classify.doc_type.value,
            "confidence": classify.confidence,
        }
    fields = {
        p.field: p.value
        for p in decision.patches
        if p.value is not None and p.field not in ("doc_type", "urgency")
    }
    if extract is not None and fields:
        row["fields"] = fields
        corrects["extract"] = {"model": models.get((decision.case_id, "extract"), "")}
    if not corrects:
        return None
    row["corrects"] = corrects
    return row


def write(rows: list[dict[str, Any]], path: Path) -> None:
    """Write `rows` as JSON lines, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), "utf-8")
    tmp.replace(path)
