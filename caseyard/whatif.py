"""What-if replay: recorded cases' model steps asked of a candidate model.

`caseyard replay --what-if classify[=FEEDBACK]` reads the cases as `caseyard replay` does,
asks a candidate classifier (the model as it trains now, or trained with a feedback file
of reviewers' decisions) for each case's document, and reports what would have changed:
the document type and urgency, the route the coordinator takes right after the
classification (on by itself, to a person and which queue, handed to another pipeline),
and, where a person decided the classification, whether each model agrees with the
person. `--what-if extract` does the same for the extraction, with the local extractor
as it is now: which fields change, the route after the extract step, and, for the fields
a person confirmed or corrected later in the case, which model agrees. `--what-if score`
asks the local scorer as it trains now, with the inputs each score task was given (as the
pure transition rebuilds the request: redacted and patched as they were); its
counterparty history is rebuilt in memory by scoring the window's cases in the order their
scores were recorded (a counterparty first seen before the window is new to it, which the
report says). Where a person decided the review a score opened, a rejection counts as
confirming the risk (a model agrees if it said high), an approval as clearing it. Nothing
is published and no external model is called: the candidate is the local model, the route
comes from the pure transition on the recorded state (`coordinator`).

Only the one step is swapped: later steps are not re-run, so what they would have done
with the candidate's answer is not claimed.
"""

from __future__ import annotations

import functools
import html
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio

from caseyard.errors import ConfigError
from coordinator import (
    CaseState,
    Logged,
    PipelineCatalog,
    Transition,
    apply_patches,
    consumption_order,
    transition,
)
from schemas import (
    CaseFailed,
    CaseHandedOff,
    CaseSubmitted,
    ClassifyOutput,
    DecisionAction,
    DocType,
    Event,
    ExtractOutput,
    HumanDecision,
    HumanTaskOpened,
    RiskBand,
    ScoreOutput,
    TaskCompleted,
    TaskRequested,
)

if TYPE_CHECKING:
    from caseyard.app import App

Candidate = Callable[[CaseSubmitted], ClassifyOutput | None]
"""The candidate's classification of a case's document (None: the document is gone)."""

Out = TypeVar("Out", ClassifyOutput, ExtractOutput, ScoreOutput)


class Counts(ABC):
    """A what-if's totals (dataclass fields)."""

    __slots__ = ()

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    @abstractmethod
    def sentence(self) -> str:
        """The totals as the report says them."""


UNREADABLE = "document unreadable"


def route_change(route: str, candidate: str | None) -> str:
    """`route`, or `route -> candidate's` where the candidate's differs."""
    return route if candidate in (None, route) else f"{route} -> {candidate}"


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

    HEADERS = ("case", "recorded", "candidate", "route", "person")

    @property
    def changed(self) -> bool:
        c = self.candidate
        return c is not None and (
            c.doc_type != self.recorded.doc_type or c.urgency != self.recorded.urgency
        )

    def cells(self) -> tuple[str, ...]:
        was, new = self.recorded, self.candidate
        return (
            self.case_id,
            f"{was.doc_type.value} {was.confidence:.2f} {was.urgency.value}",
            UNREADABLE
            if new is None
            else f"{new.doc_type.value} {new.confidence:.2f} {new.urgency.value}"
            + (" *" if self.changed else ""),
            route_change(self.route, self.candidate_route),
            self.person or "",
        )

    def labels(self) -> tuple[str, str | None]:
        """What the recorded model and the candidate called it (the report's matrix)."""
        new = self.candidate
        return self.recorded.doc_type.value, None if new is None else new.doc_type.value

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


