"""`serve_inbox`: serves over HTTP until stopped; a busy port is one clear error."""

from __future__ import annotations

import socket
from pathlib import Path

import anyio
import httpx
import pytest

from caseyard.app import open_app
from caseyard.errors import ConfigError
from caseyard.inbox import serve_inbox
from caseyard.settings import load_settings

pytestmark = pytest.mark.anyio


async def test_serves_until_stopped(tmp_path: Path, users_file: Path) -> None:
    settings = load_settings(bus="memory://", data_dir=tmp_path, inbox_users_file=users_file)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop, started = anyio.Event(), anyio.Event()
    async with open_app(settings) as app, anyio.create_task_group() as tg:
        tg.start_soon(serve_inbox, app, "127.0.0.1", port, stop, started)
        with anyio.fail_after(20):
            await started.wait()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/api/openapi.json")).status_code == 200
            assert (await client.get("/api/tasks")).status_code == 401
        stop.set()
    with socket.socket() as again:  # the port is free again
        again.bind(("127.0.0.1", port))


async def test_a_busy_port_is_one_config_error(tmp_path: Path, users_file: Path) -> None:
    settings = load_settings(bus="memory://", data_dir=tmp_path, inbox_users_file=users_file)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        async with open_app(settings) as app:
            with pytest.raises(ConfigError, match=f"cannot serve the inbox on 127.0.0.1:{port}"):
                await serve_inbox(app, "127.0.0.1", port, anyio.Event())


async def test_a_broken_users_file_stops_it_before_serving(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    users.write_text("[users\n")
    settings = load_settings(bus="memory://", data_dir=tmp_path, inbox_users_file=users)
    async with open_app(settings) as app:
        with pytest.raises(ConfigError, match="not valid TOML"):
            await serve_inbox(app, "127.0.0.1", 0, anyio.Event())
