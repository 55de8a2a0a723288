"""The public names of `caseyard.inbox` (what `caseyard up` and the demo build on)."""

from __future__ import annotations

import caseyard.inbox


def test_the_public_names_are_pinned() -> None:
    assert caseyard.inbox.__all__ == [
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
    assert all(hasattr(caseyard.inbox, name) for name in caseyard.inbox.__all__)