@dataclass(frozen=True, slots=True)
class ExtractWhatIf:
    """One case: the recorded extraction and route beside the candidate's."""

    case_id: str
    recorded: ExtractOutput
    recorded_model: str
    candidate: ExtractOutput | None
    route: str
    candidate_route: str | None
    person: dict[str, str] | None
    """The field values a person confirmed or corrected later in the case, if one did."""

    HEADERS = ("case", "fields", "what changes", "route", "people")

    def cells(self) -> tuple[str, ...]:
        settled, recorded, candidate = self.agreement()
        return (
            self.case_id,
            str(len(self.recorded.fields)),
            UNREADABLE if self.candidate is None else "; ".join(self.changes()) or "nothing",
            route_change(self.route, self.candidate_route),
            f"{settled} settled: recorded {recorded}, candidate {candidate}" if settled else "",
        )

    def labels(self) -> tuple[str, str | None]:
        """Whether the candidate reads the fields as recorded (the report's matrix)."""
        same = "as recorded"
        return same, None if self.candidate is None else same if not self.changes() else "changed"

    def changes(self) -> list[str]:
        """What the candidate reads differently: `name: old -> new`, `+name=new`, `-name`."""
        if self.candidate is None:
            return []
        was, new = field_values(self.recorded), field_values(self.candidate)
        out = []
        for name in sorted(set(was) | set(new)):
            if name not in new:
                out.append(f"-{name}")
            elif name not in was:
                out.append(f"+{name}={new[name]}")
            elif was[name] != new[name]:
                out.append(f"{name}: {was[name]} -> {new[name]}")
        return out

    def agreement(self) -> tuple[int, int, int]:
        """Of the fields a person settled: how many; how many each model read the same."""
        if self.person is None:
            return 0, 0, 0
        was = field_values(self.recorded)
        new = field_values(self.candidate) if self.candidate is not None else {}
        settled = self.person.items()
        return (
            len(self.person),
            sum(1 for k, v in settled if was.get(k) == v),
            sum(1 for k, v in settled if new.get(k) == v),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "recorded": {
                "fields": field_values(self.recorded),
                "route": self.route,
                "model": self.recorded_model,
            },
            "candidate": None
            if self.candidate is None
            else {"fields": field_values(self.candidate), "route": self.candidate_route},
            "changes": self.changes(),
            "person": self.person,
        }


@dataclass(frozen=True, slots=True)
class ScoreWhatIf:
    """One case: the recorded risk score and route beside the candidate's."""

    case_id: str
    recorded: ScoreOutput
    recorded_model: str
    candidate: ScoreOutput | None
    route: str
    candidate_route: str | None
    person: str | None
    """What a person decided on the review the recorded score opened: `risky` (rejected),
    `cleared` (approved), or None (no such review, or not decided either way)."""

    HEADERS = ("case", "recorded", "candidate", "route", "person")

    @property
    def changed(self) -> bool:
        return self.candidate is not None and self.candidate.band != self.recorded.band

    def cells(self) -> tuple[str, ...]:
        was, new = self.recorded, self.candidate
        return (
            self.case_id,
            f"{was.band.value} {was.score:.2f}",
            UNREADABLE
            if new is None
            else f"{new.band.value} {new.score:.2f}" + (" *" if self.changed else ""),
            route_change(self.route, self.candidate_route),
            self.person or "",
        )

    def labels(self) -> tuple[str, str | None]:
        new = self.candidate
        return self.recorded.band.value, None if new is None else new.band.value

    @staticmethod
    def agrees(output: ScoreOutput | None, person: str) -> bool:
        return output is not None and (output.band is RiskBand.HIGH) == (person == "risky")

    def as_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "case": self.case_id,
            "recorded": {
                "score": self.recorded.score,
                "band": self.recorded.band.value,
                "route": self.route,
                "model": self.recorded_model,
            },
            "candidate": None
            if c is None
            else {
                "score": c.score,
                "band": c.band.value,
                "reasons": list(c.reasons),
                "route": self.candidate_route,
            },
            "person": self.person,
            "changed": self.changed,
        }


@dataclass(frozen=True, slots=True)
class ScoreSummary(Counts):
    cases: int
    asked: int
    band_changed: int
    route_changed: int
    decided_by_people: int
    recorded_agrees: int
    candidate_agrees: int

    def sentence(self) -> str:
        return (
            f"{self.band_changed} of {self.asked} bands change, {self.route_changed} routes; "
            f"where people decided ({self.decided_by_people}): recorded model agrees "
            f"{self.recorded_agrees}, candidate {self.candidate_agrees}. The counterparty "
            "history was rebuilt from these cases alone, in order; later steps are not re-run."
        )


