"""A coordinator and small fake agents on a real bus, for integration tests.

The agents are the real agent runtime with scripted work per capability, so these tests
exercise the whole loop: intake -> coordinator -> tasks -> agents -> results -> ...
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio

import bus
from agents.runtime import AgentService, Outcome, ProcessedStore, RetryPolicy, TaskHandler
from bus import Bus, KafkaSecurity, Middleware, Record, TopicPartition, read_to_end
from caseyard.schema_store import REGISTRY_DB, BusSchemaStore
from caseyard.wiring import ensure_topology
from coordinator import Coordinator, PipelineCatalog
from schemas import (
    AvroCodec,
    CaseSubmitted,
    ClassifyOutput,
    DecisionAction,
    DocType,
    DocumentRef,
    Event,
    ExtractedField,
    ExtractOutput,
    FieldPatch,
    FieldType,
    HumanDecision,
    HumanTaskOpened,
    MemorySchemaStore,
    ModelUsage,
    Producer,
    Registry,
    RespondOutput,
    RiskBand,
    SchemaStore,
    ScoreOutput,
    SqliteSchemaStore,
    TaskRequested,
)
from schemas.payloads import Channel
from schemas.topology import (
    CAPABILITIES,
    CASE_EVENTS,
    DEAD_LETTERS,
    HUMAN,
    INTAKE,
    tasks_topic,
)
from tests.helpers import eventually

PRODUCER = Producer(service="test", version="1")
USAGE = ModelUsage(provider="fake", model="scripted")
DOCUMENT = DocumentRef(uri="file:///tmp/doc.txt", sha256="0" * 64, size=10, media_type="text/plain")

Work = Callable[[TaskRequested], Awaitable[Outcome]]
NO_RETRIES = RetryPolicy(delays_s=())
TWO_STEPS = """
name: seq
version: 1
default: true
steps:
  - {id: classify, capability: classify}
  - {id: extract, capability: extract, after: [classify], inputs: [classify]}
"""
"""A short pipeline (`seq`) for tests about what surrounds the steps."""
REVIEWED = """
name: reviewed
version: 1
default: true
description: classify and score; a person checks every score; respond
steps:
  - {id: classify, capability: classify}
  - id: score
    capability: score
    after: [classify]
    inputs: [classify]
    escalate: [{id: always, queue: review, reason: a person checks every score}]
  - {id: respond, capability: respond, after: [score]}
