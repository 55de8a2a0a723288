"""A2A: agent cards for caseyard's agents, and cases as A2A tasks.

- Each agent service's health port serves an Agent Card at
  ``/.well-known/agent-card.json``: its capabilities as skills, and (in the
  ``caseyard task schemas`` extension) the JSON Schemas of what a task of each capability
  gets and gives, from the pydantic payloads, and the Kafka topic it is asked on. Agent
  services take their work from Kafka, not over A2A, so their cards list no interface.
- `caseyard a2a` serves caseyard itself as an A2A agent (JSON-RPC, with the a2a-sdk): a
  message is a document, it becomes a case (the A2A task id is the case id), and the case's
  lifecycle is the task's state: ``working`` while steps run, ``input-required`` while a
  person decides in the inbox (the status message says which queue; the answer comes from
  the inbox, not from the A2A client), then ``completed``, ``rejected`` (a reviewer
  rejected it) or ``failed``. A case handed to another pipeline is followed there. Requests
  need an inbox API token (``Authorization: Bearer cy_...``), as the card says; the card is
  public.

Tasks are answered from the inbox's projection of the case log, so a restarted server
still answers `tasks/get` for the cases it keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
from a2a.helpers import proto_helpers
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.context import ServerCallContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentExtension,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    HTTPAuthSecurityScheme,
    Message,
    Part,
    SecurityRequirement,
    SecurityScheme,
    StringList,
    Task,
    TaskState,
)
from google.protobuf.json_format import ParseDict
from google.protobuf.struct_pb2 import Struct, Value
from pydantic import TypeAdapter
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from agents.spec import AgentSpec
from caseyard import __version__
from caseyard.app import MEDIA_TYPES, App, submit_bytes
from caseyard.errors import ConfigError
from caseyard.http import serve_app
from caseyard.inbox.auth import Role, UserStore
from caseyard.inbox.projection import CaseView, TaskStatus
from caseyard.inbox.service import Inbox
from coordinator import PipelineCatalog
from schemas import (
    CaseCompleted,
    CaseFailed,
    CaseHandedOff,
    ClassifyOutput,
    ExtractOutput,
    RespondOutput,
    ScoreOutput,
    TaskInput,
    TaskOutput,
    ToolOutput,
)
from schemas.topology import tasks_topic

SCHEMAS_EXTENSION = "https://github.com/caseyard/caseyard/a2a/task-schemas/v1"
"""The extension whose params give, per capability, the task input and output schemas."""
TOKEN_SCHEME = "inbox-token"

_OUTPUTS: dict[str, Any] = {
    "classify": ClassifyOutput,
    "extract": ExtractOutput,
    "score": ScoreOutput,
    "respond": RespondOutput,
    "tool": ToolOutput,
}
DOCUMENT_MODES = list(dict.fromkeys(MEDIA_TYPES.values()))
"""The media types a document may come as: those `caseyard submit` takes."""
_SUFFIXES = {media_type: suffix for suffix, media_type in reversed(MEDIA_TYPES.items())}
"""The file name suffix of each media type (the first `MEDIA_TYPES` gives it)."""


def _struct(value: dict[str, Any]) -> Struct:
    return ParseDict(value, Struct())


def _output_schema(capability: str) -> dict[str, Any]:
    model = _OUTPUTS.get(capability)
    schema: dict[str, Any] = (
        model.model_json_schema() if model is not None else TypeAdapter(TaskOutput).json_schema()
    )
    return schema


def agents_card(specs: Sequence[AgentSpec]) -> AgentCard:
    """The card of the agents one process runs (one agent: that agent's card)."""
    if not specs:
        raise ValueError("a card needs at least one agent")
    one = specs[0] if len(specs) == 1 else None
    skills, schemas = [], {}
    for spec in specs:
        for capability in spec.capabilities:
            skills.append(
                AgentSkill(
                    id=capability,
                    name=capability,
                    description=spec.description or f"The {capability} capability.",
                    tags=["caseyard", spec.name],
                    input_modes=["application/json"],
                    output_modes=["application/json"],
                )
            )
            schemas[capability] = {
                "agent": spec.name,
                "topic": tasks_topic(capability).name,
                "input": TaskInput.model_json_schema(),
                "output": _output_schema(capability),
            }
    return AgentCard(
        name=one.name if one is not None else "caseyard agents",
        description=(
            (one.description if one is not None else "caseyard agent services")
            + " Work arrives as TaskRequested events on Kafka (see the task-schemas "
            "extension); submit documents to caseyard itself (`caseyard a2a`) to run it."
        ),
        version=one.version if one is not None else __version__,
        provider=AgentProvider(organization="caseyard", url="https://github.com/caseyard"),
        capabilities=AgentCapabilities(
            streaming=False,
            extensions=[
                AgentExtension(
                    uri=SCHEMAS_EXTENSION,
                    description="Per capability: the agent, its task topic, and the JSON "
                    "Schemas of the task's input and output.",
                    params=_struct(schemas),
                )
            ],
        ),
        default_input_modes=["application/json"],
        default_output_modes=["application/json"],
        skills=skills,
    )


def card_routes(specs: Sequence[AgentSpec]) -> list[BaseRoute]:
    """The health port's agent card route for the agents of this process."""
    return list(create_agent_card_routes(agents_card(specs))) if specs else []


def engine_card(catalog: PipelineCatalog, url: str) -> AgentCard:
    """caseyard as an A2A agent: one skill per pipeline."""
    skills = [
        AgentSkill(
            id=pipeline.name,
            name=f"{pipeline.name} v{pipeline.version}",
            description=(pipeline.description or pipeline.name)
            + (" (the default pipeline)" if pipeline.name == catalog.default else "")
            + " Choose it with message metadata {'pipeline': name}.",
            tags=["caseyard", "pipeline"],
            input_modes=DOCUMENT_MODES,
            output_modes=["application/json"],
        )
        for pipeline in catalog
    ]
    return AgentCard(
        name="caseyard",
        description="Send a document (a text part, or a file part with its media type); it "
        "becomes a case. The task is the case: working, input-required while a person "
        "decides in the caseyard inbox, then completed, rejected or failed.",
        version=__version__,
        supported_interfaces=[AgentInterface(url=url, protocol_binding="JSONRPC")],
        provider=AgentProvider(organization="caseyard", url="https://github.com/caseyard"),
        capabilities=AgentCapabilities(streaming=True),
        security_schemes={
            TOKEN_SCHEME: SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(
                    scheme="bearer",
                    description="An inbox API token (caseyard inbox add-token USER).",
                )
            )
        },
        security_requirements=[SecurityRequirement(schemes={TOKEN_SCHEME: StringList()})],
        default_input_modes=DOCUMENT_MODES,
        default_output_modes=["application/json"],
        skills=skills,
    )


