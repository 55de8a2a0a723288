"""The `caseyard` command line. Errors reach the user as one line and a non-zero exit;
`--debug` shows the traceback."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import typer
from rich.console import Console

from caseyard.errors import CaseyardError
from caseyard.settings import Settings, load_settings

app = typer.Typer(
    name="caseyard",
    help="AI agents coordinated over Kafka; every case runs as a saga.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@dataclass
class State:
    debug: bool = False
    settings: Settings | None = None


state = State()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    state.debug = debug


def settings() -> Settings:
    """The settings of this invocation, built once."""
    if state.settings is None:
        state.settings = load_settings()
    return state.settings


def _register_commands() -> None:
    from caseyard.commands import cases, demo, registry, schemas, services, topics

    for module in (demo, services, cases, schemas, registry, topics):
        module.register(app)


def main() -> None:
    """Console-script entry point."""
    _register_commands()
    try:
        app(standalone_mode=False)
    except CaseyardError as exc:
        if state.debug:
            raise
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click's usage errors and the like
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        if state.debug:
            raise
        err_console.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False)
        sys.exit(1)
