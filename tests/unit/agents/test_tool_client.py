"""The tool client without a server: the servers file, the journal of sent calls, and what
each kind of answer (or none) becomes. The SDK's client is replaced by a scripted one; the
real MCP servers are in tests/integration/test_tool_steps.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent, Tool, ToolAnnotations

from agents.errors import ToolError, ToolUnavailable
from agents.mcp import (
    IDEMPOTENCY_META,
    ToolClient,
    ToolJournal,
    ToolServer,
    _Request,
    load_tool_servers,
)
from bus.errors import ConfigError

pytestmark = pytest.mark.anyio

SERVER = ToolServer(command=("python", "server.py"))


def tool(name: str, **hints: bool) -> Tool:
    return Tool(
        name=name,
        input_schema={"type": "object", "properties": {"idempotency_key": {"type": "string"}}},
        annotations=ToolAnnotations(**hints) if hints else None,
    )


TOOLS = {
    "lookup": tool("lookup", read_only_hint=True),
    "hold": tool("hold", idempotent_hint=True),
    "ticket": tool("ticket"),
}


@dataclass
class Scripted:
    """Answers `call_tool` with the next of `answers` (an exception is raised)."""

    answers: list[Any]
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, read_timeout_seconds: float, meta: Any
    ) -> CallToolResult:
        self.calls.append((name, arguments, meta))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, CallToolResult)
        return answer


def text(value: str, *, error: bool = False, structured: Any = None) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(text=value)], is_error=error, structured_content=structured
    )


@pytest.fixture
def client(tmp_path: Path) -> ToolClient:
    return ToolClient({"vendors": SERVER}, ToolJournal(tmp_path / "journal.db"))


async def call(client: ToolClient, scripted: Scripted, name: str, key: str = "case/a/1.1") -> Any:
    request = _Request(name, {"x": 1}, key, 5.0)
    return await client._call(scripted, "vendors", SERVER, TOOLS, request)


async def test_a_call_carries_its_key_and_records_its_result(client: ToolClient) -> None:
    scripted = Scripted([text('{"known": true}')])
    result = await call(client, scripted, "lookup")
    assert (result.known, result.result, result.key) == (True, {"known": True}, "case/a/1.1")
    ((_, arguments, meta),) = scripted.calls
    assert arguments == {"x": 1, "idempotency_key": "case/a/1.1"}  # the schema declares it
    assert meta == {IDEMPOTENCY_META: "case/a/1.1"}


async def test_structured_content_wins_and_plain_text_stays_text(client: ToolClient) -> None:
    scripted = Scripted([text("ignored", structured={"a": 1}), text("just words")])
    assert (await call(client, scripted, "lookup", "k1")).result == {"a": 1}
    assert (await call(client, scripted, "lookup", "k2")).result == "just words"


async def test_a_call_sent_before_is_repeated_only_when_safe(client: ToolClient) -> None:
    scripted = Scripted([text(str(n)) for n in range(5)])
    for name in ("lookup", "hold", "ticket"):
        await call(client, scripted, name, key=f"{name}-key")
    # The same keys again, as after a crash between call and record:
    assert (await call(client, scripted, "lookup", "lookup-key")).known
    assert (await call(client, scripted, "hold", "hold-key")).known
    unknown = await call(client, scripted, "ticket", "ticket-key")
    assert not unknown.known and unknown.result is None
    assert [name for name, _, _ in scripted.calls] == ["lookup", "hold", "ticket", "lookup", "hold"]
    assert client.outcomes["vendors", "lookup", "repeated"] == 1
    assert client.outcomes["vendors", "hold", "repeated"] == 1
    assert client.outcomes["vendors", "ticket", "unknown"] == 1


@pytest.mark.parametrize(
    "interruption",
    [MCPError(-32001, "timed out"), MCPError(-32000, "Connection closed"), OSError("reset")],
    ids=["timeout", "connection-closed", "os-error"],
)
async def test_an_interrupted_call_is_unknown_unless_it_may_be_repeated(
    client: ToolClient, interruption: BaseException
) -> None:
    unknown = await call(client, Scripted([interruption]), "ticket", "t")
    assert not unknown.known
    with pytest.raises(ToolUnavailable, match="retried with the same key"):
        await call(client, Scripted([interruption]), "hold", "h")


async def test_errors_with_a_known_outcome_are_tool_errors(client: ToolClient) -> None:
    with pytest.raises(ToolError, match="failed: no such vendor") as failed:
        await call(client, Scripted([text("no such vendor", error=True)]), "hold", "a")
    assert failed.value.retryable  # idempotent: trying again is safe
    with pytest.raises(ToolError, match="refused the call: bad params") as refused:
        await call(client, Scripted([MCPError(-32602, "bad params")]), "ticket", "b")
    assert not refused.value.retryable
    with pytest.raises(ToolError, match="has no tool 'nope'"):
        await call(client, Scripted([]), "nope", "c")


async def test_an_unknown_server_is_a_config_error(client: ToolClient) -> None:
    async with client.running():
        with pytest.raises(ConfigError, match="no tool server 'crm' \\(configured: vendors\\)"):
            await client.call("crm", "x", {}, key="k", timeout=1)


async def test_a_server_that_cannot_start_is_unavailable_and_nothing_is_journaled(
    tmp_path: Path,
) -> None:
    journal = ToolJournal(tmp_path / "j.db")
    broken = ToolServer(command=(str(tmp_path / "no-such-program"),))
    client = ToolClient({"gone": broken}, journal)
    async with client.running():
        with pytest.raises(ToolUnavailable, match="tool server 'gone'"):
            await client.call("gone", "x", {}, key="k", timeout=5)
    assert not journal.sent_before("k", "gone", "x")  # first time: nothing was sent


def test_the_servers_file(tmp_path: Path) -> None:
    path = tmp_path / "servers.yaml"
    assert load_tool_servers(path) == {}  # no file, no servers
    path.write_text(
        "servers:\n"
        "  vendors: {command: [python, srv.py], cwd: sub}\n"
        "  crm: {url: 'https://crm.example/mcp', headers: {Authorization: Bearer x}}\n"
    )
    servers = load_tool_servers(path)
    assert servers["vendors"].cwd == tmp_path.resolve() / "sub"
    assert servers["crm"].headers == {"Authorization": "Bearer x"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("servers: {a: {}}", "servers.a: Value error, a server has either command"),
        ("servers: {a: {url: 'ftp://x'}}", "servers.a.url: String should match pattern"),
        ("servers: {a: {command: [x], colour: red}}", "servers.a.colour: Extra inputs"),
        ("servers: [", "not YAML"),
    ],
)
def test_a_bad_servers_file_is_one_line_naming_it(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "servers.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_tool_servers(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)
    assert "\n" not in str(info.value)
