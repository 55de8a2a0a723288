"""The inbox in a real headless Chromium: a real coordinator and small fake agents escalate
a case; reviewers sign in, see it in their queue, claim it, correct a field and approve;
the case is re-scored with the correction and completes. Also 401 (not signed in) and 403
(a reviewer of another queue, an auditor trying to decide).

Chromium is Debian's (/usr/bin/chromium), never downloaded: without it the test skips,
unless CASEYARD_REQUIRE_TOOLS=1 (set by `make test`) makes that a failure.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from playwright.async_api import BrowserContext, Page, async_playwright, expect

from agents.runtime import AgentService, Outcome, ProcessedStore, RetryPolicy, TaskHandler
from caseyard.app import App, open_app, submit
from caseyard.inbox import Role, UserStore, serve_inbox
from caseyard.settings import load_settings
from coordinator import Coordinator, PipelineCatalog
from schemas import (
    ExtractedField,
    ExtractOutput,
    FieldType,
    RiskBand,
    ScoreOutput,
    Span,
    TaskRequested,
)
from schemas.topology import CAPABILITIES, tasks_topic
from tests.helpers import eventually
from tests.integration.coordinator_harness import PRODUCER, USAGE, Script

pytestmark = pytest.mark.anyio

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
"""Where the tests leave pictures of the pages (the README links them)."""
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser test password"
CORRECTED_TOTAL = "12.50 EUR"  # the fake extractor reads "10 EUR"
PIPELINE = """
name: review
version: 1
steps:
  - {id: extract, capability: extract}
  - id: score
    capability: score
    after: [extract]
    inputs: [extract]
    escalate:
      - id: high-risk
        when: steps.score.band == 'high'
        queue: risk-review
        reason: high risk score
        sla: 1h
        evidence: [extract, score]
        on_edit: {patch: extract, loop_to: score, max_loops: 1}
  - id: respond
    capability: respond
    after: [score]
    inputs: [extract, score]
"""
INVOICE = "Invoice 2024-117\nTotal due: 12.50 EUR\nPay to DE89370400440532013000\n"


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CASEYARD_REQUIRE_TOOLS") == "1":
            pytest.fail(f"CASEYARD_REQUIRE_TOOLS=1 but there is no {CHROMIUM}")
        pytest.skip(f"no {CHROMIUM}: the browser tests need Debian's chromium")
    return CHROMIUM


async def score(task: TaskRequested) -> Outcome:
    """High risk until a person corrected the total the extractor misread."""
    extract = task.input.prior.get("extract")
    fields = extract.fields if isinstance(extract, ExtractOutput) else ()
    if any(f.name == "total" and f.value == CORRECTED_TOTAL for f in fields):
        return Outcome(ScoreOutput(score=0.1, band=RiskBand.LOW), USAGE)
    return Outcome(ScoreOutput(score=0.9, band=RiskBand.HIGH, reasons=("total unreadable",)), USAGE)


@dataclass
class World:
    app: App
    url: str
    scripts: dict[str, Script]


@asynccontextmanager
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """Coordinator, fake agents and the inbox on one memory bus, until the block ends."""
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "review.yaml").write_text(PIPELINE)
    settings = load_settings(
        bus="memory://",
        data_dir=tmp_path / "data",
        pipelines_dir=tmp_path / "pipelines",
        inbox_users_file=tmp_path / "users.toml",
    )
    users = UserStore(settings.inbox_users_path)
    users.add_user("alice", Role.REVIEWER, ("risk-review",), PASSWORD)
    users.add_user("bob", Role.REVIEWER, ("fraud-analysts",), PASSWORD)
    users.add_user("audrey", Role.AUDITOR, (), PASSWORD)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    scripts = {c: Script(work=score if c == "score" else None) for c in CAPABILITIES}
    stop, inbox_started = anyio.Event(), anyio.Event()
    async with open_app(settings) as app, anyio.create_task_group() as tg:
        runners: list[Coordinator | AgentService] = [
            Coordinator(
                bus=app.bus,
                codec=app.codec,
                catalog=PipelineCatalog.load(settings.pipelines_dir),
                producer=app.producer("coordinator"),
            ),
            *(
                AgentService(
                    name=f"fake-{capability}",
                    bus=app.bus,
                    codec=app.codec,
                    topics=[tasks_topic(capability).name],
                    handler=TaskHandler(capability, scripts[capability], PRODUCER),
                    store=ProcessedStore(":memory:"),
                    producer=PRODUCER,
                    retry=RetryPolicy(delays_s=()),
                )
                for capability in CAPABILITIES
            ),
        ]
        for runner in runners:
            tg.start_soon(runner.run, stop)
        tg.start_soon(serve_inbox, app, "127.0.0.1", port, stop, inbox_started)
        with anyio.fail_after(60):
            for runner in runners:
                await runner.ready.wait()
            await inbox_started.wait()
        yield World(app, f"http://127.0.0.1:{port}", scripts)
        stop.set()


@asynccontextmanager
async def browser(chromium: Path, profile: Path) -> AsyncIterator[BrowserContext]:
    """Headless Chromium with a fresh profile; closed (with its driver) when done."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        try:
            # Generous: the machine may be busy; every wait ends as soon as it is met.
            context.set_default_timeout(20_000)
            expect.set_options(timeout=20_000)
            yield context
        finally:
            await context.close()


