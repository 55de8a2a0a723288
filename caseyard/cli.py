"""The `caseyard` command line. Errors reach the user as one line and a non-zero exit;
`--debug` shows the traceback."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.text import Text

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
    from caseyard.commands import (
        audit,
        cases,
        demo,
        dlq,
        inbox,
        registry,
        replay,
        schemas,
        services,
        topics,
        train,
    )

    modules = (demo, services, cases, audit, replay, dlq, inbox, schemas, registry, topics, train)
    for module in modules:
        module.register(app)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _unwrap(exc: BaseException) -> BaseException:
    """The error to report from (nested) task-group exception groups: the first caseyard
    error among them, else the first error (services fail alike, so one line says it)."""
    leaves = _leaves(exc)
    return next((e for e in leaves if isinstance(e, CaseyardError)), leaves[0])


def main() -> None:
    """Console-script entry point."""
    import click

    _register_commands()
    try:
        app(standalone_mode=False)
    except BaseException as raised:
        exc = _unwrap(raised)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, KeyboardInterrupt | click.exceptions.Abort):
            sys.exit(130)
        if isinstance(exc, SystemExit):
            raise
        if state.debug:
            raise
        # A caseyard error is the user's to fix; anything else is a bug, still one line.
        message = str(exc) if isinstance(exc, CaseyardError) else f"{type(exc).__name__}: {exc}"
        line = " ".join(message.split()) or type(exc).__name__
        err_console.print(Text.assemble(("error: ", "red"), line), soft_wrap=True)
        sys.exit(1)
