"""`caseyard replay`, `caseyard dlq ...` and `caseyard audit export` as a user types them,
after a demo on the embedded bus (plus one submission the coordinator dead-letters)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from bus._log import decode_headers
from caseyard.schema_store import REGISTRY_DB
from schemas import AvroCodec, Decision, PolicyDecision, Registry, SqliteSchemaStore
from schemas.topology import CASE_EVENTS
from tests.e2e.test_cli_audit import tamper
from tests.e2e.test_cli_user import caseyard

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ("receipt_cafe_kiosk.txt", "payment_ceo_wire_request.eml")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two demo cases (one completes, one waits for a person) and a submission asking for
    a pipeline that does not exist (the coordinator dead-letters it)."""
    work = tmp_path_factory.mktemp("replay")
    docs = work / "docs"
    docs.mkdir()
    for name in DOCUMENTS:
        shutil.copy(ROOT / "examples" / "documents" / name, docs / name)
    # Submitted where the pipelines are not (the coordinator runs elsewhere), so submit
    # cannot refuse the unknown pipeline: the coordinator dead-letters it.
    elsewhere = {"CASEYARD_PIPELINES_DIR": str(work / "no-pipelines-here")}
    bad = caseyard(
        "submit", str(docs / DOCUMENTS[0]), "--pipeline", "nosuch", cwd=work, env=elsewhere
    )
    assert bad.returncode == 0, bad.stderr
    result = caseyard("demo", "--documents", str(docs), "--timeout", "120", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "outcomes: completed 1, escalated 1" in result.stdout
    return work


def copy_of(demo: Path, tmp_path: Path) -> Path:
    work = tmp_path / "copy"
    shutil.copytree(demo, work)
    return work


def as_json(*args: str, cwd: Path) -> Any:
    result = caseyard(*args, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def cases_of(demo: Path) -> dict[str, Any]:
    return {c["case"]: c for c in as_json("replay", cwd=demo)["cases"]}


def test_replay_rebuilds_every_case_and_verifies_every_decision(demo: Path) -> None:
    cases = cases_of(demo)
    statuses = sorted(str(c["status"]) for c in cases.values())
    assert statuses == ["completed", "not opened: unknown pipeline 'nosuch'", "running"]
    (waiting,) = [c for c in cases.values() if c["status"] == "running"]
    human = waiting["human_task"]
    assert isinstance(human, dict) and human["queue"] == "risk-review"
    timers = waiting["timers"]
    assert isinstance(timers, list)
    assert {t["purpose"] for t in timers} == {"human_sla", "case_deadline"}
    assert waiting["steps"] == ["score (review, attempt 1)"]

    verified = caseyard("replay", "--verify", cwd=demo)
    assert verified.returncode == 0, verified.stderr
    assert "decide as recorded" in verified.stdout
    one = caseyard("replay", "--case", str(waiting["case"]), "--verify", cwd=demo)
    assert one.returncode == 0, one.stderr
    assert "verified: 5 inputs of 1 case(s)" in one.stdout


def test_replay_from_a_time_or_an_offset_chooses_the_cases_submitted_from_there(
    demo: Path,
) -> None:
    everything = cases_of(demo)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    replayed = as_json("replay", "--from", later, cwd=demo)
    assert isinstance(replayed, dict) and replayed["cases"] == []
    assert replayed["from"] == datetime.fromisoformat(later).isoformat()
    earlier = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert cases_of_from(demo, earlier) == set(everything)
    assert cases_of_from(demo, "0") == set(everything)
    assert cases_of_from(demo, "1000") == set()


def cases_of_from(demo: Path, start: str) -> set[str]:
    replayed = as_json("replay", "--from", start, cwd=demo)
    assert isinstance(replayed, dict)
    return {c["case"] for c in replayed["cases"]}


def deny_the_first_allowed(work: Path) -> str:
    """Turn the first 'allow' policy decision of the SQLite log into 'deny'; where it is."""
    codec = AvroCodec(Registry(SqliteSchemaStore(work / "data" / REGISTRY_DB)))
    db = sqlite3.connect(work / "bus.db")
    rows = db.execute(
        "SELECT partition, offset, value FROM records WHERE topic=? ORDER BY partition, offset",
        (CASE_EVENTS.name,),
    ).fetchall()
    for partition, offset, value in rows:
        event = anyio.run(codec.decode, value)
        if isinstance(event, PolicyDecision) and event.decision is Decision.ALLOW:
            denied = event.model_copy(update={"decision": Decision.DENY})
            db.execute(
                "UPDATE records SET value=? WHERE topic=? AND partition=? AND offset=?",
                (anyio.run(codec.encode, denied, CASE_EVENTS.name), CASE_EVENTS.name, partition,
                 offset),
            )  # fmt: skip
            db.commit()
            db.close()
            return f"{CASE_EVENTS.name}/{partition}/{offset}"
    raise AssertionError("no allowed policy decision in the log")


def test_verify_names_a_recorded_decision_that_was_changed(demo: Path, tmp_path: Path) -> None:
    work = copy_of(demo, tmp_path)
    deny_the_first_allowed(work)
    result = caseyard("replay", "--verify", cwd=work)
    assert result.returncode == 1
    assert "1 recorded decision(s) differ from the replay in 1 case(s)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    (line,) = [line for line in result.stdout.splitlines() if "decision=" in line]
    # The input that decided, what the coordinator decides, what the log says.
    assert re.search(r"case case-\w+: caseyard\.(intake|results)/\d+/\d+ \w+ [0-9a-f-]+: ", line)
    assert "expected PolicyDecision" in line and "decision='allow'" in line
    assert "recorded PolicyDecision" in line and "decision='deny'" in line


def test_verify_names_a_case_event_that_no_longer_decodes(demo: Path, tmp_path: Path) -> None:
    work = copy_of(demo, tmp_path)
    where = tamper(work, lambda value: value[:6])
    result = caseyard("replay", "--verify", "--json", cwd=work)
    assert result.returncode == 1
    differences = json.loads(result.stdout)["differences"]
    garbled = [d for d in differences if d.get("record") == where]
    assert len(garbled) == 1 and garbled[0]["problem"] == "does not decode"
    # The replay still decides what that record said: it is missing from what is recorded.
    assert any(d.get("recorded") == "nothing" for d in differences)


def test_verify_names_the_decisions_a_changed_pipeline_makes_differently(
    demo: Path, tmp_path: Path
) -> None:
    pipelines = tmp_path / "pipelines"
    shutil.copytree(ROOT / "pipelines", pipelines)
    intake = pipelines / "document-intake.yaml"
    text = intake.read_text()
    assert "fields: [iban, account_number, card_number]" in text
    intake.write_text(text.replace("fields: [iban, account_number, card_number]", "fields: [iban]"))
    result = caseyard(
        "replay", "--verify", cwd=demo, env={"CASEYARD_PIPELINES_DIR": str(pipelines)}
    )
    assert result.returncode == 1
    differ = [line for line in result.stdout.splitlines() if "PolicyDecision" in line]
    assert differ, result.stdout
    assert "fields redacted before respond: iban'" in differ[0]
    assert "fields redacted before respond: iban,account_number,card_number'" in differ[0]


def test_group_replay_moves_a_groups_offsets(demo: Path, tmp_path: Path) -> None:
    work = copy_of(demo, tmp_path)
    moved = as_json(
        "replay", "--group", "backfill", "--topic", "caseyard.intake", "--from", "earliest",
        cwd=work,
    )  # fmt: skip
    assert isinstance(moved, dict)
    rows = moved["partitions"]
    assert [r["partition"] for r in rows] == list(range(6))
    assert {(r["before"], r["after"]) for r in rows} == {(None, 0)}
    assert sum(r["to_consume"] for r in rows) == 3
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    moved = as_json(
        "replay", "--group", "backfill", "--topic", "caseyard.intake", "--from", later, cwd=work
    )
    assert isinstance(moved, dict)
    assert {r["to_consume"] for r in moved["partitions"]} == {0}
    db = sqlite3.connect(work / "bus.db")
    committed = db.execute(
        "SELECT SUM(offset) FROM group_offsets WHERE grp='backfill' AND topic='caseyard.intake'"
    ).fetchone()[0]
    db.close()
    assert committed == 3


def test_dead_letters_are_listed_shown_and_redriven_once(demo: Path, tmp_path: Path) -> None:
    work = copy_of(demo, tmp_path)
    letters = as_json("dlq", "list", cwd=work)
    assert isinstance(letters, list)
    (letter,) = letters
    assert letter["reason"] == "coordinator: unknown pipeline 'nosuch'"
    assert letter["source"].startswith("caseyard.intake/") and letter["redriven"] is None
    prefix = letter["id"][:20]

    shown = caseyard("dlq", "show", prefix, cwd=work)
    assert shown.returncode == 0, shown.stderr
    assert '"type": "CaseSubmitted"' in shown.stdout and '"pipeline": "nosuch"' in shown.stdout
    assert "redrive to" in shown.stdout and "caseyard.intake" in shown.stdout

    dry = caseyard("dlq", "redrive", "--all", "--dry-run", cwd=work)
    assert dry.returncode == 0, dry.stderr
    assert f"would redrive: {letter['id']}" in dry.stdout
    assert count_redriven(work) == 0

    done = caseyard("dlq", "redrive", prefix, cwd=work)
    assert done.returncode == 0, done.stderr
    assert f"redriven: {letter['id']} (case {letter['case']}) to caseyard.intake" in done.stdout
    assert count_redriven(work) == 1

    again = caseyard("dlq", "redrive", prefix, cwd=work)
    assert again.returncode == 2
    assert f"dead letter {letter['id']} was already redriven" in again.stderr
    rest = caseyard("dlq", "redrive", "--all", cwd=work)
    assert rest.returncode == 0 and "0 dead letter(s) redriven" in rest.stdout
    assert count_redriven(work) == 1
    (listed,) = as_json("dlq", "list", cwd=work)
    assert listed["redriven"]["topic"] == "caseyard.intake"


def count_redriven(work: Path) -> int:
    """Intake records that carry the redrive header."""
    db = sqlite3.connect(work / "bus.db")
    rows = db.execute("SELECT headers FROM records WHERE topic='caseyard.intake'").fetchall()
    db.close()
    return sum(any(k == "dlq.redriven_from" for k, _ in decode_headers(h)) for (h,) in rows)


def test_audit_export_as_json_and_as_one_html_file(demo: Path, tmp_path: Path) -> None:
    (waiting,) = [c for c in cases_of(demo).values() if c["status"] == "running"]
    case_id = str(waiting["case"])
    report = as_json_report(case_id, demo)
    assert (report["status"], report["pipeline"]) == ("escalated", "document-intake")
    assert report["chain"]["intact"] is True
    assert ("high-risk", "escalate") in {
        (p["rule"], p["decision"]) for p in report["policy_decisions"]
    }
    assert {m["step"] for m in report["models"]} == {"classify", "extract", "triage", "score"}
    assert all(m["provider"] == "local" for m in report["models"])

    page = tmp_path / "report.html"
    written = caseyard("audit", "export", "--case", case_id, "-o", str(page), cwd=demo)
    assert written.returncode == 0, written.stderr
    assert f"wrote {page} (html" in written.stdout
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html and case_id in html
    assert "http://" not in html and "https://" not in html and "<script" not in html

    nowhere = caseyard(
        "audit", "export", "--case", case_id, "-o", str(tmp_path / "no" / "r.html"), cwd=demo
    )
    assert nowhere.returncode == 2 and "cannot write" in nowhere.stderr


def as_json_report(case_id: str, cwd: Path) -> Any:
    result = caseyard("audit", "export", "--case", case_id, "--format", "json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_audit_export_of_a_tampered_case_says_the_chain_is_broken(
    demo: Path, tmp_path: Path
) -> None:
    work = copy_of(demo, tmp_path)
    tamper(work, lambda value: value[:6])
    db = sqlite3.connect(work / "bus.db")
    (key,) = db.execute(
        "SELECT key FROM records WHERE topic='caseyard.case-events'"
        " ORDER BY partition, offset LIMIT 1 OFFSET 1"
    ).fetchone()
    db.close()
    report = as_json_report(key.decode(), work)
    chain = report["chain"]
    assert isinstance(chain, dict) and chain["intact"] is False
    assert "does not decode (changed)" in chain["breaks"][0]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["replay", "--case", "nope"], {}, "no submission of case 'nope'"),
        (["replay", "--from", "yesterday"], {}, "expected an ISO-8601 time"),
        (["replay", "--group", "g"], {}, "--group and --topic go together"),
        (["replay", "--group", "g", "--topic", "caseyard.intake"], {}, "needs --from"),
        (
            ["replay", "--group", "g", "--topic", "caseyard.intake", "--from", "0", "--verify"],
            {},
            "--case, --verify and --what-if are for case replay",
        ),
        (
            ["replay", "--group", "g", "--topic", "nosuch", "--from", "earliest"],
            {},
            "topic 'nosuch' does not exist",
        ),
        (["dlq", "show", "ffff"], {}, "no dead letter 'ffff'"),
        (["dlq", "redrive", "ffff"], {}, "no dead letter 'ffff'"),
        (["dlq", "redrive"], {}, "give dead letter ids or --all"),
        (["dlq", "list"], {"CASEYARD_BUS": "redis://x"}, "unknown scheme 'redis'"),
        (["audit", "export", "--case", "nope"], {}, "no case 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    sqlite3.connect(tmp_path / "bus.db").close()  # a project with no cases yet
    result = caseyard(*args, cwd=tmp_path, env=env)
    assert result.returncode == 2  # a usage or configuration error
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
