"""The inbox pages: sign-in, 401/403 for each role, CSRF, claim and decide."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from caseyard.inbox import TaskStatus
from caseyard.inbox.web import remaining
from schemas import (
    CaseEscalated,
    CaseOpened,
    ClassifyOutput,
    Decision,
    DecisionAction,
    DocType,
    ExtractedField,
    ExtractOutput,
    FieldPatch,
    FieldType,
    HumanDecision,
    HumanTaskClaimed,
    HumanTaskOpened,
    PolicyDecision,
    Span,
)
from tests.unit.inbox.inbox_support import (
    DOCUMENT,
    INVOICE,
    PASSWORD,
    T0,
    claimed,
    completed,
    csrf_of,
    envelope,
    escalation,
    running_inbox,
    task_id,
)

pytestmark = pytest.mark.anyio


def text(page: httpx.Response) -> str:
    return html.unescape(page.text)


RISK = "case-risk"
FRAUD = "case-fraud"


async def test_pages_answer_401_with_the_sign_in_form(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        for path in ("/", f"/tasks/{task_id(RISK)}"):
            page = await world.web.get(path)
            assert page.status_code == 401
            assert '<form method="post" action="/login">' in text(page)
            assert f'name="next" value="{path}"' in text(page)


async def test_sign_in_then_the_queue_lists_the_task(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await world.publish([*escalation(RISK), *escalation(FRAUD, queue="fraud-analysts")])
        form = await world.web.get("/login")
        wrong = await world.web.post(
            "/login", data={"csrf": csrf_of(form.text), "name": "alice", "password": "nope"}
        )
        assert wrong.status_code == 401 and "wrong name or password" in text(wrong)
        signed_in = await world.web.post(
            "/login",
            data={"csrf": csrf_of(form.text), "name": "alice", "password": PASSWORD, "next": "/"},
        )
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/")
        inbox = await world.web.get("/")
        assert inbox.status_code == 200
        assert f'data-task="{task_id(RISK)}"' in text(inbox) and "risk-review" in text(inbox)
        assert "fraud-analysts" not in text(inbox) and FRAUD not in text(inbox)
        assert '<time class="sla"' in text(inbox)


async def test_sign_in_without_the_csrf_token_is_refused(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await world.web.get("/login")
        refused = await world.web.post("/login", data={"name": "alice", "password": PASSWORD})
        assert refused.status_code == 403 and "CSRF" in text(refused)
        assert (await world.web.get("/")).status_code == 401


async def test_a_reviewer_of_another_queue_gets_403(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await world.publish(escalation(RISK))
        csrf = await world.sign_in("bob")
        page = await world.web.get(f"/tasks/{task_id(RISK)}")
        assert page.status_code == 403 and "does not work the queue 'risk-review'" in text(page)
        claim = await world.web.post(f"/tasks/{task_id(RISK)}/claim", data={"csrf": csrf})
        assert claim.status_code == 403
        assert await world.human_events() == []


async def test_an_auditor_sees_the_task_but_cannot_act(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await world.publish(escalation(RISK))
        csrf = await world.sign_in("audrey")
        page = await world.web.get(f"/tasks/{task_id(RISK)}")
        assert page.status_code == 200
        assert "high risk score" in text(page) and ">Claim</button>" not in text(page)
        for action in ("claim", "decide"):
            refused = await world.web.post(
                f"/tasks/{task_id(RISK)}/{action}", data={"csrf": csrf, "action": "approve"}
            )
            assert refused.status_code == 403, action
        assert await world.human_events() == []


async def test_an_unknown_task_is_404(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await world.sign_in("sam")
        page = await world.web.get("/tasks/case-nope/human/1")
        assert page.status_code == 404 and "no human task" in text(page)


async def test_a_form_post_without_the_csrf_token_is_refused(
    tmp_path: Path, users_file: Path
) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await world.publish(escalation(RISK))
        await world.sign_in("alice")
        for data in ({}, {"csrf": "forged"}):
            refused = await world.web.post(f"/tasks/{task_id(RISK)}/claim", data=data)
            assert refused.status_code == 403
        assert await world.human_events() == []


async def test_claim_edit_and_approve(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        ref = world.app.blobs.put(INVOICE, "text/plain")
        await world.publish(escalation(RISK, document=ref))
        csrf = await world.sign_in("alice")
        page = await world.web.get(f"/tasks/{task_id(RISK)}")
        assert "Invoice 2024-117" in text(page)  # the document
        assert "new bank account" in text(page)  # the risk reasons
        assert "high-risk: escalate" in text(page)  # the policy decision
        assert ">Claim</button>" in text(page) and "Save edits" not in text(page)

        claim = await world.web.post(f"/tasks/{task_id(RISK)}/claim", data={"csrf": csrf})
        assert claim.status_code == 303
        page = await world.web.get(claim.headers["location"])
        assert '<td id="claimed-by">alice</td>' in text(page)
        assert 'name="field:total" value="10 EUR"' in text(page)

        decided = await world.web.post(
            f"/tasks/{task_id(RISK)}/decide",
            data={
                "csrf": csrf,
                "action": "edit",
                "field:total": "12.50 EUR",
                "field:iban": "DE89370400440532013000",
                "comment": "total misread",
            },
        )
        # No other task in the view: back to the list.
        assert (decided.status_code, decided.headers["location"]) == (303, "/")
        page = await world.web.get(f"/tasks/{task_id(RISK)}")
        assert '<span class="status" id="task-status">decided</span>' in text(page)
        claim_event, decision = await world.human_events()
        assert isinstance(claim_event, HumanTaskClaimed) and claim_event.claimed_by == "alice"
        assert isinstance(decision, HumanDecision)
        assert (decision.action, decision.patches, decision.comment, decision.case_id) == (
            DecisionAction.EDIT,
            (FieldPatch(field="total", value="12.50 EUR"),),
            "total misread",
            RISK,
        )


async def test_an_edit_without_changes_is_422(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await world.publish([*escalation(RISK), claimed(RISK, "alice")])
        csrf = await world.sign_in("alice")
        refused = await world.web.post(
            f"/tasks/{task_id(RISK)}/decide",
            data={"csrf": csrf, "action": "edit", "field:total": "10 EUR"},
        )
        assert refused.status_code == 422 and "at least one changed field" in text(refused)


async def test_a_claimed_task_is_taken_over_only_by_a_supervisor(
    tmp_path: Path, users_file: Path
) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await world.publish([*escalation(RISK), claimed(RISK, "carol")])
        csrf = await world.sign_in("alice")
        refused = await world.web.post(f"/tasks/{task_id(RISK)}/claim", data={"csrf": csrf})
        assert refused.status_code == 409 and "claimed by carol" in text(refused)
        async with world.client() as other:
            csrf = await world.sign_in("sam", other)
            taken = await other.post(f"/tasks/{task_id(RISK)}/claim", data={"csrf": csrf})
            assert taken.status_code == 303
        task = world.inbox.projection.task(task_id(RISK))
        assert task is not None and task.claimed_by == "sam"


async def test_deciding_a_closed_task_is_409(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await world.publish([*escalation(RISK), completed(RISK)])
        csrf = await world.sign_in("alice")
        refused = await world.web.post(
            f"/tasks/{task_id(RISK)}/decide", data={"csrf": csrf, "action": "approve"}
        )
        assert refused.status_code == 409 and "is closed" in text(refused)
        task = world.inbox.projection.task(task_id(RISK))
        assert task is not None and task.status is TaskStatus.CLOSED


async def test_sign_out_ends_the_session(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        csrf = await world.sign_in("alice")
        signed_out = await world.web.post("/logout", data={"csrf": csrf})
        assert signed_out.status_code == 303
        assert (await world.web.get("/")).status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
async def test_sign_in_never_redirects_off_site(
    tmp_path: Path, users_file: Path, target: str
) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        form = await world.web.get("/login")
        answer = await world.web.post(
            "/login",
            data={
                "csrf": csrf_of(form.text),
                "name": "alice",
                "password": PASSWORD,
                "next": target,
            },
        )
        assert (answer.status_code, answer.headers["location"]) == (303, "/")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3 * 86400 + 7200, "3d 2h left"),
        (2 * 3600 + 5 * 60 + 9, "2h 05m left"),
        (61, "1m 01s left"),
        (-190, "overdue by 3m 10s"),
    ],
)
def test_the_sla_reads_as_time_left_or_overdue(seconds: int, text: str) -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    assert remaining(now + timedelta(seconds=seconds), now) == text


async def test_an_unsure_classification_is_corrected_from_a_list(
    tmp_path: Path, users_file: Path
) -> None:
    case = "case-unsure"
    unsure = ClassifyOutput(doc_type=DocType.COMPLAINT, confidence=0.42)
    async with running_inbox(tmp_path, users_file) as world:
        await world.publish(
            [
                CaseOpened(
                    **envelope(case, T0),
                    pipeline="document-intake",
                    pipeline_version=2,
                    document=DOCUMENT,
                ),
                PolicyDecision(
                    **envelope(case, T0),
                    rule_id="unsure-type",
                    decision=Decision.ESCALATE,
                    reason="the models are unsure of the document type",
                    step="classify",
                ),
                HumanTaskOpened(
                    **envelope(case, T0),
                    human_task_id=task_id(case),
                    queue="document-review",
                    reason="the models are unsure of the document type",
                    document=DOCUMENT,
                    evidence={"classify": unsure},
                    sla_deadline=T0 + timedelta(hours=4),
                ),
                CaseEscalated(
                    **envelope(case, T0),
                    human_task_id=task_id(case),
                    queue="document-review",
                    reason="the models are unsure of the document type",
                    step="classify",
                ),
            ]
        )
        csrf = await world.sign_in("sam")
        await world.web.post(f"/tasks/{task_id(case)}/claim", data={"csrf": csrf})
        page = text(await world.web.get(f"/tasks/{task_id(case)}"))
        assert '<select id="field-1" name="field:doc_type">' in page
        assert '<option value="complaint" selected>' in page
        decided = await world.web.post(
            f"/tasks/{task_id(case)}/decide",
            data={
                "csrf": csrf,
                "action": "edit",
                "field:doc_type": "fraud_report",
                "field:urgency": "normal",
            },
        )
        assert decided.status_code == 303
        *_, decision = await world.human_events()
        assert isinstance(decision, HumanDecision)
        assert decision.patches == (FieldPatch(field="doc_type", value="fraud_report"),)


def invoice_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Invoice 2024-117   Total due: 12.50 EUR")
    return bytes(pdf.output())


async def test_the_original_pdf_is_shown_page_by_page_to_those_who_may_see_it(
    tmp_path: Path, users_file: Path
) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        pdf = invoice_pdf()
        ref = world.app.blobs.put(pdf, "application/pdf")
        await world.publish(escalation(RISK, document=ref))
        await world.sign_in("alice")
        page = text(await world.web.get(f"/tasks/{task_id(RISK)}"))
        assert f'<img class="page" src="/tasks/{task_id(RISK)}/page/1"' in page
        assert f"/tasks/{task_id(RISK)}/page/2" not in page
        image = await world.web.get(f"/tasks/{task_id(RISK)}/page/1")
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert (await world.web.get(f"/tasks/{task_id(RISK)}/page/2")).status_code == 404
        original = await world.web.get(f"/tasks/{task_id(RISK)}/original")
        assert original.content == pdf
        assert original.headers["content-disposition"].startswith("inline")
        # Someone who may not see the task sees none of its document either.
        await world.sign_in("bob")
        for path in ("page/1", "original"):
            refused = await world.web.get(f"/tasks/{task_id(RISK)}/{path}")
            assert refused.status_code == 403, path


async def test_a_submitted_web_page_is_downloaded_inert_never_shown(
    tmp_path: Path, users_file: Path
) -> None:
    hostile = b"<html><script>fetch('/api/tasks')</script><p>Invoice 9</p></html>"
    async with running_inbox(tmp_path, users_file) as world:
        ref = world.app.blobs.put(hostile, "text/html")
        await world.publish(escalation(RISK, document=ref))
        await world.sign_in("alice")
        original = await world.web.get(f"/tasks/{task_id(RISK)}/original")
        assert original.status_code == 200 and original.content == hostile
        assert original.headers["content-type"] == "application/octet-stream"
        assert original.headers["content-disposition"].startswith("attachment")
        policies = original.headers.get_list("content-security-policy")
        assert len(policies) == 1 and "sandbox" in policies[0]
        assert (await world.web.get(f"/tasks/{task_id(RISK)}/page/1")).status_code == 404


async def test_extracted_fields_are_marked_where_they_were_found(
    tmp_path: Path, users_file: Path
) -> None:
    start = INVOICE.decode().index("12.50 EUR")
    total = ExtractedField(
        name="total_amount",
        value="12.50 EUR",
        type=FieldType.MONEY,
        normalized="12.50 EUR",
        span=Span(start=start, end=start + len("12.50 EUR")),
        confidence=0.9,
    )
    async with running_inbox(tmp_path, users_file) as world:
        ref = world.app.blobs.put(INVOICE, "text/plain")
        events = escalation(RISK, document=ref)
        opened = next(e for e in events if isinstance(e, HumanTaskOpened))
        marked_task = opened.model_copy(
            update={"evidence": {**opened.evidence, "extract": ExtractOutput(fields=(total,))}}
        )
        await world.publish([marked_task if e is opened else e for e in events])
        await world.sign_in("alice")
        page = text(await world.web.get(f"/tasks/{task_id(RISK)}"))
        assert (
            'Total due: <mark title="total_amount" data-field="total_amount">12.50 EUR</mark>'
            in page
        )


async def test_on_a_scanned_image_the_fields_are_boxed_where_ocr_read_them(
    tmp_path: Path, users_file: Path
) -> None:
    """The page image of a scan carries a box over each word of an extracted field: the
    boxes of the words OCR read there, as fractions of the page (an SVG over the image;
    the API gives the same word boxes)."""
    from agents.documents import read_text_boxes
    from tests.unit.agents.test_agents_ocr import scan  # skips without Tesseract

    png = scan("Invoice 2024-117\nTotal due 12.50 EUR")
    words, boxes = read_text_boxes(png, "image/png")
    start = words.index("12.50 EUR")
    total = ExtractedField(
        name="total_amount",
        value="12.50 EUR",
        type=FieldType.MONEY,
        normalized="12.50 EUR",
        span=Span(start=start, end=start + len("12.50 EUR")),
        confidence=0.9,
    )
    async with running_inbox(tmp_path, users_file) as world:
        ref = world.app.blobs.put(png, "image/png")
        events = escalation(RISK, document=ref)
        opened = next(e for e in events if isinstance(e, HumanTaskOpened))
        boxed_task = opened.model_copy(
            update={"evidence": {**opened.evidence, "extract": ExtractOutput(fields=(total,))}}
        )
        await world.publish([boxed_task if e is opened else e for e in events])
        await world.sign_in("alice")
        page = text(await world.web.get(f"/tasks/{task_id(RISK)}"))
        detail = (await world.web.get(f"/api/tasks/{task_id(RISK)}")).json()
    amount, currency = [b for b in boxes if start <= b.start < start + len("12.50 EUR")]
    for box in (amount, currency):
        assert (
            f'<rect x="{box.left:.4f}" y="{box.top:.4f}" width="{box.width:.4f}" '
            f'height="{box.height:.4f}" data-field="total_amount">'
        ) in page
    assert page.count("<rect ") == 2, "only the field's words"
    assert amount.left < currency.left and abs(amount.top - currency.top) < 0.02
    assert len(detail["document_boxes"]) == len(boxes)
