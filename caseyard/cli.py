"""The `caseyard` command line. Errors reach the user as one line and a non-zero exit
(JSON on stderr when the command was asked for `--json`); `--debug` shows the traceback.
A command line click cannot parse (a mistyped command or option) gets click's usage and
message instead, and exit 2.

Exit codes, for scripts: 0 done; 1 the operation failed (a broken audit chain, a case
that failed or timed out under `submit --wait`, an unreachable bus...); 2 a usage or
configuration error (a bad option or setting, a missing file, user or topic); 130
interrupted.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.text import Text

from caseyard import __version__, process
from caseyard.errors import CaseyardError, ConfigError, UnknownTopic
from caseyard.settings import Settings, load_settings

EXIT_FAILED = 1
EXIT_USAGE = 2

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


def _version(value: bool) -> None:
    if value:
        console.print(f"caseyard {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    state.debug = debug


def settings() -> Settings:
    """The settings of this invocation, built once."""
    if state.settings is None:
        state.settings = load_settings()
    return state.settings


def print_json(document: object) -> None:
    """A command's --json answer on stdout: indented JSON written as is (rich's
    print_json highlights and re-wraps it line by line: 3.5 of the 8 s `replay --verify
    --json` took over 2,000 cases)."""
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()


def existing_settings() -> Settings:
    """The settings of a command that reads what caseyard wrote: refused when the embedded
    bus they name does not exist, instead of creating an empty one and finding nothing."""
    found = settings()
    found.require_data()
    return found


# The command modules, by the top-level commands each registers (a test checks the table
# against what they register). A command line names one: only its module is imported.
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "run": "services",
    "up": "services",
    "submit": "cases",
    "cases": "cases",
    "case": "cases",
    "repair": "cases",
    "audit": "audit",
    "replay": "replay",
    "dlq": "dlq",
    "inbox": "inbox",
    "mcp": "mcp",
    "a2a": "a2a",
    "schemas": "schemas",
    "registry": "registry",
    "topics": "topics",
    "train": "train",
    "models": "models",
    "feedback": "feedback",
}


def _register_commands(argv: list[str] | None = None) -> None:
    """Register the commands `argv` (the arguments after `caseyard`) names, or every
    command when it names none (`--help` before any, a mistyped command: click lists them
    all). A command module imports what its command needs (the coordinator, the web inbox,
    the models...); loading only the one asked for takes ~0.15 s off each `caseyard` start."""
    import importlib

    args = list(argv or ())
    # The root's options are flags (no value a command's name could be mistaken for).
    at = next((i for i, arg in enumerate(args) if not arg.startswith("-")), None)
    named = args[at] if at is not None and "--help" not in args[:at] else None
    modules = [COMMANDS[named]] if named in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for module in modules:
        importlib.import_module(f"caseyard.commands.{module}").register(app)


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
    _register_commands(sys.argv[1:])
    process.tune()
    try:
        app(standalone_mode=False)
    except BaseException as raised:
        exc = _unwrap(raised)
        if isinstance(exc, typer.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, KeyboardInterrupt | typer.Abort):
            sys.exit(130)
        show = getattr(exc, "show", None)
        if isinstance(exc, Exception) and callable(show):
            # click's own errors (a bad option, a mistyped command, no arguments): shown as
            # click shows them, with the usage. Typer >= 0.29 raises them from the click it
            # carries within it, not the `click` package, so they are known by what they do.
            show()
            sys.exit(getattr(exc, "exit_code", EXIT_USAGE))
        if isinstance(exc, SystemExit):
            raise
        if state.debug:
            raise
        # A caseyard error is the user's to fix; anything else is a bug, still one line.
        message = str(exc) if isinstance(exc, CaseyardError) else f"{type(exc).__name__}: {exc}"
        line = " ".join(message.split()) or type(exc).__name__
        code = EXIT_USAGE if isinstance(exc, ConfigError | UnknownTopic) else EXIT_FAILED
        if "--json" in sys.argv[1:]:
            error = {"error": line, "type": type(exc).__name__, "exit_code": code}
            sys.stderr.write(json.dumps(error) + "\n")
        else:
            err_console.print(Text.assemble(("error: ", "red"), line), soft_wrap=True)
        sys.exit(code)
