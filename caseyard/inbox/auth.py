"""Inbox users, their roles and API tokens, kept in a TOML file (`inbox_users_file`).

Passwords are stored as scrypt hashes with a per-user salt, tokens as their sha256 only,
so the file never holds a secret that logs anyone in. The file looks like::

    [users.alice]
    role = "reviewer"
    queues = ["risk-review"]
    password = "scrypt$16384$8$1$<salt>$<hash>"
    tokens = ["<sha256 of a token>"]

`caseyard inbox add-user` and `add-token` write it; the inbox re-reads it when it changes.

Beside it, `<users file>-signins.db` (SQLite) holds what the server must remember about
signing in (`SignIns`): the sessions that are open (a cookie is only good while its
session is, so signing out ends it for good, and a changed password or a removed user ends
all of theirs) and the failed attempts that throttle guessing.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from caseyard.errors import ConfigError
from caseyard.settings import Settings

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]

# scrypt's recommended interactive cost (16 MiB, ~50 ms): slow for guessing, fine for a login.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SALT_BYTES, _KEY_BYTES = 16, 32
TOKEN_PREFIX = "cy_"


class Role(StrEnum):
    """What a user may do in the inbox."""

    REVIEWER = "reviewer"
    """Sees and decides the tasks of its queues only."""
    SUPERVISOR = "supervisor"
    """Sees and decides every queue; may take over a task someone else claimed."""
    AUDITOR = "auditor"
    """Sees every queue, decides nothing."""


class UserRecord(BaseModel):
    """One user as the users file stores it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    queues: tuple[Name, ...] = ()
    password: str | None = Field(default=None, description="scrypt hash; None: tokens only")
    tokens: tuple[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")], ...] = ()


class UsersFile(BaseModel):
    """The whole users file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    users: dict[Name, UserRecord] = Field(default_factory=dict)


@dataclass(frozen=True)
class User:
    """A signed-in user."""

    name: str
    role: Role
    queues: frozenset[str] = field(default_factory=frozenset)
    stamp: str = field(default="", compare=False)
    """Changes when the password does: a session started before is no longer good."""

    def can_see(self, queue: str) -> bool:
        return self.role is not Role.REVIEWER or queue in self.queues

    def can_act(self, queue: str) -> bool:
        return self.role is not Role.AUDITOR and self.can_see(queue)


def hash_password(password: str) -> str:
    """An scrypt hash of `password` with a fresh random salt, parameters included."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _KEY_BYTES)
    return "$".join(
        ["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(key)]
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches the hash `stored` (compared in constant time)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key, validate=True)
        salt_bytes = base64.b64decode(salt, validate=True)
        actual = _scrypt(password, salt_bytes, int(n), int(r), int(p), len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    memory = 128 * n * r * 2  # what scrypt needs, with room to spare
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=memory, dklen=length)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@functools.cache
def _dummy_hash() -> str:
    """Checked when the user is unknown, so a wrong name takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


class UserStore:
    """The users file: read (again whenever it changed) and written atomically.

    Args:
        path: The TOML file; a missing file means no users.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.signins = SignIns(path.with_name(f"{path.stem}-signins.db"))
        self._stamp: tuple[int, int] | None = None
        self._file = UsersFile()
        self._by_token: dict[str, str] = {}

    def load(self) -> UsersFile:
        """The users file as it is now.

        Raises:
            ConfigError: If the file cannot be read or is not a valid users file.
        """
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._file, self._by_token = None, UsersFile(), {}
            return self._file
        except OSError as exc:
            raise ConfigError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._file = _parse(self.path)
            self._by_token = {
                digest: name for name, user in self._file.users.items() for digest in user.tokens
            }
            self._stamp = stamp
        return self._file

    def user(self, name: str) -> User | None:
        """The user `name`, or None if there is none (any more)."""
        record = self.load().users.get(name)
        if record is None:
            return None
        stamp = hashlib.sha256((record.password or "").encode()).hexdigest()[:16]
        return User(name, record.role, frozenset(record.queues), stamp)

    def check_password(self, name: str, password: str) -> User | None:
        """The user if `password` is theirs, else None."""
        record = self.load().users.get(name)
        stored = record.password if record is not None else None
        matches = verify_password(password, stored or _dummy_hash())
        return self.user(name) if matches and stored is not None else None

    def check_token(self, token: str) -> User | None:
        """The user an API token belongs to, or None."""
        self.load()
        # Looked up by digest: timing can only reveal a hash of the token, never the token.
        name = self._by_token.get(token_digest(token))
        return self.user(name) if name is not None else None

    def add_user(self, name: str, role: Role, queues: tuple[str, ...], password: str) -> bool:
        """Add the user, or replace an existing one's role, queues and password (tokens
        stay). Returns whether the user is new.

        Raises:
            ConfigError: If the name, role or queues are not valid.
        """
        for what, value in [("user name", name), *(("queue", q) for q in queues)]:
            if not re.fullmatch(NAME_PATTERN, value):
                raise ConfigError(
                    f"{what} {value!r}: use letters, digits and . _ @ : - (at most 100)"
                )
        if role is Role.REVIEWER and not queues:
            raise ConfigError(f"reviewer {name!r} needs at least one queue (--queue)")
        if role is not Role.REVIEWER and queues:
            raise ConfigError(f"queues are for reviewers only; a {role} sees every queue")
        if not password:
            raise ConfigError("the password is empty")
        users = dict(self.load().users)
        old = users.get(name)
        users[name] = _record(
            name,
            role=role,
            queues=tuple(dict.fromkeys(queues)),
            password=hash_password(password),
            tokens=old.tokens if old is not None else (),
        )
        self._save(UsersFile(users=users))
        return old is None

    def add_token(self, name: str) -> str:
        """A new API token for user `name`; only its sha256 is stored.

        Raises:
            ConfigError: If there is no such user.
        """
        users = dict(self.load().users)
        old = users.get(name)
        if old is None:
            raise ConfigError(f"no inbox user {name!r} in {self.path} (add it with add-user)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        users[name] = old.model_copy(update={"tokens": (*old.tokens, token_digest(token))})
        self._save(UsersFile(users=users))
        return token

    def remove_user(self, name: str) -> None:
        """Remove the user: their sessions and tokens stop working at once.

        Raises:
            ConfigError: If there is no such user.
        """
        users = dict(self.load().users)
        if users.pop(name, None) is None:
            raise ConfigError(f"no inbox user {name!r} in {self.path}")
        self._save(UsersFile(users=users))
        self.signins.end_user(name)

    def revoke_tokens(self, name: str, token: str | None) -> int:
        """Revoke `token` of user `name` (every token of theirs if None); how many went.

        Raises:
            ConfigError: If there is no such user, or `token` is not one of theirs.
        """
        users = dict(self.load().users)
        old = users.get(name)
        if old is None:
            raise ConfigError(f"no inbox user {name!r} in {self.path}")
        kept = () if token is None else tuple(d for d in old.tokens if d != token_digest(token))
        if token is not None and len(kept) == len(old.tokens):
            raise ConfigError(f"that token is not one of the tokens of {name!r}")
        users[name] = old.model_copy(update={"tokens": kept})
        self._save(UsersFile(users=users))
        return len(old.tokens) - len(kept)

    def _save(self, file: UsersFile) -> None:
        text = _to_toml(file)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(text)
                os.replace(tmp, self.path)  # mkstemp made it 0600: hashes stay private
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise ConfigError(f"cannot write {self.path}: {exc.strerror or exc}") from exc


LOCK_AFTER = 5
"""Failed sign-ins in a row after which a user is locked out."""
LOCK_S = 15 * 60
"""How long a lockout lasts, unless lifted (`caseyard inbox unlock NAME`)."""
ADDRESS_LIMIT = 20
"""Failed sign-ins from one address within ADDRESS_WINDOW_S before it must wait."""
ADDRESS_WINDOW_S = 15 * 60
SESSION_S = 12 * 3600


class SignIns:
    """Open sessions and failed sign-ins (SQLite), shared by the inbox and the CLI."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS sessions(sid TEXT PRIMARY KEY, user TEXT NOT NULL,"
                " stamp TEXT NOT NULL, expires REAL NOT NULL)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS failures(who TEXT PRIMARY KEY, count INTEGER NOT NULL,"
                " since REAL NOT NULL, locked_until REAL NOT NULL DEFAULT 0)"
            )
            self._db = db
        return self._db

    def _run(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn().execute(sql, args).fetchall()

    def start(self, user: User) -> str:
        sid = secrets.token_urlsafe(32)
        now = time.time()
        self._run("DELETE FROM sessions WHERE expires < ?", now)
        self._run(
            "INSERT INTO sessions VALUES(?,?,?,?)", sid, user.name, user.stamp, now + SESSION_S
        )
        return sid

    def valid(self, sid: str, user: User) -> bool:
        rows = self._run("SELECT user, stamp, expires FROM sessions WHERE sid=?", sid)
        return (
            bool(rows)
            and rows[0][:2] == (user.name, user.stamp)
            and float(rows[0][2]) > time.time()
        )

    def end(self, sid: str) -> None:
        self._run("DELETE FROM sessions WHERE sid=?", sid)

    def end_user(self, name: str) -> None:
        self._run("DELETE FROM sessions WHERE user=?", name)

    def refusal(self, name: str, address: str) -> str | None:
        """Why a sign-in as `name` from `address` is not even tried now, or None."""
        now = time.time()
        user = self._run("SELECT locked_until FROM failures WHERE who=?", f"user:{name}")
        if user and float(user[0][0]) > now:
            until = time.strftime("%H:%M UTC", time.gmtime(float(user[0][0])))
            return (
                f"{name} is locked after {LOCK_AFTER} failed sign-ins, until {until} "
                f"(a supervisor can lift it: caseyard inbox unlock {name})"
            )
        where = self._run("SELECT count, since FROM failures WHERE who=?", f"address:{address}")
        if (
            where
            and int(where[0][0]) >= ADDRESS_LIMIT
            and float(where[0][1]) + ADDRESS_WINDOW_S > now
        ):
            return f"too many failed sign-ins from {address}: try again later"
        return None

    def failed(self, name: str, address: str) -> bool:
        """Count a failed sign-in; True if it locked the user out."""
        now = time.time()
        locked = False
        for who in (f"user:{name}", f"address:{address}"):
            rows = self._run("SELECT count, since FROM failures WHERE who=?", who)
            count, since = (int(rows[0][0]), float(rows[0][1])) if rows else (0, now)
            if who.startswith("address:") and since + ADDRESS_WINDOW_S <= now:
                count, since = 0, now
            count += 1
            until = now + LOCK_S if who.startswith("user:") and count >= LOCK_AFTER else 0.0
            locked = locked or until > 0
            self._run(
                "INSERT INTO failures VALUES(?,?,?,?) ON CONFLICT(who) DO UPDATE SET"
                " count=excluded.count, since=excluded.since, locked_until=excluded.locked_until",
                who,
                0 if until else count,
                since,
                until,
            )
        return locked

    def succeeded(self, name: str) -> None:
        self._run("DELETE FROM failures WHERE who=?", f"user:{name}")

    def unlock(self, name: str) -> bool:
        """Lift `name`'s lockout; whether there was one."""
        locked = self._run(
            "SELECT 1 FROM failures WHERE who=? AND locked_until > ?", f"user:{name}", time.time()
        )
        self.succeeded(name)
        return bool(locked)


def _record(name: str, **fields: object) -> UserRecord:
    try:
        checked = UsersFile.model_validate({"users": {name: fields}})
    except ValidationError as exc:
        raise ConfigError(_first_error(exc)) from exc
    return checked.users[name]


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}"


def _parse(path: Path) -> UsersFile:
    try:
        return UsersFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from exc


def _to_toml(file: UsersFile) -> str:
    # Names and queues match NAME_PATTERN and hashes are ASCII, so a JSON string is a
    # valid TOML basic string.
    lines = ["# caseyard inbox users: written by `caseyard inbox add-user` and `add-token`."]
    for name, user in sorted(file.users.items()):
        lines += ["", f"[users.{json.dumps(name)}]", f"role = {json.dumps(user.role.value)}"]
        lines.append(f"queues = {json.dumps(list(user.queues))}")
        if user.password is not None:
            lines.append(f"password = {json.dumps(user.password)}")
        lines.append(f"tokens = {json.dumps(list(user.tokens))}")
    return "\n".join(lines) + "\n"


def ensure_demo_user(settings: Settings) -> str | None:
    """Create the users file with a `demo` supervisor if there is no users file yet.

    Returns:
        The demo user's new random password, or None if the users file already existed.
    """
    store = UserStore(settings.inbox_users_path)
    if store.path.exists():
        return None
    password = secrets.token_urlsafe(12)
    store.add_user("demo", Role.SUPERVISOR, (), password)
    return password
