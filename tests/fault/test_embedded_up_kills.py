"""`caseyard up` on the embedded bus, killed with SIGKILL again and again under CPU load.

Issue 11 saw, in 2 of 6 runs on a loaded machine, 20 of 40 cases stay at `StepStarted
classify` for minutes after the process group was SIGKILLed three times and restarted.
This is that run as a loop: documents are submitted, the whole process group of `caseyard
up` is killed at random moments 0.5-4 s apart and started again, KILLS times, with a busy
process beside it; then every case must settle (completed, failed or waiting in the inbox)
within SETTLE_S, with no case opened twice. A case still open is reported with its last
event. CASEYARD_FAULT_SEED picks the kill moments; CASEYARD_FAULT_SETTLE_S the wait.

What it found: after a restart the embedded bus gave the new coordinator its partitions in
two rebalances (the dead member's lease ran out between them) and told the listener only
what was gained; the coordinator took that for its whole assignment, forgot the states of
the partitions it already had, and then dropped their inputs and fired none of their
timers. Fixed in both places (coordinator/_service.py, bus/_embedded.py, the contract).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASEYARD = str(Path(sys.executable).parent / "caseyard")
DOCUMENTS = 24
KILLS = 4
SETTLE_S = float(os.environ.get("CASEYARD_FAULT_SETTLE_S", "300"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CASEYARD_BUS": f"sqlite:///{tmp_path}/bus.db",
        "CASEYARD_DATA_DIR": str(tmp_path / "data"),
        "CASEYARD_INBOX_PORT": str(free_port()),
        "CASEYARD_LOG_LEVEL": "WARNING",
        "COLUMNS": "200",
    }


@pytest.fixture
def groups() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def up(groups: list[subprocess.Popen[bytes]], env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        groups.append(
            subprocess.Popen(
                [CASEYARD, "up"],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed whole
            )
        )


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [CASEYARD, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.timeout(SETTLE_S + 300)
def test_cases_settle_after_the_process_group_is_killed_again_and_again(
    env: dict[str, str], groups: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    rng = random.Random(int(os.environ.get("CASEYARD_FAULT_SEED", "11")))
    documents = sorted(
        p for p in (ROOT / "examples" / "documents").iterdir() if p.name != "EXPECTED.json"
    )[:DOCUMENTS]
    log = tmp_path / "up.log"
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        up(groups, env, log)
        cli(env, "submit", *map(str, documents))
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.5, 4.0))
            os.killpg(groups[-1].pid, signal.SIGKILL)
            groups[-1].wait(timeout=30)
            up(groups, env, log)
    finally:
        busy.kill()
        busy.wait()

    deadline = time.monotonic() + SETTLE_S
    while True:
        rows = json.loads(cli(env, "cases", "--json"))
        still_open = [r["case"] for r in rows if r["status"] == "open"]
        # A fraud report is handed to the fraud-alert pipeline: one more case each.
        handed_off = sum(r["status"] == "handed-off" for r in rows)
        if len(rows) - handed_off == len(documents) and not still_open:
            break
        if time.monotonic() > deadline:
            stuck = {c: cli(env, "case", c).strip().splitlines()[-1] for c in still_open[:5]}
            pytest.fail(
                f"{len(still_open)} of {len(rows)} cases still open {SETTLE_S:g} s after the "
                f"last restart ({len(documents)} submitted); last events: {stuck}; "
                f"log tail: {log.read_text()[-2000:]}"
            )
        time.sleep(2)
    assert groups[-1].poll() is None, log.read_text()[-2000:]
    opened = cli(env, "audit", "verify")
    assert "intact:" in opened
