"""`caseyard topics ...`: the topic catalogue."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from caseyard.commands._run import run
from caseyard.errors import ConfigError


class DocFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"


def register(app: typer.Typer) -> None:
    topics = typer.Typer(help="The topic catalogue.", no_args_is_help=True)
    app.add_typer(topics, name="topics")

    @topics.command("ensure")
    def ensure() -> None:
        """Create every topic of the topology that does not exist yet (the case-keyed ones
        with case_partitions), and give those that exist the configs caseyard sets (cleanup
        policy; the changelog's segments and tombstone retention), leaving their other
        configs and partitions as they are. Shows each topic's partition count. Fails (exit
        2), creating nothing, when the co-partitioned ones that exist disagree: a
        coordinator would not start; missing ones get the count of those that exist.

        Example: CASEYARD_BUS=kafka://127.0.0.1:9092 caseyard topics ensure
        """
        from caseyard.cli import console, settings
        from caseyard.wiring import ensure_topology, open_bus

        async def body() -> None:
            config = settings()
            async with open_bus(config) as b:
                specs = await ensure_topology(b, case_partitions=config.case_partitions)
                changes = await b.align_topics(specs)
                counts = {spec.name: await b.partitions(spec.name) for spec in specs}
            changed: dict[str, list[str]] = {}
            for c in changes:
                changed.setdefault(c.topic, []).append(f"{c.name}: {c.old or 'default'} -> {c.new}")
            table = Table("topic", "partitions", "cleanup", "changed", title=f"topics on {b.url}")
            for spec in specs:
                table.add_row(
                    spec.name,
                    str(counts[spec.name]),
                    spec.cleanup.value,
                    "\n".join(changed.get(spec.name, ())),
                )
            console.print(table)

        run(body)

    @topics.command("asyncapi")
    def asyncapi(
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
        ] = None,
        fmt: Annotated[DocFormat, typer.Option("--format", help="yaml or json.")] = DocFormat.YAML,
    ) -> None:
        """Print the AsyncAPI 3.0 document of the topology: channels, messages (Avro), who
        sends and receives.

        Example: caseyard topics asyncapi --format json -o asyncapi.json
        """
        from caseyard import __version__
        from caseyard.cli import console, settings
        from schemas.asyncapi import asyncapi_document

        url = settings().bus
        servers = None
        if url.startswith("kafka://"):
            hosts = url.removeprefix("kafka://").split("?")[0]
            servers = {"kafka": hosts.split(",")[0]}
        document = asyncapi_document(version=__version__, servers=servers)
        if fmt is DocFormat.JSON:
            text = json.dumps(document, indent=2) + "\n"
        else:
            text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        if output is None:
            console.out(text, end="", highlight=False)
            return
        try:
            output.write_text(text)
        except OSError as exc:
            raise ConfigError(f"cannot write {output}: {exc.strerror or exc}") from exc
        console.print(f"wrote {output}")
