"""Small HTTP servers of caseyard processes: the registry, health, readiness and metrics."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence

import anyio
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from caseyard.errors import ConfigError


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: whoever runs it decides when it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Server(QuietServer):
    """uvicorn that says when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = anyio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.listening.set()


def check_port(host: str, port: int, what: str = "the registry") -> None:
    # uvicorn reports a busy port with a log line and sys.exit; say it as one error instead.
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot serve {what} on {host}:{port}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve {what} on {host}:{port}: {exc.strerror or exc}"
            ) from exc


Scrape = Callable[[bool], Awaitable[bytes]]
"""Produces the exposition text of the process: OpenMetrics when told True."""


Detail = Callable[[], Mapping[str, object]]
"""What `/readyz` says beside `ready` (e.g. the cases a coordinator quarantined)."""


def health_app(
    ready: Callable[[], bool],
    metrics: Scrape | None = None,
    detail: Detail | None = None,
    extra: Sequence[BaseRoute] = (),
) -> Starlette:
    """`/healthz` answers while the process serves; `/readyz` once its services are ready,
    with `detail`; `/metrics` (if `metrics` is given) in the Prometheus text format; and
    the `extra` routes (the agents' A2A card)."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        ok = ready()
        body = {"ready": ok, **(detail() if detail is not None else {})}
        return JSONResponse(body, status_code=200 if ok else 503)

    routes: list[BaseRoute] = [Route("/healthz", healthz), Route("/readyz", readyz), *extra]
    if metrics is not None:
        scrape = metrics

        async def exposition(request: Request) -> Response:
            # OpenMetrics (with exemplars) for scrapers that ask for it, as Prometheus does.
            if "application/openmetrics-text" in request.headers.get("accept", ""):
                return Response(await scrape(True), media_type=OPENMETRICS)
            return Response(await scrape(False), media_type=CONTENT_TYPE_LATEST)

        routes.append(Route("/metrics", exposition))
    return Starlette(routes=routes)


async def serve_app(
    app: ASGIApp,
    host: str,
    port: int,
    stop: anyio.Event,
    *,
    what: str,
    listening: anyio.Event | None = None,
    grace_seconds: int = 5,
) -> None:
    """Serve `app` on uvicorn until `stop` is set; `listening` is set once it listens.

    Raises:
        ConfigError: If `host:port` cannot be listened on (said as one line).
    """
    check_port(host, port, what)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        ws="none",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=grace_seconds,
    )
    server = _Server(config)
    telling = anyio.CancelScope()

    async def serve() -> None:
        try:
            await server.serve()
        except SystemExit as exc:  # uvicorn's startup failure (e.g. the port taken since)
            raise ConfigError(f"cannot serve {what} on {host}:{port} (see the log above)") from exc

    async def tell() -> None:
        with telling:
            await server.listening.wait()
            if listening is not None:
                listening.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        tg.start_soon(tell)
        await stop.wait()
        telling.cancel()
        server.should_exit = True


async def serve_health(
    ready: Callable[[], bool],
    host: str,
    port: int,
    stop: anyio.Event,
    metrics: Scrape | None = None,
    detail: Detail | None = None,
    extra: Sequence[BaseRoute] = (),
) -> None:
    """Serve `health_app` until `stop` is set."""
    app = health_app(ready, metrics, detail, extra)
    await serve_app(app, host, port, stop, what="health checks")
