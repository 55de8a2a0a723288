"""The inbox's JSON API under `/api`, and its OpenAPI document.

One table of operations makes both the routes and the document, and the document's
schemas come from the pydantic models, so the two cannot drift apart. Every operation
takes a bearer token (`caseyard inbox add-token`) or the session cookie; writes with the
cookie also need the session's CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from caseyard import __version__
from caseyard.inbox.auth import User, UserStore
from caseyard.inbox.models import (
    DecisionRequest,
    Problem,
    TaskDetail,
    TaskList,
    TaskQuery,
    TaskSummary,
    Timeline,
    load_detail,
    task_summary,
    timeline,
)
from caseyard.inbox.projection import TaskStatus
from caseyard.inbox.service import Inbox, Refused
from caseyard.inbox.session import (
    CSRF_HEADER,
    SESSION_COOKIE,
    bearer_user,
    csrf_ok,
    session_user,
)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[Request, User], Awaitable[BaseModel]]

_STATUS_TEXT = {
    401: "Not signed in, or the bearer token is not valid.",
    403: "Not allowed for this user (role or queue), or the CSRF header is missing.",
    404: "No such task or case.",
    409: "The task is no longer open, or someone else claimed it.",
    422: "The request is not valid.",
}


@dataclass(frozen=True)
class Operation:
    """One API operation: its route, what it takes and what it answers."""

    method: Literal["GET", "POST"]
    path: str
    summary: str
    handler: Handler
    response: type[BaseModel]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = (401,)


class Api:
    """The API operations on an `Inbox`, for users of a `UserStore`."""

    def __init__(self, inbox: Inbox, users: UserStore) -> None:
        self.inbox = inbox
        self.users = users

    def operations(self) -> list[Operation]:
        # A task id holds slashes ('<case_id>/human/<n>'): the more specific paths first.
        return [
            Operation(
                "GET",
                "/api/tasks",
                "The human tasks you may see (default: the open ones)",
                self.list_tasks,
                TaskList,
                query=TaskQuery,
                errors=(401, 422),
            ),
            Operation(
                "POST",
                "/api/tasks/{task_id:path}/claim",
                "Claim a task",
                self.claim,
                TaskSummary,
                errors=(401, 403, 404, 409),
            ),
            Operation(
                "POST",
                "/api/tasks/{task_id:path}/decision",
                "Approve, reject, or edit fields and approve",
                self.decide,
                TaskSummary,
                body=DecisionRequest,
                errors=(401, 403, 404, 409, 422),
            ),
            Operation(
                "GET",
                "/api/tasks/{task_id:path}",
                "A task with its document, evidence and policy decisions",
                self.task,
                TaskDetail,
                errors=(401, 403, 404),
            ),
            Operation(
                "GET",
                "/api/cases/{case_id:path}/timeline",
                "A case's status and timeline",
                self.timeline,
                Timeline,
                errors=(401, 403, 404),
            ),
        ]

    def routes(self) -> list[Route]:
        operations = self.operations()
        document = openapi(operations)

        async def openapi_json(request: Request) -> Response:
            return JSONResponse(document)

        return [
            *(Route(op.path, self._endpoint(op), methods=[op.method]) for op in operations),
            Route("/api/openapi.json", openapi_json),
        ]

    async def list_tasks(self, request: Request, user: User) -> TaskList:
        query = _validated(TaskQuery, dict(request.query_params))
        status = None if query.status == "all" else TaskStatus(query.status)
        tasks = self.inbox.tasks(user, status=status)
        return TaskList(tasks=[task_summary(t) for t in tasks if query.queue in (None, t.queue)])

    async def task(self, request: Request, user: User) -> TaskDetail:
        _, detail = await load_detail(self.inbox, user, request.path_params["task_id"])
        return detail

    async def claim(self, request: Request, user: User) -> TaskSummary:
        return task_summary(await self.inbox.claim(user, request.path_params["task_id"]))

    async def decide(self, request: Request, user: User) -> TaskSummary:
        body = _validated_json(DecisionRequest, await request.body())
        task = await self.inbox.decide(
            user,
            request.path_params["task_id"],
            body.action,
            tuple(body.patches),
            body.comment,
        )
        return task_summary(task)

    async def timeline(self, request: Request, user: User) -> Timeline:
        return timeline(self.inbox.case(user, request.path_params["case_id"]))

    def _endpoint(self, op: Operation) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                user = self._user(request, writes=op.method != "GET")
                answer = await op.handler(request, user)
            except Refused as exc:
                headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
                body = Problem(detail=str(exc)).model_dump()
                return JSONResponse(body, status_code=exc.status, headers=headers)
            return JSONResponse(answer.model_dump(mode="json"))

        return endpoint

    def _user(self, request: Request, *, writes: bool) -> User:
        user = bearer_user(request, self.users)
        if user is not None:
            return user
        user = session_user(request, self.users)
        if user is None:
            raise Refused(401, "sign in, or send an API token: 'Authorization: Bearer <token>'")
        if writes and not csrf_ok(request, request.headers.get(CSRF_HEADER)):
            raise Refused(403, f"a write with the session cookie needs the {CSRF_HEADER} header")
        return user


def _validated(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Refused(422, _explain(exc)) from exc


def _validated_json(model: type[M], data: bytes) -> M:
    try:
        return model.model_validate_json(data or b"{}")
    except ValidationError as exc:
        raise Refused(422, _explain(exc)) from exc


def _explain(exc: ValidationError) -> str:
    """The validation errors as one line: `where: what; ...`."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


def openapi(operations: list[Operation]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `operations`, schemas generated from their models."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    for op in operations:
        wanted.append((op.response, "serialization"))
        if op.body is not None:
            wanted.append((op.body, "validation"))
        if op.query is not None:
            wanted.append((op.query, "validation"))
    refs, top = models_json_schema(
        list(dict.fromkeys(wanted)), ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = top.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path = re.sub(r"\{(\w+):path\}", r"{\1}", op.path)
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{(\w+)\}", path)
        ]
        if op.query is not None:
            query = schemas[refs[(op.query, "validation")]["$ref"].rpartition("/")[2]]
            for name, prop in query["properties"].items():
                parameters.append({"name": name, "in": "query", "required": False, "schema": prop})
        if op.method != "GET":
            parameters.append(
                {
                    "name": CSRF_HEADER,
                    "in": "header",
                    "required": False,
                    "description": "The session's CSRF token; required with the session cookie.",
                    "schema": {"type": "string"},
                }
            )
        responses: dict[str, Any] = {
            "200": {"description": "OK", "content": _json(refs[(op.response, "serialization")])}
        }
        for status in op.errors:
            responses[str(status)] = {
                "description": _STATUS_TEXT[status],
                "content": _json(refs[(Problem, "serialization")]),
            }
        operation: dict[str, Any] = {
            "operationId": op.handler.__name__,
            "summary": op.summary,
            "parameters": parameters,
            "responses": responses,
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": _json(refs[(op.body, "validation")]),
            }
        paths.setdefault(path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "caseyard inbox", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}
