"""What-if replay of classifications on recorded cases: the candidate's type, the route
the coordinator would have taken (on, to a person, handed off), and agreement with the
person who decided. The log is what the pure engine recorded for a scripted case."""

from __future__ import annotations

from caseyard.whatif import classify_what_if, summarize
from coordinator import Logged, PipelineCatalog
from schemas import CaseSubmitted, ClassifyOutput, DecisionAction, DocType, FieldPatch
from schemas.topology import CASE_EVENTS
from tests.unit.coordinator.coord_support import Driver, classify, load

INTAKE = load(
    """
name: intake
version: 1
steps:
  - id: classify
    capability: classify
    escalate:
      - id: unsure
        when: steps.classify.confidence < 0.5
        queue: document-review
        reason: unsure
        on_edit: {patch: classify}
    hand_off:
      - {id: fraud, when: "steps.classify.doc_type == 'fraud_report'", to: fraud, reason: r}
  - {id: triage, capability: score, after: [classify], inputs: [classify]}
"""
)
FRAUD = load("name: fraud\nversion: 1\nsteps:\n  - {id: score, capability: score}\n")
CATALOG = PipelineCatalog([INTAKE, FRAUD])


def _log(d: Driver) -> tuple[list[Logged], list[Logged]]:
    inputs = [Logged("in", 0, i, 0, event) for i, event in enumerate(d.inputs)]
    outputs = [
        Logged(CASE_EVENTS.name, 0, i, 0, output.event)
        for i, output in enumerate(
            o for t in d.log for o in t.outputs if o.topic == CASE_EVENTS.name
        )
    ]
    return inputs, outputs


def _candidate(doc_type: DocType, confidence: float):  # type: ignore[no-untyped-def]
    def ask(submitted: CaseSubmitted) -> ClassifyOutput:
        return ClassifyOutput(doc_type=doc_type, confidence=confidence)

    return ask


def test_a_sure_invoice_that_the_candidate_calls_fraud_would_be_handed_off() -> None:
    d = Driver(catalog=CATALOG)
    d.submit("intake")
    d.complete("classify", classify(DocType.INVOICE))
    (row,) = classify_what_if(*_log(d), CATALOG, _candidate(DocType.FRAUD_REPORT, 0.9))
    assert (row.route, row.candidate_route) == ("auto", "hand-off (fraud)")
    assert row.changed and row.person is None
    summary = summarize([row])
    assert (summary.type_changed, summary.route_changed, summary.decided_by_people) == (1, 1, 0)


def test_an_unsure_case_a_person_corrected_measures_agreement() -> None:
    d = Driver(catalog=CATALOG)
    d.submit("intake")
    d.complete("classify", ClassifyOutput(doc_type=DocType.OTHER, confidence=0.3))
    d.decide(DecisionAction.EDIT, [FieldPatch(field="doc_type", value="invoice")])
    (row,) = classify_what_if(*_log(d), CATALOG, _candidate(DocType.INVOICE, 0.8))
    assert (row.route, row.candidate_route) == ("person (document-review)", "auto")
    assert row.person == "invoice"
    summary = summarize([row])
    assert (summary.recorded_agrees, summary.candidate_agrees) == (0, 1)
    assert row.as_dict()["candidate"]["route"] == "auto"


def test_a_missing_document_is_reported_not_guessed() -> None:
    d = Driver(catalog=CATALOG)
    d.submit("intake")
    d.complete("classify", classify(DocType.INVOICE))
    (row,) = classify_what_if(*_log(d), CATALOG, lambda submitted: None)
    assert row.candidate is None and row.candidate_route is None and not row.changed
    assert summarize([row]).asked == 0


def test_cases_not_classified_yet_are_left_out() -> None:
    d = Driver(catalog=CATALOG)
    d.submit("intake")
    assert classify_what_if(*_log(d), CATALOG, _candidate(DocType.INVOICE, 0.9)) == []


def test_an_extraction_lists_changed_added_and_dropped_fields_and_agreement() -> None:
    from caseyard.whatif import ExtractWhatIf, summarize_extract
    from schemas import ExtractedField, ExtractOutput, FieldType

    def field(name: str, value: str) -> ExtractedField:
        return ExtractedField(name=name, value=value, type=FieldType.STRING, confidence=0.8)

    recorded = ExtractOutput(
        fields=(field("total", "1.00"), field("iban", "DE89"), field("x", "y"))
    )
    candidate = ExtractOutput(
        fields=(field("total", "12.50"), field("iban", "DE89"), field("z", "w"))
    )
    row = ExtractWhatIf(
        case_id="c",
        recorded=recorded,
        recorded_model="fake/scripted",
        candidate=candidate,
        route="auto",
        candidate_route="auto",
        person={"total": "12.50", "iban": "DE89"},
    )
    assert row.changes() == ["total: 1.00 -> 12.50", "-x", "+z=w"]
    assert row.agreement() == (2, 1, 2)
    unread = ExtractWhatIf("d", recorded, "fake/scripted", None, "auto", None, None)
    assert unread.changes() == [] and unread.agreement() == (0, 0, 0)
    summary = summarize_extract([row, unread])
    assert (summary.cases, summary.asked, summary.cases_changed, summary.fields_changed) == (
        2,
        1,
        1,
        3,
    )
    assert (summary.recorded_agrees, summary.candidate_agrees) == (1, 2)


RISK = load(
    """
name: risk
version: 1
steps:
  - {id: classify, capability: classify}
  - id: score
    capability: score
    after: [classify]
    inputs: [classify]
    escalate:
      - {id: high, when: "steps.score.band == 'high'", queue: risk-review, reason: high risk}
"""
)


def test_a_score_is_asked_as_it_was_requested_and_judged_by_the_person_s_verdict() -> None:
    """The request is rebuilt with the classification the coordinator gave the score step;
    a person who rejected the high-risk case confirmed the risk: the recorded high agrees,
    a candidate's low does not."""
    from caseyard.whatif import score_requests, score_what_if, summarize_score
    from schemas import RiskBand, ScoreOutput
    from tests.unit.coordinator.coord_support import score

    d = Driver(RISK)
    d.submit("risk")
    d.complete("classify", classify(DocType.PAYMENT_REQUEST))
    d.complete("score", score(0.9, RiskBand.HIGH))
    d.claim()
    d.decide(DecisionAction.REJECT)
    inputs, outputs = _log(d)
    ((submitted, request),) = score_requests(inputs, outputs, d.catalog)
    assert submitted.case_id == request.case_id
    assert request.task_id == d.task("score").task_id
    given = request.input.prior["classify"]
    assert isinstance(given, ClassifyOutput) and given.doc_type is DocType.PAYMENT_REQUEST

    (row,) = score_what_if(
        inputs, outputs, d.catalog, lambda s: ScoreOutput(score=0.3, band=RiskBand.LOW)
    )
    assert row.person == "risky" and row.changed
    assert (row.route, row.candidate_route) == ("person (risk-review)", "auto")
    summary = summarize_score([row])
    assert (summary.band_changed, summary.decided_by_people) == (1, 1)
    assert (summary.recorded_agrees, summary.candidate_agrees) == (1, 0)
