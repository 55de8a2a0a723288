"""`caseyard topics ...`: the topic catalogue."""

from __future__ import annotations

import typer
from rich.table import Table

from caseyard.commands._run import run


def register(app: typer.Typer) -> None:
    topics = typer.Typer(help="The topic catalogue.", no_args_is_help=True)
    app.add_typer(topics, name="topics")

    @topics.command("ensure")
    def ensure() -> None:
        """Create every topic of the topology that does not exist yet.

        Example: CASEYARD_BUS=kafka://127.0.0.1:9092 caseyard topics ensure
        """
        from caseyard.cli import console, settings
        from caseyard.wiring import ensure_topology, open_bus

        async def body() -> None:
            async with open_bus(settings()) as b:
                specs = await ensure_topology(b)
            table = Table("topic", "partitions", "cleanup", title=f"topics on {b.url}")
            for spec in specs:
                table.add_row(spec.name, str(spec.partitions), spec.cleanup.value)
            console.print(table)

        run(body)
