"""`caseyard run SERVICE` and `caseyard up`: services as processes."""

from __future__ import annotations

from typing import Annotated

import typer

from caseyard.commands._run import run
from caseyard.commands.registry import say

SERVICE_HELP = (
    "coordinator, classifier, extractor, scorer, responder, registry, inbox, or any agent module "
    "(e.g. language, or package.module with an AGENT)"
)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        service: Annotated[str, typer.Argument(help=SERVICE_HELP)],
        host: Annotated[
            str | None,
            typer.Option(help="Address the registry (127.0.0.1) or inbox (inbox_host) listens on."),
        ] = None,
        port: Annotated[
            int | None,
            typer.Option(help="Port the registry (8081) or inbox (inbox_port) listens on."),
        ] = None,
    ) -> None:
        """Run one service in this process until SIGTERM or ^C (then stop gracefully).

        Example: CASEYARD_BUS=kafka://127.0.0.1:9092 caseyard run classifier
        """
        from caseyard.cli import settings
        from caseyard.errors import ConfigError

        if (host or port) and service not in ("registry", "inbox"):
            raise ConfigError(
                "--host and --port are the registry's and the inbox's; other services serve "
                "health and metrics on CASEYARD_HEALTH_HOST / CASEYARD_HEALTH_PORT"
            )
        if service == "registry":
            from caseyard.commands.registry import DEFAULT_HOST, DEFAULT_PORT, serve_registry

            run(lambda: serve_registry(settings(), host or DEFAULT_HOST, port or DEFAULT_PORT))
            return
        if service == "inbox" and (host or port):
            from caseyard.cli import state
            from caseyard.settings import load_settings

            overrides = {"inbox_host": host, "inbox_port": port}
            state.settings = load_settings(**{k: v for k, v in overrides.items() if v})
        serve_process(f"caseyard-{service}", [service])

    @app.command("up")
    def up_command() -> None:
        """Run the coordinator, every built-in agent and the inbox in this process.

        Example: caseyard up
        """
        from caseyard.services import BUILT_IN_AGENTS, INBOX

        serve_process("caseyard", ["coordinator", *BUILT_IN_AGENTS, INBOX])


def serve_process(service_name: str, names: list[str]) -> None:
    """Run `names` in this process until SIGTERM or ^C: traced and metered as
    `service_name`, logging as the settings say, announcing each service when ready."""
    from caseyard.cli import console, settings

    async def body() -> None:
        from caseyard.app import open_app
        from caseyard.logs import configure_logging
        from caseyard.services import INBOX, serve_until_signal
        from caseyard.telemetry import Telemetry

        s = settings()
        configure_logging(s.log_level, s.log_format)

        def announce() -> None:
            say(console, f"{', '.join(names)} ready on {app.bus.url}; SIGTERM or ^C stops")
            if INBOX in names:
                say(console, f"inbox on http://{s.inbox_host}:{s.inbox_port}")
                if not s.inbox_users_path.exists():
                    say(console, "no inbox users yet: caseyard inbox add-user NAME --role ROLE")
            if s.health_port is not None:
                say(console, f"health and /metrics on http://{s.health_host}:{s.health_port}")

        with Telemetry.from_settings(s, service_name) as telemetry:
            async with open_app(s, telemetry=telemetry) as app:
                await serve_until_signal(app, names, announce)
        say(console, f"{', '.join(names)} stopped")

    run(body)