async def sign_in(page: Page, url: str, name: str) -> None:
    await page.goto(f"{url}/login")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_text(f"{name} (")).to_be_visible()


async def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


async def sign_out(page: Page) -> None:
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_a_reviewer_corrects_a_field_and_the_case_completes(
    tmp_path: Path, chromium: Path
) -> None:
    invoice = tmp_path / "invoice.txt"
    invoice.write_text(INVOICE)
    async with world(tmp_path) as w, browser(chromium, tmp_path / "profile") as context:
        case_id = (await submit(w.app, invoice, pipeline="review")).case_id
        task_url = f"{w.url}/tasks/{case_id}/human/1"
        page = await context.new_page()

        # Not signed in: 401 and the sign-in form.
        answer = await page.goto(w.url)
        assert answer is not None and answer.status == 401
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

        # A reviewer of another queue: 403 once the task exists (404 before).
        await sign_in(page, w.url, "bob")

        async def forbidden_to_bob() -> None:
            answer = await page.goto(task_url)
            assert answer is not None and answer.status == 403, answer and answer.status

        await eventually(forbidden_to_bob, timeout=60, interval=0.2)
        await expect(page.get_by_role("alert")).to_contain_text("does not work the queue")
        await sign_out(page)

        # An auditor sees the task but may not decide it.
        await sign_in(page, w.url, "audrey")
        answer = await page.goto(task_url)
        assert answer is not None and answer.status == 200
        await expect(page.get_by_role("button", name="Claim")).to_have_count(0)
        csrf = await page.locator('meta[name="csrf-token"]').get_attribute("content")
        refused = await page.request.post(
            f"{w.url}/api/tasks/{case_id}/human/1/decision",
            headers={"X-CSRF-Token": csrf or ""},
            data={"action": "approve"},
        )
        assert refused.status == 403, await refused.text()
        await sign_out(page)

        # The reviewer of the queue: sees it, claims it, corrects the total, approves.
        await sign_in(page, w.url, "alice")
        # The list, filtered to high risk and sorted by it, from the filter form.
        await page.get_by_label("Risk").select_option("high")
        await page.get_by_label("Sort").select_option("risk")
        await page.get_by_role("button", name="Show").click()
        row = page.locator(f'#tasks tr[data-task="{case_id}/human/1"]')
        await expect(row.get_by_text("left")).to_be_visible()  # the SLA countdown
        await expect(row).to_contain_text("high")
        await shoot(page, "task-list.png")
        await row.get_by_role("link", name=case_id).click()
        await expect(page.locator("pre.document")).to_contain_text("Invoice 2024-117")
        await expect(page.locator("ul.reasons")).to_contain_text("total unreadable")
        await shoot(page, "task.png")
        await page.keyboard.press("c")  # claim, from the keyboard
        await expect(page.locator("#claimed-by")).to_have_text("alice")
        await page.get_by_label("total").fill(CORRECTED_TOTAL)
        await page.get_by_role("button", name="Save edits and approve").click()
        # No other task in the view: back to the list it came from, now empty.
        await expect(page.get_by_text("No task matches.")).to_be_visible()
        assert "band=high" in page.url and "sort=risk" in page.url
        await page.goto(f"{w.url}/tasks/{case_id}/human/1")
        await expect(page.locator("#task-status")).to_have_text("decided")
        await expect(page.locator("#decision")).to_contain_text(f"total → {CORRECTED_TOTAL}")

        # The coordinator re-scores with the correction, responds and completes the case.
        async def completed() -> None:
            await page.reload()
            assert (await page.locator("#case-status").inner_text()).startswith("completed")

        await eventually(completed, timeout=60, interval=0.2)
        await expect(page.locator("#timeline")).to_contain_text("CaseCompleted")
        rescored = [t for t in w.scripts["score"].calls if t.case_id == case_id][-1]
        extract = rescored.input.prior["extract"]
        assert isinstance(extract, ExtractOutput)
        assert {f.name: f.value for f in extract.fields}["total"] == CORRECTED_TOTAL

        # And the list is empty again.
        await page.goto(w.url)
        await expect(page.get_by_text("Nothing is waiting for a person.")).to_be_visible()


