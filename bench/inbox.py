"""How long an inbox takes to be ready after a restart, with and without its snapshot.

Writes the case events of N past cases to a bus (Kafka with CASEYARD_BENCH_KAFKA, else an
embedded SQLite bus): each case opened, two steps, completed; one case in ten escalated to
a person who decided it. Then starts an inbox three times: cold (no snapshot: it reads the
whole log), warm (from the snapshot the cold one wrote: it reads nothing new), and warm
after M more cases (it reads only those). Prints a table and writes bench/results/inbox.json.

    python -m bench.inbox [--cases 100000] [--more 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.table import Table

from bench._report import run_info, save
from bus import Message
from caseyard.app import App, open_app
from caseyard.inbox.service import Inbox
from caseyard.settings import load_settings
from caseyard.wiring import ensure_topology
from coordinator import PipelineCatalog
from schemas import (
    CaseCompleted,
    CaseEscalated,
    CaseOpened,
    ClassifyOutput,
    DecisionAction,
    DocType,
    DocumentRef,
    Event,
    HumanDecision,
    HumanTaskOpened,
    Producer,
    StepCompleted,
    StepStarted,
)
from schemas.topology import CASE_EVENTS, HUMAN

PRODUCER = Producer(service="bench", version="1")
DOCUMENT = DocumentRef(uri="file:///bench.txt", sha256="0" * 64, size=10, media_type="text/plain")
PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"


def case_events(case: str, at: datetime, escalate: bool) -> list[tuple[str, Event]]:
    env: dict[str, Any] = {"case_id": case, "correlation_id": case, "producer": PRODUCER}
    events: list[tuple[str, Event]] = [
        (
            CASE_EVENTS.name,
            CaseOpened(
                **env, occurred_at=at, pipeline="fraud-alert", pipeline_version=1, document=DOCUMENT
            ),
        ),
    ]
    for n, step in enumerate(("classify", "score")):
        task = f"{case}/{step}/1.1"
        when = at + timedelta(seconds=n + 1)
        events.append(
            (
                CASE_EVENTS.name,
                StepStarted(
                    **env, occurred_at=when, step=step, capability=step, task_id=task, attempt=1
                ),
            )
        )
        events.append(
            (
                CASE_EVENTS.name,
                StepCompleted(**env, occurred_at=when, step=step, task_id=task, attempt=1),
            )
        )
    if escalate:
        human = f"{case}/human/1"
        evidence = {"classify": ClassifyOutput(doc_type=DocType.FRAUD_REPORT, confidence=0.9)}
        events.append(
            (
                CASE_EVENTS.name,
                HumanTaskOpened(
                    **env,
                    occurred_at=at,
                    human_task_id=human,
                    queue="fraud-analysts",
                    reason="bench",
                    document=DOCUMENT,
                    evidence=evidence,
                    sla_deadline=at + timedelta(hours=1),
                ),
            )
        )
        events.append(
            (
                CASE_EVENTS.name,
                CaseEscalated(
                    **env,
                    occurred_at=at,
                    human_task_id=human,
                    queue="fraud-analysts",
                    reason="bench",
                    step="score",
                ),
            )
        )
        events.append(
            (
                HUMAN.name,
                HumanDecision(
                    **env,
                    occurred_at=at,
                    human_task_id=human,
                    decided_by="bench",
                    action=DecisionAction.APPROVE,
                ),
            )
        )
    events.append(
        (
            CASE_EVENTS.name,
            CaseCompleted(**env, occurred_at=at + timedelta(seconds=5), outcome="responded"),
        )
    )
    return events


async def write_cases(app: App, count: int, tag: str) -> int:
    at = datetime.now(UTC)
    written = 0
    batch: list[Message] = []
    for i in range(count):
        case = f"{tag}-{i}"
        for topic, event in case_events(case, at, escalate=i % 10 == 0):
            batch.append(Message(topic, await app.codec.encode(event, topic), key=case.encode()))
        if len(batch) >= 5000:
            await app.bus.publish_batch(batch)
            written += len(batch)
            batch = []
    if batch:
        await app.bus.publish_batch(batch)
        written += len(batch)
    return written


async def start_inbox(app: App, snapshot: Path) -> dict[str, Any]:
    """Start an inbox, wait until it is ready, stop it: seconds, records read, tasks."""
    stop = anyio.Event()
    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        inbox = Inbox(app, PipelineCatalog.load(PIPELINES), snapshot=snapshot)
        tg.start_soon(inbox.run, stop)
        await inbox.ready.wait()
        ready_s = time.perf_counter() - began
        stop.set()
    return {
        "ready_s": round(ready_s, 3),
        "records_read": inbox.records_read,
        "human_tasks": len(inbox.projection.tasks()),
        "snapshot_mb": round(_size(snapshot) / 1e6, 1),
    }


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def main(cases: int, more: int, console: Console) -> dict[str, Any]:
    kafka = os.environ.get("CASEYARD_BENCH_KAFKA")
    with tempfile.TemporaryDirectory() as folder:
        url = f"kafka://{kafka}" if kafka else f"sqlite:///{folder}/bus.db"
        settings = load_settings(bus=url, data_dir=Path(folder) / "data")
        tag = f"inbox-{uuid.uuid4().hex[:6]}"
        snapshot = Path(folder) / "inbox.pickle"
        async with open_app(settings) as app:
            await ensure_topology(app.bus)
            began = time.perf_counter()
            records = await write_cases(app, cases, tag)
            console.print(
                f"wrote {cases} cases ({records} records) in {time.perf_counter() - began:.0f} s"
            )
            cold = await start_inbox(app, snapshot)
            warm = await start_inbox(app, snapshot)
            await write_cases(app, more, f"{tag}-more")
            tail = await start_inbox(app, snapshot)
    return run_info(
        bus=url.split(":")[0],
        cases=cases,
        more=more,
        records=records,
        cold=cold,
        warm=warm,
        warm_after_more=tail,
    )


def report(out: dict[str, Any], console: Console) -> None:
    table = Table("start", "ready (s)", "records read", "human tasks", "snapshot (MB)")
    table.title = f"inbox restart with {out['cases']} past cases on {out['bus']}"
    for label, key in (
        ("cold: no snapshot", "cold"),
        ("warm: its snapshot", "warm"),
        (f"warm, {out['more']} cases later", "warm_after_more"),
    ):
        row = out[key]
        table.add_row(
            label,
            f"{row['ready_s']:.2f}",
            str(row["records_read"]),
            str(row["human_tasks"]),
            str(row["snapshot_mb"]),
        )
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--more", type=int, default=1_000)
    args = parser.parse_args()
    console = Console()
    result = anyio.run(main, args.cases, args.more, console)
    report(result, console)
    save(result, "inbox", console)
