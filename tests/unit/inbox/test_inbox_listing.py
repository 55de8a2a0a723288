"""The task list: columns from the evidence, filters, sorts, paging, and the next task."""

from __future__ import annotations

import html
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from caseyard.inbox.auth import Role, User
from caseyard.inbox.listing import PAGE_SIZE, Rows, View, next_task, select
from caseyard.inbox.projection import HumanTask
from schemas import (
    ClassifyOutput,
    DocType,
    ExtractedField,
    ExtractOutput,
    FieldType,
    HumanTaskOpened,
    RiskBand,
    ScoreOutput,
    TaskOutput,
)
from tests.unit.inbox.inbox_support import DOCUMENT, T0, claimed, envelope, running_inbox, task_id

ALICE = User("alice", Role.REVIEWER, frozenset({"risk-review", "fraud-analysts"}))


def announced(
    case_id: str,
    *,
    doc_type: DocType = DocType.INVOICE,
    score: float = 0.5,
    band: RiskBand = RiskBand.MEDIUM,
    sender: str = "Acme GmbH",
    queue: str = "risk-review",
    minutes: int = 0,
    sla_hours: int = 4,
) -> HumanTaskOpened:
    at = T0 + timedelta(minutes=minutes)
    evidence: dict[str, TaskOutput] = {
        "classify": ClassifyOutput(doc_type=doc_type, confidence=0.9),
        "extract": ExtractOutput(
            fields=(
                ExtractedField(name="issuer", value=sender, type=FieldType.NAME, confidence=0.8),
                ExtractedField(
                    name="total_amount",
                    value="1.250,00 EUR",
                    type=FieldType.MONEY,
                    normalized="1250.00 EUR",
                    confidence=0.9,
                ),
            )
        ),
        "score": ScoreOutput(score=score, band=band),
    }
    return HumanTaskOpened(
        **envelope(case_id, at),
        human_task_id=task_id(case_id),
        queue=queue,
        reason="high risk score",
        document=DOCUMENT,
        evidence=evidence,
        sla_deadline=at + timedelta(hours=sla_hours),
    )


def task(case_id: str, claimed_by: str | None = None, **kwargs: object) -> HumanTask:
    event = announced(case_id, **kwargs)  # type: ignore[arg-type]
    return HumanTask(announced=event, opened_at=event.occurred_at, claimed_by=claimed_by)


def test_a_row_says_what_the_evidence_says() -> None:
    (found,) = Rows().of([task("c1", doc_type=DocType.RECEIPT, score=0.82, band=RiskBand.HIGH)])
    assert (found.doc_type, found.sender, found.amount, found.band, found.score) == (
        "receipt",
        "Acme GmbH",
        "1250.00 EUR",
        "high",
        0.82,
    )
    bare = HumanTask(announced=announced("c2").model_copy(update={"evidence": {}}), opened_at=T0)
    (empty,) = Rows().of([bare])
    assert (empty.doc_type, empty.band, empty.score) == ("", "", None)


def test_filters_narrow_and_sorts_order() -> None:
    tasks = [
        task("low-old", score=0.2, band=RiskBand.LOW, minutes=0, sla_hours=9),
        task("high-new", score=0.9, band=RiskBand.HIGH, minutes=30, sla_hours=1),
        task("mid", score=0.5, doc_type=DocType.RECEIPT, minutes=10, claimed_by="alice"),
        task(
            "fraud",
            score=0.7,
            band=RiskBand.HIGH,
            queue="fraud-analysts",
            sender="Globex",
            minutes=20,
        ),
    ]

    rows = Rows().of(tasks)

    def ids(query: dict[str, str]) -> list[str]:
        return [r.task.case_id for r in select(rows, View.parse(query), ALICE).rows]

    assert ids({}) == ["high-new", "mid", "fraud", "low-old"]  # SLA first
    assert ids({"sort": "risk"}) == ["high-new", "fraud", "mid", "low-old"]
    assert ids({"sort": "age"}) == ["low-old", "mid", "fraud", "high-new"]
    assert ids({"band": "high"}) == ["high-new", "fraud"]
    assert ids({"type": "receipt"}) == ["mid"]
    assert ids({"queue": "fraud-analysts"}) == ["fraud"]
    assert ids({"claimed": "me"}) == ["mid"]
    assert ids({"claimed": "none", "band": "high"}) == ["high-new", "fraud"]
    assert ids({"q": "globex"}) == ["fraud"]
    assert ids({"q": "high-new"}) == ["high-new"]
    # Unknown values fall back to the defaults instead of failing.
    assert ids({"sort": "nope", "band": "huge", "page": "x"}) == ids({})