class CaseExecutor(AgentExecutor):
    """A message in, a case out: submit the document, then report the case's state."""

    def __init__(self, inbox: Inbox, users: UserStore) -> None:
        self.inbox = inbox
        self.users = users

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        message = context.message
        if message is None or context.current_task is not None:
            raise ConfigError("caseyard takes no follow-up messages: a person decides in the inbox")
        case_id = context.task_id or ""
        updater = TaskUpdater(event_queue, case_id, context.context_id or case_id)
        data, filename = _document(message)
        pipeline = context.metadata.get("pipeline")
        user = context.call_context.user.user_name
        found = self.users.user(user)
        if found is None or found.role is Role.AUDITOR:
            raise ConfigError(f"{user} may not submit documents (auditors read, they do not)")
        await submit_bytes(
            self.inbox.app,
            data,
            filename,
            source=f"a2a:{user}",
            pipeline=str(pipeline) if pipeline else None,
            case_id=case_id,
        )
        await event_queue.enqueue_event(
            proto_helpers.new_task(
                case_id,
                context.context_id or case_id,
                TaskState.TASK_STATE_SUBMITTED,
                history=[message],
            )
        )
        await self._follow(case_id, updater)

    async def _follow(self, case_id: str, updater: TaskUpdater) -> None:
        said: tuple[int, str] | None = None
        while True:
            case = self.inbox.projection.case(case_id)
            handed = _handed_to(case)
            if handed is not None:
                case_id = handed  # follow the case where it goes on
                continue
            state, text = _state(self.inbox, case)
            if (state, text) != said:
                said = (state, text)
                note = updater.new_agent_message([Part(text=text)])
                if state == TaskState.TASK_STATE_COMPLETED and case is not None:
                    await updater.add_artifact(
                        [Part(data=_value(_result(self.inbox, case)))], name="case"
                    )
                await updater.update_status(state, message=note)  # type: ignore[arg-type]
                if state in _FINAL:
                    return
            await self.inbox.news()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise ConfigError("a case is not cancelled over A2A: reject its human task instead")


_FINAL = (
    TaskState.TASK_STATE_COMPLETED,
    TaskState.TASK_STATE_FAILED,
    TaskState.TASK_STATE_REJECTED,
)


def _state(inbox: Inbox, case: CaseView | None) -> tuple[int, str]:
    """The A2A state of a case, and a line saying why."""
    if case is None:
        return TaskState.TASK_STATE_SUBMITTED, "submitted"
    if isinstance(case.ended, CaseCompleted):
        if case.ended.outcome == "rejected":
            return TaskState.TASK_STATE_REJECTED, "rejected by a reviewer"
        return TaskState.TASK_STATE_COMPLETED, f"completed: {case.ended.outcome}"
    if isinstance(case.ended, CaseFailed):
        return TaskState.TASK_STATE_FAILED, f"failed: {case.ended.reason}"
    for task_id in reversed(case.tasks):
        task = inbox.projection.task(task_id)
        if task is not None and task.status is TaskStatus.OPEN:
            return (
                TaskState.TASK_STATE_INPUT_REQUIRED,
                f"a person decides in the inbox queue {task.queue!r} (task {task.id}): "
                f"{task.reason}",
            )
    return TaskState.TASK_STATE_WORKING, "working"


