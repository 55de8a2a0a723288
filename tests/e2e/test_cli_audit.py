"""`caseyard demo` then `caseyard audit verify`, as a user types them; then the log is
tampered with in the SQLite file and the audit names the record."""

from __future__ import annotations

import base64
import hashlib
import json
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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from caseyard.schema_store import REGISTRY_DB
from schemas import AvroCodec, CaseEvent, Registry, SqliteSchemaStore

ROOT = Path(__file__).resolve().parents[2]
CASEYARD = str(Path(sys.executable).parent / "caseyard")


def caseyard(*args: str, cwd: Path, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CASEYARD_DATA_DIR": str(cwd / "data"),
        "CASEYARD_BUS": f"sqlite:///{cwd}/bus.db",
        "COLUMNS": str(columns),
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
    # In an 80-column terminal the table fits whole: nothing elided, the time included.
    table = caseyard("cases", cwd=demo_dir, columns=80)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), table.stdout
    assert "…" not in table.stdout, table.stdout
    opened = json.loads(listed.stdout)[0]["opened"]
    assert opened[:16].replace("T", " ") in table.stdout
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


# -- removals, reorderings, forgeries: each named, each in bounded time ------------------------

EVENTS = "caseyard.case-events"
CHECKPOINTS = "caseyard.audit.checkpoints"


