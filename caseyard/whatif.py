"""What-if replay: recorded cases' classifications asked of a candidate model.

`caseyard replay --what-if classify[=FEEDBACK]` reads the cases as `caseyard replay` does,
asks a candidate classifier (the model as it trains now, or trained with a feedback file
of reviewers' decisions) for each case's document, and reports what would have changed:
the document type and urgency, the route the coordinator takes right after the
classification (on by itself, to a person and which queue, handed to another pipeline),
and, where a person decided the classification, whether each model agrees with the
person. Nothing is published and no external model is called: the candidate is the local
model, the route comes from the pure transition on the recorded state (`coordinator`).

Only the classification is swapped: later steps are not re-run, so what they would have
done with the new type is not claimed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from caseyard.errors import ConfigError
from coordinator import (
    CaseState,
    Logged,
    PipelineCatalog,
    Transition,
    consumption_order,
    transition,
)
from schemas import (
    CaseFailed,
    CaseHandedOff,
    CaseSubmitted,
    ClassifyOutput,
    DecisionAction,
    Event,
    HumanDecision,
    HumanTaskOpened,
    TaskCompleted,
)

if TYPE_CHECKING:
    from caseyard.app import App

Candidate = Callable[[CaseSubmitted], ClassifyOutput | None]
"""The candidate's classification of a case's document (None: the document is gone)."""


@dataclass(frozen=True, slots=True)
class ClassifyWhatIf:
    """One case: the recorded classification and route beside the candidate's."""

    case_id: str
    recorded: ClassifyOutput
    recorded_model: str
    candidate: ClassifyOutput | None
    route: str
    candidate_route: str | None
    person: str | None
    """The document type a person confirmed or corrected, if one decided it."""

    @property
    def changed(self) -> bool:
        c = self.candidate
        return c is not None and (
            c.doc_type != self.recorded.doc_type or c.urgency != self.recorded.urgency
        )

    def as_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "case": self.case_id,
            "recorded": {
                "doc_type": self.recorded.doc_type.value,
                "confidence": self.recorded.confidence,
                "urgency": self.recorded.urgency.value,
                "route": self.route,
                "model": self.recorded_model,
            },
            "candidate": None
            if c is None
            else {
                "doc_type": c.doc_type.value,
                "confidence": c.confidence,
                "urgency": c.urgency.value,
                "route": self.candidate_route,
            },
            "person": self.person,
            "changed": self.changed,
        }


def route_of(result: Transition) -> str:
    """Where a transition sends the case: a person, another pipeline, an end, or on."""
    for event in result.events:
        if isinstance(event, HumanTaskOpened):
            return f"person ({event.queue})"
        if isinstance(event, CaseHandedOff):
            return f"hand-off ({event.pipeline})"
        if isinstance(event, CaseFailed):
            return "failed"
    return "auto"


def classify_what_if(
    inputs: Sequence[Logged],
    outputs: Sequence[Logged],
    catalog: PipelineCatalog,
    candidate: Candidate,
) -> list[ClassifyWhatIf]:
    """Per case whose submission is among `inputs`, its first classification beside the
    candidate's (cases without one are left out)."""
    by_case: dict[str, tuple[list[Logged], list[Logged]]] = {}
    for item in inputs:
        by_case.setdefault(item.event.case_id, ([], []))[0].append(item)
    for item in outputs:
        if item.event.case_id in by_case:
            by_case[item.event.case_id][1].append(item)
    found = []
    for case_id, (mine, theirs) in by_case.items():
        submitted = next((i.event for i in mine if isinstance(i.event, CaseSubmitted)), None)
        if submitted is None:
            continue
        one = _one_case(
            case_id, submitted, consumption_order(mine, theirs, catalog), catalog, candidate
        )
        if one is not None:
            found.append(one)
    return found


