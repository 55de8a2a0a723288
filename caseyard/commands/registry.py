"""`caseyard registry ...`: look into a schema registry; `serve_registry` runs the built-in one.

Without `--registry URL` the commands use the built-in registry of the configured bus
(the `_schemas` topic on Kafka, `data_dir/registry.db` on the embedded bus), in process.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

import anyio
import typer
from rich.console import Console
from rich.table import Column, Table

from caseyard.commands._run import run
from caseyard.errors import ConfigError
from caseyard.schema_store import (
    describe_store,
    registry_client,
    registry_for,
    without_credentials,
)
from caseyard.settings import Settings
from caseyard.wiring import open_bus
from schemas import SchemaRegistry, parse_version

if TYPE_CHECKING:
    import uvicorn

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081  # Confluent's registry port, so tools find it where they expect it
_GRACE_SECONDS = 5

RegistryOption = Annotated[
    str | None,
    typer.Option(
        "--registry",
        metavar="URL",
        help="Base URL of a Confluent-compatible registry; default: the built-in registry "
        "of the configured bus.",
    ),
]


@contextlib.asynccontextmanager
async def open_registry(
    settings: Settings, url: str | None
) -> AsyncIterator[tuple[SchemaRegistry, str]]:
    """The registry at `url` (over HTTP), or the built-in one of the configured bus; with
    a description of where it is."""
    url = url or settings.registry_url
    if url:
        async with registry_client(url, settings.registry_token) as client:
            yield client, without_credentials(url)
        return
    async with open_bus(settings) as b, registry_for(settings, b) as registry:
        yield registry, f"the built-in registry ({describe_store(settings, b)})"


def say(console: Console, text: str, *, style: str = "") -> None:
    """Print one message as it is: no markup (messages quote user data), no hard wrap."""
    console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)


class _Stopper:
    """Asks a uvicorn server to stop, also when asked before the server exists."""

    def __init__(self) -> None:
        self.server: uvicorn.Server | None = None
        self.requested = False

    def attach(self, server: uvicorn.Server) -> uvicorn.Server:
        self.server = server
        server.should_exit = self.requested
        return server

    def stop(self) -> None:
        if self.server is not None:
            # A second request skips waiting for open connections.
            self.server.force_exit = self.server.should_exit
            self.server.should_exit = True
        self.requested = True


async def serve_registry(
    settings: Settings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    handle_signals: bool = True,
) -> None:
    """Serve the built-in registry of the configured bus over Confluent's REST API.

    Runs until SIGINT/SIGTERM (when `handle_signals`) or until cancelled; either way
    uvicorn finishes in-flight requests (up to 5 s) and the bus is closed. Pass
    `handle_signals=False` when several services share the process and the caller owns
    the signals.

    Raises:
        ConfigError: If `host:port` cannot be listened on.
        BusUnavailable: If the bus cannot be reached.
    """
    import uvicorn  # with Starlette, imported by the commands that serve HTTP only

    from caseyard.cli import console
    from caseyard.http import QuietServer, check_port
    from schemas import create_registry_app

    check_port(host, port)
    stopper = _Stopper()
    failed = False
    error: Exception | None = None

    async def stop_when_cancelled() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            stopper.stop()

    async def stop_on_signal() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                stopper.stop()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stop_when_cancelled)
        if handle_signals:
            tg.start_soon(stop_on_signal)
        # Shielded: a cancellation becomes a request to stop (above), and the server and
        # the bus then shut down without being cut off halfway.
        with anyio.CancelScope(shield=True):
            try:
                async with open_bus(settings) as b, registry_for(settings, b) as registry:
                    config = uvicorn.Config(
                        create_registry_app(registry),
                        host=host,
                        port=port,
                        lifespan="off",
                        ws="none",
                        access_log=False,
                        log_level="warning",
                        timeout_graceful_shutdown=_GRACE_SECONDS,
                    )
                    server = stopper.attach(QuietServer(config))
                    where = describe_store(settings, b)
                    say(console, f"schema registry on http://{host}:{port} (schemas in {where})")
                    try:
                        await server.serve()
                    except SystemExit:  # uvicorn's startup failure, already logged by it
                        failed = True
            except Exception as exc:  # raised below: a task group would wrap it in a group
                error = exc
        tg.cancel_scope.cancel()
    if error is not None:
        raise error
    if failed:
        raise ConfigError(f"cannot serve the registry on {host}:{port} (see the log above)")
    say(console, "schema registry stopped")


def register(app: typer.Typer) -> None:
    """Add `caseyard registry subjects|show`."""
    registry_app = typer.Typer(
        help="Look into a schema registry (the built-in one by default).\n\n"
        "Example: caseyard registry subjects",
        no_args_is_help=True,
    )
    app.add_typer(registry_app, name="registry")

    @registry_app.command("subjects")
    def subjects(
        registry_url: RegistryOption = None,
    ) -> None:
        """List subjects with their latest version and schema id.

        Example: caseyard registry subjects --registry http://127.0.0.1:8081
        """
        from caseyard.cli import console, settings

        async def body() -> None:
            async with open_registry(settings(), registry_url) as (registry, _):
                table = Table(
                    Column("subject", overflow="fold"),
                    "versions",
                    "latest id",
                    title="schema registry",
                )
                for subject in await registry.subjects():
                    versions = await registry.versions(subject)
                    latest = await registry.get_version(subject)
                    table.add_row(subject, ", ".join(map(str, versions)), str(latest.schema_id))
            if table.row_count:
                console.print(table)
            else:
                say(console, "no subjects registered")

        run(body)

    @registry_app.command("show")
    def show(
        subject: Annotated[
            str, typer.Argument(help="The subject, e.g. caseyard.intake-caseyard.CaseSubmitted.")
        ],
        version: Annotated[
            str, typer.Option("--version", help="A version number or 'latest'.")
        ] = "latest",
        registry_url: RegistryOption = None,
    ) -> None:
        """Print one version of a subject: its id and its schema.

        Example: caseyard registry show caseyard.intake-caseyard.CaseSubmitted --version 1
        """
        from caseyard.cli import console, settings

        async def body() -> None:
            async with open_registry(settings(), registry_url) as (registry, _):
                found = await registry.get_version(subject, parse_version(version))
            say(console, f"{found.subject} version {found.version}, id {found.schema_id}")
            console.print_json(found.schema)

        run(body)