def invoice_pdf(number: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text=f"Invoice 2024-{number}")
    pdf.ln(10)
    pdf.cell(text="Total due: 12.50 EUR")
    return bytes(pdf.output())


PDF_TEXT = "Invoice 2024-201\nTotal due: 12.50 EUR"
"""What the inbox reads from `invoice_pdf` (the numbers have the same length)."""


async def read_total(task: TaskRequested) -> Outcome:
    """The extractor reads the total where the PDF prints it."""
    at = PDF_TEXT.index("12.50 EUR")
    found = ExtractedField(
        name="total",
        value="12.50 EUR",
        type=FieldType.MONEY,
        span=Span(start=at, end=at + len("12.50 EUR")),
        confidence=0.4,
    )
    return Outcome(ExtractOutput(fields=(found,)), USAGE)


async def always_high(task: TaskRequested) -> Outcome:
    return Outcome(ScoreOutput(score=0.95, band=RiskBand.HIGH, reasons=("new payee",)), USAGE)


async def test_a_reviewer_checks_a_pdf_invoice_on_its_page_and_goes_on_to_the_next(
    tmp_path: Path, chromium: Path
) -> None:
    paths = []
    for number in (201, 202):
        path = tmp_path / f"invoice-{number}.pdf"
        path.write_bytes(invoice_pdf(number))
        paths.append(path)
    async with world(tmp_path) as w, browser(chromium, tmp_path / "profile") as context:
        w.scripts["extract"].work = read_total
        w.scripts["score"].work = always_high
        cases = [(await submit(w.app, p, pipeline="review")).case_id for p in paths]
        page = await context.new_page()
        await sign_in(page, w.url, "alice")
        view = f"{w.url}/?band=high&sort=risk"  # this pipeline has no classify step

        async def both_listed() -> None:
            await page.goto(view)
            await expect(page.locator("#tasks tr[data-task]")).to_have_count(2, timeout=1000)

        await eventually(both_listed, timeout=60, interval=0.2)
        await page.locator("#tasks tr[data-task] a").first.click()
        first = next(c for c in cases if c in page.url)
        # The page as printed, rendered server-side, and the total marked in the text.
        image = page.locator("img.page").first
        await expect(image).to_be_visible()
        # Visible is not loaded: decode() waits for the picture (rejects if it is broken).
        assert await image.evaluate("img => img.decode().then(() => img.naturalWidth > 0)")
        await expect(page.locator('mark[data-field="total"]')).to_have_text("12.50 EUR")
        await shoot(page, "task-pdf.png")
        await page.keyboard.press("c")
        await expect(page.locator("#claimed-by")).to_have_text("alice")
        await page.get_by_label("total").fill("12.05 EUR")
        await page.get_by_role("button", name="Save edits and approve").click()
        # The next task of the same view opens.
        other = next(c for c in cases if c != first)
        await expect(page).to_have_url(re.compile(re.escape(other)))
        await expect(page.locator('mark[data-field="total"]')).to_have_text("12.50 EUR")
        assert "band=high" in page.url


