"""The tree tells the architecture: these import rules keep it that way.

bus/ imports nothing of ours and schemas/ only the error tree on the ground floor
(`bus.errors`); agents/ and coordinator/ never import each other and meet only through
schemas/ on the bus; nothing but caseyard/ itself (and tests, benchmarks) imports the
composition root, not even its errors. Tracing and metrics live in
the composition root as bus middleware and collectors: no package below it imports
OpenTelemetry or the Prometheus client.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"bus", "schemas", "agents", "coordinator", "caseyard"}

ALLOWED = {
    "bus": {"bus"},
    "schemas": {"schemas", "bus.errors"},
    "agents": {"agents", "bus", "schemas"},
    "coordinator": {"coordinator", "bus", "schemas"},
}


OBSERVABILITY = {"opentelemetry", "prometheus_client"}
"""Libraries only the composition root may import."""


def all_imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def imports_of(path: Path) -> set[str]:
    return {name for name in all_imports_of(path) if name.split(".")[0] in OURS}


def allowed(name: str, rules: set[str]) -> bool:
    return any(name == rule or name.startswith(rule + ".") for rule in rules)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_design_allows(package: str) -> None:
    bad = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / package).rglob("*.py")
        for name in imports_of(path)
        if not allowed(name, ALLOWED[package])
    }
    assert not bad, sorted(bad)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_package_below_the_root_imports_tracing_or_metrics(package: str) -> None:
    bad = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / package).rglob("*.py")
        for name in all_imports_of(path)
        if name.split(".")[0] in OBSERVABILITY
    }
    assert not bad, sorted(bad)


def test_the_coordinators_decisions_do_no_io() -> None:
    """Only the runtime (`_service.py`) touches the bus; the transition stays pure."""
    bad = {
        f"{path.name} imports {name}"
        for path in (ROOT / "coordinator").glob("*.py")
        if path.name != "_service.py"
        for name in imports_of(path)
        if not allowed(name, {"coordinator", "schemas", "bus.errors"})
    }
    assert not bad, sorted(bad)


def test_the_rules_catch_a_violation(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from coordinator.engine import transition\nimport caseyard.cli\n")
    assert {n for n in imports_of(module) if not allowed(n, ALLOWED["agents"])} == {
        "coordinator.engine",
        "caseyard.cli",
    }
    module.write_text("from opentelemetry import trace\nimport prometheus_client\n")
    assert {n for n in all_imports_of(module) if n.split(".")[0] in OBSERVABILITY} == {
        "opentelemetry",
        "prometheus_client",
    }
