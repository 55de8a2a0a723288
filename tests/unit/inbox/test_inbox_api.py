"""The inbox API: bearer tokens and cookies, 401/403/404/409/422, and its OpenAPI document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from starlette.routing import Route

from caseyard.inbox import create_app
from caseyard.inbox.models import TaskDetail, TaskList, TaskSummary, Timeline
from schemas import DecisionAction, FieldPatch, HumanDecision
from tests.unit.inbox.inbox_support import (
    INVOICE,
    World,
    claimed,
    completed,
    escalation,
    running_inbox,
    task_id,
)

pytestmark = pytest.mark.anyio

RISK = "case-risk"
FRAUD = "case-fraud"
TASK = task_id(RISK)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def with_tasks(world: World) -> None:
    ref = world.app.blobs.put(INVOICE, "text/plain")
    await world.publish(
        [*escalation(RISK, document=ref), *escalation(FRAUD, queue="fraud-analysts")]
    )


async def test_no_credentials_or_a_bad_token_is_401(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        for headers in ({}, bearer("cy_not-a-token")):
            answer = await world.web.get("/api/tasks", headers=headers)
            assert answer.status_code == 401
            assert answer.headers["www-authenticate"] == "Bearer"
            assert answer.json()["detail"]


async def test_a_reviewer_lists_and_reads_only_its_queues(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await with_tasks(world)
        token = world.users.add_token("alice")
        listed = TaskList.model_validate(
            (await world.web.get("/api/tasks", headers=bearer(token))).json()
        )
        assert [t.id for t in listed.tasks] == [TASK]

        detail = await world.web.get(f"/api/tasks/{TASK}", headers=bearer(token))
        assert detail.status_code == 200
        task = TaskDetail.model_validate(detail.json())
        assert task.document_text is not None and "Invoice 2024-117" in task.document_text
        assert task.editable_step == "extract"
        assert [f.name for f in task.editable_fields] == ["total", "iban"]
        assert [p.summary for p in task.policy_decisions] == [
            "high-risk: escalate (high risk score)"
        ]
        assert set(task.evidence) == {"extract", "score"}

        other = await world.web.get(f"/api/tasks/{task_id(FRAUD)}", headers=bearer(token))
        assert other.status_code == 403
        timeline = await world.web.get(f"/api/cases/{FRAUD}/timeline", headers=bearer(token))
        assert timeline.status_code == 403


async def test_the_task_list_filters_by_status_and_queue(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await with_tasks(world)
        await world.publish([completed(FRAUD)])
        token = world.users.add_token("audrey")

        async def ids(query: str) -> list[str]:
            answer = await world.web.get(f"/api/tasks{query}", headers=bearer(token))
            assert answer.status_code == 200, answer.text
            return [t.id for t in TaskList.model_validate(answer.json()).tasks]

        assert await ids("") == [TASK]
        assert await ids("?status=all") == [task_id(FRAUD), TASK]  # same SLA: by id
        assert await ids("?status=closed&queue=fraud-analysts") == [task_id(FRAUD)]
        bad = await world.web.get("/api/tasks?status=lost", headers=bearer(token))
        assert bad.status_code == 422 and bad.json()["detail"] == (
            "status: Input should be 'open', 'decided', 'closed' or 'all'"
        )


async def test_unknown_things_are_404(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        token = world.users.add_token("sam")
        for path in ("/api/tasks/case-x/human/1", "/api/cases/case-x/timeline"):
            answer = await world.web.get(path, headers=bearer(token))
            assert answer.status_code == 404, path
        claim = await world.web.post("/api/tasks/case-x/human/1/claim", headers=bearer(token))
        assert claim.status_code == 404


async def test_claim_then_decide_then_a_second_decision_is_409(
    tmp_path: Path, users_file: Path
) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await with_tasks(world)
        token = world.users.add_token("alice")
        claim = await world.web.post(f"/api/tasks/{TASK}/claim", headers=bearer(token))
        assert claim.status_code == 200
        assert TaskSummary.model_validate(claim.json()).claimed_by == "alice"

        body = {"action": "edit", "patches": [{"field": "total", "value": "12.50 EUR"}]}
        decided = await world.web.post(
            f"/api/tasks/{TASK}/decision", headers=bearer(token), json=body
        )
        assert decided.status_code == 200, decided.text
        summary = TaskSummary.model_validate(decided.json())
        assert summary.status == "decided" and summary.decision is not None
        assert summary.decision.patches == [FieldPatch(field="total", value="12.50 EUR")]
        decision = (await world.human_events())[-1]
        assert isinstance(decision, HumanDecision) and decision.action is DecisionAction.EDIT

        again = await world.web.post(
            f"/api/tasks/{TASK}/decision", headers=bearer(token), json={"action": "approve"}
        )
        assert again.status_code == 409 and "is decided" in again.json()["detail"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "maybe"}, "action: Input should be 'approve', 'reject' or 'edit'"),
        ({"action": "edit"}, "an edit needs at least one changed field"),
        (
            {"action": "approve", "patches": [{"field": "total", "value": "1"}]},
            "field patches go with the action 'edit', not 'approve'",
        ),
        ({"action": "approve", "by": "me"}, "by: Extra inputs are not permitted"),
        ("{not json", "Invalid JSON"),
    ],
)
async def test_bad_decisions_are_422_with_a_clear_message(
    tmp_path: Path, users_file: Path, body: Any, message: str
) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await with_tasks(world)
        token = world.users.add_token("alice")
        url = f"/api/tasks/{TASK}/decision"
        if isinstance(body, str):
            answer = await world.web.post(url, headers=bearer(token), content=body)
        else:
            answer = await world.web.post(url, headers=bearer(token), json=body)
        assert answer.status_code == 422
        assert message in answer.json()["detail"]
        assert await world.human_events() == []


async def test_an_auditor_may_read_but_not_decide(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await with_tasks(world)
        token = world.users.add_token("audrey")
        assert (await world.web.get(f"/api/tasks/{TASK}", headers=bearer(token))).status_code == 200
        answer = await world.web.post(
            f"/api/tasks/{TASK}/decision", headers=bearer(token), json={"action": "approve"}
        )
        assert answer.status_code == 403 and "auditor" in answer.json()["detail"]


async def test_cookie_writes_need_the_csrf_header(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await with_tasks(world)
        csrf = await world.sign_in("alice")
        assert (await world.web.get("/api/tasks")).status_code == 200
        refused = await world.web.post(f"/api/tasks/{TASK}/claim")
        assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
        forged = await world.web.post(f"/api/tasks/{TASK}/claim", headers={"X-CSRF-Token": "x"})
        assert forged.status_code == 403
        claimed_ = await world.web.post(f"/api/tasks/{TASK}/claim", headers={"X-CSRF-Token": csrf})
        assert claimed_.status_code == 200


async def test_the_case_timeline(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await with_tasks(world)
        await world.publish([claimed(RISK, "alice"), completed(RISK)])
        token = world.users.add_token("alice")
        answer = await world.web.get(f"/api/cases/{RISK}/timeline", headers=bearer(token))
        timeline = Timeline.model_validate(answer.json())
        assert timeline.status == "completed (responded)" and timeline.tasks == [TASK]
        assert [e.event_type for e in timeline.events][-2:] == ["HumanTaskClaimed", "CaseCompleted"]
        assert timeline.events[-2].summary == f"{TASK} claimed by alice"


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


async def test_the_openapi_document_describes_every_api_route(
    tmp_path: Path, users_file: Path
) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        answer = await world.web.get("/api/openapi.json")  # public: it holds no data
        assert answer.status_code == 200
        document = answer.json()
        assert document["openapi"] == "3.1.0" and document["info"]["title"] == "caseyard inbox"
        validate(document)  # the OpenAPI 3.1 schema, by openapi-spec-validator
        with pytest.raises(OpenAPIValidationError):
            validate({**document, "paths": {"/x": {"get": {"responses": 5}}}})
        schemas = document["components"]["schemas"]
        for ref in _refs(document):
            assert ref.startswith("#/components/schemas/") and ref.rpartition("/")[2] in schemas
        documented = {
            (method.upper(), path) for path, item in document["paths"].items() for method in item
        }
        routes = {
            (method, route.path.replace(":path}", "}"))
            for route in create_app(world.inbox, world.users).routes
            if isinstance(route, Route) and route.path.startswith("/api/")
            and route.path != "/api/openapi.json"
            for method in (route.methods or set()) - {"HEAD"}
        }  # fmt: skip
        assert documented == routes
        ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
        assert len(ids) == len(set(ids))
        decision = document["paths"]["/api/tasks/{task_id}/decision"]["post"]
        assert decision["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/DecisionRequest"
        }
        assert set(decision["responses"]) == {"200", "401", "403", "404", "409", "422"}
        assert schemas["DecisionRequest"]["properties"]["action"] == {
            "$ref": "#/components/schemas/DecisionAction"
        }
        assert schemas["DecisionAction"]["enum"] == ["approve", "reject", "edit"]
        params = document["paths"]["/api/tasks"]["get"]["parameters"]
        assert [(p["name"], p["in"]) for p in params] == [("status", "query"), ("queue", "query")]
        assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_api_answers_match_their_documented_models(tmp_path: Path, users_file: Path) -> None:
    # The document is generated from these models; the answers must be them too.
    async with running_inbox(tmp_path, users_file) as world:
        await with_tasks(world)
        client = world.web
        headers = bearer(world.users.add_token("sam"))
        pairs: list[tuple[httpx.Response, type[Any]]] = [
            (await client.get("/api/tasks", headers=headers), TaskList),
            (await client.get(f"/api/tasks/{TASK}", headers=headers), TaskDetail),
            (await client.get(f"/api/cases/{RISK}/timeline", headers=headers), Timeline),
            (await client.post(f"/api/tasks/{TASK}/claim", headers=headers), TaskSummary),
        ]
        for answer, model in pairs:
            assert answer.status_code == 200, answer.text
            assert model.model_validate(answer.json()).model_dump(mode="json") == answer.json()


async def test_only_an_escalation_with_on_edit_takes_edits(
    tmp_path: Path, users_file: Path
) -> None:
    # fraud-alert's rule has no on_edit: the coordinator would dead-letter an edit.
    async with running_inbox(tmp_path, users_file) as world:
        await world.publish(
            escalation(
                FRAUD, queue="fraud-analysts", pipeline="fraud-alert", rule="above-threshold"
            )
        )
        token = world.users.add_token("bob")
        url = f"/api/tasks/{task_id(FRAUD)}"
        detail = TaskDetail.model_validate((await world.web.get(url, headers=bearer(token))).json())
        assert (detail.editable_step, detail.editable_fields) == (None, [])
        body = {"action": "edit", "patches": [{"field": "total", "value": "1 EUR"}]}
        answer = await world.web.post(f"{url}/decision", headers=bearer(token), json=body)
        assert answer.status_code == 422 and "takes no edits" in answer.json()["detail"]


async def test_a_decision_too_large_for_the_bus_is_422(tmp_path: Path, users_file: Path) -> None:
    async with running_inbox(tmp_path, users_file) as world:
        await with_tasks(world)
        token = world.users.add_token("alice")
        body = {"action": "edit", "patches": [{"field": "total", "value": "9" * 2_000_000}]}
        answer = await world.web.post(
            f"/api/tasks/{TASK}/decision", headers=bearer(token), json=body
        )
        assert answer.status_code == 422 and "too large" in answer.json()["detail"]
        assert await world.human_events() == []