def summarize_score(rows: Sequence[ScoreWhatIf]) -> ScoreSummary:
    asked = [r for r in rows if r.candidate is not None]
    people = [(r, r.person) for r in asked if r.person is not None]
    return ScoreSummary(
        cases=len(rows),
        asked=len(asked),
        band_changed=sum(1 for r in asked if r.changed),
        route_changed=sum(1 for r in asked if r.candidate_route != r.route),
        decided_by_people=len(people),
        recorded_agrees=sum(1 for r, p in people if ScoreWhatIf.agrees(r.recorded, p)),
        candidate_agrees=sum(1 for r, p in people if ScoreWhatIf.agrees(r.candidate, p)),
    )


@dataclass(frozen=True, slots=True)
class ExtractSummary(Counts):
    cases: int
    asked: int
    cases_changed: int
    fields_changed: int
    route_changed: int
    fields_settled_by_people: int
    recorded_agrees: int
    candidate_agrees: int

    def sentence(self) -> str:
        return (
            f"{self.cases_changed} of {self.asked} extractions change ({self.fields_changed} "
            f"fields), {self.route_changed} routes; of the {self.fields_settled_by_people} "
            f"fields people settled: recorded model agrees {self.recorded_agrees}, candidate "
            f"{self.candidate_agrees}. Later steps are not re-run."
        )


def summarize_extract(rows: Sequence[ExtractWhatIf]) -> ExtractSummary:
    asked = [r for r in rows if r.candidate is not None]
    agreement = [r.agreement() for r in asked]
    return ExtractSummary(
        cases=len(rows),
        asked=len(asked),
        cases_changed=sum(1 for r in asked if r.changes()),
        fields_changed=sum(len(r.changes()) for r in asked),
        route_changed=sum(1 for r in asked if r.candidate_route != r.route),
        fields_settled_by_people=sum(a[0] for a in agreement),
        recorded_agrees=sum(a[1] for a in agreement),
        candidate_agrees=sum(a[2] for a in agreement),
    )


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
    return [
        ClassifyWhatIf(
            **one.common(case_id),
            person=_person(one.opened, one.later, one.recorded) if one.opened else None,
        )
        for case_id, one in _swapped(inputs, outputs, catalog, ClassifyOutput, candidate)
    ]


def extract_what_if(
    inputs: Sequence[Logged],
    outputs: Sequence[Logged],
    catalog: PipelineCatalog,
    candidate: Callable[[CaseSubmitted], ExtractOutput | None],
) -> list[ExtractWhatIf]:
    """Per case whose submission is among `inputs`, its first extraction beside the
    candidate's (cases without one are left out)."""
    return [
        ExtractWhatIf(**one.common(case_id), person=_settled_fields(one.recorded, one.later))
        for case_id, one in _swapped(inputs, outputs, catalog, ExtractOutput, candidate)
    ]


def score_what_if(
    inputs: Sequence[Logged],
    outputs: Sequence[Logged],
    catalog: PipelineCatalog,
    candidate: Callable[[CaseSubmitted], ScoreOutput | None],
) -> list[ScoreWhatIf]:
    """Per case whose submission is among `inputs`, its first risk score beside the
    candidate's (cases without one are left out)."""
    return [
        ScoreWhatIf(
            **one.common(case_id),
            person=_verdict(one.opened, one.later) if one.opened else None,
        )
        for case_id, one in _swapped(inputs, outputs, catalog, ScoreOutput, candidate)
    ]


def _swapped(
    inputs: Sequence[Logged],
    outputs: Sequence[Logged],
    catalog: PipelineCatalog,
    kind: type[Out],
    candidate: Callable[[CaseSubmitted], Out | None],
) -> Iterator[tuple[str, _Swapped[Out]]]:
    """Each case submitted among `inputs` with a `kind` output: its first, swapped."""
    for case_id, submitted, ordered in _cases(inputs, outputs, catalog):
        one = _swap(ordered, catalog, kind, functools.partial(candidate, submitted))
        if one is not None:
            yield case_id, one


