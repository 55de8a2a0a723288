"""caseyard as an MCP server: `caseyard mcp` lets an assistant operate caseyard.

Tools: submit a document, read a case (status, timeline, the step outputs its human tasks
showed), search cases, list, read, claim and decide human tasks. Read-only tools say so
(``readOnlyHint``). Who the assistant acts as is an inbox user, with the same roles and
queues as in the inbox: over streamable HTTP each request carries the user's API token
(``Authorization: Bearer cy_...``); over stdio the process is started with one
(``CASEYARD_MCP_TOKEN``). A refused action is a tool error that says why (as the inbox
API's 401/403/404/409/422), never a silent no-op.

The cases and tasks come from the inbox's projection of the case log (`Inbox`), kept
current beside the server; the server answers once it has read the log as it was.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from caseyard.app import App, submit_bytes
from caseyard.errors import ConfigError
from caseyard.http import serve_app
from caseyard.inbox.auth import Role, User, UserStore
from caseyard.inbox.models import (
    TaskDetail,
    TaskList,
    Timeline,
    load_detail,
    task_summary,
    timeline,
)
from caseyard.inbox.projection import CaseView, TaskStatus
from caseyard.inbox.service import Inbox, Refused
from coordinator import PipelineCatalog
from schemas import DecisionAction, FieldPatch, TaskOutput

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
SEARCH_LIMIT = 200


class Submitted(BaseModel):
    case_id: str
    pipeline: str | None = Field(description="The pipeline asked for; None: the default one.")


class CaseDetail(Timeline):
    """A case: its status, tasks and timeline, and the step outputs its human tasks showed
    (extracted fields, risk score...: the outputs a reviewer saw, keyed by step)."""

    pipeline: str | None
    outputs: dict[str, TaskOutput]


class CaseRow(BaseModel):
    case_id: str
    pipeline: str | None
    status: str
    opened_at: datetime | None
    open_tasks: list[str]


class CaseList(BaseModel):
    cases: list[CaseRow]


def build_server(inbox: Inbox, users: UserStore, *, token: str | None = None) -> MCPServer:
    """The MCP server over `inbox`; `token` is the user of every request (stdio), else each
    request's bearer token is (HTTP)."""
    server: MCPServer = MCPServer(
        "caseyard",
        instructions="Operate caseyard: submit documents as cases, follow them, and decide "
        "the human tasks of the queues your user works.",
    )

    def user_of(ctx: Context) -> User:
        presented = token
        if presented is None:
            header = (ctx.headers or {}).get("authorization", "")
            scheme, _, value = header.partition(" ")
            presented = value.strip() if scheme.lower() == "bearer" else None
        found = users.check_token(presented) if presented else None
        if found is None:
            raise ToolError("401: send an inbox API token: 'Authorization: Bearer <token>'")
        return found

    async def acting(ctx: Context, action: Callable[[User], Coroutine[Any, Any, Any]]) -> Any:
        with anyio.fail_after(30):
            await inbox.ready.wait()
        try:
            return await action(user_of(ctx))
        except Refused as exc:
            raise ToolError(f"{exc.status}: {exc}") from None

    @server.tool(annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=False))
    async def submit_document(
        filename: str,
        ctx: Context,
        text: str | None = None,
        content_base64: str | None = None,
        pipeline: str | None = None,
    ) -> Submitted:
        """Submit a document as a new case. Give its text, or its bytes in base64 (PDF,
        e-mail, HTML...); the filename's extension tells its type. Returns the case id."""

        async def act(user: User) -> Submitted:
            if user.role is Role.AUDITOR:
                raise Refused(403, f"{user.name} is an auditor: auditors read, they do not submit")
            if (text is None) == (content_base64 is None):
                raise Refused(422, "give the document as text or as content_base64, one of them")
            if pipeline is not None and inbox.catalog.select(pipeline) is None:
                raise Refused(422, f"no pipeline {pipeline!r}")
            try:
                data = (
                    text.encode()
                    if text is not None
                    else base64.b64decode(content_base64 or "", validate=True)
                )
            except ValueError:
                raise Refused(422, "content_base64 is not base64") from None
            try:
                event = await submit_bytes(
                    inbox.app, data, filename, source=f"mcp:{user.name}", pipeline=pipeline
                )
            except ConfigError as exc:
                raise Refused(422, str(exc)) from None
            return Submitted(case_id=event.case_id, pipeline=pipeline)

        result: Submitted = await acting(ctx, act)
        return result

    @server.tool(annotations=READ_ONLY)
    async def get_case(case_id: str, ctx: Context) -> CaseDetail:
        """A case: status (running, completed, failed), human tasks, timeline, and the step
        outputs its human tasks showed."""

        async def act(user: User) -> CaseDetail:
            case = inbox.case(user, case_id)
            return CaseDetail(
                **timeline(case).model_dump(),
                pipeline=case.pipeline[0] if case.pipeline else None,
                outputs=inbox.projection.evidence(case),
            )

        result: CaseDetail = await acting(ctx, act)
        return result

    @server.tool(annotations=READ_ONLY)
    async def search_cases(
        ctx: Context,
        status: Literal["running", "completed", "failed", "any"] = "any",
        pipeline: str | None = None,
        text: str | None = None,
        limit: int = 20,
    ) -> CaseList:
        """Cases the user may see, newest first: by status, pipeline, and text found in
        their id or timeline (a field value, a reason, a queue)."""

        async def act(user: User) -> CaseList:
            rows: list[CaseRow] = []
            for case in reversed(inbox.projection.cases()):
                if len(rows) >= max(1, min(limit, SEARCH_LIMIT)):
                    break
                try:
                    inbox.case(user, case.case_id)
                except Refused:
                    continue
                if status != "any" and not case.status.startswith(status):
                    continue
                if pipeline is not None and (case.pipeline or ("",))[0] != pipeline:
                    continue
                if text and not _mentions(case, text):
                    continue
                rows.append(_row(inbox, case))
            return CaseList(cases=rows)

        result: CaseList = await acting(ctx, act)
        return result

    @server.tool(annotations=READ_ONLY)
    async def list_tasks(
        ctx: Context,
        status: Literal["open", "decided", "closed", "all"] = "open",
        queue: str | None = None,
    ) -> TaskList:
        """The human tasks of the user's queues (open ones by default), due first first."""

        async def act(user: User) -> TaskList:
            wanted = None if status == "all" else TaskStatus(status)
            tasks = inbox.tasks(user, status=wanted)
            return TaskList(tasks=[task_summary(t) for t in tasks if queue in (None, t.queue)])

        result: TaskList = await acting(ctx, act)
        return result

    @server.tool(annotations=READ_ONLY)
    async def get_task(task_id: str, ctx: Context) -> TaskDetail:
        """One human task: why it was opened, the evidence, the document's text, the fields
        that may be corrected."""

        async def act(user: User) -> TaskDetail:
            _, detail = await load_detail(inbox, user, task_id)
            return detail

        result: TaskDetail = await acting(ctx, act)
        return result

    @server.tool(annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=True))
    async def claim_task(task_id: str, ctx: Context) -> dict[str, Any]:
        """Claim a human task for the user (again claiming one's own task changes nothing)."""

        async def act(user: User) -> dict[str, Any]:
            return task_summary(await inbox.claim(user, task_id)).model_dump(mode="json")

        result: dict[str, Any] = await acting(ctx, act)
        return result

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=False))
    async def decide_task(
        task_id: str,
        action: Literal["approve", "reject", "edit"],
        ctx: Context,
        comment: str | None = None,
        patches: list[FieldPatch] | None = None,
    ) -> dict[str, Any]:
        """Decide a human task as the user: approve, reject, or edit fields (patches:
        [{field, value}], which approves them). Reviewers decide in their queues only;
        auditors decide nothing."""

        async def act(user: User) -> dict[str, Any]:
            task = await inbox.decide(
                user, task_id, DecisionAction(action), tuple(patches or ()), comment
            )
            return task_summary(task).model_dump(mode="json")

        result: dict[str, Any] = await acting(ctx, act)
        return result

    return server


