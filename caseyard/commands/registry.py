"""`caseyard registry ...`: look into a schema registry; `serve_registry` runs the built-in one.

Without `--registry URL` the commands use the built-in registry of the configured bus
(the `_schemas` topic on Kafka, `data_dir/registry.db` on the embedded bus), in process.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import AsyncIterator, Iterator

import anyio
import typer
import uvicorn
from rich.table import Table

from caseyard.commands._run import run
from caseyard.errors import ConfigError
from caseyard.schema_store import describe_store, registry_for
from caseyard.settings import Settings
from caseyard.wiring import open_bus
from schemas import RegistryClient, SchemaRegistry, create_registry_app, parse_version

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081  # Confluent's registry port, so tools find it where they expect it
_GRACE_SECONDS = 5

REGISTRY_OPTION_HELP = (
    "Base URL of a Confluent-compatible registry; default: the built-in registry of the "
    "configured bus."
)


@contextlib.asynccontextmanager
async def open_registry(settings: Settings, url: str | None) -> AsyncIterator[SchemaRegistry]:
    """The registry at `url` (over HTTP), or the built-in one of the configured bus."""
    if url:
        async with RegistryClient(url) as client:
            yield client
        return
    async with open_bus(settings) as b, registry_for(settings, b) as registry:
        yield registry


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: whoever runs it decides when it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _check_port(host: str, port: int) -> None:
    # uvicorn reports a busy port with a log line and sys.exit; say it as one error instead.
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot serve the registry on {host}:{port}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve the registry on {host}:{port}: {exc.strerror or exc}"
            ) from exc


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
    from caseyard.cli import console

    _check_port(host, port)
    async with open_bus(settings) as b, registry_for(settings, b) as registry:
        config = uvicorn.Config(
            create_registry_app(registry),
            host=host,
            port=port,
            lifespan="off",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=_GRACE_SECONDS,
        )
        server = _Server(config)

        async def stop_when_cancelled() -> None:
            try:
                await anyio.sleep_forever()
            finally:
                server.should_exit = True

        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    # A second signal skips waiting for open connections.
                    server.force_exit = server.should_exit
                    server.should_exit = True

        console.print(
            f"schema registry on http://{host}:{port} (schemas in {describe_store(settings, b)})",
            highlight=False,
        )
        failed = False
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_when_cancelled)
            if handle_signals:
                tg.start_soon(stop_on_signal)
            # Shielded, so that cancelling us still lets uvicorn shut down cleanly.
            with anyio.CancelScope(shield=True):
                try:
                    await server.serve()
                except SystemExit:  # uvicorn's startup failure, already logged by it
                    failed = True
            tg.cancel_scope.cancel()
        if failed:
            raise ConfigError(f"cannot serve the registry on {host}:{port} (see the log above)")
        console.print("schema registry stopped", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `caseyard registry subjects|show`."""
    registry_app = typer.Typer(
        help="Look into a schema registry (the built-in one by default).", no_args_is_help=True
    )
    app.add_typer(registry_app, name="registry")

    @registry_app.command("subjects")
    def subjects(
        registry_url: str | None = typer.Option(
            None, "--registry", metavar="URL", help=REGISTRY_OPTION_HELP
        ),
    ) -> None:
        """List subjects with their latest version and schema id.

        Example: caseyard registry subjects --registry http://127.0.0.1:8081
        """
        from caseyard.cli import console, settings

        async def body() -> None:
            async with open_registry(settings(), registry_url) as registry:
                table = Table("subject", "versions", "latest id", title="schema registry")
                for subject in await registry.subjects():
                    versions = await registry.versions(subject)
                    latest = await registry.get_version(subject)
                    table.add_row(subject, ", ".join(map(str, versions)), str(latest.schema_id))
            if table.row_count:
                console.print(table)
            else:
                console.print("no subjects registered")

        run(body)

    @registry_app.command("show")
    def show(
        subject: str = typer.Argument(..., help="The subject, e.g. caseyard.intake-caseyard.CaseSubmitted."),
        version: str = typer.Option("latest", "--version", help="A version number or 'latest'."),
        registry_url: str | None = typer.Option(
            None, "--registry", metavar="URL", help=REGISTRY_OPTION_HELP
        ),
    ) -> None:
        """Print one version of a subject: its id and its schema.

        Example: caseyard registry show caseyard.intake-caseyard.CaseSubmitted --version 1
        """
        from caseyard.cli import console, settings

        async def body() -> None:
            async with open_registry(settings(), registry_url) as registry:
                found = await registry.get_version(subject, parse_version(version))
            console.print(
                f"{found.subject} version {found.version}, id {found.schema_id}", highlight=False
            )
            console.print_json(found.schema)

        run(body)
