"""The inbox web app: server-rendered pages (Jinja2) and the JSON API in one Starlette app.

Pages answer 401 with the sign-in form, 403/404/409/422 with a page that says why. Every
form carries the session's CSRF token in a hidden field; a POST without it is refused.
Sign-ins are throttled (a user locked after a run of failures, an address slowed), and
every answer carries security headers (a per-response CSP nonce for the one inline script
and stylesheet, no framing, HSTS over HTTPS); bodies over MAX_BODY_BYTES, or of unknown
length, are refused before they are read.
"""

from __future__ import annotations

import logging
import mimetypes
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

import anyio
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caseyard.errors import CaseyardError
from caseyard.inbox.api import Api
from caseyard.inbox.auth import Role, User, UserStore
from caseyard.inbox.listing import BANDS, CLAIMED, SORTS, Rows, View, next_task, select
from caseyard.inbox.models import load_detail, timeline
from caseyard.inbox.projection import HumanTask
from caseyard.inbox.render import INLINE, boxed, marked, page_count, page_png
from caseyard.inbox.service import Inbox, Refused
from caseyard.inbox.session import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SESSION_SECONDS,
    csrf_ok,
    csrf_token,
    session_user,
    sign_in,
    sign_out,
)
from schemas import DecisionAction, DocType, ExtractedField, ExtractOutput, FieldPatch, Urgency

Endpoint = Callable[[Request], Awaitable[Response]]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024
"""The largest request body the inbox reads (its forms and JSON are a few kilobytes)."""