def score_requests(
    inputs: Sequence[Logged], outputs: Sequence[Logged], catalog: PipelineCatalog
) -> list[tuple[CaseSubmitted, TaskRequested]]:
    """Each case's first score task as the coordinator asked it (the transition rebuilds
    the request: its inputs redacted and patched as they were), in the order the scores
    were recorded: the order a counterparty history is rebuilt in."""
    found: list[tuple[tuple[int, int, int], CaseSubmitted, TaskRequested]] = []
    for _, submitted, ordered in _cases(inputs, outputs, catalog):
        state: CaseState | None = None
        asked: dict[str, TaskRequested] = {}
        for item in ordered:
            event = item.event
            if isinstance(event, TaskCompleted) and isinstance(event.output, ScoreOutput):
                request = asked.get(event.task_id)
                if request is not None:
                    where = (item.timestamp_ms, item.partition, item.offset)
                    found.append((where, submitted, request))
                break
            result = transition(state, event, catalog)
            for output in result.outputs:
                if isinstance(output.event, TaskRequested) and output.event.capability == "score":
                    asked[output.event.task_id] = output.event
            state = result.state
    found.sort(key=lambda f: f[0])
    return [(submitted, request) for _, submitted, request in found]


def _verdict(opened: HumanTaskOpened, later: Sequence[Event]) -> str | None:
    """What a person decided on the review `opened`: rejected (`risky`), approved
    (`cleared`), or neither."""
    for event in later:
        if isinstance(event, HumanDecision) and event.human_task_id == opened.human_task_id:
            if event.action is DecisionAction.REJECT:
                return "risky"
            if event.action is DecisionAction.APPROVE:
                return "cleared"
            return None
    return None


def field_values(output: ExtractOutput) -> dict[str, str]:
    """Each field's value as compared: its normalised form if it has one (the first field
    of a name, as the coordinator reads them)."""
    values: dict[str, str] = {}
    for f in output.fields:
        values.setdefault(f.name, f.normalized or f.value)
    return values


def _settled_fields(recorded: ExtractOutput, later: Sequence[Event]) -> dict[str, str] | None:
    """The field values a person settled on after the extraction: the first review
    decided later in the case, approved (the recorded values) or edited (its field patches
    applied as the coordinator applies them). None if no person decided."""
    for event in later:
        if not isinstance(event, HumanDecision):
            continue
        if event.action is DecisionAction.APPROVE:
            return field_values(recorded)
        if event.action is DecisionAction.EDIT:
            fields = [p for p in event.patches if p.field not in _CLASSIFICATION]
            return field_values(apply_patches(recorded, fields))
        return None
    return None


_CLASSIFICATION = frozenset(("doc_type", "urgency"))
"""Patch fields that correct a classification, not an extraction."""


@dataclass(frozen=True, slots=True)
class _Swapped(Generic[Out]):
    """A case's first output of one kind, recorded and as the candidate gives it."""

    event: TaskCompleted
    recorded: Out
    candidate: Out | None
    route: str
    candidate_route: str | None
    opened: HumanTaskOpened | None
    """The review the recorded output's transition opened, if it did."""
    later: list[Event]
    """The case's events consumed after it."""

    @property
    def model(self) -> str:
        return f"{self.event.usage.provider}/{self.event.usage.model}"

    def common(self, case_id: str) -> dict[str, Any]:
        """The fields every what-if row has, for case `case_id`."""
        return {
            "case_id": case_id,
            "recorded": self.recorded,
            "recorded_model": self.model,
            "candidate": self.candidate,
            "route": self.route,
            "candidate_route": self.candidate_route,
        }


def _swap(
    ordered: Sequence[Logged],
    catalog: PipelineCatalog,
    kind: type[Out],
    ask: Callable[[], Out | None],
) -> _Swapped[Out] | None:
    """Walk the case to its first `kind` output; the transition with it and with `ask`'s."""
    state: CaseState | None = None
    for index, item in enumerate(ordered):
        event = item.event
        if isinstance(event, TaskCompleted) and isinstance(event.output, kind):
            recorded = transition(state, event, catalog)
            proposal = ask()
            swapped = (
                transition(state, event.model_copy(update={"output": proposal}), catalog)
                if proposal is not None
                else None
            )
            return _Swapped(
                event,
                event.output,
                proposal,
                route_of(recorded),
                route_of(swapped) if swapped is not None else None,
                next((e for e in recorded.events if isinstance(e, HumanTaskOpened)), None),
                [i.event for i in ordered[index + 1 :]],
            )
        state = transition(state, event, catalog).state
    return None


