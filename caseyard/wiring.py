"""Process wiring: turn settings into connected parts."""

from __future__ import annotations

import bus
from bus import Bus
from caseyard.settings import Settings


def open_bus(settings: Settings, *, transactional_id: str | None = None) -> Bus:
    """The bus the settings name (enter it with `async with`)."""
    return bus.connect(
        settings.bus,
        max_message_bytes=settings.max_message_bytes,
        session_timeout_ms=settings.session_timeout_ms,
        connect_timeout=settings.connect_timeout,
        client_id=settings.client_id,
        transactional_id=transactional_id,
    )