"""
"""A pipeline (`reviewed`) whose every case waits for a person in queue `review`."""


def default_output(task: TaskRequested) -> Outcome:
    """A plausible output for each capability."""
    if task.capability == "classify":
        return Outcome(ClassifyOutput(doc_type=DocType.INVOICE, confidence=0.9), USAGE)
    if task.capability == "extract":
        field_ = ExtractedField(name="total", value="10 EUR", type=FieldType.MONEY, confidence=0.9)
        return Outcome(ExtractOutput(fields=(field_,)), USAGE)
    if task.capability == "score":
        return Outcome(ScoreOutput(score=0.1, band=RiskBand.LOW), USAGE)
    return Outcome(
        RespondOutput(channel=Channel.EMAIL, recipient="a@b.c", subject="ok", body="ok"), USAGE
    )


@dataclass
class Script:
    """Per capability: the calls seen and an optional override of the work."""

    calls: list[TaskRequested] = field(default_factory=list)
    work: Work | None = None

    async def __call__(self, task: TaskRequested) -> Outcome:
        self.calls.append(task)
        if self.work is not None:
            return await self.work(task)
        return default_output(task)


def submission(case_id: str, pipeline: str, *, source: str = "test") -> CaseSubmitted:
    """The submission of a new case of `pipeline` (the document is a stand-in)."""
    return CaseSubmitted(
        case_id=case_id,
        correlation_id=case_id,
        occurred_at=datetime.now(UTC),
        producer=PRODUCER,
        source=source,
        document=DOCUMENT,
        pipeline=pipeline,
    )


@dataclass
class Harness:
    bus: Bus
    codec: AvroCodec
    scripts: dict[str, Script]
    coordinator: Coordinator | None

    async def submit(self, pipeline: str, case_id: str | None = None) -> str:
        case = case_id or f"case-{uuid.uuid4().hex[:10]}"
        event = submission(case, pipeline)
        await self.bus.publish(
            INTAKE.name, await self.codec.encode(event, INTAKE.name), key=case.encode()
        )
        return case

    def calls(self, capability: str, case_id: str) -> list[TaskRequested]:
        """The tasks of `case_id` the fake agent of `capability` worked on (topics on a
        shared broker may still hold other tests' tasks)."""
        return [t for t in self.scripts[capability].calls if t.case_id == case_id]

    async def dead_letters(self) -> list[str]:
        """The reasons of every dead letter so far."""
        return [
            (record.header("dlq.reason") or b"").decode()
            for record in await self.records(DEAD_LETTERS.name)
        ]

    async def records(self, topic: str) -> list[Record]:
        tps = [TopicPartition(topic, p) for p in range(await self.bus.partitions(topic))]
        return [r async for batch in read_to_end(self.bus, tps) for r in batch]

    async def events_of(self, case_ids: set[str]) -> dict[str, list[Event]]:
        """The case events of `case_ids`, by case, in log order."""
        out: dict[str, list[Event]] = {c: [] for c in case_ids}
        for record in await self.records(CASE_EVENTS.name):
            case_id = (record.key or b"").decode()
            if case_id in out:
                out[case_id].append(await self.codec.decode(record.value))
        return out

    async def task_requests(self, case_ids: set[str]) -> list[TaskRequested]:
        """Every TaskRequested on the task topics for `case_ids` (duplicates included)."""
        out: list[TaskRequested] = []
        for capability in CAPABILITIES:
            for record in await self.records(tasks_topic(capability).name):
                if (record.key or b"").decode() in case_ids:
                    event = await self.codec.decode(record.value)
                    assert isinstance(event, TaskRequested)
                    out.append(event)
        return out

    async def events(self, case_id: str) -> list[Event]:
        return (await self.events_of({case_id}))[case_id]

    async def wait_for(self, case_id: str, *types: type[Event], timeout: float = 60) -> list[Event]:
        """The case's events once it has an event of each of `types`."""

        async def check() -> list[Event]:
            events = await self.events(case_id)
            names = {type(e) for e in events}
            assert all(t in names for t in types), (
                f"waiting for {[t.__name__ for t in types]}; have {[e.event_type for e in events]};"
                f" agent calls { ({c: len(s.calls) for c, s in self.scripts.items()}) };"
                f" coordinator {self.coordinator and self.coordinator.stats};"
                f" dead letters {await self.dead_letters()}"
            )
            return events

        return await eventually(check, timeout=timeout, interval=0.1)

    async def decide(
        self, case_id: str, action: DecisionAction, patches: tuple[FieldPatch, ...] = ()
    ) -> None:
        opened = [e for e in await self.events(case_id) if isinstance(e, HumanTaskOpened)]
        task = opened[-1]
        decision = HumanDecision(
            case_id=case_id,
            correlation_id=case_id,
            occurred_at=datetime.now(UTC),
            producer=PRODUCER,
            human_task_id=task.human_task_id,
            decided_by="tester",
            action=action,
            patches=patches,
        )
        await self.bus.publish(
            HUMAN.name, await self.codec.encode(decision, HUMAN.name), key=case_id.encode()
        )


@asynccontextmanager
async def harness(
    url: str,
    pipelines: Path,
    *,
    middleware: Sequence[Middleware] = (),
    retry: RetryPolicy = NO_RETRIES,
    cloudevents_headers: bool = False,
    capabilities: Sequence[str] = CAPABILITIES,
    registry_db: Path | None = None,
    security: KafkaSecurity | None = None,
    group_prefix: str = "",
) -> AsyncIterator[Harness]:
    """A coordinator and one fake agent per capability, running until the block ends.

    `middleware` goes to the bus (tracing, metrics); `retry` is the agents' retry topics;
    `capabilities` those with a fake agent (a real agent serves any other);
    `registry_db` a SQLite schema store to share with processes on a SQLite bus;
    `security` how the Kafka clients connect (TLS, SASL); `group_prefix` goes before
    the consumer groups' names.
    """
    catalog = PipelineCatalog.load(pipelines)
    async with _world(
        url,
        catalog,
        middleware,
        retry,
        cloudevents_headers,
        tuple(capabilities),
        registry_db,
        security,
        group_prefix,
    ) as h:
        yield h


@asynccontextmanager
async def cli_harness(tmp_path: Path, pipeline: str) -> AsyncIterator[Harness]:
    """`pipeline` (as pipelines/intake.yaml), a coordinator and fake agents on the SQLite
    bus and schema store that `caseyard` run in `tmp_path` uses (`tests.helpers`), so what
    the CLI submits there is worked on and what it reads was recorded."""
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "intake.yaml").write_text(pipeline)
    registry = tmp_path / "data" / REGISTRY_DB
    async with harness(
        f"sqlite:///{tmp_path}/bus.db", tmp_path / "pipelines", registry_db=registry
    ) as h:
        yield h