def _handed_to(case: CaseView | None) -> str | None:
    if case is None or not isinstance(case.ended, CaseCompleted):
        return None
    handed = next((e for e in case.events if isinstance(e, CaseHandedOff)), None)
    return handed.to_case_id if handed is not None else None


def _result(inbox: Inbox, case: CaseView) -> dict[str, Any]:
    evidence = inbox.projection.evidence(case)
    outputs = {step: output.model_dump(mode="json") for step, output in evidence.items()}
    ended = case.ended
    return {
        "case_id": case.case_id,
        "pipeline": case.pipeline[0] if case.pipeline else None,
        "outcome": ended.outcome if isinstance(ended, CaseCompleted) else None,
        "outputs": outputs,
    }


def _value(data: dict[str, Any]) -> Value:
    return ParseDict(data, Value())


def _document(message: Message) -> tuple[bytes, str]:
    """The document a message carries: its file part, else its text parts."""
    for part in message.parts:
        if part.HasField("raw"):
            return part.raw, part.filename or _name_for(part.media_type)
        if part.HasField("url"):
            raise ConfigError("send the document's bytes (a raw part), not a URL")
    text = proto_helpers.get_message_text(message)
    if not text.strip():
        raise ConfigError("the message carries no document (no text, no file part)")
    return text.encode(), "message.txt"


def _name_for(media_type: str) -> str:
    base = media_type.partition(";")[0].strip().lower()
    if base == "text/xml":
        base = "application/xml"  # the same XML, under its older name
    return "document" + _SUFFIXES.get(base, ".txt")


class ProjectedTaskStore(InMemoryTaskStore):
    """Tasks of this server's runs, and any other case the inbox projection knows (a
    restarted server still answers for them)."""

    def __init__(self, inbox: Inbox) -> None:
        super().__init__()
        self.inbox = inbox

    async def get(self, task_id: str, context: ServerCallContext) -> Task | None:
        found = await super().get(task_id, context)
        if found is not None:
            return found
        case = self.inbox.projection.case(task_id)
        if case is None:
            return None
        state, text = _state(self.inbox, case)
        task = proto_helpers.new_task(task_id, task_id, state)  # type: ignore[arg-type]
        task.status.message.CopyFrom(proto_helpers.new_text_message(text))
        return task


class _Tokens(AuthenticationBackend):
    def __init__(self, users: UserStore) -> None:
        self.users = users

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        scheme, _, token = conn.headers.get("authorization", "").partition(" ")
        user = self.users.check_token(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            return None
        return AuthCredentials(["authenticated", user.role.value]), SimpleUser(user.name)


class _TokenRequired:
    """401 for JSON-RPC calls without a valid inbox token; the card stays public."""

    def __init__(self, app: ASGIApp, card_path: str) -> None:
        self.app = app
        self.card_path = card_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != self.card_path:
            user = scope.get("user")
            if user is None or not user.is_authenticated:
                refusal = JSONResponse(
                    {"error": "send an inbox API token: 'Authorization: Bearer <token>'"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


CARD_PATH = "/.well-known/agent-card.json"


def engine_app(inbox: Inbox, users: UserStore, url: str) -> Starlette:
    card = engine_card(inbox.catalog, url)
    handler = DefaultRequestHandler(
        agent_executor=CaseExecutor(inbox, users),
        task_store=ProjectedTaskStore(inbox),
        agent_card=card,
    )
    routes = [*create_agent_card_routes(card), *create_jsonrpc_routes(handler, rpc_url="/")]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(AuthenticationMiddleware, backend=_Tokens(users)),
            Middleware(_TokenRequired, card_path=CARD_PATH),
        ],
    )


async def serve_a2a(
    app: App,
    host: str,
    port: int,
    stop: anyio.Event,
    *,
    public_url: str | None = None,
    started: anyio.Event | None = None,
) -> None:
    """Serve `caseyard a2a` on `host:port` until `stop` is set."""
    users = UserStore(app.settings.inbox_users_path)
    users.load()
    inbox = Inbox(
        app,
        PipelineCatalog.load(app.settings.pipelines_dir),
        snapshot=app.settings.snapshot_path("a2a"),
    )
    web = engine_app(inbox, users, public_url or f"http://{host}:{port}/")
    async with anyio.create_task_group() as tg:
        tg.start_soon(inbox.run, stop)
        await serve_app(web, host, port, stop, what="the A2A server", listening=started)
        stop.set()
