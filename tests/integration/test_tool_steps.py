"""Tool steps against a real MCP server (the example vendor master, over stdio and over
streamable HTTP), with the real tools agent: a call completes and is recorded, a tool's
error goes to the agent's retry and dead letter with its reason, an allow-list refuses a
tool before any call, and a SIGKILL of the tools agent between a call and its record gives
one effect for an idempotent tool and a human task for one that is not.

The other capabilities are the harness's scripted agents; the bus is SQLite (a file, so
that a `caseyard run tools` process can share it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from agents.mcp import ToolClient, ToolJournal, load_tool_servers
from agents.runtime import AgentService, Outcome, ProcessedStore, RetryPolicy, TaskHandler
from agents.tools import tool_work
from caseyard.schema_store import REGISTRY_DB
from schemas import (
    CaseCompleted,
    CaseEscalated,
    CaseFailed,
    CompensationCompleted,
    DecisionAction,
    ExtractedField,
    ExtractOutput,
    FieldType,
    HumanTaskOpened,
    StepCompleted,
    TaskRequested,
    ToolOutput,
    ToolStatus,
)
from schemas.topology import CAPABILITIES, tasks_topic
from tests.helpers import CASEYARD, caseyard_env, eventually, free_port, listening
from tests.integration.coordinator_harness import (
    NO_RETRIES,
    PRODUCER,
    USAGE,
    Harness,
    agents_only,
    harness,
)

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "examples" / "vendor-lookup" / "server.py"
SCRIPTED = tuple(c for c in CAPABILITIES if c != "tool")

ACME_IBAN = "DE89370400440532013000"
STRANGE_IBAN = "DE02120300000000202051"

ONE_TOOL = """
name: {name}
version: 1
default: true
steps:
  - id: act
    tool:
      server: vendors
      name: {tool}
      arguments: {arguments}
"""


def _servers(tmp_path: Path, ledger: Path, *, url: str | None = None, delay: float = 0) -> Path:
    server: dict[str, Any] = (
        {"url": url}
        if url
        else {
            "command": ["python", str(SERVER)],
            "env": {"VENDOR_LEDGER": str(ledger), "VENDOR_DELAY_S": str(delay)},
        }
    )
    path = tmp_path / "servers.yaml"
    path.write_text(json.dumps({"servers": {"vendors": server}}), encoding="utf-8")
    return path


def _ledger(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@asynccontextmanager
async def tools_agent(
    h: Harness, servers: Path, state: Path, retry: RetryPolicy = NO_RETRIES
) -> AsyncIterator[ToolClient]:
    """The real tools agent (in this process) on the harness's bus (`state` exists)."""
    client = ToolClient(load_tool_servers(servers), ToolJournal(state / "tool-calls.db"))
    agent = AgentService(
        name="tools",
        bus=h.bus,
        codec=h.codec,
        topics=[tasks_topic("tool").name],
        handler=TaskHandler("tool", tool_work(client), PRODUCER),
        store=ProcessedStore(state / "processed.db"),
        producer=PRODUCER,
        retry=retry,
    )
    stop = anyio.Event()
    async with client.running(), anyio.create_task_group() as tg:
        tg.start_soon(agent.run, stop)
        with anyio.fail_after(60):
            await agent.ready.wait()
        yield client
        stop.set()


def _state(tmp_path: Path) -> Path:
    state = tmp_path / "tools"
    state.mkdir(exist_ok=True)
    return state


def _pipelines(tmp_path: Path, *texts: str) -> Path:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    for i, text in enumerate(texts):
        (folder / f"p{i}.yaml").write_text(text, encoding="utf-8")
    return folder


async def _extracts(task: TaskRequested) -> Outcome:
    fields = (
        ExtractedField(name="iban", value=STRANGE_IBAN, type=FieldType.IBAN, confidence=0.9),
        ExtractedField(
            name="issuer", value="ACME Office Supplies GmbH", type=FieldType.NAME, confidence=0.9
        ),
    )
    return Outcome(ExtractOutput(fields=fields), USAGE)


async def _tool_outputs(h: Harness, case: str) -> dict[str, ToolOutput]:
    """The recorded tool outputs of the case's steps (from the results the agent wrote)."""
    from bus import TopicPartition, read_to_end
    from schemas import TaskCompleted
    from schemas.topology import CASE_PARTITIONS, RESULTS

    tps = [TopicPartition(RESULTS.name, p) for p in range(CASE_PARTITIONS)]
    found: dict[str, ToolOutput] = {}
    async for batch in read_to_end(h.bus, tps):
        for record in batch:
            if (record.key or b"").decode() != case:
                continue
            event = await h.codec.decode(record.value)
            if isinstance(event, TaskCompleted) and isinstance(event.output, ToolOutput):
                found[event.task_id] = event.output
    return found