@asynccontextmanager
async def agents_only(
    url: str, *, capabilities: Sequence[str] = CAPABILITIES, registry_db: Path | None = None
) -> AsyncIterator[Harness]:
    """Fake agents only (of `capabilities`): the coordinator runs elsewhere (e.g. as a
    process)."""
    async with _world(url, None, capabilities=tuple(capabilities), registry_db=registry_db) as h:
        yield h


@asynccontextmanager
async def _world(
    url: str,
    catalog: PipelineCatalog | None,
    middleware: Sequence[Middleware] = (),
    retry: RetryPolicy = NO_RETRIES,
    cloudevents_headers: bool = False,
    capabilities: tuple[str, ...] = CAPABILITIES,
    registry_db: Path | None = None,
    security: KafkaSecurity | None = None,
    group_prefix: str = "",
) -> AsyncIterator[Harness]:
    async with (
        bus.connect(
            url,
            middleware=middleware,
            session_timeout_ms=6000,
            connect_timeout=30,
            security=security,
        ) as b,
        AsyncExitStack() as stack,
    ):
        await ensure_topology(b)
        # On Kafka the topics outlive a test: schemas must too, or old records undecodable.
        # Processes on a SQLite bus (`caseyard run`) share data_dir/registry.db.
        store: SchemaStore
        if url.startswith("kafka"):
            store = await stack.enter_async_context(BusSchemaStore(b))
        elif registry_db is not None:
            registry_db.parent.mkdir(parents=True, exist_ok=True)
            store = SqliteSchemaStore(registry_db)
        else:
            store = MemorySchemaStore()
        codec = AvroCodec(Registry(store))
        scripts = {c: Script() for c in CAPABILITIES}
        coordinator = (
            Coordinator(
                bus=b,
                codec=codec,
                catalog=catalog,
                producer=PRODUCER,
                instance=f"c-{uuid.uuid4().hex[:6]}",
                cloudevents_headers=cloudevents_headers,
                # One state per partition as an object: every other case is read back
                # from its compact form, so the tests see that the store is invisible.
                hot_states=1,
                group_prefix=group_prefix,
            )
            if catalog is not None
            else None
        )
        agents = [
            AgentService(
                name=f"fake-{capability}",
                bus=b,
                codec=codec,
                topics=[tasks_topic(capability).name],
                handler=TaskHandler(capability, scripts[capability], PRODUCER),
                store=ProcessedStore(":memory:"),
                producer=PRODUCER,
                retry=retry,
                group_prefix=group_prefix,
            )
            for capability in capabilities
        ]
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            runners: list[Coordinator | AgentService] = [*agents]
            if coordinator is not None:
                runners.append(coordinator)
            for runner in runners:
                tg.start_soon(runner.run, stop)
            with anyio.fail_after(60):
                for runner in runners:
                    await runner.ready.wait()
            yield Harness(b, codec, scripts, coordinator)
            stop.set()
