"""Tools on MCP servers, called at most once per idempotency key unless safe to repeat.

The router's sibling: where the router gives an agent models, `ToolClient` gives it the
tools of the MCP servers in the tool servers file (stdio or streamable HTTP, through the
official `mcp` SDK). One call is one task's: its idempotency key is the task id (case,
step, run, attempt), the same for every redelivery of that task.

What a crash does: before a call is sent, its key is written to a journal in the agent's
durable state (SQLite, synchronous). A redelivered task whose key is in the journal had
its call sent and its outcome lost. Then:

- a tool that is read-only or idempotent (its annotations, or the servers file says so)
  is called again with the same key: the tool sees the key again and does nothing new;
- any other tool is not called again: the call ends with status ``unknown`` and the
  coordinator asks a person whether it happened.

A call interrupted while in flight (connection lost, timeout) is the same: unknown for a
tool that is not idempotent, a retryable error otherwise. A tool's own error result, or a
request the server refused, is a `ToolError` with the tool's message.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio
import yaml
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agents.errors import StateError, ToolError, ToolUnavailable
from bus.errors import ConfigError

log = logging.getLogger(__name__)

IDEMPOTENCY_META = "io.caseyard/idempotency-key"
"""The `_meta` key every call carries its idempotency key in."""
IDEMPOTENCY_ARGUMENT = "idempotency_key"
"""Also passed as this argument to tools whose input schema declares it."""


class ToolServer(BaseModel):
    """One MCP server: a command to start (stdio) or a URL (streamable HTTP)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: tuple[str, ...] = Field(default=(), description="argv; 'python' is this Python.")
    env: Mapping[str, str] = Field(default_factory=dict)
    cwd: Path | None = Field(default=None, description="Default: the servers file's folder.")
    url: str | None = Field(default=None, pattern=r"^https?://")
    headers: Mapping[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=60.0, gt=0, description="Seconds a call may take.")
    trust_annotations: bool = Field(
        default=True,
        description="Take the tools' readOnlyHint/idempotentHint as given (they are hints: "
        "turn this off for a server you do not run)",
    )
    idempotent: tuple[str, ...] = Field(
        default=(), description="Tools known to be idempotent, whatever they declare."
    )

    @model_validator(mode="after")
    def _one_transport(self) -> ToolServer:
        if bool(self.command) == (self.url is not None):
            raise ValueError("a server has either command (stdio) or url (streamable HTTP)")
        return self


class _ServersFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    servers: dict[str, ToolServer] = Field(default_factory=dict)


def load_tool_servers(path: Path) -> dict[str, ToolServer]:
    """The servers of a tool servers file (YAML: ``servers: {name: {...}}``); none if the
    file does not exist.

    Raises:
        ConfigError: The file is not valid (one line naming the file and the field).
    """
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        parsed = _ServersFile.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML: {exc}".splitlines()[0]) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
    base = path.resolve().parent
    return {
        name: server.model_copy(update={"cwd": base / (server.cwd or ".")})
        if server.command
        else server
        for name, server in parsed.servers.items()
    }


class ToolJournal:
    """Keys of the calls that were sent (SQLite, in the agent's durable state; the file is
    made on the first call, so an agent that calls no tool has none)."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def sent_before(self, key: str, server: str, tool: str) -> bool:
        """Record that the call `key` is being sent; True if it had been sent before."""
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(
                    str(self.path), isolation_level=None, check_same_thread=False
                )
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute(
                    "CREATE TABLE IF NOT EXISTS sent(key TEXT PRIMARY KEY, server TEXT NOT NULL,"
                    " tool TEXT NOT NULL, at_ms INTEGER NOT NULL)"
                )
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO sent(key, server, tool, at_ms) VALUES(?,?,?,?)",
                (key, server, tool, time.time_ns() // 10**6),
            )
        except sqlite3.Error as exc:
            raise StateError(f"tool journal {self.path}: {exc}") from exc
        return cursor.rowcount == 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


Note = Callable[[str, str | bool], None]
"""Adds an attribute to the observation of a call."""


class CallObserver(Protocol):
    """Watches each call (the composition root makes it a span with ``gen_ai.tool.*``
    attributes: nothing below the root imports tracing). An error leaving the block is
    the call's error."""

    def __call__(self, server: str, tool: str, key: str) -> AbstractContextManager[Note]: ...


