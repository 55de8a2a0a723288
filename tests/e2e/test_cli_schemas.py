"""`caseyard schemas ...` as a user runs it: the installed command, in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from caseyard.commands.schemas import topology_subjects
from schemas import SNAPSHOT_DIR
from schemas.catalog import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]


def caseyard() -> str:
    for candidate in (
        ROOT / ".venv" / "bin" / "caseyard",
        Path(sys.executable).parent / "caseyard",
    ):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("caseyard")
    if found is None:
        pytest.skip("the caseyard command is not installed (make install)")
    return found


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEYARD_")}
    env["CASEYARD_DATA_DIR"] = str(cwd / ".caseyard")
    env["CASEYARD_BUS"] = f"sqlite:///{cwd}/.caseyard/bus.db"
    env["COLUMNS"] = "200"
    return subprocess.run(
        [caseyard(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_check_passes_on_the_committed_snapshot(tmp_path: Path) -> None:
    result = run(tmp_path, "schemas", "check")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_check_fails_naming_the_field_of_a_changed_type(tmp_path: Path) -> None:
    snapshot = tmp_path / "avro"
    shutil.copytree(SNAPSHOT_DIR, snapshot)
    path = snapshot / "CaseSubmitted.avsc"
    schema = json.loads(path.read_text())
    for field in schema["fields"]:
        if field["name"] == "source":
            field["type"] = "long"
    path.write_text(json.dumps(schema, indent=2))

    result = run(tmp_path, "schemas", "check", "--dir", str(snapshot))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    error_lines = result.stderr.strip().splitlines()
    assert len(error_lines) == 1 and error_lines[0].startswith("error: ")
    assert "CaseSubmitted (field 'source')" in error_lines[0]
    assert "field 'source': type changed" in result.stdout


def test_export_then_check_a_fresh_snapshot(tmp_path: Path) -> None:
    exported = run(tmp_path, "schemas", "export", "--dir", "snapshot")
    assert exported.returncode == 0, exported.stderr
    assert f"{len(EVENT_TYPES)} new" in exported.stdout
    checked = run(tmp_path, "schemas", "check", "--dir", "snapshot")
    assert checked.returncode == 0 and "up to date" in checked.stdout


def test_register_into_the_embedded_registry(tmp_path: Path) -> None:
    result = run(tmp_path, "schemas", "register")
    assert result.returncode == 0, result.stderr
    assert f"{len(topology_subjects())} new schema(s) registered" in result.stdout
    assert (tmp_path / ".caseyard" / "registry.db").exists()
    shown = run(tmp_path, "registry", "show", "caseyard.dlq-caseyard.DeadLetter")
    assert shown.returncode == 0 and '"name": "DeadLetter"' in shown.stdout
    missing = run(tmp_path, "registry", "show", "nope")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: Subject 'nope' not found."
