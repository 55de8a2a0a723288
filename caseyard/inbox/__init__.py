"""The human inbox: reviewers see the tasks of their queues and decide them.

`caseyard run inbox` serves it (`serve_inbox`); `caseyard inbox add-user|add-token` manage
who may sign in (`UserStore`); `ensure_demo_user` gives the demo a user.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from caseyard.inbox.auth import Role, User, UserStore, ensure_demo_user, hash_password
from caseyard.inbox.projection import CaseView, HumanTask, Projection, TaskStatus

if TYPE_CHECKING:
    from caseyard.inbox.server import serve_inbox
    from caseyard.inbox.service import Editable, Inbox, Refused
    from caseyard.inbox.web import create_app

__all__ = [
    "CaseView",
    "Editable",
    "HumanTask",
    "Inbox",
    "Projection",
    "Refused",
    "Role",
    "TaskStatus",
    "User",
    "UserStore",
    "create_app",
    "ensure_demo_user",
    "hash_password",
    "serve_inbox",
]

_SERVING = {
    "Editable": "service",
    "Inbox": "service",
    "Refused": "service",
    "create_app": "web",
    "serve_inbox": "server",
}


def __getattr__(name: str) -> object:
    # The web stack (uvicorn, Starlette, Jinja2, document readers) loads on first use, so
    # that `caseyard inbox add-user`, and every other command, starts without it.
    module = _SERVING.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
