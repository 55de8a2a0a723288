"""Who is asking: the signed session cookie (pages, and the API from a browser) or a
bearer token (the API), and the per-session CSRF token that every cookie-authenticated
write must carry (a hidden form field, or the `X-CSRF-Token` header).

The cookie names a server-side session (`SignIns`): it is good only while that session is
open, for that user, with the password they had when it started."""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request

from caseyard.inbox.auth import SESSION_S, User, UserStore
from caseyard.inbox.service import Refused

SESSION_COOKIE = "caseyard_inbox"
SESSION_SECONDS = SESSION_S
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


def session_user(request: Request, users: UserStore) -> User | None:
    """The signed-in user of the session (None if none, if it was ended, if the user was
    removed or their password changed since)."""
    name, sid = request.session.get("user"), request.session.get("sid")
    if not isinstance(name, str) or not isinstance(sid, str):
        return None
    user = users.user(name)
    return user if user is not None and users.signins.valid(sid, user) else None


def bearer_user(request: Request, users: UserStore) -> User | None:
    """The user whose API token the request carries; None if it carries none.

    Raises:
        Refused: 401 if it carries a token that is not valid.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    user = users.check_token(token.strip())
    if user is None:
        raise Refused(401, "the bearer token is not valid")
    return user


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def csrf_ok(request: Request, sent: object) -> bool:
    expected = request.session.get(CSRF_FIELD)
    return (
        isinstance(sent, str)
        and isinstance(expected, str)
        and hmac.compare_digest(sent.encode(), expected.encode())
    )


def sign_in(request: Request, user: User, users: UserStore) -> None:
    """Start a fresh session for `user` (a new CSRF token too: no session fixation)."""
    request.session.clear()
    request.session["user"] = user.name
    request.session["sid"] = users.signins.start(user)
    csrf_token(request)


def sign_out(request: Request, users: UserStore) -> None:
    """End the session on the server too: a copy of the cookie is worth nothing after."""
    sid = request.session.get("sid")
    if isinstance(sid, str):
        users.signins.end(sid)
    request.session.clear()
