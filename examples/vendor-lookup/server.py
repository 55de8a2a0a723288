"""A vendor master as an MCP server: the example tool server of caseyard's tool steps.

Tools (stdio by default; ``--http PORT`` serves streamable HTTP on 127.0.0.1):

- ``check_vendor_iban`` (read-only): is this IBAN a known vendor's account, and is it the
  account of the vendor the invoice names?
- ``hold_payment`` (idempotent by key): hold payments to an account; a second call with
  the same idempotency key returns the first hold and holds nothing new.
- ``release_payment`` (idempotent): undo a hold (a tool step's compensation).
- ``open_ticket`` (not idempotent): every call opens a new ticket.

Every call that takes effect is appended to the ledger (``VENDOR_LEDGER``, JSON lines), so
a test can count what happened; ``VENDOR_DELAY_S`` makes the effect tools take that long
after the effect (the window in which a crash loses the answer). Vendors come from
``vendors.csv`` beside this file (or ``VENDOR_MASTER``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

HERE = Path(__file__).resolve().parent
MASTER = Path(os.environ.get("VENDOR_MASTER", HERE / "vendors.csv"))
LEDGER = Path(os.environ["VENDOR_LEDGER"]) if os.environ.get("VENDOR_LEDGER") else None
DELAY_S = float(os.environ.get("VENDOR_DELAY_S", "0"))

server = MCPServer("vendors", instructions="The vendor master: look vendors up, hold payments.")


def _vendors() -> list[dict[str, str]]:
    with MASTER.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _compact(iban: str) -> str:
    return "".join(iban.split()).upper()


def _ledger() -> list[dict[str, Any]]:
    if LEDGER is None or not LEDGER.exists():
        return []
    return [json.loads(line) for line in LEDGER.read_text(encoding="utf-8").splitlines() if line]


def _record(entry: dict[str, Any], *, wait: bool = True) -> None:
    if LEDGER is not None:
        with LEDGER.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())
    if DELAY_S and wait:
        time.sleep(DELAY_S)


@server.tool(annotations=ToolAnnotations(title="Check a vendor's IBAN", read_only_hint=True))
def check_vendor_iban(iban: str | None = None, issuer: str = "") -> dict[str, Any]:
    """Whether ``iban`` is the account of a known vendor, and of the vendor named ``issuer``."""
    wanted = _compact(iban or "")
    owner = next((v for v in _vendors() if wanted and _compact(v["iban"]) == wanted), None)
    named = [v for v in _vendors() if issuer and v["name"].lower() in issuer.lower()]
    return {
        "iban": wanted or None,
        "known": owner is not None,
        "vendor_id": owner["vendor_id"] if owner else None,
        "vendor": owner["name"] if owner else None,
        # The issuer is a known vendor whose account on file is another one: the classic
        # "new bank details" fraud.
        "mismatch": bool(named) and all(_compact(v["iban"]) != wanted for v in named),
    }


@server.tool(annotations=ToolAnnotations(title="Hold payments", idempotent_hint=True))
def hold_payment(
    case_id: str, iban: str | None, reason: str, idempotency_key: str
) -> dict[str, Any]:
    """Hold payments to ``iban`` for case ``case_id``; idempotent by ``idempotency_key``."""
    for entry in _ledger():
        if entry.get("tool") == "hold_payment" and entry.get("key") == idempotency_key:
            # Seen before: no new hold (the ledger notes the repeated call, for counting).
            _record({**entry, "repeated": True}, wait=False)
            return {"hold_id": entry["hold_id"], "repeated": True}
    hold_id = "H-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:8]
    _record(
        {
            "tool": "hold_payment",
            "key": idempotency_key,
            "hold_id": hold_id,
            "case": case_id,
            "iban": iban,
            "reason": reason,
        }
    )
    return {"hold_id": hold_id, "repeated": False}


@server.tool(annotations=ToolAnnotations(title="Release a hold", idempotent_hint=True))
def release_payment(hold_id: str, idempotency_key: str) -> dict[str, Any]:
    """Release hold ``hold_id`` (a no-op if it is released already)."""
    if not any(
        e.get("tool") == "release_payment" and e.get("hold_id") == hold_id for e in _ledger()
    ):
        _record({"tool": "release_payment", "key": idempotency_key, "hold_id": hold_id})
    return {"hold_id": hold_id, "released": True}


@server.tool(annotations=ToolAnnotations(title="Open a ticket", idempotent_hint=False))
def open_ticket(summary: str, idempotency_key: str) -> dict[str, Any]:
    """Open a ticket for the accounts-payable team; every call opens a new one."""
    number = len([e for e in _ledger() if e.get("tool") == "open_ticket"]) + 1
    _record({"tool": "open_ticket", "key": idempotency_key, "ticket": number, "summary": summary})
    return {"ticket": number}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
