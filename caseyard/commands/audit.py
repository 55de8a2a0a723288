"""`caseyard audit verify|export`: prove the case event log is intact; export one case's
audit report (`caseyard.audit_report`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from bus import Record
from caseyard.app import App, decode_records, read_records
from caseyard.audit_report import ReportFormat, build_report, render
from caseyard.commands._run import run
from coordinator import Break, Link, verify_chain
from schemas import CaseEvent, DecodeError, Event
from schemas.topology import CASE_EVENTS, HUMAN, INTAKE, RESULTS


def chains(
    decoded: Sequence[tuple[Record, Event]], broken: Sequence[tuple[Record, DecodeError]]
) -> tuple[dict[str, list[Link]], list[Break]]:
    """Each case's case events in log order, and a break for each record that does not
    decode, from the records of the case-events topic."""
    cases: dict[str, list[Link]] = {}
    for record, event in decoded:
        if isinstance(event, CaseEvent):
            cases.setdefault(event.case_id, []).append(Link(_where(record), event))
    breaks = [
        Break(
            (r.key or b"").decode(errors="replace"),
            _where(r),
            f"does not decode (changed): {exc}",
        )
        for r, exc in broken
    ]
    return cases, breaks


async def read_decoded(
    app: App, topic: str, case_id: str | None
) -> tuple[list[tuple[Record, Event]], list[tuple[Record, DecodeError]]]:
    return await decode_records(app, await read_records(app, topic, case_id=case_id))


def _where(record: Record) -> str:
    return f"{record.topic}/{record.partition}/{record.offset}"


def register(app: typer.Typer) -> None:
    audit = typer.Typer(help="Audit the case event log.", no_args_is_help=True)
    app.add_typer(audit, name="audit")

    @audit.command("verify")
    def verify(
        case_id: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
    ) -> None:
        """Check each case's hash chain; name every changed, removed or reordered record.

        Example: caseyard audit verify --case case-0192f3a8c2d1
        """
        from caseyard.app import open_app
        from caseyard.cli import console, settings
        from caseyard.errors import AuditFailed

        async def body() -> None:
            async with open_app(settings()) as app:
                cases, breaks = chains(*await read_decoded(app, CASE_EVENTS.name, case_id))
            breaks += [b for c, links in cases.items() for b in verify_chain(c, links)]
            for problem in breaks:
                console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
            checked = sum(len(links) for links in cases.values())
            if breaks:
                raise AuditFailed(
                    f"{len(breaks)} break(s) in the hash chains of "
                    f"{len({b.case_id for b in breaks})} case(s) ({checked} records checked)"
                )
            console.print(f"intact: {checked} records of {len(cases)} case(s)")

        run(body)

    @audit.command("export")
    def export(
        case_id: Annotated[str, typer.Option("--case", help="The case to report on.")],
        fmt: Annotated[
            ReportFormat, typer.Option("--format", help="json, or html (one self-contained file).")
        ] = ReportFormat.HTML,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
        ] = None,
    ) -> None:
        """Export one case's audit report: timeline, policy and human decisions, models used
        and their cost, and whether its hash chain verifies.

        Example: caseyard audit export --case case-0192f3a8c2d1 --format html -o case.html
        """
        from caseyard.app import open_app
        from caseyard.cli import console, settings
        from caseyard.errors import ConfigError

        async def body() -> None:
            records: list[tuple[str, Event]] = []
            unreadable: list[str] = []
            async with open_app(settings()) as app:
                decoded, broken = await read_decoded(app, CASE_EVENTS.name, case_id)
                cases, breaks = chains(decoded, broken)
                records += [(_where(r), e) for r, e in decoded]
                for topic in (INTAKE.name, RESULTS.name, HUMAN.name):
                    decoded, broken = await read_decoded(app, topic, case_id)
                    records += [(_where(r), e) for r, e in decoded]
                    unreadable += [f"{_where(r)}: {e}" for r, e in broken]
            links = cases.get(case_id, [])
            mine = [b for b in breaks if b.case_id == case_id]
            if not links and not mine:
                raise ConfigError(f"no case {case_id!r} in the case-events log")
            report = build_report(
                case_id,
                links,
                records,
                [*mine, *verify_chain(case_id, links)],
                unreadable,
                datetime.now(UTC),
            )
            text = render(report, fmt)
            if output is None:
                sys.stdout.write(text)
                return
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot write {output}: {exc.strerror or exc}") from exc
            console.print(
                f"wrote {output} ({fmt.value}, {len(report.timeline)} events, chain "
                f"{'intact' if report.chain.intact else 'broken'})",
                soft_wrap=True,
            )

        run(body)
