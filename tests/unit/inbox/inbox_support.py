"""Builders for the inbox tests: the events a coordinator and reviewers publish, and an
inbox running on the memory bus with a client for its pages and API."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

import anyio
import httpx

from caseyard.app import App, open_app, read_topic
from caseyard.inbox import Inbox, Role, UserStore, create_app
from caseyard.settings import load_settings
from coordinator import PipelineCatalog
from schemas import (
    CaseCompleted,
    CaseEscalated,
    CaseFailed,
    CaseOpened,
    Decision,
    DecisionAction,
    DocumentRef,
    Event,
    ExtractedField,
    ExtractOutput,
    FieldType,
    HumanDecision,
    HumanTaskClaimed,
    HumanTaskOpened,
    PolicyDecision,
    Producer,
    RiskBand,
    ScoreOutput,
    TaskOutput,
)
from schemas.topology import CASE_EVENTS, HUMAN
from tests.helpers import eventually

PIPELINES_DIR = Path(__file__).resolve().parents[3] / "pipelines"
PRODUCER = Producer(service="test", version="1")
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
DOCUMENT = DocumentRef(uri="file:///nowhere", sha256="0" * 64, size=3, media_type="text/plain")
INVOICE = b"Invoice 2024-117\nTotal due: 12.50 EUR\nPay to DE89370400440532013000\n"
PASSWORD = "correct horse battery staple"
USERS = {
    "alice": (Role.REVIEWER, ("risk-review",)),
    "bob": (Role.REVIEWER, ("fraud-analysts",)),
    "sam": (Role.SUPERVISOR, ()),
    "audrey": (Role.AUDITOR, ()),
}
EVIDENCE_FIELDS = (
    ExtractedField(name="total", value="10 EUR", type=FieldType.MONEY, confidence=0.6),
    ExtractedField(
        name="iban", value="DE89370400440532013000", type=FieldType.IBAN, confidence=0.9
    ),
)


class Envelope(TypedDict):
    case_id: str
    correlation_id: str
    occurred_at: datetime
    producer: Producer


def envelope(case_id: str, at: datetime) -> Envelope:
    return Envelope(case_id=case_id, correlation_id=case_id, occurred_at=at, producer=PRODUCER)


def task_id(case_id: str, n: int = 1) -> str:
    return f"{case_id}/human/{n}"


def escalation(
    case_id: str,
    *,
    queue: str = "risk-review",
    n: int = 1,
    at: datetime = T0,
    document: DocumentRef = DOCUMENT,
    pipeline: str = "document-intake",
    rule: str = "high-risk",
) -> list[Event]:
    """A case of the shipped document-intake pipeline whose score step went to review."""
    score = ScoreOutput(score=0.9, band=RiskBand.HIGH, reasons=("new bank account",))
    return [
        CaseOpened(
            **envelope(case_id, at), pipeline=pipeline, pipeline_version=1, document=document
        ),
        PolicyDecision(
            **envelope(case_id, at),
            rule_id=rule,
            decision=Decision.ESCALATE,
            reason="high risk score",
            step="score",
        ),
        opened(case_id, queue=queue, n=n, at=at, document=document, score=score),
        CaseEscalated(
            **envelope(case_id, at),
            human_task_id=task_id(case_id, n),
            queue=queue,
            reason="high risk score",
            step="score",
        ),
    ]


def opened(
    case_id: str,
    *,
    queue: str = "risk-review",
    n: int = 1,
    at: datetime = T0,
    document: DocumentRef | None = DOCUMENT,
    score: ScoreOutput | None = None,
    sla: timedelta = timedelta(hours=4),
) -> HumanTaskOpened:
    evidence: dict[str, TaskOutput] = {"extract": ExtractOutput(fields=EVIDENCE_FIELDS)}
    if score is not None:
        evidence["score"] = score
    return HumanTaskOpened(
        **envelope(case_id, at),
        human_task_id=task_id(case_id, n),
        queue=queue,
        reason="high risk score",
        document=document,
        evidence=evidence,
        sla_deadline=at + sla,
    )


def claimed(case_id: str, by: str, *, n: int = 1, at: datetime = T0) -> HumanTaskClaimed:
    return HumanTaskClaimed(
        **envelope(case_id, at), human_task_id=task_id(case_id, n), claimed_by=by
    )


def decided(case_id: str, by: str, *, n: int = 1, at: datetime = T0) -> HumanDecision:
    return HumanDecision(
        **envelope(case_id, at),
        human_task_id=task_id(case_id, n),
        decided_by=by,
        action=DecisionAction.APPROVE,
    )


def completed(case_id: str, at: datetime = T0) -> CaseCompleted:
    return CaseCompleted(**envelope(case_id, at), outcome="responded")


def failed(case_id: str, at: datetime = T0) -> CaseFailed:
    return CaseFailed(**envelope(case_id, at), reason="the respond step failed")


def csrf_of(page: str) -> str:
    """The CSRF token a page carries (the meta tag every page has)."""
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


@dataclass
class World:
    """An inbox on the memory bus, its users, and a way to play the coordinator."""

    app: App
    inbox: Inbox
    users: UserStore
    web: httpx.AsyncClient
    transport: httpx.ASGITransport

    async def publish(self, events: Sequence[Event]) -> None:
        """Publish events as the coordinator (case events) or a reviewer (human) would,
        then wait until the inbox has read them."""
        for event in events:
            topic = HUMAN if isinstance(event, HumanTaskClaimed | HumanDecision) else CASE_EVENTS
            data = await self.app.codec.encode(event, topic.name)
            await self.app.bus.publish(topic.name, data, key=event.case_id.encode())
        last = events[-1]

        async def read() -> None:
            case = self.inbox.projection.case(last.case_id)
            assert case is not None and any(e.event_id == last.event_id for e in case.events)

        await eventually(read)

    async def human_events(self) -> list[Event]:
        """What the inbox published to caseyard.human."""
        return [event for _, event in await read_topic(self.app, HUMAN.name)]

    async def sign_in(self, name: str, client: httpx.AsyncClient | None = None) -> str:
        """Sign `name` in on `client` (default: the world's); returns the session's CSRF token."""
        client = client or self.web
        form = await client.get("/login")
        answer = await client.post(
            "/login",
            data={"csrf": csrf_of(form.text), "name": name, "password": PASSWORD, "next": "/"},
        )
        assert answer.status_code == 303, answer.text
        return csrf_of((await client.get("/")).text)

    def client(self) -> httpx.AsyncClient:
        """Another browser: its own cookies."""
        return httpx.AsyncClient(transport=self.transport, base_url="http://testserver")


@asynccontextmanager
async def running_inbox(tmp_path: Path, users_file: Path) -> AsyncIterator[World]:
    """An inbox on a memory bus whose log starts empty, until the block ends."""
    shutil.copy(users_file, tmp_path / "users.toml")
    settings = load_settings(
        bus="memory://",
        data_dir=tmp_path / "data",
        inbox_users_file=tmp_path / "users.toml",
        pipelines_dir=PIPELINES_DIR,
    )
    async with open_app(settings) as app, anyio.create_task_group() as tg:
        inbox = Inbox(app, PipelineCatalog.load(PIPELINES_DIR))
        users = UserStore(settings.inbox_users_path)
        stop = anyio.Event()
        tg.start_soon(inbox.run, stop)
        with anyio.fail_after(10):
            await inbox.ready.wait()
        transport = httpx.ASGITransport(app=create_app(inbox, users, secret="test-secret"))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
            yield World(app, inbox, users, web, transport)
        stop.set()


def write_users(path: Path) -> Path:
    """A users file with USERS, all with PASSWORD (scrypt is slow: made once per session)."""
    store = UserStore(path)
    for name, (role, queues) in USERS.items():
        store.add_user(name, role, queues, PASSWORD)
    return path