async def test_the_example_pipeline_checks_holds_and_reviews_over_stdio(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    example = (ROOT / "pipelines" / "invoice-vendor-check.yaml").read_text()
    pipelines = _pipelines(tmp_path, example)
    async with harness(f"sqlite:///{tmp_path}/bus.db", pipelines, capabilities=SCRIPTED) as h:
        h.scripts["extract"].work = _extracts
        async with tools_agent(h, _servers(tmp_path, ledger), _state(tmp_path)):
            case = await h.submit("invoice-vendor-check")
            await h.wait_for(case, CaseEscalated)
            outputs = list((await _tool_outputs(h, case)).values())
            vendor = next(o for o in outputs if o.tool == "check_vendor_iban")
            # The issuer is a known vendor whose account on file is another one.
            assert json.loads(vendor.result)["mismatch"] is True
            assert json.loads(vendor.result)["known"] is False
            hold = next(o for o in outputs if o.tool == "hold_payment")
            assert hold.status is ToolStatus.OK
            assert json.loads(hold.result)["repeated"] is False
            opened = [e for e in await h.events(case) if isinstance(e, HumanTaskOpened)]
            assert opened[-1].queue == "payments-review"
            assert set(opened[-1].evidence) == {"extract", "vendor", "hold"}
            # Rejected by the reviewer: the hold is released by the compensating tool.
            await h.decide(case, DecisionAction.REJECT)
            events = await h.wait_for(case, CompensationCompleted, CaseCompleted)
            assert next(e for e in events if isinstance(e, CaseCompleted)).outcome == "rejected"
    effects = [(e["tool"], e["key"]) for e in _ledger(ledger)]
    assert [tool for tool, _ in effects] == ["hold_payment", "release_payment"]
    # Each call carried the task's id as its idempotency key.
    assert effects[0][1] == hold.idempotency_key and case in hold.idempotency_key


async def test_a_known_vendor_completes_without_a_hold_over_http(tmp_path: Path) -> None:
    port = free_port()
    ledger = tmp_path / "ledger.jsonl"
    server = _serve_http(port, ledger)
    try:
        await eventually(lambda: listening(port), timeout=30)
        text = ONE_TOOL.format(
            name="lookup", tool="check_vendor_iban", arguments=f"{{iban: \"'{ACME_IBAN}'\"}}"
        )
        pipelines = _pipelines(tmp_path, text)
        servers = _servers(tmp_path, ledger, url=f"http://127.0.0.1:{port}/mcp")
        async with harness(f"sqlite:///{tmp_path}/bus.db", pipelines, capabilities=SCRIPTED) as h:
            async with tools_agent(h, servers, _state(tmp_path)):
                case = await h.submit("lookup")
                events = await h.wait_for(case, CaseCompleted)
                assert any(isinstance(e, StepCompleted) and e.step == "act" for e in events)
                (output,) = (await _tool_outputs(h, case)).values()
                assert json.loads(output.result)["vendor"] == "ACME Office Supplies GmbH"
    finally:
        server.terminate()
        server.wait(timeout=10)


async def test_a_tool_error_is_retried_then_dead_lettered_with_its_reason(tmp_path: Path) -> None:
    # hold_payment without its required 'reason': the server answers with an error result;
    # the tool is idempotent, so the agent retries it (one retry level), then gives up.
    text = ONE_TOOL.format(
        name="broken", tool="hold_payment", arguments="{case_id: case.id, iban: \"'X'\"}"
    )
    pipelines = _pipelines(
        tmp_path, text.replace("steps:", "defaults: {retry: {max_attempts: 1}}\nsteps:")
    )
    ledger = tmp_path / "ledger.jsonl"
    async with harness(f"sqlite:///{tmp_path}/bus.db", pipelines, capabilities=SCRIPTED) as h:
        retry = RetryPolicy(delays_s=(0.1,))
        async with tools_agent(h, _servers(tmp_path, ledger), _state(tmp_path), retry):
            case = await h.submit("broken")
            events = await h.wait_for(case, CaseFailed)
            failed = next(e for e in events if isinstance(e, CaseFailed))
            assert "reason" in failed.reason and "ToolError" in failed.reason
            letters = await h.dead_letters()
            assert any("retries exhausted" in reason for reason in letters)
    assert _ledger(ledger) == []


async def test_an_allow_list_refuses_another_server_s_tool_before_calling(tmp_path: Path) -> None:
    text = (
        ONE_TOOL.format(name="fenced", tool="open_ticket", arguments="{summary: \"'x'\"}")
        + "policies:\n  - {id: lookups-only, kind: models, allow: ['mcp/vendors/check_*']}\n"
    )
    ledger = tmp_path / "ledger.jsonl"
    pipelines = _pipelines(tmp_path, text)
    async with harness(f"sqlite:///{tmp_path}/bus.db", pipelines, capabilities=SCRIPTED) as h:
        async with tools_agent(h, _servers(tmp_path, ledger), _state(tmp_path)):
            case = await h.submit("fenced")
            events = await h.wait_for(case, CaseFailed)
            failed = next(e for e in events if isinstance(e, CaseFailed))
            assert "not allowed" in failed.reason
    assert _ledger(ledger) == []


# A SIGKILL between the call and its record: the tools agent as a process of its own.


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _env(tmp_path: Path, servers: Path) -> dict[str, str]:
    return caseyard_env(
        tmp_path,
        CASEYARD_TOOL_SERVERS_FILE=str(servers),
        CASEYARD_SESSION_TIMEOUT_MS="2000",
    )


def _run(
    tmp_path: Path, service: str, servers: Path, procs: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [CASEYARD, "run", service],
        env=_env(tmp_path, servers),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("TOOLS_DEBUG") else subprocess.DEVNULL,
        start_new_session=True,  # its own group: the kill takes the stdio server with it
    )
    procs.append(proc)
    return proc


@pytest.mark.parametrize(
    ("tool", "arguments", "effects", "human"),
    [
        ("hold_payment", "{case_id: case.id, iban: \"'X'\", reason: \"'r'\"}", 1, False),
        ("open_ticket", "{summary: \"'charge-back'\"}", 1, True),
    ],
    ids=["idempotent-called-again-same-key", "not-idempotent-goes-to-a-person"],
)
async def test_a_killed_tools_agent_calls_once_or_asks_a_person(
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
    tool: str,
    arguments: str,
    effects: int,
    human: bool,
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    text = ONE_TOOL.format(name="crash", tool=tool, arguments=arguments)
    pipelines = _pipelines(tmp_path, text)
    async with harness(
        f"sqlite:///{tmp_path}/bus.db",
        pipelines,
        capabilities=SCRIPTED,
        registry_db=tmp_path / "data" / REGISTRY_DB,
    ) as h:
        # The tool takes effect, then takes 30 s to answer: the agent dies in between.
        first = _run(tmp_path, "tools", _servers(tmp_path, ledger, delay=30), processes)
        case = await h.submit("crash")
        await eventually(lambda: _has(ledger, tool), timeout=60)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        _run(tmp_path, "tools", _servers(tmp_path, ledger), processes)
        if human:
            events = await h.wait_for(case, CaseEscalated, timeout=90)
            opened = [e for e in events if isinstance(e, HumanTaskOpened)][-1]
            assert opened.queue == "tool-outcomes"
            assert opened.reason.startswith("did this happen?")
            (output,) = opened.evidence.values()
            assert isinstance(output, ToolOutput) and output.status is ToolStatus.UNKNOWN
            await h.decide(case, DecisionAction.APPROVE)  # yes, it happened
        await h.wait_for(case, CaseCompleted, timeout=90)
    calls = [e for e in _ledger(ledger) if e["tool"] == tool]
    assert len([c for c in calls if not c.get("repeated")]) == effects
    if not human:  # called a second time, with the same key, which took no effect
        assert len(calls) == 2 and calls[1]["repeated"] and calls[0]["key"] == calls[1]["key"]
    _replay_verifies_without_calling(tmp_path, case, ledger)


def _replay_verifies_without_calling(tmp_path: Path, case: str, ledger: Path) -> None:
    """`caseyard replay --verify` decides the case again from the log: the recorded tool
    results stand in for the calls, so the tool's ledger does not move."""
    before = ledger.read_text()
    done = subprocess.run(
        [CASEYARD, "replay", "--from", "earliest", "--case", case, "--verify"],
        env=_env(tmp_path, tmp_path / "servers.yaml"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 case(s) decide as recorded" in done.stdout
    assert ledger.read_text() == before


async def test_a_killed_coordinator_records_the_call_it_started(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    # The coordinator dies while the (not idempotent) tool is working; the result the agent
    # publishes later is read by the next coordinator: one call, no person needed.
    ledger = tmp_path / "ledger.jsonl"
    text = ONE_TOOL.format(name="crash", tool="open_ticket", arguments="{summary: \"'c'\"}")
    _pipelines(tmp_path, text)
    servers = _servers(tmp_path, ledger, delay=3)
    registry = tmp_path / "data" / REGISTRY_DB
    async with agents_only(
        f"sqlite:///{tmp_path}/bus.db", capabilities=(), registry_db=registry
    ) as h:
        coordinator = _run(tmp_path, "coordinator", servers, processes)
        _run(tmp_path, "tools", servers, processes)
        case = await h.submit("crash")
        await eventually(lambda: _has(ledger, "open_ticket"), timeout=60)
        os.killpg(coordinator.pid, signal.SIGKILL)
        coordinator.wait(timeout=10)
        _run(tmp_path, "coordinator", servers, processes)
        events = await h.wait_for(case, CaseCompleted, timeout=90)
        assert not any(isinstance(e, CaseEscalated) for e in events)
    assert [e["tool"] for e in _ledger(ledger)] == ["open_ticket"]
    _replay_verifies_without_calling(tmp_path, case, ledger)


async def _has(ledger: Path, tool: str) -> None:
    assert any(e["tool"] == tool for e in _ledger(ledger)), f"no {tool} call yet"


def _serve_http(port: int, ledger: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(SERVER), "--http", str(port)],
        env={**os.environ, "VENDOR_LEDGER": str(ledger)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
