"""Serving the inbox: the web app on uvicorn, and the projection kept current beside it."""

from __future__ import annotations

import anyio

from caseyard.app import App
from caseyard.http import check_port, serve_app
from caseyard.inbox.auth import UserStore
from caseyard.inbox.service import Inbox
from caseyard.inbox.web import create_app
from coordinator import PipelineCatalog


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
    check_port(host, port, "the inbox")  # before the projection starts: one plain error
    users = UserStore(app.settings.inbox_users_path)
    users.load()
    inbox = Inbox(
        app,
        PipelineCatalog.load(app.settings.pipelines_dir),
        snapshot=app.settings.snapshot_path("inbox"),
    )
    secret = app.settings.inbox_secret
    web = create_app(inbox, users, secret=secret.get_secret_value() if secret else None)
    listening = anyio.Event()
    announcing = anyio.CancelScope()

    async def announce() -> None:
        with announcing:
            await listening.wait()
            await inbox.ready.wait()
            if started is not None:
                started.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(inbox.run, stop)
        tg.start_soon(announce)
        await serve_app(web, host, port, stop, what="the inbox", listening=listening)
        announcing.cancel()
