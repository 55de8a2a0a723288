"""`caseyard mcp`: serve caseyard's tools to an assistant over MCP (stdio or HTTP)."""

from __future__ import annotations

from typing import Annotated

import anyio
import typer

from caseyard.commands._run import run


def register(app: typer.Typer) -> None:
    @app.command("mcp")
    def mcp_command(
        http: Annotated[
            int | None,
            typer.Option(
                "--http",
                help="Serve streamable HTTP on this port (each request sends its user's "
                "token: 'Authorization: Bearer <token>'); default: stdio.",
            ),
        ] = None,
        host: Annotated[str, typer.Option(help="Host to listen on with --http.")] = "127.0.0.1",
    ) -> None:
        """Serve caseyard as an MCP server: submit documents, read and search cases, list
        and decide human tasks, as an inbox user (same roles, queues and API tokens as the
        inbox). Over stdio the user is the token in CASEYARD_MCP_TOKEN.

        Example: CASEYARD_MCP_TOKEN=cy_... caseyard mcp
        Example: caseyard mcp --http 8090
        """
        from caseyard.app import open_app
        from caseyard.cli import settings
        from caseyard.mcp_server import serve_mcp
        from caseyard.services import stop_on_signals

        config = settings()
        token = config.mcp_token.get_secret_value() if config.mcp_token else None

        async def body() -> None:
            stop = anyio.Event()
            async with open_app(config) as app, anyio.create_task_group() as tg:
                tg.start_soon(stop_on_signals, stop)
                await serve_mcp(
                    app, stop, http=(host, http) if http is not None else None, token=token
                )
                tg.cancel_scope.cancel()

        run(body)
