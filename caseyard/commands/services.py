"""`caseyard run SERVICE` and `caseyard up`: services as processes."""

from __future__ import annotations

from typing import Annotated

import typer

from caseyard.commands._run import run

SERVICE_HELP = (
    "coordinator, classifier, extractor, scorer, responder, registry, or any agent module "
    "(e.g. language, or package.module with an AGENT)"
)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        service: Annotated[str, typer.Argument(help=SERVICE_HELP)],
        host: Annotated[str, typer.Option(help="Address the registry listens on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port the registry listens on.")] = 8081,
    ) -> None:
        """Run one service in this process until SIGTERM or ^C (then stop gracefully).

        Example: CASEYARD_BUS=kafka://127.0.0.1:9092 caseyard run classifier
        """
        from caseyard.cli import console, settings

        if service == "registry":
            from caseyard.commands.registry import serve_registry

            run(lambda: serve_registry(settings(), host, port))
            return

        async def body() -> None:
            from caseyard.app import open_app
            from caseyard.services import serve_until_signal

            async with open_app(settings(), transactional_id=f"caseyard-{service}") as app:
                await serve_until_signal(
                    app,
                    [service],
                    lambda: console.print(f"{service} ready on {app.bus.url}; SIGTERM or ^C stops"),
                )
            console.print(f"{service} stopped")

        run(body)

    @app.command("up")
    def up_command() -> None:
        """Run the coordinator and every built-in agent in this process.

        Example: caseyard up
        """
        from caseyard.cli import console, settings

        async def body() -> None:
            from caseyard.app import open_app
            from caseyard.services import BUILT_IN_AGENTS, serve_until_signal

            names = ["coordinator", *BUILT_IN_AGENTS]
            async with open_app(settings()) as app:
                await serve_until_signal(
                    app, names, lambda: console.print(f"up on {app.bus.url}: {', '.join(names)}")
                )

        run(body)
