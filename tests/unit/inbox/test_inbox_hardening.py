"""What holds in the inbox against a hostile user (issue 11): sessions that really end,
throttled guessing with a lockout a supervisor lifts, bounded request bodies, security
headers, and tokens and users that can be taken away."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from caseyard.inbox.auth import ADDRESS_LIMIT, LOCK_AFTER, Role
from caseyard.inbox.web import MAX_BODY_BYTES
from tests.unit.inbox.inbox_support import PASSWORD, World, csrf_of, running_inbox

pytestmark = pytest.mark.anyio


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def stolen_copy(world: World) -> httpx.AsyncClient:
    """Another client holding a copy of the world's session cookie."""
    thief = world.client()
    thief.cookies.update(world.web.cookies)
    return thief


async def attempt(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    form = await client.get("/login")
    return await client.post(
        "/login", data={"csrf": csrf_of(form.text), "name": name, "password": password}
    )


async def test_signing_out_ends_the_session_for_a_copied_cookie_too(
    tmp_path: Path, users_file: Path
) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        csrf = await world.sign_in("alice")
        async with await stolen_copy(world) as thief:
            assert (await thief.get("/")).status_code == 200
            out = await world.web.post("/logout", data={"csrf": csrf})
            assert out.status_code == 303
            assert (await thief.get("/")).status_code == 401
            assert (await thief.get("/api/tasks")).status_code == 401


async def test_a_changed_password_or_a_removed_user_ends_their_sessions(
    tmp_path: Path, users_file: Path
) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await world.sign_in("alice")
        world.users.add_user("alice", Role.REVIEWER, ("risk-review",), "a new passphrase")
        assert (await world.web.get("/")).status_code == 401
        await world.sign_in("sam")
        token = world.users.add_token("sam")
        world.users.remove_user("sam")
        assert (await world.web.get("/")).status_code == 401
        assert (await world.web.get("/api/tasks", headers=bearer(token))).status_code == 401


async def test_a_run_of_wrong_passwords_locks_the_user_until_lifted(
    tmp_path: Path, users_file: Path
) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        for _ in range(LOCK_AFTER):
            assert (await attempt(world.web, "alice", "guess")).status_code == 401
        locked = await attempt(world.web, "alice", PASSWORD)  # the right one, too late
        assert locked.status_code == 429
        assert "locked after 5 failed sign-ins" in html.unescape(locked.text)
        assert "caseyard inbox unlock alice" in html.unescape(locked.text)
        assert world.users.signins.unlock("alice") is True
        assert (await attempt(world.web, "alice", PASSWORD)).status_code == 303


async def test_one_address_guessing_many_names_is_slowed(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        for n in range(ADDRESS_LIMIT):
            assert (await attempt(world.web, f"nobody-{n}", "guess")).status_code == 401
        slowed = await attempt(world.web, "bob", PASSWORD)
        assert slowed.status_code == 429 and "too many failed sign-ins from" in slowed.text


async def test_bodies_over_the_limit_or_of_unknown_length_are_refused(
    tmp_path: Path, users_file: Path
) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        big = await world.web.post("/login", content=b"x" * (MAX_BODY_BYTES + 1))
        assert big.status_code == 413

        async def chunks() -> AsyncIterator[bytes]:
            yield b"name=alice&"
            yield b"password=x"

        unknown = await world.web.post("/login", content=chunks())
        assert unknown.status_code == 411


async def test_every_answer_carries_the_security_headers(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        page = await world.web.get("/login")
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
        nonce = re.search(r"'nonce-([^']+)'", policy)
        assert nonce and f'<script nonce="{nonce.group(1)}">' in page.text
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in page.headers  # plain HTTP: no HSTS
        api = await world.web.get("/api/tasks")
        assert api.status_code == 401 and "content-security-policy" in api.headers
        async with httpx.AsyncClient(
            transport=world.transport, base_url="https://testserver"
        ) as tls:
            assert "max-age=" in (await tls.get("/login")).headers["strict-transport-security"]


async def test_a_revoked_token_stops_working(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        first, second = world.users.add_token("alice"), world.users.add_token("alice")
        assert world.users.revoke_tokens("alice", first) == 1
        assert (await world.web.get("/api/tasks", headers=bearer(first))).status_code == 401
        assert (await world.web.get("/api/tasks", headers=bearer(second))).status_code == 200
        assert world.users.revoke_tokens("alice", None) == 1
        assert (await world.web.get("/api/tasks", headers=bearer(second))).status_code == 401
