"""`caseyard a2a`: caseyard as an A2A agent (documents in, cases as A2A tasks)."""

from __future__ import annotations

from typing import Annotated

import anyio
import typer

from caseyard.commands._run import run


def register(app: typer.Typer) -> None:
    @app.command("a2a")
    def a2a_command(
        port: Annotated[int, typer.Option(help="Port of the JSON-RPC endpoint and card.")] = 8091,
        host: Annotated[str, typer.Option(help="Host to listen on.")] = "127.0.0.1",
        public_url: Annotated[
            str | None,
            typer.Option(help="The URL clients reach it at, for the card (default: host:port)."),
        ] = None,
    ) -> None:
        """Serve caseyard as an A2A agent: a message's document becomes a case, and the A2A
        task follows it (working, input-required while a person decides in the inbox,
        completed, rejected or failed). Calls need an inbox API token; the agent card at
        /.well-known/agent-card.json is public.

        Example: caseyard a2a --port 8091
        """
        from caseyard.a2a import serve_a2a
        from caseyard.app import open_app
        from caseyard.cli import settings
        from caseyard.services import stop_on_signals

        config = settings()

        async def body() -> None:
            stop = anyio.Event()
            async with open_app(config) as app, anyio.create_task_group() as tg:
                tg.start_soon(stop_on_signals, stop)
                await serve_a2a(app, host, port, stop, public_url=public_url)
                tg.cancel_scope.cancel()

        run(body)