def _cases(
    inputs: Sequence[Logged], outputs: Sequence[Logged], catalog: PipelineCatalog
) -> Iterator[tuple[str, CaseSubmitted, list[Logged]]]:
    """Each case submitted among `inputs`: its submission, its records in consumed order."""
    by_case: dict[str, tuple[list[Logged], list[Logged]]] = {}
    for item in inputs:
        by_case.setdefault(item.event.case_id, ([], []))[0].append(item)
    for item in outputs:
        if item.event.case_id in by_case:
            by_case[item.event.case_id][1].append(item)
    for case_id, (mine, theirs) in by_case.items():
        submitted = next((i.event for i in mine if isinstance(i.event, CaseSubmitted)), None)
        if submitted is not None:
            yield case_id, submitted, consumption_order(mine, theirs, catalog)


def _person(opened: HumanTaskOpened, later: Sequence[Event], output: ClassifyOutput) -> str | None:
    """The type a person settled on for the review the classification opened, if any."""
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
class Summary(Counts):
    cases: int
    asked: int
    type_changed: int
    urgency_changed: int
    route_changed: int
    decided_by_people: int
    recorded_agrees: int
    candidate_agrees: int

    def sentence(self) -> str:
        return (
            f"{self.type_changed} of {self.asked} types and {self.urgency_changed} urgencies "
            f"change, {self.route_changed} routes; where people decided "
            f"({self.decided_by_people}): recorded model agrees {self.recorded_agrees}, "
            f"candidate {self.candidate_agrees}. Later steps are not re-run."
        )


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


WHAT_IF = ("classify", "extract", "score")
"""The capabilities a candidate can be asked for."""


def parse_what_if(text: str) -> tuple[str, Path | None]:
    """`--what-if classify[=FEEDBACK]`, `extract` or `score`: the capability, and the
    feedback file the candidate classifier trains with, if any.

    Raises:
        ConfigError: Another capability, feedback for another, or a feedback file that
            does not exist.
    """
    capability, _, source = text.partition("=")
    capability = capability.strip()
    if capability not in WHAT_IF:
        raise ConfigError(f"--what-if {text!r}: a candidate can be asked for {', '.join(WHAT_IF)}")
    if not source:
        return capability, None
    if capability != "classify":
        raise ConfigError(f"--what-if {text!r}: only the classifier trains with a feedback file")
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"--what-if {text!r}: {path}: no such feedback file")
    return capability, path


async def _document_text(app: App, submitted: CaseSubmitted) -> str | None:
    """The text of a case's document (None: gone or unreadable, reported, not guessed)."""
    from agents.documents import read_text_bounded
    from agents.errors import DocumentError
    from schemas import BlobError

    ref = submitted.document
    try:
        data = await anyio.to_thread.run_sync(app.blobs.get, ref)
        return await read_text_bounded(data, ref.media_type)
    except (BlobError, DocumentError):
        return None


async def ask_candidate(
    app: App, feedback: Path | None
) -> tuple[str, Callable[[CaseSubmitted], Awaitable[ClassifyOutput | None]]]:
    """The candidate classifier (trained now, with `feedback` or the data dir's feedback
    file) and how it reads a case's document from the blob store."""
    from agents.models.classifier import Classifier

    settings = app.settings
    chosen = feedback or (settings.feedback_path if settings.feedback_path.is_file() else None)
    model = await anyio.to_thread.run_sync(
        lambda: Classifier.load(settings.model_cache_dir, feedback=chosen)
    )

    async def ask(submitted: CaseSubmitted) -> ClassifyOutput | None:
        text = await _document_text(app, submitted)
        return None if text is None else await anyio.to_thread.run_sync(model.classify, text)

    return f"local/{model.model_name}", ask


def ask_extractor(
    app: App,
) -> tuple[str, Callable[[CaseSubmitted], Awaitable[ExtractOutput | None]]]:
    """The candidate extractor (the local rules as they are now) and how it reads a case's
    document from the blob store."""
    from agents.models.extractor import MODEL_NAME, extract

    async def ask(submitted: CaseSubmitted) -> ExtractOutput | None:
        text = await _document_text(app, submitted)
        return None if text is None else await anyio.to_thread.run_sync(extract, text)

    return f"local/{MODEL_NAME}", ask


