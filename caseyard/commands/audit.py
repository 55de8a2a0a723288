"""`caseyard audit verify`: prove the case event log is intact."""

from __future__ import annotations

from typing import Annotated

import typer

from caseyard.commands._run import run


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
        from caseyard.app import open_app, read_records
        from caseyard.cli import console, settings
        from caseyard.errors import AuditFailed
        from coordinator import Break, Link, verify_chain
        from schemas import CaseEvent, DecodeError
        from schemas.topology import CASE_EVENTS

        async def body() -> None:
            cases: dict[str, list[Link]] = {}
            breaks: list[Break] = []
            async with open_app(settings()) as app:
                for record in await read_records(app, CASE_EVENTS.name, case_id=case_id):
                    where = f"{record.topic}/{record.partition}/{record.offset}"
                    key = (record.key or b"").decode(errors="replace")
                    try:
                        event = await app.codec.decode(record.value)
                    except DecodeError as exc:
                        breaks.append(Break(key, where, f"does not decode (changed): {exc}"))
                        continue
                    if isinstance(event, CaseEvent):
                        cases.setdefault(event.case_id, []).append(Link(where, event))
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
