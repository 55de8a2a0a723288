"""`caseyard mcp` driven by the MCP SDK's own client, as an assistant would: over HTTP as a
reviewer (submit a document, wait for its human task, decide it, see the case complete)
and over stdio as an auditor (who may read but not decide). The coordinator and scripted
agents run in the test on the same SQLite bus."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from caseyard.inbox.auth import Role, UserStore
from caseyard.schema_store import REGISTRY_DB
from tests.helpers import CASEYARD, caseyard_env, eventually, free_port, listening
from tests.integration.coordinator_harness import REVIEWED, harness

pytestmark = pytest.mark.anyio


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "reviewed.yaml").write_text(REVIEWED)
    users = UserStore(data / "inbox-users.toml")
    users.add_user("rita", Role.REVIEWER, ("review",), "a long password")
    users.add_user("audrey", Role.AUDITOR, (), "another long password")
    env = caseyard_env(tmp_path)
    yield {
        "tmp": tmp_path,
        "env": env,
        "rita": users.add_token("rita"),
        "audrey": users.add_token("audrey"),
    }


@pytest.fixture
def http_port(world: dict[str, Any]) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [CASEYARD, "mcp", "--http", str(port)],
        env=world["env"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield port
    proc.terminate()
    proc.wait(timeout=15)


def _structured(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        value = result.structured_content
        return value.get("result", value) if isinstance(value, dict) else value
    return json.loads(result.content[0].text)  # type: ignore[union-attr]


@asynccontextmanager
async def _as(url: str, token: str) -> AsyncIterator[Client]:
    """The SDK's client over HTTP, sending `token` with every request."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


async def test_an_assistant_submits_follows_and_decides_a_case(
    world: dict[str, Any], http_port: int
) -> None:
    tmp: Path = world["tmp"]
    http_server = f"http://127.0.0.1:{http_port}/mcp"
    async with harness(
        f"sqlite:///{tmp}/bus.db", tmp / "pipelines", registry_db=tmp / "data" / REGISTRY_DB
    ):
        await eventually(
            lambda: listening(int(http_server.split(":")[2].split("/")[0])), timeout=60
        )
        async with _as(http_server, world["rita"]) as rita:
            tools = {t.name: t for t in (await rita.list_tools()).tools}
            read_only = {
                n for n, t in tools.items() if t.annotations and t.annotations.read_only_hint
            }
            assert read_only == {"get_case", "search_cases", "list_tasks", "get_task"}
            assert {"submit_document", "claim_task", "decide_task"} <= set(tools)

            submitted = _structured(
                await rita.call_tool(
                    "submit_document",
                    {"filename": "invoice.txt", "text": "Invoice 42: total 100.00 EUR"},
                )
            )
            case = submitted["case_id"]

            async def has_task() -> str:
                detail = _structured(await rita.call_tool("get_case", {"case_id": case}))
                assert detail["tasks"], f"no task yet: {detail['status']}"
                return str(detail["tasks"][0])

            task_id = await eventually(has_task, timeout=60, interval=0.2)
            listed = _structured(await rita.call_tool("list_tasks", {}))
            assert task_id in [t["id"] for t in listed["tasks"]]

            # An auditor, over stdio, sees the case but may not decide it.
            stdio = StdioServerParameters(
                command=CASEYARD,
                args=["mcp"],
                env={**world["env"], "CASEYARD_MCP_TOKEN": world["audrey"]},
            )
            async with Client(stdio) as audrey:
                found = _structured(await audrey.call_tool("search_cases", {"text": case}))
                assert [c["case_id"] for c in found["cases"]] == [case]
                not_a_submitter = await audrey.call_tool(
                    "submit_document", {"filename": "x.txt", "text": "an audit note"}
                )
                assert not_a_submitter.is_error
                assert "403" in not_a_submitter.content[0].text  # type: ignore[union-attr]
                refused = await audrey.call_tool(
                    "decide_task", {"task_id": task_id, "action": "approve"}
                )
                assert refused.is_error
                assert "403" in refused.content[0].text  # type: ignore[union-attr]

            decided = _structured(
                await rita.call_tool(
                    "decide_task", {"task_id": task_id, "action": "approve", "comment": "ok"}
                )
            )
            assert decided["id"] == task_id

            async def completed() -> dict[str, Any]:
                detail = _structured(await rita.call_tool("get_case", {"case_id": case}))
                assert detail["status"].startswith("completed"), detail["status"]
                return dict(detail)

            detail = await eventually(completed, timeout=60, interval=0.2)
            assert detail["outputs"]["score"]["kind"] == "score"
            types = [e["event_type"] for e in detail["events"]]
            assert "HumanDecision" in types and types[-1] == "CaseCompleted"

        # No token, no tools: a clear refusal, not an empty answer.
        async with Client(http_server) as nobody:
            result = await nobody.call_tool("list_tasks", {})
            assert result.is_error and "401" in result.content[0].text  # type: ignore[union-attr]


def test_stdio_without_a_valid_token_is_one_line_and_a_usage_exit(world: dict[str, Any]) -> None:
    env = {**world["env"], "CASEYARD_MCP_TOKEN": "cy_not-a-token"}
    done = subprocess.run(
        [CASEYARD, "mcp"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2  # a configuration error, as every command says it
    assert done.stderr.strip().splitlines() == [
        "error: CASEYARD_MCP_TOKEN is not a token of any inbox user"
    ]