def test_pages_of_fifty_and_the_view_round_trips() -> None:
    tasks = [task(f"c{n:03d}", minutes=n) for n in range(120)]
    third = select(Rows().of(tasks), View.parse({"page": "3"}), ALICE)
    assert (third.total, third.pages, len(third.rows)) == (120, 3, 120 - 2 * PAGE_SIZE)
    view = View.parse({"band": "high", "sort": "risk", "q": "acme gmbh", "page": "2"})
    assert View.parse({k: v[0] for k, v in parse_qs(view.query()).items()}) == view
    assert View().query() == ""


def test_the_next_task_is_the_next_of_the_view_that_the_reviewer_can_act_on() -> None:
    tasks = [
        task("a", score=0.9, band=RiskBand.HIGH),
        task("b", score=0.8, band=RiskBand.HIGH, queue="other-queue"),
        task("c", score=0.7, band=RiskBand.HIGH),
        task("d", score=0.1, band=RiskBand.LOW),
    ]
    view = View.parse({"band": "high", "sort": "risk"})
    supervisor = User("sam", Role.SUPERVISOR)
    rows = Rows().of(tasks)
    assert next_task(rows, view, ALICE, after=task_id("a")) is tasks[2]  # b's queue is not hers
    assert next_task(rows, view, supervisor, after=task_id("a")) is tasks[1]
    assert next_task(rows, view, ALICE, after=task_id("c")) is tasks[0]
    assert next_task(rows[2:3], view, ALICE, after=task_id("c")) is None


def test_rows_read_the_evidence_once_per_announcement() -> None:
    rows = Rows()
    first = task("c1", score=0.3, band=RiskBand.LOW)
    assert rows.of([first])[0].band == "low"
    first.claimed_by = "alice"  # claims change the row, not the evidence
    assert rows.of([first])[0].task.claimed_by == "alice"
    first.announced = announced("c1", score=0.9, band=RiskBand.HIGH)  # re-announced (SLA move)
    assert rows.of([first])[0].band == "high"


@pytest.mark.anyio
async def test_a_reviewer_filters_decides_and_lands_on_the_next_task(
    tmp_path: Path, users_file: Path
) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await world.publish(
            [
                announced("case-a", score=0.95, band=RiskBand.HIGH, sender="Initech"),
                announced("case-b", score=0.20, band=RiskBand.LOW),
                announced("case-c", score=0.80, band=RiskBand.HIGH, minutes=5),
                claimed("case-a", "alice"),
            ]
        )
        csrf = await world.sign_in("alice")
        listing = html.unescape((await world.web.get("/?band=high&sort=risk")).text)
        assert "case-a" in listing and "case-c" in listing and "case-b" not in listing
        for column in ("Type", "Sender", "Amount", "Risk", "Age", "SLA", "Claimed by"):
            assert f"<th>{column}</th>" in listing
        assert "Initech" in listing and "1250.00 EUR" in listing and "high 0.95" in listing
        raw = (await world.web.get("/?band=high&sort=risk")).text
        assert f'href="/tasks/{task_id("case-a")}?band=high&amp;sort=risk"' in raw
        page = html.unescape(
            (await world.web.get(f"/tasks/{task_id('case-a')}?band=high&sort=risk")).text
        )
        assert 'name="view" value="band=high&sort=risk"' in page
        assert 'id="next"' in page and "<kbd>a</kbd> approve" in page
        decided = await world.web.post(
            f"/tasks/{task_id('case-a')}/decide",
            data={"csrf": csrf, "action": "approve", "view": "band=high&sort=risk"},
        )
        location = urlsplit(decided.headers["location"])
        assert decided.status_code == 303
        assert location.path == f"/tasks/{quote(task_id('case-c'))}"
        assert parse_qs(location.query) == {"band": ["high"], "sort": ["risk"]}