class Guard:
    """ASGI middleware around the whole app: refuses bodies over MAX_BODY_BYTES (by their
    Content-Length; a body without one is refused, 411) and adds the security headers to
    every response, with a fresh CSP nonce the pages use for their inline script/style."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" in headers:
            await _refuse(send, 411, "send the request body with a Content-Length")
            return
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _refuse(send, 413, f"the request body is over {MAX_BODY_BYTES:,} bytes")
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        extra = _security_headers(nonce, https=scope.get("scheme") == "https")

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = list(message.get("headers", []))
                # A response with a policy of its own (the original document) keeps it.
                framed = {b"content-security-policy", b"x-frame-options"}
                if any(name.lower() == b"content-security-policy" for name, _ in own):
                    message["headers"] = [*own, *(h for h in extra if h[0] not in framed)]
                else:
                    message["headers"] = [*own, *extra]
            await send(message)

        await self.app(scope, receive, secured)


def _security_headers(nonce: str, *, https: bool) -> list[tuple[bytes, bytes]]:
    policy = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    headers = [
        (b"content-security-policy", policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    ]
    if https:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = detail.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(inbox: Inbox, users: UserStore, *, secret: str | None = None) -> Starlette:
    """The inbox's pages and API.

    Args:
        inbox: The projection and the actions on it.
        users: Who may sign in.
        secret: Signs the session cookies; None makes a random one, so sessions do not
            survive a restart.
    """
    pages = Pages(inbox, users)
    return Starlette(
        routes=[*pages.routes(), *Api(inbox, users).routes()],
        middleware=[
            Middleware(Guard),
            Middleware(
                SessionMiddleware,
                secret_key=secret or secrets.token_urlsafe(32),
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_SECONDS,
                same_site="lax",
            ),
        ],
    )


def remaining(deadline: datetime, now: datetime | None = None) -> str:
    """'2h 05m left' or 'overdue by 3m 10s': the SLA as people read it."""
    seconds = int((deadline - (now or datetime.now(UTC))).total_seconds())
    left = abs(seconds)
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days}d {hours}h"
    elif hours:
        text = f"{hours}h {minutes:02d}m"
    else:
        text = f"{minutes}m {secs:02d}s"
    return f"{text} left" if seconds >= 0 else f"overdue by {text}"


def age(since: datetime, now: datetime | None = None) -> str:
    """'3h 10m' or '2d 4h': how long a task has waited."""
    return remaining(now or datetime.now(UTC), since).removesuffix(" left")


def _templates() -> Jinja2Templates:
    env = Environment(
        loader=PackageLoader("caseyard.inbox", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    env.filters["remaining"] = remaining
    env.filters["age"] = age
    env.filters["when"] = lambda at: at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Jinja2Templates(env=env)


class Pages:
    """The HTML pages."""

    def __init__(self, inbox: Inbox, users: UserStore) -> None:
        self.inbox = inbox
        self.users = users
        self.rows = Rows()
        self.templates = _templates()

    def routes(self) -> list[Route]:
        # A task id holds slashes ('<case_id>/human/<n>'): the actions go first.
        return [
            Route("/", self._page(self.index)),
            Route("/overview", self._page(self.overview), methods=["GET"]),
            Route("/login", self._page(self.login_form), methods=["GET"]),
            Route("/login", self._page(self.login), methods=["POST"]),
            Route("/logout", self._page(self.logout), methods=["POST"]),
            Route("/tasks/{task_id:path}/claim", self._page(self.claim), methods=["POST"]),
            Route("/tasks/{task_id:path}/decide", self._page(self.decide), methods=["POST"]),
            Route("/tasks/{task_id:path}/original", self._page(self.original), methods=["GET"]),
            Route(
                "/tasks/{task_id:path}/page/{number:int}", self._page(self.page), methods=["GET"]
            ),
            Route("/tasks/{task_id:path}", self._page(self.task), methods=["GET"]),
        ]

    async def index(self, request: Request) -> Response:
        user = self._user(request)
        view = View.parse(request.query_params)
        tasks = self.inbox.tasks(user)
        return self._render(
            request,
            "tasks.html",
            user,
            page=select(self.rows.of(tasks), view, user),
            view=view,
            queues=sorted({t.queue for t in tasks} | set(user.queues)),
            types=[t.value for t in DocType],
            bands=BANDS,
            sorts=SORTS,
            claimed=CLAIMED,
        )

    async def overview(self, request: Request) -> Response:
        """The last hour (or ?minutes=) of the whole system: supervisors and auditors."""
        from caseyard.inbox.overview import charts, gather

        user = self._user(request)
        if user.role is Role.REVIEWER:
            raise Refused(
                403, f"{user.name} is a reviewer: the overview is for supervisors and auditors"
            )
        try:
            minutes = min(max(int(request.query_params.get("minutes", "60")), 1), 7 * 24 * 60)
        except ValueError:
            raise Refused(422, "minutes is a number") from None
        view = await gather(self.inbox.app, self.inbox.tasks(user), minutes)
        return self._render(
            request, "overview.html", user, view=view, charts=charts(view), latency=view.latency()
        )

    async def original(self, request: Request) -> Response:
        """The document as submitted: shown if the browser can show it safely, else
        downloaded; never run (a submitted HTML page stays inert)."""
        user = self._user(request)
        task = self.inbox.task(user, request.path_params["task_id"])
        data, ref = await self.inbox.document(task)
        inline = ref.media_type in INLINE
        name = f"{task.case_id}{mimetypes.guess_extension(ref.media_type) or ''}"
        return Response(
            data,
            media_type=ref.media_type if inline else "application/octet-stream",
            headers={
                "content-disposition": f'{"inline" if inline else "attachment"}; filename="{name}"',
                # Its own policy: nothing in it runs, and only the inbox may frame it.
                "content-security-policy": "default-src 'none'; img-src 'self'; "
                "style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox",
                "cache-control": "private, no-store",
            },
        )

    async def page(self, request: Request) -> Response:
        """Page `number` of the task's PDF as PNG."""
        user = self._user(request)
        task = self.inbox.task(user, request.path_params["task_id"])
        data, ref = await self.inbox.document(task)
        number = int(request.path_params["number"])
        if ref.media_type != "application/pdf":
            raise Refused(404, "the document is not a PDF")
        try:
            png = await anyio.to_thread.run_sync(page_png, data, number)
        except IndexError:
            raise Refused(404, f"the PDF has no page {number} to show") from None
        except CaseyardError as exc:
            raise Refused(422, str(exc)) from None
        return Response(png, media_type="image/png", headers={"cache-control": "private"})

    async def task(self, request: Request) -> Response:
        user = self._user(request)
        task, detail = await load_detail(self.inbox, user, request.path_params["task_id"])
        can_act = self.inbox.refusal(user, task) is None
        view = View.parse(request.query_params)
        after = next_task(self.rows.of(self.inbox.tasks(user)), view, user, task.id)
        pages = 0
        if detail.document is not None and detail.document.media_type == "application/pdf":
            data, _ = await self.inbox.document(task)
            pages = await anyio.to_thread.run_sync(page_count, data)
        extracted = [
            f for o in detail.evidence.values() if isinstance(o, ExtractOutput) for f in o.fields
        ]
        return self._render(
            request,
            "task.html",
            user,
            task=detail,
            timeline=timeline(self.inbox.case(user, task.case_id)),
            can_claim=can_act and task.claimed_by != user.name,
            can_decide=can_act and task.claimed_by == user.name,
            view=view.query(),
            next_task=after.id if after is not None else None,
            choices=_CHOICES,
            pages=pages,
            marked=marked(detail.document_text, extracted) if detail.document_text else [],
            boxed=boxed(detail.document_boxes, extracted),
        )

    async def claim(self, request: Request) -> Response:
        user = self._user(request)
        form = await self._form(request)
        task = await self.inbox.claim(user, request.path_params["task_id"])
        return self._back_to(task, _view_of(form))

    async def decide(self, request: Request) -> Response:
        user = self._user(request)
        form = await self._form(request)
        task_id = request.path_params["task_id"]
        try:
            action = DecisionAction(str(form.get("action", "")))
        except ValueError:
            raise Refused(422, "choose approve, reject or edit") from None
        patches: tuple[FieldPatch, ...] = ()
        if action is DecisionAction.EDIT:
            editable = self.inbox.editable(self.inbox.task(user, task_id))
            patches = _patches(form, editable.fields if editable is not None else ())
        comment = str(form.get("comment", "")).strip() or None
        task = await self.inbox.decide(user, task_id, action, patches, comment)
        # On to the next task of the list the reviewer came from; the list when none is left.
        view = _view_of(form)
        after = next_task(self.rows.of(self.inbox.tasks(user)), view, user, task.id)
        if after is None:
            query = view.query(page=1)
            return RedirectResponse(f"/?{query}" if query else "/", status_code=303)
        return self._back_to(after, view)

    async def login_form(self, request: Request) -> Response:
        return self._login_page(request, str(request.query_params.get("next", "/")))

    async def login(self, request: Request) -> Response:
        form = await self._form(request)
        target = _local(str(form.get("next", "/")))
        name, password = str(form.get("name", "")), str(form.get("password", ""))
        address = request.client.host if request.client else "unknown"
        signins = self.users.signins
        refusal = signins.refusal(name, address)
        if refusal is not None:
            log.warning(
                "inbox sign-in refused: %s", refusal, extra={"user": name, "address": address}
            )
            return self._login_page(request, target, refusal, status=429)
        # scrypt takes a while on purpose: not on the event loop.
        user = await anyio.to_thread.run_sync(self.users.check_password, name, password)
        if user is None:
            locked = signins.failed(name, address)
            log.warning(
                "inbox sign-in failed%s",
                " (now locked)" if locked else "",
                extra={"user": name, "address": address},
            )
            return self._login_page(request, target, "wrong name or password", status=401)
        signins.succeeded(name)
        sign_in(request, user, self.users)
        log.info("inbox sign-in", extra={"user": name, "address": address})
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request) -> Response:
        await self._form(request)
        user = session_user(request, self.users)
        sign_out(request, self.users)
        if user is not None:
            log.info("inbox sign-out", extra={"user": user.name})
        return RedirectResponse("/login", status_code=303)

    def _user(self, request: Request) -> User:
        user = session_user(request, self.users)
        if user is None:
            raise Refused(401, "sign in to see the inbox")
        return user

    async def _form(self, request: Request) -> FormData:
        form = await request.form()
        if not csrf_ok(request, form.get(CSRF_FIELD)):
            raise Refused(403, "the form's CSRF token is missing or out of date: reload the page")
        return form

    def _page(self, handler: Endpoint) -> Endpoint:
        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except Refused as exc:
                if exc.status == 401:
                    return self._login_page(request, request.url.path, str(exc), status=401)
                user = session_user(request, self.users)
                return self._render(
                    request, "error.html", user, message=str(exc), status_code=exc.status
                )

        return page

    def _login_page(
        self, request: Request, target: str, message: str = "", *, status: int = 200
    ) -> Response:
        return self._render(
            request, "login.html", None, next=_local(target), message=message, status_code=status
        )

    def _render(
        self,
        request: Request,
        name: str,
        user: User | None,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        context |= {
            "user": user,
            "csrf": csrf_token(request),
            "csrf_field": CSRF_FIELD,
            "now": datetime.now(UTC),
            "csp_nonce": getattr(request.state, "csp_nonce", ""),
        }
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)

    @staticmethod
    def _back_to(task: HumanTask, view: View) -> Response:
        query = view.query()
        return RedirectResponse(
            f"/tasks/{quote(task.id)}" + (f"?{query}" if query else ""), status_code=303
        )


_CHOICES = {"doc_type": [t.value for t in DocType], "urgency": [u.value for u in Urgency]}
"""Fields of a classification review, corrected from a list rather than typed."""


def _view_of(form: FormData) -> View:
    """The list view a task page's form came from (its hidden ``view`` field)."""
    return View.parse(dict(parse_qsl(str(form.get("view", "")))))


def _patches(form: FormData, fields: tuple[ExtractedField, ...]) -> tuple[FieldPatch, ...]:
    """The fields whose value the form changed; an emptied field is removed."""
    patches = []
    for field in fields:
        sent = form.get(f"field:{field.name}")
        if isinstance(sent, str) and sent.strip() != field.value:
            patches.append(FieldPatch(field=field.name, value=sent.strip() or None))
    return tuple(patches)


def _local(target: str) -> str:
    """`target` if it is a path on this site, else '/' (no open redirects)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"
