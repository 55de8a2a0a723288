"""Inbox users: password hashing, the users file, API tokens, roles, and the CLI."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from caseyard import cli
from caseyard.commands import inbox as inbox_commands
from caseyard.errors import ConfigError
from caseyard.inbox import Role, User, UserStore, ensure_demo_user, hash_password
from caseyard.inbox.auth import verify_password
from caseyard.settings import Settings


def test_a_password_hash_is_salted_scrypt_and_verifies() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first.startswith("scrypt$16384$8$1$")
    assert first != second  # a fresh salt each time
    assert verify_password("s3cret", first) and verify_password("s3cret", second)
    assert not verify_password("s3cret!", first)


@pytest.mark.parametrize("stored", ["", "plain", "bcrypt$1$2$3$4$5", "scrypt$x$8$1$AA==$AA=="])
def test_a_malformed_hash_verifies_nothing(stored: str) -> None:
    assert not verify_password("anything", stored)


def test_the_users_file_keeps_hashes_not_passwords(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.toml")
    assert store.add_user("alice", Role.REVIEWER, ("risk-review", "risk-review"), "pw-alice")
    text = store.path.read_text()
    assert "pw-alice" not in text
    assert store.path.stat().st_mode & 0o077 == 0
    alice = tomllib.loads(text)["users"]["alice"]
    assert alice["role"] == "reviewer" and alice["queues"] == ["risk-review"]
    fresh = UserStore(store.path)  # another process reading the same file
    assert fresh.check_password("alice", "pw-alice") == User(
        "alice", Role.REVIEWER, frozenset({"risk-review"})
    )
    assert fresh.check_password("alice", "wrong") is None
    assert fresh.check_password("nobody", "pw-alice") is None


def test_tokens_are_stored_as_sha256_and_survive_a_new_password(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.toml")
    store.add_user("ci", Role.SUPERVISOR, (), "pw")
    token = store.add_token("ci")
    assert token.startswith("cy_") and token not in store.path.read_text()
    assert hashlib.sha256(token.encode()).hexdigest() in store.path.read_text()
    assert not store.add_user("ci", Role.AUDITOR, (), "new-pw")  # an update
    user = UserStore(store.path).check_token(token)
    assert user is not None and (user.name, user.role) == ("ci", Role.AUDITOR)
    assert store.check_token(token + "x") is None


def test_the_store_sees_changes_another_process_made(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    serving = UserStore(path)
    assert serving.user("alice") is None
    UserStore(path).add_user("alice", Role.AUDITOR, (), "pw")
    assert serving.user("alice") == User("alice", Role.AUDITOR)


@pytest.mark.parametrize(
    ("name", "role", "queues", "message"),
    [
        ("alice", Role.REVIEWER, (), "needs at least one queue"),
        ("sam", Role.SUPERVISOR, ("q",), "queues are for reviewers only"),
        ("bad name", Role.AUDITOR, (), "user name 'bad name': use letters, digits"),
        ("alice", Role.REVIEWER, ("bad queue",), "queue 'bad queue': use letters"),
    ],
)
def test_invalid_users_are_one_clear_error(
    tmp_path: Path, name: str, role: Role, queues: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        UserStore(tmp_path / "users.toml").add_user(name, role, queues, "pw")


def test_a_broken_users_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    path.write_text('[users.alice]\nrole = "boss"\n')
    with pytest.raises(ConfigError, match=r"users.toml: users.alice.role: Input should be"):
        UserStore(path).user("alice")
    path.write_text("[users\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        UserStore(path).user("alice")


def test_a_token_needs_an_existing_user(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no inbox user 'ghost'"):
        UserStore(tmp_path / "users.toml").add_token("ghost")


@pytest.mark.parametrize(
    ("user", "see", "act"),
    [
        (User("r", Role.REVIEWER, frozenset({"mine"})), (True, False), (True, False)),
        (User("s", Role.SUPERVISOR), (True, True), (True, True)),
        (User("a", Role.AUDITOR), (True, True), (False, False)),
    ],
)
def test_roles_see_and_act(user: User, see: tuple[bool, bool], act: tuple[bool, bool]) -> None:
    assert (user.can_see("mine"), user.can_see("other")) == see
    assert (user.can_act("mine"), user.can_act("other")) == act


def test_the_demo_user_is_made_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    password = ensure_demo_user(settings)
    assert password is not None
    store = UserStore(tmp_path / "inbox-users.toml")
    assert store.check_password("demo", password) == User("demo", Role.SUPERVISOR)
    assert ensure_demo_user(settings) is None


@pytest.fixture
def inbox_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    settings = Settings(data_dir=tmp_path, inbox_users_file=tmp_path / "users.toml")
    monkeypatch.setattr(cli.state, "settings", settings)
    app = typer.Typer()
    inbox_commands.register(app)
    return app


def test_cli_adds_a_user_from_stdin_and_a_token(inbox_cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        inbox_cli,
        ["inbox", "add-user", "alice", "--role", "reviewer", "--queue", "risk-review",
         "--queue", "fraud-analysts", "--password-stdin"],
        input="pw-alice\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added reviewer alice" in added.output
    store = UserStore(tmp_path / "users.toml")
    alice = store.check_password("alice", "pw-alice")
    assert alice is not None and alice.queues == {"risk-review", "fraud-analysts"}

    issued = runner.invoke(inbox_cli, ["inbox", "add-token", "alice"])
    assert issued.exit_code == 0, issued.output
    assert store.check_token(issued.output.strip()) == alice


def test_cli_prompts_for_the_password_twice(inbox_cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        inbox_cli, ["inbox", "add-user", "sam", "--role", "supervisor"], input="pw\npw\n"
    )
    assert result.exit_code == 0, result.output
    assert "pw" not in result.output.replace("Password", "")
    assert UserStore(tmp_path / "users.toml").check_password("sam", "pw") is not None


def test_cli_refuses_an_empty_password(inbox_cli: typer.Typer) -> None:
    result = CliRunner().invoke(
        inbox_cli, ["inbox", "add-user", "sam", "--role", "auditor", "--password-stdin"], input="\n"
    )
    assert isinstance(result.exception, ConfigError)
    assert "the password is empty" in str(result.exception)