def _one_case(
    case_id: str,
    submitted: CaseSubmitted,
    ordered: Sequence[Logged],
    catalog: PipelineCatalog,
    candidate: Candidate,
) -> ClassifyWhatIf | None:
    state: CaseState | None = None
    for index, item in enumerate(ordered):
        event = item.event
        if isinstance(event, TaskCompleted) and isinstance(event.output, ClassifyOutput):
            recorded = transition(state, event, catalog)
            proposal = candidate(submitted)
            swapped = (
                transition(state, event.model_copy(update={"output": proposal}), catalog)
                if proposal is not None
                else None
            )
            return ClassifyWhatIf(
                case_id=case_id,
                recorded=event.output,
                recorded_model=f"{event.usage.provider}/{event.usage.model}",
                candidate=proposal,
                route=route_of(recorded),
                candidate_route=route_of(swapped) if swapped is not None else None,
                person=_person(recorded, [i.event for i in ordered[index + 1 :]], event.output),
            )
        state = transition(state, event, catalog).state
    return None


def _person(recorded: Transition, later: Sequence[Event], output: ClassifyOutput) -> str | None:
    """The type a person settled on for the review the classification opened, if any."""
    opened = next((e for e in recorded.events if isinstance(e, HumanTaskOpened)), None)
    if opened is None:
        return None
    for event in later:
        if isinstance(event, HumanDecision) and event.human_task_id == opened.human_task_id:
            if event.action is DecisionAction.APPROVE:
                return output.doc_type.value
            if event.action is DecisionAction.EDIT:
                patched = [p.value for p in event.patches if p.field == "doc_type"]
                return patched[-1] if patched and patched[-1] else output.doc_type.value
            return None
    return None


@dataclass(frozen=True, slots=True)
class Summary:
    cases: int
    asked: int
    type_changed: int
    urgency_changed: int
    route_changed: int
    decided_by_people: int
    recorded_agrees: int
    candidate_agrees: int

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


def summarize(rows: Sequence[ClassifyWhatIf]) -> Summary:
    asked = [r for r in rows if r.candidate is not None]
    people = [r for r in asked if r.person is not None]
    return Summary(
        cases=len(rows),
        asked=len(asked),
        type_changed=sum(
            1
            for r in asked
            if r.candidate is not None and r.candidate.doc_type != r.recorded.doc_type
        ),
        urgency_changed=sum(
            1
            for r in asked
            if r.candidate is not None and r.candidate.urgency != r.recorded.urgency
        ),
        route_changed=sum(1 for r in asked if r.candidate_route != r.route),
        decided_by_people=len(people),
        recorded_agrees=sum(1 for r in people if r.recorded.doc_type.value == r.person),
        candidate_agrees=sum(
            1 for r in people if r.candidate is not None and r.candidate.doc_type.value == r.person
        ),
    )


def parse_what_if(text: str) -> Path | None:
    """`--what-if classify[=FEEDBACK]`: the feedback file the candidate trains with, if any.

    Raises:
        ConfigError: Another capability, or a feedback file that does not exist.
    """
    capability, _, source = text.partition("=")
    if capability.strip() != "classify":
        raise ConfigError(
            f"--what-if {text!r}: only classify can be asked of a candidate model "
            "(extract and score are not built yet)"
        )
    if not source:
        return None
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"--what-if {text!r}: {path}: no such feedback file")
    return path


async def ask_candidate(
    app: App, feedback: Path | None
) -> tuple[str, Callable[[CaseSubmitted], Awaitable[ClassifyOutput | None]]]:
    """The candidate classifier (trained now, with `feedback` or the data dir's feedback
    file) and how it reads a case's document from the blob store."""
    from agents.documents import read_text_bounded
    from agents.errors import DocumentError
    from agents.models.classifier import Classifier
    from schemas import BlobError

    settings = app.settings
    chosen = feedback or (settings.feedback_path if settings.feedback_path.is_file() else None)
    model = await anyio.to_thread.run_sync(
        lambda: Classifier.load(settings.model_cache_dir, feedback=chosen)
    )

    async def ask(submitted: CaseSubmitted) -> ClassifyOutput | None:
        ref = submitted.document
        try:
            data = await anyio.to_thread.run_sync(app.blobs.get, ref)
            text = await read_text_bounded(data, ref.media_type)
        except (BlobError, DocumentError):
            return None  # the document is gone or unreadable: reported, not guessed
        return await anyio.to_thread.run_sync(model.classify, text)

    return f"local/{model.model_name}", ask