async def ask_scorer(
    app: App, requests: Sequence[tuple[CaseSubmitted, TaskRequested]]
) -> tuple[str, dict[str, ScoreOutput | None]]:
    """The candidate scorer (the local model as it trains now) and its score of each
    case's request, asked in order over one counterparty history rebuilt in memory (None:
    the document is gone)."""
    from agents.models.history import MemoryHistory
    from agents.models.scorer import Observation, Scorer

    model = await anyio.to_thread.run_sync(lambda: Scorer.load(app.settings.model_cache_dir))
    history = MemoryHistory()
    answers: dict[str, ScoreOutput | None] = {}
    for submitted, request in requests:
        text = await _document_text(app, submitted)
        if text is None:
            answers[submitted.case_id] = None
            continue
        given = request.input.prior.values()
        observation = Observation.from_outputs(
            request.task_id,
            next((o for o in given if isinstance(o, ClassifyOutput)), None)
            or ClassifyOutput(doc_type=DocType.OTHER, confidence=0.0),
            next((o for o in given if isinstance(o, ExtractOutput)), None) or ExtractOutput(),
            text,
        )
        answers[submitted.case_id] = await anyio.to_thread.run_sync(
            model.score, observation, history
        )
    return f"local/{model.model_name}", answers


WhatIfRow = ClassifyWhatIf | ExtractWhatIf | ScoreWhatIf


def render_html(
    capability: str, model: str, start: str, rows: Sequence[WhatIfRow], summary: Counts
) -> str:
    """The what-if as a page: the totals, how the recorded answers map to the candidate's
    (a matrix: the diagonal is agreement), and every case."""
    from caseyard.models_report import html_page

    headers = type(rows[0]).HEADERS if rows else ("case",)
    table = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row.cells()) + "</tr>"
        for row in rows
    )
    return html_page(
        f"caseyard what-if {capability}",
        f"""<h1>What if {html.escape(capability)} were {html.escape(model)}</h1>
<p>{len(rows)} case(s) from {html.escape(start)}. {html.escape(summary.sentence())}</p>
<figure><figcaption>Recorded (rows) and candidate (columns): green kept, red changed</figcaption>
{_matrix_svg(Counter(row.labels() for row in rows))}</figure>
<table class="cases"><tr>{"".join(f"<th>{html.escape(h)}</th>" for h in headers)}</tr>
{table}</table>""",
    )


def _matrix_svg(counts: Counter[tuple[str, str | None]]) -> str:
    recorded = sorted({r for r, _ in counts})
    candidate = sorted({c or UNREADABLE for _, c in counts})
    cell, left = 34, 140
    top = 20 + min(90, 6 * max((len(c) for c in candidate), default=0))
    width, height = left + cell * len(candidate) + 10, top + cell * len(recorded) + 10
    most = max(counts.values(), default=1)
    parts = [f'<svg role="img" width="{width}" height="{height}" class="matrix">']
    for j, label in enumerate(candidate):
        x = left + j * cell + cell / 2
        parts.append(
            f'<text x="{x:.0f}" y="{top - 6}" transform="rotate(-45 {x:.0f} {top - 6})">'
            f"{html.escape(label)}</text>"
        )
    for i, was in enumerate(recorded):
        y = top + i * cell
        parts.append(f'<text x="0" y="{y + cell / 2 + 4:.0f}">{html.escape(was)}</text>')
        for j, new in enumerate(candidate):
            n = counts.get((was, None if new == UNREADABLE else new), 0)
            colour = "#3a7" if was == new else "#c33"
            parts.append(
                f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{colour if n else "#eee"}" fill-opacity="{0.15 + 0.85 * n / most:.2f}">'
                f"<title>{html.escape(was)} -> {html.escape(new)}: {n}</title></rect>"
            )
            if n:
                parts.append(
                    f'<text x="{left + j * cell + 6}" y="{y + cell / 2 + 4:.0f}">{n}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)