def _row(inbox: Inbox, case: CaseView) -> CaseRow:
    open_tasks = [
        t
        for t in case.tasks
        if (task := inbox.projection.task(t)) is not None and task.status is TaskStatus.OPEN
    ]
    return CaseRow(
        case_id=case.case_id,
        pipeline=case.pipeline[0] if case.pipeline else None,
        status=case.status,
        opened_at=case.events[0].occurred_at if case.events else None,
        open_tasks=open_tasks,
    )


def _mentions(case: CaseView, text: str) -> bool:
    needle = text.lower()
    if needle in case.case_id.lower():
        return True
    return any(needle in event.model_dump_json().lower() for event in case.events)


async def serve_mcp(
    app: App,
    stop: anyio.Event,
    *,
    http: tuple[str, int] | None,
    token: str | None,
    started: anyio.Event | None = None,
) -> None:
    """Serve `caseyard mcp`: over stdio as the user of `token`, or over streamable HTTP
    on `http` (host, port) with a token per request.

    Raises:
        ConfigError: No token for stdio, a token no user has, or a port in use.
    """
    users = UserStore(app.settings.inbox_users_path)
    users.load()
    if http is None:
        if token is None:
            raise ConfigError("caseyard mcp over stdio acts as a user: set CASEYARD_MCP_TOKEN")
        if users.check_token(token) is None:
            raise ConfigError("CASEYARD_MCP_TOKEN is not a token of any inbox user")
    inbox = Inbox(
        app,
        PipelineCatalog.load(app.settings.pipelines_dir),
        snapshot=app.settings.snapshot_path("mcp"),
    )
    server = build_server(inbox, users, token=token if http is None else None)
    async with anyio.create_task_group() as tg:
        tg.start_soon(inbox.run, stop)
        if http is None:
            if started is not None:
                started.set()
            await server.run_stdio_async()
        else:
            web = server.streamable_http_app()
            host, port = http
            async with server.session_manager.run():
                await serve_app(web, host, port, stop, what="the MCP server", listening=started)
        stop.set()
