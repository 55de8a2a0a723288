"""Building and running services: the coordinator and the agents, alone or all together.

`caseyard run SERVICE` runs one service per process; `caseyard up` and `caseyard demo`
run them all in one process on one bus. Stopping (SIGTERM, ^C) sets one event: every
service stops fetching, finishes what it holds, commits, and closes.

Each service's counters (and its model router's usage) are exported by the app's
telemetry; with `health_port` set, `/metrics` serves them beside `/healthz` and `/readyz`.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import anyio

from agents.mcp import ToolClient, ToolJournal, load_tool_servers
from agents.router import Router
from agents.runtime import AgentService, ProcessedStore
from agents.spec import AgentContext, AgentSpec, ModelPlace, find_agent
from caseyard.app import App
from caseyard.errors import ConfigError
from caseyard.http import serve_health
from caseyard.models import build_router
from coordinator import Coordinator, PipelineCatalog
from schemas.audit import AuditKeyError, Signer, public_path

log = logging.getLogger(__name__)

BUILT_IN_AGENTS = ("classifier", "extractor", "scorer", "responder", "tools")


def build_coordinator(
    app: App, catalog: PipelineCatalog, *, instance: str = "coordinator"
) -> Coordinator:
    return Coordinator(
        bus=app.bus,
        codec=app.codec,
        catalog=catalog,
        producer=app.producer("coordinator"),
        instance=instance,
        signer=audit_signer(app.settings.audit_key_path, create=app.settings.audit_key is None),
        cloudevents_headers=app.settings.cloudevents_headers,
        group_prefix=app.settings.group_prefix,
    )


def audit_signer(path: Path, *, create: bool) -> Signer:
    """The key that signs audit checkpoints; the default one is made on first use."""
    if not path.exists() and create:
        signer = Signer.generate(path)
        log.info(
            "made an audit signing key (give auditors its public key)",
            extra={"key": str(path), "public_key": str(public_path(path)), "key_id": signer.key_id},
        )
        return signer
    try:
        return Signer.load(path)
    except AuditKeyError as exc:
        raise ConfigError(str(exc)) from exc


def build_agent(
    app: App, spec: AgentSpec, router: Router, state_dir: Path, tools: ToolClient | None = None
) -> AgentService:
    producer = app.producer(spec.name)
    context = AgentContext(
        blobs=app.blobs, router=router, state_dir=state_dir, producer=producer, tools=tools
    )
    handler = spec.build(context)
    if "classify" in spec.capabilities:
        handler = app.telemetry.metrics.drift(app.settings.drift_psi_alert).watching(handler)
    return AgentService(
        name=spec.name,
        bus=app.bus,
        codec=app.codec_with(spec.own_events),
        topics=spec.topics,
        handler=handler,
        store=ProcessedStore(state_dir / "processed.db", app.settings.agent_keep_outputs_s),
        producer=producer,
        own_topics=spec.own_topics,
        cloudevents_headers=app.settings.cloudevents_headers,
        group_prefix=app.settings.group_prefix,
    )


async def run_services(
    app: App,
    names: Sequence[str],
    stop: anyio.Event,
    *,
    catalog: PipelineCatalog | None = None,
    started: anyio.Event | None = None,
) -> None:
    """Run the named services (coordinator and/or agents) until `stop` is set."""
    async with AsyncExitStack() as stack:
        runners: list[Coordinator | AgentService] = []
        for name in names:
            if name == "coordinator":
                catalog = catalog or PipelineCatalog.load(app.settings.pipelines_dir)
                coordinator = build_coordinator(app, catalog)
                app.telemetry.metrics.watch_coordinator(coordinator)
                runners.append(coordinator)
                continue
            spec = find_agent(name)
            state_dir = app.settings.data_dir / "agents" / spec.name
            state_dir.mkdir(parents=True, exist_ok=True)
            place = ModelPlace(
                cache_dir=app.settings.model_cache_dir,
                state_dir=state_dir,
                feedback=app.settings.feedback_path,
            )
            router = await stack.enter_async_context(
                build_router(
                    app.settings,
                    spec.capabilities,
                    spec.local_models(place),
                    observe=app.telemetry.model_call,
                )
            )
            tools = ToolClient(
                load_tool_servers(app.settings.tool_servers_path),
                ToolJournal(state_dir / "tool-calls.db"),
                observe=app.telemetry.tool_call,
            )
            await stack.enter_async_context(tools.running())
            agent = build_agent(app, spec, router, state_dir, tools)
            app.telemetry.metrics.watch_agent(agent, router, tools)
            runners.append(agent)
        async with anyio.create_task_group() as tg:
            for runner in runners:
                tg.start_soon(runner.run, stop)
            for runner in runners:
                await runner.ready.wait()
            if started is not None:
                started.set()


async def stop_on_signals(stop: anyio.Event) -> None:
    """Set `stop` on SIGTERM or SIGINT (graceful shutdown)."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            stop.set()
            return


INBOX = "inbox"


async def serve(
    app: App, names: Sequence[str], stop: anyio.Event, *, started: anyio.Event | None = None
) -> None:
    """Run `names` until `stop` is set: the coordinator and agents (`run_services`), the
    inbox web app if named, and with `health_port` set the health server: `/healthz`,
    `/readyz` (once `started`), `/metrics` (this process, lag included) and, where agents
    run, their A2A agent card at `/.well-known/agent-card.json`."""
    started = started or anyio.Event()
    workers = [name for name in names if name != INBOX]

    async def metrics(openmetrics: bool) -> bytes:
        return await app.telemetry.metrics.scrape(app.bus, openmetrics=openmetrics)

    def detail() -> dict[str, object]:
        # Cases whose state record is corrupt wait for an operator; the process is ready.
        return {"quarantined_cases": app.telemetry.metrics.quarantined()}

    async def run_workers(ready: anyio.Event) -> None:
        await run_services(app, workers, stop, started=ready)
        stop.set()  # they return once stopped, or when every one of them ended

    async def run_inbox(ready: anyio.Event) -> None:
        from caseyard.inbox import serve_inbox  # the web stack, only where it serves

        settings = app.settings
        await serve_inbox(app, settings.inbox_host, settings.inbox_port, stop, ready)

    async with anyio.create_task_group() as tg:
        if app.settings.health_port is not None:
            from caseyard.a2a import card_routes  # the A2A SDK, only where a card is served

            port, host = app.settings.health_port, app.settings.health_host
            agents = [find_agent(name) for name in workers if name != "coordinator"]
            extra = card_routes(agents)
            tg.start_soon(serve_health, started.is_set, host, port, stop, metrics, detail, extra)
        parts = ([run_workers] if workers else []) + ([run_inbox] if INBOX in names else [])
        ready = [anyio.Event() for _ in parts]
        for part, event in zip(parts, ready, strict=True):
            tg.start_soon(part, event)
        for event in ready:
            await event.wait()
        started.set()


async def serve_until_signal(app: App, names: Sequence[str], announce: Callable[[], None]) -> None:
    """Run `names` (`serve`) until SIGTERM/SIGINT; `announce()` once every service is ready."""
    stop = anyio.Event()
    started = anyio.Event()

    async def announce_when_started() -> None:
        await started.wait()
        announce()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stop_on_signals, stop)
        tg.start_soon(announce_when_started)
        await serve(app, names, stop, started=started)
        tg.cancel_scope.cancel()
