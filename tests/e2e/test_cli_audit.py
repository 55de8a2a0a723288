"""`caseyard demo` then `caseyard audit verify`, as a user types them; then the log is
tampered with in the SQLite file and the audit names the record."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from caseyard.schema_store import REGISTRY_DB
from schemas import AvroCodec, Registry, SqliteSchemaStore

ROOT = Path(__file__).resolve().parents[2]
CASEYARD = str(Path(sys.executable).parent / "caseyard")


def caseyard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CASEYARD_DATA_DIR": str(cwd / "data"),
        "CASEYARD_BUS": f"sqlite:///{cwd}/bus.db",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [CASEYARD, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("demo")
    docs = work / "docs"
    docs.mkdir()
    for name in ("receipt_cafe_kiosk.txt", "invoice_acme_consulting.txt"):
        source = ROOT / "examples" / "documents" / name
        if not source.exists():
            source = sorted((ROOT / "examples" / "documents").glob("*.txt"))[
                len(list(docs.iterdir()))
            ]
        shutil.copy(source, docs / source.name)
    result = caseyard("demo", "--documents", str(docs), "--timeout", "120", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "2 cases" in result.stdout
    return work


def test_demo_cases_are_listed_and_their_log_verifies(demo_dir: Path) -> None:
    listed = caseyard("cases", "--json", cwd=demo_dir)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count('"case"') == 2
    verified = caseyard("audit", "verify", cwd=demo_dir)
    assert verified.returncode == 0, verified.stderr
    assert "intact:" in verified.stdout


def tamper(work: Path, change: Callable[[bytes], bytes]) -> str:
    """Replace the 2nd case-events record with `change(value)`; returns where it is."""
    db = sqlite3.connect(work / "bus.db")
    topic, partition, offset, value = db.execute(
        "SELECT topic, partition, offset, value FROM records WHERE topic='caseyard.case-events'"
        " ORDER BY partition, offset LIMIT 1 OFFSET 1"
    ).fetchone()
    db.execute(
        "UPDATE records SET value=? WHERE topic=? AND partition=? AND offset=?",
        (change(value), topic, partition, offset),
    )
    db.commit()
    db.close()
    return f"{topic}/{partition}/{offset}"


def test_an_edited_record_is_named_by_the_one_after_it(demo_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "copy"
    shutil.copytree(demo_dir, work)
    codec = AvroCodec(Registry(SqliteSchemaStore(work / "data" / REGISTRY_DB)))

    def edit(value: bytes) -> bytes:
        # A well-formed event whose content changed: a later time.
        event = anyio.run(codec.decode, value)
        edited = event.model_copy(update={"occurred_at": event.occurred_at + timedelta(hours=1)})
        return anyio.run(codec.encode, edited, "caseyard.case-events")

    where = tamper(work, edit)
    result = caseyard("audit", "verify", cwd=work)
    assert result.returncode == 1
    assert f"does not follow {where}: that record was changed" in result.stdout
    assert "break(s)" in result.stderr


def test_a_garbled_record_is_named(demo_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "copy"
    shutil.copytree(demo_dir, work)
    where = tamper(work, lambda value: value[:6])
    result = caseyard("audit", "verify", cwd=work)
    assert result.returncode == 1
    assert f"{where}: does not decode (changed)" in result.stdout