@contextmanager
def unobserved(server: str, tool: str, key: str) -> Iterator[Note]:
    yield lambda name, value: None


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What one call came to."""

    server: str
    tool: str
    key: str
    known: bool
    """False: the call was sent and its outcome is lost (see the module docstring)."""
    result: Any = None
    """The structured content, else the text parsed as JSON, else the text."""
    text: str = ""


@dataclass
class _Request:
    tool: str
    arguments: dict[str, Any]
    key: str
    timeout: float
    sent: bool = False
    safe: bool = False
    done: anyio.Event = field(default_factory=anyio.Event)
    outcome: ToolResult | BaseException | None = None


class ToolClient:
    """Calls tools on the configured MCP servers; see the module docstring.

    Each server has one connection, opened on first use and reopened after it broke, owned
    by a task of `running()` (the SDK's connections must be opened and closed in the same
    task); calls on it run side by side.
    """

    def __init__(
        self,
        servers: Mapping[str, ToolServer],
        journal: ToolJournal,
        *,
        observe: CallObserver = unobserved,
    ) -> None:
        self.servers = dict(servers)
        self._journal = journal
        self._observe = observe
        self._queues: dict[str, MemoryObjectSendStream[_Request]] = {}
        self._tg: TaskGroup | None = None
        self.outcomes: Counter[tuple[str, str, str]] = Counter()
        """(server, tool, outcome) -> calls: ok, error (the tool or server said so),
        interrupted (no answer came), repeated (sent again with its key after an
        interruption), unknown (not sent again: a person is asked)."""

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ToolClient]:
        """Serve calls until the block ends (then every connection is closed)."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                yield self
            finally:
                for queue in self._queues.values():
                    queue.close()
                self._queues.clear()
                self._tg = None
                self._journal.close()
                tg.cancel_scope.cancel()

    async def call(
        self, server: str, tool: str, arguments: Mapping[str, Any], *, key: str, timeout: float
    ) -> ToolResult:
        """Call `tool` on `server` once for `key` (see the module docstring).

        Raises:
            ConfigError: No such server in the servers file.
            ToolUnavailable: The server could not be reached (nothing was sent).
            ToolError: The tool reported an error, or the server refused the call.
        """
        spec = self.servers.get(server)
        if spec is None:
            known = ", ".join(sorted(self.servers)) or "none"
            raise ConfigError(f"no tool server {server!r} (configured: {known})")
        if self._tg is None:
            raise ToolUnavailable("the tool client is not running")
        queue = self._queues.get(server)
        if queue is None:
            queue, inbox = anyio.create_memory_object_stream[_Request](100)
            self._queues[server] = queue
            self._tg.start_soon(self._serve, server, spec, inbox)
        request = _Request(tool, dict(arguments), key, min(timeout, spec.timeout))
        with self._observe(server, tool, key) as note:
            await queue.send(request)
            await request.done.wait()
            outcome = request.outcome
            if isinstance(outcome, BaseException):
                raise outcome
            assert outcome is not None
            note("caseyard.tool.outcome", "known" if outcome.known else "unknown")
            note("caseyard.tool.repeatable", request.safe)
            return outcome

    async def _serve(
        self, name: str, spec: ToolServer, inbox: MemoryObjectReceiveStream[_Request]
    ) -> None:
        """Own the connection to server `name`: open it for the next request, keep it while
        it works, reopen it after it broke."""
        async with inbox:
            while True:
                try:
                    first = await inbox.receive()
                except anyio.EndOfStream:
                    return
                try:
                    async with _connected(spec) as client:
                        listing = await client.list_tools()
                        tools = {t.name: t for t in listing.tools}
                        log.info(
                            "tool server connected", extra={"server": name, "tools": len(tools)}
                        )
                        async with anyio.create_task_group() as calls:
                            request: _Request | None = first
                            while request is not None:
                                calls.start_soon(self._one, client, name, spec, tools, request)
                                try:
                                    request = await inbox.receive()
                                except anyio.EndOfStream:
                                    request = None
                        return
                except Exception as exc:
                    # Connecting failed, or the connection broke: requests not yet answered
                    # (only `first` can be, when connecting failed) learn why; the next
                    # request reconnects.
                    log.warning("tool server %s: %s: %s", name, type(exc).__name__, exc)
                    if not first.done.is_set():
                        first.outcome = ToolUnavailable(f"tool server {name!r}: {_describe(exc)}")
                        first.done.set()

    async def _one(
        self,
        client: Any,
        server: str,
        spec: ToolServer,
        tools: Mapping[str, Any],
        request: _Request,
    ) -> None:
        try:
            request.outcome = await self._call(client, server, spec, tools, request)
        except Exception as exc:
            request.outcome = exc
        finally:
            if request.outcome is None:  # cancelled: the connection went away mid-call
                error = ToolUnavailable(f"tool server {server!r}: the connection closed")
                request.outcome = (
                    self._interrupted(server, request, request.safe, error)
                    if request.sent and not request.safe
                    else error
                )
            request.done.set()

    async def _call(
        self,
        client: Any,
        server: str,
        spec: ToolServer,
        tools: Mapping[str, Any],
        request: _Request,
    ) -> ToolResult:
        from mcp.shared.exceptions import MCPError
        from mcp_types.jsonrpc import CONNECTION_CLOSED, REQUEST_TIMEOUT

        tool = tools.get(request.tool)
        if tool is None:
            raise ToolError(f"tool server {server!r} has no tool {request.tool!r}")
        safe = request.safe = _repeatable(spec, tool)
        arguments = dict(request.arguments)
        properties = (tool.input_schema or {}).get("properties") or {}
        if IDEMPOTENCY_ARGUMENT in properties:
            arguments.setdefault(IDEMPOTENCY_ARGUMENT, request.key)
        about = {"server": server, "tool": request.tool, "key": request.key}
        if self._journal.sent_before(request.key, server, request.tool):
            if not safe:
                self.outcomes[server, request.tool, "unknown"] += 1
                log.warning("tool call interrupted before: not calling again", extra=about)
                return ToolResult(server, request.tool, request.key, known=False)
            self.outcomes[server, request.tool, "repeated"] += 1
            log.info("tool call interrupted before: calling again, same key", extra=about)
        request.sent = True
        try:
            result = await client.call_tool(
                request.tool,
                arguments,
                read_timeout_seconds=request.timeout,
                meta={IDEMPOTENCY_META: request.key},
            )
        except MCPError as exc:
            if exc.code not in (CONNECTION_CLOSED, REQUEST_TIMEOUT):  # no answer came
                self.outcomes[server, request.tool, "error"] += 1
                raise ToolError(
                    f"tool {request.tool!r} on {server!r} refused the call: {exc.message}",
                    retryable=safe,
                ) from None
            return self._interrupted(server, request, safe, exc)
        except Exception as exc:
            return self._interrupted(server, request, safe, exc)
        text = "\n".join(
            block.text for block in result.content if getattr(block, "type", None) == "text"
        )
        if result.is_error:
            self.outcomes[server, request.tool, "error"] += 1
            raise ToolError(
                f"tool {request.tool!r} on {server!r} failed: {text or 'no message'}",
                retryable=safe,
            )
        value = result.structured_content
        if value is None:
            try:
                value = json.loads(text) if text else None
            except ValueError:
                value = text
        self.outcomes[server, request.tool, "ok"] += 1
        return ToolResult(server, request.tool, request.key, known=True, result=value, text=text)

    def _interrupted(
        self, server: str, request: _Request, safe: bool, error: BaseException
    ) -> ToolResult:
        """The call was sent and no answer came back."""
        detail = _describe(error)
        self.outcomes[server, request.tool, "interrupted"] += 1
        if safe:
            raise ToolUnavailable(
                f"tool {request.tool!r} on {server!r} was interrupted ({detail}): "
                "it is idempotent, so it is retried with the same key"
            )
        log.warning(
            "tool call interrupted: outcome unknown (%s)",
            detail,
            extra={"server": server, "tool": request.tool, "key": request.key},
        )
        return ToolResult(server, request.tool, request.key, known=False)


def _repeatable(spec: ToolServer, tool: Any) -> bool:
    """Whether calling `tool` again with the same key is safe."""
    if tool.name in spec.idempotent:
        return True
    hints = tool.annotations
    if not spec.trust_annotations or hints is None:
        return False
    return bool(hints.read_only_hint or hints.idempotent_hint)


@asynccontextmanager
async def _connected(spec: ToolServer) -> AsyncIterator[Any]:
    """The SDK's client, connected to `spec` (an HTTP client with its headers is closed
    with it)."""
    from mcp import Client, StdioServerParameters

    if spec.url is not None and spec.headers:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        async with httpx2.AsyncClient(headers=dict(spec.headers)) as http:
            transport = streamable_http_client(spec.url, http_client=http)
            async with Client(transport, read_timeout_seconds=spec.timeout) as client:
                yield client
        return
    target: Any = spec.url
    if spec.url is None:
        command, *args = spec.command
        target = StdioServerParameters(
            command=sys.executable if command == "python" else command,
            args=args,
            env=dict(spec.env) or None,
            cwd=spec.cwd,
        )
    async with Client(target, read_timeout_seconds=spec.timeout) as client:
        yield client


def _describe(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
