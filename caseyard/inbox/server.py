"""Serving the inbox: the web app on uvicorn, and the projection kept current beside it."""

from __future__ import annotations

from socket import socket

import anyio
import uvicorn

from caseyard.app import App
from caseyard.errors import ConfigError
from caseyard.http import QuietServer, check_port
from caseyard.inbox.auth import UserStore
from caseyard.inbox.service import Inbox
from caseyard.inbox.web import create_app
from coordinator import PipelineCatalog

_GRACE_SECONDS = 5


class _Server(QuietServer):
    """uvicorn that says when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = anyio.Event()

    async def startup(self, sockets: list[socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.listening.set()


async def serve_inbox(
    app: App,
    host: str,
    port: int,
    stop: anyio.Event,
    started: anyio.Event | None = None,
) -> None:
    """Serve the inbox on `host:port` until `stop` is set.

    `started` is set once the server listens and the projection has read the log as it
    was at start. Users come from `inbox_users_file`, re-read when it changes.

    Raises:
        ConfigError: If `host:port` cannot be listened on, the pipelines or the users file
            are not valid.
    """
    check_port(host, port, "the inbox")
    users = UserStore(app.settings.inbox_users_path)
    users.load()
    inbox = Inbox(app, PipelineCatalog.load(app.settings.pipelines_dir))
    secret = app.settings.inbox_secret
    web = create_app(inbox, users, secret=secret.get_secret_value() if secret else None)
    config = uvicorn.Config(
        web,
        host=host,
        port=port,
        lifespan="off",
        ws="none",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=_GRACE_SECONDS,
    )
    server = _Server(config)
    announcing = anyio.CancelScope()

    async def serve() -> None:
        try:
            await server.serve()
        except SystemExit as exc:  # uvicorn's startup failure, already logged by it
            raise ConfigError(
                f"cannot serve the inbox on {host}:{port} (see the log above)"
            ) from exc

    async def announce() -> None:
        with announcing:
            await server.listening.wait()
            await inbox.ready.wait()
            if started is not None:
                started.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(inbox.run, stop)
        tg.start_soon(serve)
        tg.start_soon(announce)
        await stop.wait()
        announcing.cancel()
        server.should_exit = True
