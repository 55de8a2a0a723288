"""The command line loads the module of the command it is given, and only that one: the
table naming each command's module must say what the modules register."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import typer
import typer.main
from typer.core import TyperGroup

from caseyard import cli
from tests.helpers import run_caseyard

COMMAND_MODULES = Path(cli.__file__).parent / "commands"


def _registered(module: str) -> set[str]:
    app = typer.Typer()
    app.callback()(lambda: None)  # a group, whatever the module registers
    importlib.import_module(f"caseyard.commands.{module}").register(app)
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    return set(group.commands)


def test_the_table_names_every_command_of_every_module_and_no_other() -> None:
    modules = sorted(p.stem for p in COMMAND_MODULES.glob("*.py") if not p.stem.startswith("_"))
    assert sorted(set(cli.COMMANDS.values())) == modules
    found = [(name, module) for module in modules for name in _registered(module)]
    assert dict(found) == cli.COMMANDS and len(dict(found)) == len(found)  # none twice


def _loaded(*argv: str) -> dict[str, list[str]]:
    """The commands `caseyard ARGV` registers and the command modules it imported."""
    script = (
        "import json, sys, typer.main\n"
        "from caseyard import cli\n"
        "cli._register_commands(sys.argv[1:])\n"
        "print(json.dumps({'commands': sorted(typer.main.get_command(cli.app).commands),\n"
        "  'modules': sorted(m for m in sys.modules if m.startswith('caseyard.commands.'))}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, check=True
    )
    loaded: dict[str, list[str]] = json.loads(done.stdout)
    return loaded


def test_a_command_line_loads_its_commands_module_alone() -> None:
    loaded = _loaded("--debug", "case", "list", "--json")
    assert loaded["commands"] == ["case", "cases", "repair", "submit"]
    assert "caseyard.commands.cases" in loaded["modules"]
    assert not {"caseyard.commands.demo", "caseyard.commands.inbox"} & set(loaded["modules"])


def test_help_and_an_unknown_command_load_every_command() -> None:
    """`caseyard --help` lists them all; a mistyped one is told the names there are."""
    for argv in (["--help"], ["--help", "submit"], ["sbumit", "x.pdf"], []):
        assert _loaded(*argv)["commands"] == sorted(cli.COMMANDS), argv


def test_a_mistyped_command_or_option_is_a_usage_error(tmp_path: Path) -> None:
    """Click's own errors end as click says them, the usage first, and exit 2 (typer raises
    them from the click it carries, which a check for the `click` package's missed: exit 1
    and "error: NoSuchOption: ..." where the usage should be)."""
    command = run_caseyard(tmp_path, "sbumit", "x.pdf")
    assert command.returncode == 2, command.stderr
    assert "Usage: caseyard [OPTIONS] COMMAND" in command.stderr
    assert "No such command 'sbumit'. Did you mean 'submit'?" in command.stderr
    option = run_caseyard(tmp_path, "submit", "--urgent", "x.pdf")
    assert option.returncode == 2, option.stderr
    assert "Try 'caseyard submit --help' for help." in option.stderr
    assert option.stderr.rstrip().endswith("Error: No such option: --urgent")
