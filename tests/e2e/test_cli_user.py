"""The CLI as a user types it: one-line errors, non-zero exits, submit and read a case."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASEYARD = str(Path(sys.executable).parent / "caseyard")


def caseyard(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CASEYARD, *args],
        cwd=cwd,
        env={
            **os.environ,
            "CASEYARD_DATA_DIR": str(cwd / "data"),
            "CASEYARD_BUS": f"sqlite:///{cwd}/bus.db",
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["submit", "missing.pdf"], {}, "missing.pdf: no such file"),
        (["submit", "notes.doc"], {}, "unsupported document type '.doc'"),
        (["cases"], {"CASEYARD_BUS": "redis://x"}, "unknown scheme 'redis'"),
        (["case", "nope"], {}, "no case 'nope'"),
        (["run", "classifier", "--port", "9000"], {}, "--host and --port are the registry's"),
        (["run", "nosuchagent"], {}, "no agent 'nosuchagent'"),
        (["train", "nosuchmodel"], {}, "unknown model 'nosuchmodel'"),
        (["cases"], {"CASEYARD_MAX_MESSAGE_BYTES": "-1"}, "setting 'max_message_bytes'"),
        (["submit", "docs"], {}, "docs is a directory: submit the files in it (docs/*)"),
        (
            ["submit", "big.txt"],
            {"CASEYARD_MAX_DOCUMENT_BYTES": "1000"},
            "big.txt is larger than the 1,000-byte limit (CASEYARD_MAX_DOCUMENT_BYTES)",
        ),
        (
            ["submit", "big.txt", "--pipeline", "nosuch"],
            {"CASEYARD_PIPELINES_DIR": str(ROOT / "pipelines")},
            "no pipeline 'nosuch' in",
        ),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    (tmp_path / "notes.doc").write_bytes(b"x")
    (tmp_path / "docs").mkdir()
    (tmp_path / "big.txt").write_bytes(b"an invoice line\n" * 1000)
    sqlite3.connect(tmp_path / "bus.db").close()  # a project with no cases yet
    result = caseyard(*args, cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    # Nothing refused was stored, not even in part, and no case was submitted.
    blobs = tmp_path / "data" / "blobs"
    assert not blobs.exists() or not [p for p in blobs.rglob("*") if p.is_file()]


def test_the_project_is_found_from_below_it_and_reading_outside_it_is_refused(
    tmp_path: Path,
) -> None:
    """As git finds its repository: commands run below the directory holding caseyard.toml
    use its settings, with its relative paths taken from there; a reading command run
    where there is no caseyard data says so (it used to create an empty bus there and
    list no cases)."""
    project = tmp_path / "project"
    (project / "docs" / "deep").mkdir(parents=True)
    (project / "caseyard.toml").write_text('data_dir = "state"\nbus = "sqlite:///state/bus.db"\n')
    (project / "note.txt").write_text("Please refund order 1234: it arrived broken.\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEYARD_")}

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CASEYARD, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
        )

    deep = project / "docs" / "deep"
    submitted = run("submit", "../../note.txt", cwd=deep)
    assert submitted.returncode == 0, submitted.stderr
    assert (project / "state" / "bus.db").is_file()
    assert [p for p in (project / "state" / "blobs").rglob("*") if p.is_file()]
    assert not (deep / "state").exists() and not (deep / ".caseyard").exists()
    listed = run("cases", cwd=deep)
    assert listed.returncode == 0, listed.stderr

    outside = run("cases", cwd=tmp_path)
    assert outside.returncode == 2
    assert outside.stderr.strip() == (
        f"error: no caseyard data at {tmp_path}/.caseyard/bus.db: run from your project (a "
        "directory with a caseyard.toml or a .caseyard directory, or below it) or set "
        "CASEYARD_BUS and CASEYARD_DATA_DIR"
    )
    assert not (tmp_path / ".caseyard").exists()


def all_commands() -> list[str]:
    """Every leaf command of the CLI, found by walking the command tree typer builds."""
    import typer.main

    from caseyard import cli

    cli._register_commands()
    found: list[str] = []

    def walk(command: object, path: list[str]) -> None:
        subcommands: dict[str, object] | None = getattr(command, "commands", None)
        if subcommands is None:
            found.append(" ".join(path))
            return
        for name, sub in subcommands.items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(cli.app), [])
    return found


def test_every_command_has_help_with_an_example(tmp_path: Path) -> None:
    commands = all_commands()
    assert {"demo", "up", "replay", "dlq redrive", "inbox add-user", "topics asyncapi"} <= set(
        commands
    )
    # One process per command (~1 s each, mostly imports): as many at once as there are
    # cores.
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        helps = pool.map(lambda c: (c, caseyard(*c.split(), "--help", cwd=tmp_path)), commands)
        for command, result in helps:
            assert result.returncode == 0, (command, result.stderr)
            assert "Example" in result.stdout, command


def test_submit_then_list_and_show_the_submitted_case(tmp_path: Path) -> None:
    doc = ROOT / "examples" / "documents" / "receipt_coffee_shop.txt"
    if not doc.exists():
        doc = next((ROOT / "examples" / "documents").glob("*.txt"))
    submitted = caseyard("submit", str(doc), "--json", cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    assert '"status": "submitted"' in submitted.stdout


def test_topics_ensure_brings_a_log_of_an_earlier_version_up_to_date(tmp_path: Path) -> None:
    """The changelog of a log an earlier version created has no tombstone retention of its
    own: `topics ensure` sets it and says so, and a second run changes nothing."""
    assert caseyard("topics", "ensure", cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "bus.db") as conn:
        conn.execute(
            "UPDATE topics SET delete_retention_ms=NULL WHERE name='caseyard.coordinator.state'"
        )
    wide = {"COLUMNS": "200"}
    first = caseyard("topics", "ensure", cwd=tmp_path, env=wide)
    assert first.returncode == 0, first.stderr
    (line,) = [line for line in first.stdout.splitlines() if "caseyard.coordinator.state" in line]
    assert "delete.retention.ms: default -> 600000" in line
    assert first.stdout.count("->") == 1
    second = caseyard("topics", "ensure", cwd=tmp_path, env=wide)
    assert second.returncode == 0 and "->" not in second.stdout, second.stdout


def test_readers_skip_and_name_records_that_do_not_decode(tmp_path: Path) -> None:
    """Garbage written straight to caseyard.case-events and caseyard.dlq (a non-UTF-8 key
    and header included): `cases` and `dlq list` still answer, and say what they skipped."""
    assert caseyard("topics", "ensure", cwd=tmp_path).returncode == 0
    garbage = (
        "import anyio, bus\n"
        "async def main():\n"
        f"    async with bus.connect('sqlite:///{tmp_path}/bus.db') as b:\n"
        "        for topic in ('caseyard.case-events', 'caseyard.dlq'):\n"
        "            await b.publish(\n"
        "                topic, b'\\x00\\x00\\x00\\x00\\x07\\xff garbage', key=b'\\xff\\xfe',\n"
        "                headers=(('dlq.source.topic', b'\\xff'),))\n"
        "anyio.run(main)\n"
    )
    subprocess.run([sys.executable, "-c", garbage], check=True, cwd=ROOT, timeout=60)
    cases = caseyard("cases", cwd=tmp_path)
    assert cases.returncode == 0, cases.stderr
    assert "caseyard.case-events[" in cases.stderr and "does not decode" in cases.stderr
    assert "Traceback" not in cases.stderr
    letters = caseyard("dlq", "list", cwd=tmp_path)
    assert letters.returncode == 0, letters.stderr
    assert "1 record(s) that do not decode" in letters.stdout + letters.stderr
    assert "Traceback" not in letters.stderr


def test_exit_codes_version_and_json_errors_for_scripts(tmp_path: Path) -> None:
    version = caseyard("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("caseyard ")
    usage = caseyard("cases", "--status", "bogus", cwd=tmp_path)
    assert usage.returncode == 2 and "--status 'bogus': use one of open, escalated" in usage.stderr
    as_json = caseyard("submit", "missing.pdf", "--json", cwd=tmp_path)
    assert as_json.returncode == 2
    assert json.loads(as_json.stderr) == {
        "error": "missing.pdf: no such file", "type": "ConfigError", "exit_code": 2,
    }  # fmt: skip
    (tmp_path / "note.txt").write_text("Please pay invoice 2026-014 by Friday.")
    # Nothing runs the case here: --wait gives up, and says so with exit code 1.
    waited = caseyard("submit", "note.txt", "--wait", "--timeout", "1", cwd=tmp_path)
    assert waited.returncode == 1
    assert "0 of 1 case(s) failed and 1 did not finish within --timeout 1 s" in waited.stderr


def test_train_extractor_prints_what_its_confidence_means(tmp_path: Path) -> None:
    # --no-write: the repository's data/extractor files stay as committed.
    before = (ROOT / "data" / "extractor" / "calibration.json").read_bytes()
    done = caseyard("train", "extractor", "--no-write", cwd=tmp_path, env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "held out: what the fields' confidence says" in done.stdout
    calibrated = next(line for line in done.stdout.splitlines() if "calibrated" in line)
    as_given = next(line for line in done.stdout.splitlines() if "as the rules give it" in line)
    metrics = json.loads((ROOT / "data" / "extractor" / "metrics.json").read_text())
    shipped = metrics["held_out"]["confidence"]
    assert f"{shipped['calibrated']['ece']:.3f}" in calibrated
    assert f"{shipped['rules']['ece']:.3f}" in as_given
    assert (ROOT / "data" / "extractor" / "calibration.json").read_bytes() == before


def test_train_classifier_refuses_real_documents_it_cannot_read(tmp_path: Path) -> None:
    """`--real` names the classifier's documents: a missing file, a line that is not a
    labelled document, documents of one source (exit 1), or another model's training (a
    usage error, exit 2) each end in one line, before any training."""
    missing = caseyard("train", "classifier", "--real", "gone.jsonl", "--no-write", cwd=tmp_path)
    assert missing.returncode == 1
    assert "gone.jsonl" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a/1", "source": "a", "doc_type": "poem", "text": "x"}\n')
    unlabelled = caseyard("train", "classifier", "--real", str(bad), "--no-write", cwd=tmp_path)
    assert unlabelled.returncode == 1
    assert "bad.jsonl:1: not a labelled real document" in unlabelled.stderr
    other = caseyard("train", "scorer", "--real", str(bad), "--no-write", cwd=tmp_path)
    assert other.returncode == 2 and "--real is the classifier's" in other.stderr
    # Documents of one source: none can be held out.
    alone = tmp_path / "alone.jsonl"
    alone.write_text(
        "".join(
            json.dumps({"id": f"a/{n}", "source": "a", "doc_type": "invoice", "text": "x"}) + "\n"
            for n in range(3)
        )
    )
    one = caseyard("train", "classifier", "--real", str(alone), cwd=tmp_path)
    assert one.returncode == 1 and "at least two sources" in one.stderr