@pytest.fixture
def work(demo_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(demo_dir, copy)
    return copy


def case_rows(work: Path) -> dict[str, list[tuple[int, int, bytes]]]:
    """Each case's case-events records (partition, offset, value), in log order."""
    db = sqlite3.connect(work / "bus.db")
    rows = db.execute(
        "SELECT key, partition, offset, value FROM records WHERE topic=?"
        " ORDER BY partition, offset",
        (EVENTS,),
    ).fetchall()
    db.close()
    cases: dict[str, list[tuple[int, int, bytes]]] = {}
    for key, partition, offset, value in rows:
        cases.setdefault(key.decode(), []).append((partition, offset, value))
    return cases


def sql(work: Path, statement: str, *args: object) -> None:
    db = sqlite3.connect(work / "bus.db")
    db.execute(statement, args)
    db.commit()
    db.close()


def delete(work: Path, topic: str, partition: int, offset: int) -> str:
    sql(
        work,
        "DELETE FROM records WHERE topic=? AND partition=? AND offset=?",
        topic,
        partition,
        offset,
    )
    return f"{topic}/{partition}/{offset}"


def verify(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = caseyard("audit", "verify", "--timeout", "120", *args, cwd=work)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "break(s)" in result.stderr
    return result


def test_the_demo_log_verifies_with_its_signed_checkpoints(demo_dir: Path) -> None:
    result = caseyard("audit", "verify", cwd=demo_dir)
    assert result.returncode == 0, result.stderr
    assert "signatures checked with key(s)" in result.stdout
    assert " 0 checkpoint(s)" not in result.stdout


def test_a_removed_middle_record_is_named_by_the_one_after_it(work: Path) -> None:
    case, rows = next(iter(case_rows(work).items()))
    partition, offset, _ = rows[2]
    delete(work, EVENTS, partition, offset)
    after = f"{EVENTS}/{rows[3][0]}/{rows[3][1]}"
    result = verify(work)
    assert f"case {case}: {after}: does not follow" in result.stdout


def test_a_removed_tail_is_named_by_the_checkpoint_that_signed_it(work: Path) -> None:
    case, rows = next(iter(case_rows(work).items()))
    for partition, offset, _ in rows[-2:]:
        delete(work, EVENTS, partition, offset)
    result = verify(work)
    assert (
        f"case {case}: {EVENTS}/{rows[-3][0]}/{rows[-3][1]}: the chain ends here" in result.stdout
    )
    assert f"signed its chain at {len(rows)} event(s)" in result.stdout
    assert "its tail was removed or rewritten" in result.stdout


def test_a_removed_case_is_named(work: Path) -> None:
    case = next(iter(case_rows(work)))
    sql(work, "DELETE FROM records WHERE topic=? AND key=?", EVENTS, case.encode())
    result = verify(work)
    assert f"case {case}: {CHECKPOINTS}/" in result.stdout
    assert "the whole case is missing" in result.stdout


def test_removing_the_last_record_of_a_partition_does_not_hang(work: Path) -> None:
    db = sqlite3.connect(work / "bus.db")
    partition, offset = db.execute(
        "SELECT partition, MAX(offset) FROM records WHERE topic=? GROUP BY partition LIMIT 1",
        (EVENTS,),
    ).fetchone()
    db.close()
    delete(work, EVENTS, partition, offset)
    result = verify(work)
    assert "its tail was removed or rewritten" in result.stdout


def test_swapped_records_are_named(work: Path) -> None:
    case, rows = next(iter(case_rows(work).items()))
    (p1, o1, v1), (p2, o2, v2) = rows[1], rows[2]
    update = "UPDATE records SET value=? WHERE topic=? AND partition=? AND offset=?"
    sql(work, update, v2, EVENTS, p1, o1)
    sql(work, update, v1, EVENTS, p2, o2)
    result = verify(work)
    assert f"case {case}: {EVENTS}/{p1}/{o1}:" in result.stdout
    assert "reordered" in result.stdout


def rewrite_chain(work: Path, case: str, rows: list[tuple[int, int, bytes]]) -> None:
    """Change the case's first event and recompute every hash after it, as a forger who can
    write the log but has no signing key would."""
    from coordinator import case_event_hash

    codec = AvroCodec(Registry(SqliteSchemaStore(work / "data" / REGISTRY_DB)))
    previous: str | None = None
    for n, (partition, offset, value) in enumerate(rows):
        event = anyio.run(codec.decode, value)
        assert isinstance(event, CaseEvent)
        changes: dict[str, object] = {"previous_hash": previous}
        if n == 0:
            changes["occurred_at"] = event.occurred_at - timedelta(days=30)
        forged = event.model_copy(update=changes)
        previous = case_event_hash(forged)
        sql(
            work,
            "UPDATE records SET value=? WHERE topic=? AND partition=? AND offset=?",
            anyio.run(codec.encode, forged, EVENTS),
            EVENTS,
            partition,
            offset,
        )


def test_a_chain_rewritten_with_recomputed_hashes_is_caught_by_the_checkpoints(
    work: Path,
) -> None:
    case, rows = next(iter(case_rows(work).items()))
    rewrite_chain(work, case, rows)
    result = verify(work)
    assert (
        f"case {case}: {EVENTS}/{rows[-1][0]}/{rows[-1][1]}: the chain ends here" in result.stdout
    )
    assert "removed or rewritten" in result.stdout
    assert result.stdout.count("\n") == 1  # the chain itself is consistent: one break


def checkpoint_rows(work: Path) -> list[tuple[int, int, bytes]]:
    db = sqlite3.connect(work / "bus.db")
    rows = db.execute(
        "SELECT partition, offset, value FROM records WHERE topic=? ORDER BY partition, offset",
        (CHECKPOINTS,),
    ).fetchall()
    db.close()
    return rows


def test_a_removed_checkpoint_is_named(work: Path) -> None:
    rows = checkpoint_rows(work)
    # The partition with the most checkpoints (how many each gets depends on batching).
    busiest = max({r[0] for r in rows}, key=lambda p: sum(r[0] == p for r in rows))
    by_partition = [r for r in rows if r[0] == busiest]
    assert len(by_partition) >= 3
    partition, offset, _ = by_partition[1]
    delete(work, CHECKPOINTS, partition, offset)
    result = verify(work)
    assert (
        f"{CHECKPOINTS}/{partition}/{by_partition[2][1]}: checkpoint 3 of partition"
        in result.stdout
    )
    assert "checkpoints 2 to 2 of the partition are missing" in result.stdout


def test_a_forged_checkpoint_is_named(work: Path) -> None:
    from schemas.audit import ChainCheckpoint

    partition, offset, value = checkpoint_rows(work)[0]
    checkpoint = ChainCheckpoint.from_bytes(value)
    forged = checkpoint.model_copy(update={"heads": checkpoint.heads[:0]})
    sql(
        work,
        "UPDATE records SET value=? WHERE topic=? AND partition=? AND offset=?",
        forged.to_bytes(),
        CHECKPOINTS,
        partition,
        offset,
    )
    result = verify(work)
    assert (
        f"{CHECKPOINTS}/{partition}/{offset}: checkpoint 1 of partition {partition}"
        in result.stdout
    )
    assert "does not verify with key" in result.stdout


def test_checkpoints_signed_with_a_key_the_auditor_does_not_hold_are_named(
    work: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.pem"
    made = caseyard("audit", "keygen", str(other), cwd=work)
    assert made.returncode == 0, made.stderr
    result = verify(work, "--public-key", f"{other}.pub")
    assert "which is not among the trusted keys" in result.stdout


def test_an_exported_case_is_checked_offline_as_the_readme_says(demo_dir: Path) -> None:
    case = next(iter(case_rows(demo_dir)))
    result = caseyard("audit", "export", "--case", case, "--format", "json", cwd=demo_dir)
    assert result.returncode == 0, result.stderr
    proof = json.loads(result.stdout)["chain"]["proof"]
    # README, "Checking a case offline": only hashlib, json and an Ed25519 verifier.
    previous = None
    for link in proof["events"]:
        assert json.loads(link["content"])["previous_hash"] == previous
        data = link["event_type"].encode() + b"\n" + link["content"].encode()
        previous = hashlib.sha256(data).hexdigest()
    checkpoint = json.loads(proof["checkpoint"])
    (head,) = [h for h in checkpoint["heads"] if h["case_id"] == case]
    assert head["hash"] == previous and head["events"] == len(proof["events"])
    signature = base64.b64decode(checkpoint.pop("signature"))
    public = serialization.load_pem_public_key(proof["public_key"].encode())
    assert isinstance(public, Ed25519PublicKey)
    public.verify(signature, json.dumps(checkpoint, separators=(",", ":")).encode())


def test_a_case_whose_state_record_is_corrupt_is_listed_as_quarantined(work: Path) -> None:
    import bus
    from bus import partition_for
    from schemas.topology import CASE_PARTITIONS, STATE

    case = next(iter(case_rows(work)))

    async def corrupt() -> None:
        async with bus.connect(f"sqlite:///{work}/bus.db") as b:
            p = partition_for(case.encode(), CASE_PARTITIONS, 0)
            await b.publish(STATE.name, b"\xff{not a state", key=case.encode(), partition=p)

    anyio.run(corrupt)
    listed = json.loads(caseyard("cases", "--json", "--status", "quarantined", cwd=work).stdout)
    assert [row["case"] for row in listed] == [case]
    shown = caseyard("case", case, cwd=work)
    assert shown.returncode == 0, shown.stderr
    assert "quarantined: its state record caseyard.coordinator.state[" in shown.stdout
    assert "is corrupt" in shown.stdout
