"""`caseyard models report`: what the classifier sees, per model version (drift)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from caseyard.commands._run import run
from caseyard.errors import CaseyardError, ConfigError

log = logging.getLogger(__name__)


class DriftBreach(CaseyardError):
    """`--fail-on-drift` and a model version drifted past the threshold."""


def register(app: typer.Typer) -> None:
    models_app = typer.Typer(help="The models' view of the documents.", no_args_is_help=True)
    app.add_typer(models_app, name="models")

    @models_app.command("report")
    def report_command(
        since: Annotated[
            str | None,
            typer.Option(help="From this time (ISO-8601, UTC if no offset); default: all."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        html_path: Annotated[
            Path | None, typer.Option("--html", help="Also write the report as an HTML page.")
        ] = None,
        fail_on_drift: Annotated[
            bool, typer.Option("--fail-on-drift", help="Exit 1 on a drift breach.")
        ] = False,
    ) -> None:
        """Per classifier version since a time: documents, class mix against the training
        mix (PSI; above drift_psi_alert is a drift breach), confidence, how often the
        cascade went on, a person was asked, corrected or confirmed the type.

        Example: caseyard models report --since 2026-12-01 --html report.html
        """
        from caseyard.app import open_app, read_topic
        from caseyard.cli import console, print_json, settings
        from caseyard.commands.replay import parse_start
        from caseyard.models_report import build_report, default_training_mix, render_html
        from schemas.topology import CASE_EVENTS, HUMAN, RESULTS

        config = settings()
        start = parse_start(since)
        if start.offset is not None:
            raise ConfigError("--since takes a time, not an offset")
        threshold = config.drift_psi_alert

        async def body() -> None:
            async with open_app(config) as app:
                events = [
                    event
                    for topic in (RESULTS.name, CASE_EVENTS.name, HUMAN.name)
                    for _, event in await read_topic(app, topic)
                ]
            trained = default_training_mix()
            reports = build_report(events, trained, threshold=threshold, since=start.time)
            for report in reports:
                if report.breach:
                    log.warning(
                        "drift breach: %s: PSI %.3f over %g",
                        report.model,
                        report.psi,
                        threshold,
                        extra={"model": report.model, "psi": report.psi},
                    )
            label = str(start)
            if html_path is not None:
                html_path.write_text(
                    render_html(reports, trained, since=label, threshold=threshold),
                    encoding="utf-8",
                )
            if as_json:
                document = {
                    "since": label,
                    "threshold": threshold,
                    "versions": [r.as_dict(trained) for r in reports],
                }
                print_json(document)
            else:
                table = Table(
                    "model",
                    "documents",
                    "top types",
                    "PSI",
                    "confidence",
                    "cascade",
                    "asked",
                    "corrected",
                )
                table.title = f"classifier versions since {label} (drift over PSI {threshold:g})"
                for r in reports:
                    n = r.documents or 1
                    top = ", ".join(f"{k} {v / n:.0%}" for k, v in r.mix.most_common(3))
                    table.add_row(
                        r.model,
                        str(r.documents),
                        top,
                        f"{r.psi:.3f}" + (" DRIFT" if r.breach else ""),
                        f"{r.mean_confidence:.2f}",
                        str(r.cascaded),
                        str(r.escalated),
                        str(r.corrected),
                    )
                console.print(table)
            if fail_on_drift and any(r.breach for r in reports):
                raise DriftBreach("a model version drifted past the threshold")

        run(body)