async def test_on_a_scanned_invoice_the_total_is_boxed_where_it_was_read(
    tmp_path: Path, chromium: Path
) -> None:
    from agents.documents import read_text
    from tests.unit.agents.test_agents_ocr import scan  # skips without Tesseract

    png = scan("Invoice 2024-301\nTotal due: 12.50 EUR")
    (tmp_path / "scan.png").write_bytes(png)
    text = read_text(png, "image/png")  # what the agents and the inbox read (OCR)
    at = text.index("12.50 EUR")

    async def read_scanned_total(task: TaskRequested) -> Outcome:
        found = ExtractedField(
            name="total",
            value="12.50 EUR",
            type=FieldType.MONEY,
            span=Span(start=at, end=at + len("12.50 EUR")),
            confidence=0.4,
        )
        return Outcome(ExtractOutput(fields=(found,)), USAGE)

    async with world(tmp_path) as w, browser(chromium, tmp_path / "profile") as context:
        w.scripts["extract"].work = read_scanned_total
        w.scripts["score"].work = always_high
        case = (await submit(w.app, tmp_path / "scan.png", pipeline="review")).case_id
        page = await context.new_page()
        await sign_in(page, w.url, "alice")

        async def listed() -> None:
            await page.goto(f"{w.url}/?band=high")
            await expect(page.locator(f'#tasks tr[data-task*="{case}"]')).to_have_count(
                1, timeout=1000
            )

        await eventually(listed, timeout=60, interval=0.2)
        await page.locator(f'#tasks tr[data-task*="{case}"] a').first.click()
        image = page.locator(".page-frame img.page")
        await expect(image).to_be_visible()
        # One box per word of the total ("12.50", "EUR"), over the image where they are.
        boxes = page.locator('svg.ocr-boxes rect[data-field="total"]')
        await expect(boxes).to_have_count(2)
        frame = await image.bounding_box()
        first = await boxes.first.bounding_box()
        assert frame is not None and first is not None
        assert frame["x"] < first["x"] < frame["x"] + frame["width"]
        assert frame["y"] + frame["height"] / 2 < first["y"] < frame["y"] + frame["height"]
        await expect(page.locator('mark[data-field="total"]')).to_have_text("12.50 EUR")
        await shoot(page, "task-scan.png")


async def test_the_overview_draws_the_last_hour_for_auditors_only(
    tmp_path: Path, chromium: Path
) -> None:
    invoice = tmp_path / "invoice.txt"
    invoice.write_text(INVOICE)
    async with world(tmp_path) as w, browser(chromium, tmp_path / "profile") as context:
        await submit(w.app, invoice, pipeline="review")
        page = await context.new_page()
        await sign_in(page, w.url, "alice")
        answer = await page.goto(f"{w.url}/overview")
        assert answer is not None and answer.status == 403  # reviewers work their queues
        await expect(page.get_by_role("link", name="Overview")).to_have_count(0)
        await sign_out(page)

        await sign_in(page, w.url, "audrey")

        async def escalated() -> None:
            await page.goto(f"{w.url}/overview")
            await expect(page.locator("#tasks svg rect")).to_have_count(1, timeout=1000)

        await eventually(escalated, timeout=60, interval=0.2)
        await expect(
            page.get_by_role("heading", name="Overview: the last 60 minutes")
        ).to_be_visible()
        await expect(page.locator("#cases svg")).to_contain_text("review: opened")
        await expect(page.locator("#cases svg")).to_contain_text("review: escalated")
        await expect(page.locator("#tasks svg")).to_contain_text("risk-review")
        assert await page.locator("#latency svg rect").count() >= 2  # extract and score
        await expect(page.locator("#models svg")).to_contain_text("fake/scripted")
        await expect(page.locator("#latency table")).to_contain_text("score")
        await shoot(page, "overview.png")
        await page.get_by_role("link", name="Overview").click()
        assert page.url.endswith("/overview")


async def test_a_copied_session_cookie_is_worthless_once_its_user_signs_out(
    tmp_path: Path, chromium: Path
) -> None:
    async with world(tmp_path) as w, browser(chromium, tmp_path / "profile") as context:
        page = await context.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        await sign_in(page, w.url, "alice")
        copied = await context.cookies()
        assert any(c["name"] == "caseyard_inbox" for c in copied)
        # The page's own script and styles run under the policy (a nonce per answer).
        assert violations == []
        await sign_out(page)

        # Someone who kept a copy of the cookie presents it after the sign-out.
        async with browser(chromium, tmp_path / "profile-2") as other:
            await other.add_cookies(copied)  # type: ignore[arg-type]
            thief = await other.new_page()
            answer = await thief.goto(w.url)
            assert answer is not None and answer.status == 401
            await expect(thief.get_by_role("heading", name="Sign in")).to_be_visible()
