"""A2A with the a2a-sdk's own client: an agent service's card on its health port (skills
and task schemas), and `caseyard a2a` taking a document as a message and following the
case as an A2A task: working, input-required while a person decides, completed. The
coordinator and scripted agents run in the test on the same SQLite bus."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import (
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    TaskState,
)
from google.protobuf.json_format import MessageToDict

from agents.office import DOCX, XLSX
from agents.outlook import MSG
from caseyard.inbox.auth import Role as InboxRole
from caseyard.inbox.auth import UserStore
from caseyard.schema_store import REGISTRY_DB
from schemas import DecisionAction
from tests.helpers import CASEYARD, caseyard_env, eventually, free_port, listening
from tests.integration.coordinator_harness import REVIEWED, harness

pytestmark = pytest.mark.anyio


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "data").mkdir()
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "reviewed.yaml").write_text(REVIEWED)
    return caseyard_env(tmp_path)


@pytest.fixture
def serving() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.terminate()
        proc.wait(timeout=15)


def _start(procs: list[subprocess.Popen[bytes]], env: dict[str, str], *args: str) -> None:
    procs.append(
        subprocess.Popen(
            [CASEYARD, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    )


async def test_an_agent_service_publishes_its_card_on_its_health_port(
    env: dict[str, str], serving: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    _start(serving, {**env, "CASEYARD_HEALTH_PORT": str(port)}, "run", "tools")
    await eventually(lambda: listening(port), timeout=60)
    async with httpx.AsyncClient() as http:
        card = await A2ACardResolver(http, f"http://127.0.0.1:{port}").get_agent_card()
    assert card.name == "tools"
    assert [skill.id for skill in card.skills] == ["tool"]
    (extension,) = MessageToDict(card)["capabilities"]["extensions"]
    schemas = extension["params"]["tool"]
    assert schemas["topic"] == "caseyard.tasks.tool"
    assert "arguments" in schemas["input"]["properties"]
    assert {"server", "tool", "idempotency_key", "result"} <= set(schemas["output"]["properties"])


async def test_an_a2a_client_follows_a_case_to_completion(
    tmp_path: Path, env: dict[str, str], serving: list[subprocess.Popen[bytes]]
) -> None:
    users = UserStore(tmp_path / "data" / "inbox-users.toml")
    users.add_user("sam", InboxRole.SUPERVISOR, (), "a long password")
    token = users.add_token("sam")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with harness(
        env["CASEYARD_BUS"], tmp_path / "pipelines", registry_db=tmp_path / "data" / REGISTRY_DB
    ) as h:
        _start(serving, env, "a2a", "--port", str(port))
        await eventually(lambda: listening(port), timeout=60)
        async with httpx.AsyncClient(timeout=30) as anonymous:
            refused = await anonymous.post(url + "/", json={"jsonrpc": "2.0", "id": 1})
            assert refused.status_code == 401
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(headers=headers, timeout=30) as http:
            config = ClientConfig(httpx_client=http, streaming=False, polling=True)
            client = await ClientFactory(config).create_from_url(url)
            card = await A2ACardResolver(http, url).get_agent_card()
            assert [s.id for s in card.skills] == ["reviewed"]
            assert "inbox-token" in card.security_schemes
            # It takes what `caseyard submit` takes, each kind once.
            modes = list(card.default_input_modes)
            assert len(modes) == len(set(modes))
            assert {"application/pdf", "message/rfc822", DOCX, XLSX, MSG} <= set(modes)

            message = Message(
                role=Role.ROLE_USER,
                message_id="m-1",
                parts=[Part(text="Invoice 7: total 120.00 EUR")],
            )
            request = SendMessageRequest(
                message=message, configuration=SendMessageConfiguration(return_immediately=True)
            )
            first: Any = None
            async for response in client.send_message(request):
                first = response.task
            case_id = first.id

            async def state_is(wanted: int) -> Any:
                task = await client.get_task(GetTaskRequest(id=case_id))
                assert task.status.state == wanted, TaskState.Name(task.status.state)
                return task

            waiting = await eventually(
                lambda: state_is(TaskState.TASK_STATE_INPUT_REQUIRED), timeout=60, interval=0.2
            )
            assert "queue 'review'" in waiting.status.message.parts[0].text
            await h.decide(case_id, DecisionAction.APPROVE)  # the person, in the inbox
            done = await eventually(
                lambda: state_is(TaskState.TASK_STATE_COMPLETED), timeout=60, interval=0.2
            )
            (artifact,) = done.artifacts
            result = MessageToDict(artifact.parts[0])["data"]
            assert result["case_id"] == case_id and result["outcome"] == "completed"
            assert result["outputs"]["score"]["kind"] == "score"
            await client.close()
        events = [e.event_type for e in await h.events(case_id)]
        assert events[0] == "CaseOpened" and events[-1] == "CaseCompleted"
