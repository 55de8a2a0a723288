"""`caseyard submit`, `caseyard cases`, `caseyard case ID`: put cases in, look at them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich.progress import Progress
from rich.table import Table

from caseyard.app import App, case_events, open_app, quarantined_cases, step_outputs, submit
from caseyard.cases import (
    Outcome,
    by_case,
    describe,
    outcome_of,
    status_of,
    summarize_output,
)
from caseyard.commands._run import run
from caseyard.errors import CasesFailed, ConfigError
from coordinator import PipelineCatalog, PipelineError
from schemas import CaseOpened


async def wait_for_outcomes(app: App, case_ids: list[str], timeout: float) -> dict[str, Outcome]:
    """Poll the case-events log until every case completed, failed or escalated (a case
    handed off to another pipeline: the case it went on as)."""
    outcomes: dict[str, Outcome] = {}
    with anyio.move_on_after(timeout):
        while True:
            cases = by_case(await case_events(app))
            outcomes = {c: outcome_of(cases, c) for c in case_ids}
            if all(o.status != "open" for o in outcomes.values()):
                break
            await anyio.sleep(0.2)
    return outcomes


STATUSES = ("open", "escalated", "completed", "handed-off", "failed", "quarantined")
"""What `caseyard cases` says a case is (see `caseyard.cases.status_of`)."""


def check_pipeline(requested: str, directory: Path) -> None:
    """Refuse a pipeline the local catalog does not have (the coordinator would only
    dead-letter the case); a catalog that is not here (the coordinator runs elsewhere)
    cannot say, and the case goes."""
    try:
        catalog = PipelineCatalog.load(directory)
    except PipelineError:
        return
    if catalog.select(requested) is None:
        there = ", ".join(f"{p.name}@{p.version}" for p in catalog)
        raise ConfigError(f"no pipeline {requested!r} in {directory} (there: {there})")


def register(app: typer.Typer) -> None:
    @app.command("submit")
    def submit_command(
        paths: Annotated[
            list[Path],
            typer.Argument(
                help="Documents (.txt .eml .msg .html .pdf .docx .odt .xlsx .ods .xml, images)."
            ),
        ],
        wait: Annotated[bool, typer.Option("--wait", help="Wait for each case's outcome.")] = False,
        timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most.")] = 120.0,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        pipeline: Annotated[str | None, typer.Option(help="Pipeline to run.")] = None,
    ) -> None:
        """Submit documents; each becomes a case.

        Example: caseyard submit examples/documents/*.eml --wait
        """
        from caseyard.cli import console, print_json, settings

        for path in paths:
            if path.is_dir():
                raise ConfigError(f"{path} is a directory: submit the files in it ({path}/*)")
            if not path.is_file():
                raise ConfigError(f"{path}: no such file")
        config = settings()
        if pipeline is not None:
            check_pipeline(pipeline, config.pipelines_dir)

        async def body() -> None:
            async with open_app(config) as app:
                submitted = []
                with Progress(console=console, transient=True, disable=as_json) as progress:
                    task = progress.add_task("submitting", total=len(paths))
                    for path in paths:
                        event = await submit(app, path, pipeline=pipeline)
                        submitted.append((path, event.case_id))
                        progress.advance(task)
                statuses = (
                    await wait_for_outcomes(app, [c for _, c in submitted], timeout) if wait else {}
                )
            rows: list[dict[str, str]] = []
            for p, c in submitted:
                outcome = statuses.get(c, Outcome("submitted"))
                row = {"case": c, "document": str(p), "status": outcome.status}
                if outcome.case_id:
                    row |= {"handed_off_to": outcome.case_id, "pipeline": outcome.pipeline}
                rows.append(row)
            if as_json:
                print_json(rows)
            else:
                table = Table("case", "document", "status")
                for p, c in submitted:
                    table.add_row(c, str(p), str(statuses.get(c, Outcome("submitted"))))
                console.print(table)
            bad = [r for r in rows if r["status"] in ("failed", "open")]
            if wait and bad:
                failed = sum(r["status"] == "failed" for r in bad)
                raise CasesFailed(
                    f"{failed} of {len(rows)} case(s) failed and {len(bad) - failed} did not "
                    f"finish within --timeout {timeout:g} s"
                )

        run(body)

    @app.command("cases")
    def cases_command(
        status: Annotated[str | None, typer.Option(help="Only cases with this status.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """List cases and their status, from the case-events log (quarantined: the
        coordinator cannot read the case's state record).

        Example: caseyard cases --status escalated
        """
        from caseyard.cli import console, existing_settings, print_json

        if status is not None and status not in STATUSES:
            raise ConfigError(f"--status {status!r}: use one of {', '.join(STATUSES)}")

        async def body() -> None:
            async with open_app(existing_settings()) as app:
                cases = by_case(await case_events(app))
                quarantined = await quarantined_cases(app)
            rows = []
            for case_id, events in cases.items():
                opened = next((e for e in events if isinstance(e, CaseOpened)), None)
                rows.append(
                    {
                        "case": case_id,
                        "status": "quarantined" if case_id in quarantined else status_of(events),
                        "pipeline": opened.pipeline if opened else "",
                        "opened": events[0].occurred_at.isoformat(timespec="seconds"),
                        "events": len(events),
                    }
                )
            if status:
                rows = [r for r in rows if r["status"] == status]
            if as_json:
                print_json(rows)
                return
            table = Table("case", "status", "pipeline", "opened (UTC)", "events")
            for r in rows:
                # The time to the minute: the full ISO time (in --json) would be elided at
                # 80 columns, which hides the time and keeps the date.
                when = str(r["opened"])[:16].replace("T", " ")
                table.add_row(
                    str(r["case"]), str(r["status"]), str(r["pipeline"]), when, str(r["events"])
                )
            console.print(table)

        run(body)

    @app.command("case")
    def case_command(
        case_id: Annotated[str, typer.Argument(help="The case id.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Show a case's timeline (every event with time, actor, decision and reason) and
        what its steps' agents returned (corrections people made are in the timeline).

        Example: caseyard case case-0192f3a8c2d1
        """
        from caseyard.cli import console, existing_settings, print_json

        async def body() -> None:
            async with open_app(existing_settings()) as app:
                events = await case_events(app, case_id)
                quarantined = (await quarantined_cases(app, case_id)).get(case_id)
                outputs = await step_outputs(app, case_id)
            if not events:
                raise ConfigError(f"no case {case_id!r} in the case-events log")
            if as_json:
                document = {
                    "case": case_id,
                    "status": status_of(events),
                    "quarantined": quarantined,
                    "outputs": {step: o.model_dump(mode="json") for step, o in outputs.items()},
                    "events": [{"type": e.event_type, **e.model_dump(mode="json")} for e in events],
                }
                print_json(document)
                return
            table = Table("time", "actor", "event", "decision", "reason", title=case_id)
            for e in events:
                decision, reason = describe(e)
                table.add_row(
                    e.occurred_at.isoformat(timespec="milliseconds"),
                    e.producer.service,
                    e.event_type,
                    decision,
                    reason,
                )
            console.print(table)
            if outputs:
                steps = Table("step", "output", title="what the agents returned")
                for step, output in outputs.items():
                    steps.add_row(step, summarize_output(output))
                console.print(steps)
            console.print(f"status: {status_of(events)}")
            if quarantined is not None:
                console.print(
                    f"quarantined: {quarantined}; its inputs go to the dead-letter topic until "
                    "a good state record or a tombstone replaces it (caseyard repair "
                    f"{case_id}) and the coordinator restores the partition (restart it); "
                    "then redrive them",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )

        run(body)

    @app.command("repair")
    def repair_command(
        case_id: Annotated[str, typer.Argument(help="The quarantined case.")],
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Rebuild and check, write nothing.")
        ] = False,
        drop: Annotated[
            bool,
            typer.Option("--drop", help="Give the case up instead: write a tombstone."),
        ] = False,
    ) -> None:
        """Rebuild a quarantined case's saga state from the log and write it to the
        changelog: the case's applied inputs replayed through the coordinator's transition
        and checked against its recorded case events (nothing is written if they differ).
        Then restart the coordinator (it restores the partition) and redrive the case's
        dead letters.

        Example: caseyard repair case-0192f3a8c2d1
        """
        from caseyard.cli import console, settings
        from caseyard.commands.replay import Start, read_case_log
        from caseyard.repair import drop_case, repair_case

        config = settings()

        async def body() -> None:
            catalog = PipelineCatalog.load(config.pipelines_dir)
            async with open_app(config) as app:
                if drop:
                    why = await drop_case(app, case_id)
                    console.print(
                        f"dropped {case_id} (it was quarantined: {why}): a tombstone is in "
                        "the changelog; the coordinator forgets the case at its next restore",
                        markup=False,
                        highlight=False,
                        soft_wrap=True,
                    )
                    return
                with Progress(console=console, transient=True) as progress:
                    task = progress.add_task("reading the log", total=0)
                    log = await read_case_log(app, Start(), case_id, progress, task)
                done = await repair_case(
                    app, catalog, log.inputs, log.outputs, case_id, dry_run=dry_run
                )
            verb = "rebuilt" if dry_run else "repaired"
            console.print(
                f"{verb} {case_id} (quarantined: {done.why}): {done.status} after "
                f"{done.applied} applied input(s); {done.left_out} dead-lettered input(s) "
                "left out"
                + (
                    ": nothing written (--dry-run)"
                    if dry_run
                    else ". Restart the coordinator to restore it, then redrive its dead "
                    "letters (caseyard dlq list, caseyard dlq redrive ID)"
                ),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

        run(body)
