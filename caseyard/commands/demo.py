"""`caseyard demo`: the whole pipeline on the embedded bus over examples/documents."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich import box
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from caseyard.app import MEDIA_TYPES, App, case_events, open_app, read_topic, submit
from caseyard.cases import Outcome, by_case, chain_of, outcome_of
from caseyard.commands._run import run
from caseyard.errors import ConfigError
from schemas import (
    ClassifyOutput,
    DecisionAction,
    ExtractOutput,
    HumanDecision,
    HumanTaskOpened,
    ScoreOutput,
    TaskCompleted,
)
from schemas.topology import HUMAN, RESULTS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "documents"
KEY_FIELDS = ("total_amount", "total", "amount", "iban", "invoice_number", "due_date")


async def approve_escalated(app: App, case_ids: set[str], decided: set[str]) -> int:
    """Approve every open human task of `case_ids` not decided yet (the --auto-approve path)."""
    count = 0
    for event in await case_events(app):
        if (
            isinstance(event, HumanTaskOpened)
            and event.case_id in case_ids
            and event.human_task_id not in decided
        ):
            decision = HumanDecision(
                case_id=event.case_id,
                correlation_id=event.correlation_id,
                causation_id=event.event_id,
                occurred_at=datetime.now(UTC),
                producer=app.producer("demo"),
                human_task_id=event.human_task_id,
                decided_by="demo --auto-approve",
                action=DecisionAction.APPROVE,
            )
            await app.bus.publish(
                HUMAN.name, await app.codec.encode(decision, HUMAN.name), key=event.case_id.encode()
            )
            decided.add(event.human_task_id)
            count += 1
    return count


def summarize(results: list[TaskCompleted]) -> tuple[str, str, str]:
    """(document type, key fields, risk) from a case's task results."""
    doc_type, fields, risk = "", "", ""
    for result in results:
        output = result.output
        if isinstance(output, ClassifyOutput):
            doc_type = output.doc_type.value
        elif isinstance(output, ExtractOutput):
            first: dict[str, str] = {}
            for f in output.fields:
                first.setdefault(f.name, f.normalized or f.value)
            picked = [name for name in KEY_FIELDS if name in first][:2]
            fields = ", ".join(first[name] for name in picked)
        elif isinstance(output, ScoreOutput):
            risk = f"{output.band.value} {output.score:.2f}"
    return doc_type, fields, risk


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        documents: Annotated[Path, typer.Option(help="Folder of documents to submit.")] = EXAMPLES,
        auto_approve: Annotated[
            bool, typer.Option("--auto-approve", help="Approve cases escalated to a human.")
        ] = False,
        timeout: Annotated[float, typer.Option(help="Seconds to wait for the cases.")] = 300.0,
    ) -> None:
        """Run the whole pipeline in this process on the embedded bus over example documents.

        Example: caseyard demo --auto-approve
        """
        from caseyard.cli import console, settings
        from caseyard.services import BUILT_IN_AGENTS, run_services

        paths = sorted(p for p in documents.glob("*") if p.suffix.lower() in MEDIA_TYPES)
        if not paths:
            raise ConfigError(f"no documents ({', '.join(sorted(MEDIA_TYPES))}) in {documents}")

        from caseyard.inbox import ensure_demo_user

        password = ensure_demo_user(settings())

        async def body() -> None:
            stop, started = anyio.Event(), anyio.Event()
            async with open_app(settings()) as app, anyio.create_task_group() as tg:
                names = ["coordinator", *BUILT_IN_AGENTS]
                tg.start_soon(lambda: run_services(app, names, stop, started=started))
                with anyio.fail_after(120):
                    await started.wait()
                began = time.monotonic()
                submitted: dict[str, Path] = {}
                decided: set[str] = set()
                with Progress(console=console) as progress:
                    sent = progress.add_task("submitting", total=len(paths))
                    for path in paths:
                        submitted[(await submit(app, path, source="demo")).case_id] = path
                        progress.advance(sent)
                    done = progress.add_task("cases decided", total=len(paths))
                    statuses: dict[str, Outcome] = {}
                    chains: dict[str, list[str]] = {}
                    with anyio.move_on_after(timeout):
                        while True:
                            cases = by_case(await case_events(app))
                            # A case handed to another pipeline goes on as another case.
                            chains = {c: chain_of(cases, c) for c in submitted}
                            statuses = {c: outcome_of(cases, c) for c in submitted}
                            if auto_approve:
                                every = {c for chain in chains.values() for c in chain}
                                await approve_escalated(app, every, decided)
                            waiting = {"open"} | ({"escalated"} if auto_approve else set())
                            settled = sum(o.status not in waiting for o in statuses.values())
                            progress.update(done, completed=settled)
                            if settled == len(submitted):
                                break
                            await anyio.sleep(0.25)
                elapsed = time.monotonic() - began
                results: dict[str, list[TaskCompleted]] = {}
                first_of = {c: origin for origin, chain in chains.items() for c in chain}
                for _, event in await read_topic(app, RESULTS.name):
                    if isinstance(event, TaskCompleted) and event.case_id in first_of:
                        results.setdefault(first_of[event.case_id], []).append(event)
                opened = {c: es[0].occurred_at for c, es in by_case(await case_events(app)).items()}
                stop.set()

            table = Table(
                title=f"{len(submitted)} cases in {elapsed:.1f}s on {settings().bus}",
                box=box.SIMPLE_HEAD,
            )
            widths = {"document": 26, "type": 16, "key fields": 24}
            for column in ("case", "document", "type", "key fields", "risk", "outcome", "time"):
                # One line per case: long cells are cut short instead of wrapping.
                table.add_column(
                    column, no_wrap=True, overflow="ellipsis", max_width=widths.get(column)
                )
            for case_id, path in submitted.items():
                doc_type, fields, risk = summarize(results.get(case_id, []))
                last = max((r.occurred_at for r in results.get(case_id, [])), default=None)
                took = (
                    f"{(last - opened[case_id]).total_seconds():.2f}s"
                    if last is not None and case_id in opened
                    else ""
                )
                outcome = statuses.get(case_id, Outcome("open"))
                shown = (
                    f"{outcome.status} in {outcome.pipeline}" if outcome.case_id else str(outcome)
                )
                table.add_row(case_id, path.name, doc_type, fields, risk, shown, took)
            # At least 132 columns: one full line per case even in a narrow terminal or a log.
            Console(width=max(console.width, 132)).print(table)
            counts: dict[str, int] = {}
            for outcome in statuses.values():
                counts[outcome.status] = counts.get(outcome.status, 0) + 1
            console.print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
            first = next(iter(submitted))
            console.print(
                f"next: caseyard case {first}   (its timeline)   ·   "
                "caseyard cases --status escalated   ·   caseyard audit verify"
            )
            if counts.get("escalated"):
                conf = settings()
                login = (
                    f"user demo, password {password}"
                    if password
                    else f"users in {conf.inbox_users_path}"
                )
                url = f"http://{conf.inbox_host}:{conf.inbox_port}"
                console.print(
                    f"inbox: caseyard up, then {url} ({login}) to decide the escalated cases; "
                    "or caseyard demo --auto-approve"
                )

        run(body)
