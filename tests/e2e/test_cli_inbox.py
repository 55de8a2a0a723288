"""`caseyard inbox add-user|add-token` and `caseyard run inbox` as a user runs them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

CASEYARD = str(Path(sys.executable).parent / "caseyard")


def environment(cwd: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CASEYARD_DATA_DIR": str(cwd / "data"),
        "CASEYARD_BUS": f"sqlite:///{cwd}/bus.db",
        "PYTHONUNBUFFERED": "1",
    }


def caseyard(*args: str, cwd: Path, input: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CASEYARD, *args],
        cwd=cwd,
        env=environment(cwd),
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_run_inbox_serves_users_and_tokens_until_sigterm(tmp_path: Path) -> None:
    added = caseyard(
        "inbox", "add-user", "sam", "--role", "supervisor", "--password-stdin",
        cwd=tmp_path, input="pw-sam\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    token = caseyard("inbox", "add-token", "sam", cwd=tmp_path)
    assert token.returncode == 0, token.stderr
    port = free_port()
    with subprocess.Popen(
        [CASEYARD, "run", "inbox", "--port", str(port)],
        cwd=tmp_path,
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as inbox:
        try:
            assert inbox.stdout is not None
            seen = []  # up to the announcement; pytest's timeout bounds the wait
            for line in iter(inbox.stdout.readline, ""):
                if line.startswith(f"inbox on http://127.0.0.1:{port}"):
                    break
                seen.append(line)
            else:
                pytest.fail(f"the inbox exited: {seen} {inbox.stderr and inbox.stderr.read()}")
            headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
            url = f"http://127.0.0.1:{port}/api/tasks"
            answer = httpx.get(url, headers=headers, timeout=30)
            assert answer.status_code == 200 and answer.json() == {"tasks": []}
        finally:
            inbox.send_signal(signal.SIGTERM)
            out, err = inbox.communicate(timeout=30)
    assert inbox.returncode == 0, err
    assert "inbox stopped" in out


def test_a_busy_inbox_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = caseyard("run", "inbox", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2
    assert f"cannot serve the inbox on 127.0.0.1:{port}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_inbox_commands_explain_bad_input_in_one_line(tmp_path: Path) -> None:
    reviewer = caseyard(
        "inbox", "add-user", "al", "--role", "reviewer", "--password-stdin",
        cwd=tmp_path, input="pw\n",
    )  # fmt: skip
    assert reviewer.returncode == 2
    assert "reviewer 'al' needs at least one queue" in reviewer.stderr
    token = caseyard("inbox", "add-token", "ghost", cwd=tmp_path)
    assert token.returncode == 2 and "no inbox user 'ghost'" in token.stderr
    for result in (reviewer, token):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_users_are_listed_tokens_revoked_users_unlocked_and_removed(tmp_path: Path) -> None:
    for name, role in (("ana", "supervisor"), ("ben", "auditor")):
        added = caseyard(
            "inbox", "add-user", name, "--role", role, "--password-stdin",
            cwd=tmp_path, input=f"pw-{name}\n",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    token = caseyard("inbox", "add-token", "ana", cwd=tmp_path).stdout.strip()
    listed = caseyard("inbox", "list-users", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[1]: line for line in listed.stdout.splitlines() if "│ " in line}
    assert "supervisor" in rows["ana"] and "auditor" in rows["ben"]

    wrong = caseyard("inbox", "revoke-token", "ana", "--token-stdin", cwd=tmp_path, input="cy_x\n")
    assert wrong.returncode != 0 and "that token is not one of the tokens of 'ana'" in wrong.stderr
    revoked = caseyard("inbox", "revoke-token", "ana", "--token-stdin", cwd=tmp_path, input=token)
    assert revoked.returncode == 0 and "revoked 1 token(s) of ana" in revoked.stdout
    vague = caseyard("inbox", "revoke-token", "ana", cwd=tmp_path)
    assert vague.returncode != 0 and "--token-stdin" in vague.stderr

    unlocked = caseyard("inbox", "unlock", "ben", cwd=tmp_path)
    assert unlocked.returncode == 0 and "ben was not locked" in unlocked.stdout
    removed = caseyard("inbox", "remove-user", "ben", cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    again = caseyard("inbox", "remove-user", "ben", cwd=tmp_path)
    assert again.returncode != 0 and "no inbox user 'ben'" in again.stderr
    assert "ben" not in caseyard("inbox", "list-users", cwd=tmp_path).stdout
