"""`caseyard feedback export`: reviewers' decisions as training examples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    feedback = typer.Typer(help="What people decided, as training examples.", no_args_is_help=True)
    app.add_typer(feedback, name="feedback")

    @feedback.command("export")
    def export(
        out: Annotated[
            Path | None,
            typer.Option(help="Where to write them (default: <data dir>/feedback.jsonl)."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    ) -> None:
        """Write every classification a reviewer confirmed or corrected, and every field a
        reviewer corrected, with its document's text and the model it corrects. The
        classifier learns from the file at its next start; `caseyard train --feedback FILE`
        measures with it.

        Example: caseyard feedback export
        """
        from caseyard.app import open_app
        from caseyard.cli import console, print_json, settings
        from caseyard.commands._run import run
        from caseyard.feedback import examples, write

        target = out or settings().feedback_path

        async def body() -> None:
            async with open_app(settings()) as app:
                rows, skipped = await examples(app)
            write(rows, target)
            corrected = sum(
                1
                for r in rows
                if "classify" in r["corrects"]
                and r["doc_type"] != r["corrects"]["classify"]["doc_type"]
            )
            summary = {
                "file": str(target),
                "examples": len(rows),
                "types_corrected": corrected,
                "skipped": [{"task": s.human_task_id, "reason": s.reason} for s in skipped],
            }
            if as_json:
                print_json(summary)
                return
            console.print(
                f"wrote {len(rows)} example(s) to {target}: {corrected} corrected type(s), "
                f"{len(rows) - corrected} confirmed or field corrections",
                highlight=False,
            )
            for s in skipped:
                console.print(f"skipped {s.human_task_id}: {s.reason}", markup=False)

        run(body)
