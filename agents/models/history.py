"""Per-counterparty payment history: the scorer's own durable state.

The scorer compares every document with what it has seen from the same counterparty
(amounts, bank accounts, sender domains). Recording is idempotent by observation id (the
task or case id), so a redelivered task neither double-counts an amount nor sees its own
bank account as "known"; snapshots exclude the observation being scored for the same
reason. Only *trusted* observations (not scored high risk) teach the history which
accounts and domains are normal, so one fraudulent invoice cannot whitelist its account.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from agents.errors import StateError

__all__ = [
    "CounterpartyHistory",
    "HistorySnapshot",
    "MemoryHistory",
    "Payment",
    "SqliteHistory",
    "counterparty_key",
]

_LEGAL_SUFFIXES = re.compile(
    r"\b(?:gmbh & co\.? kg|gmbh|ggmbh|ag|kgaa|kg|ohg|ug|haftungsbeschrankt|e\.k\.|ltd\.?"
    r"|limited|plc|llp|llc|inc\.?|corp\.?|corporation|co\.|sarl|sas|s\.a\.s\.|s\.a\.|sa|s\.l\."
    r"|sl|slu|b\.v\.|bv|n\.v\.|nv|dac|s\.p\.a\.|spa|srl|oy|ab|aps|a/s)(?=\W|$)"
)


def counterparty_key(name: str) -> str:
    """Normalise a counterparty name so spelling variants share one history.

    ``"Nordwind Logistik GmbH"``, ``"NORDWIND LOGISTIK"`` and ``"Nordwind-Logistik GmbH."``
    all become ``"nordwind logistik"``.
    """
    folded = unicodedata.normalize("NFKD", name.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = _LEGAL_SUFFIXES.sub(" ", folded)
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


@dataclass(frozen=True)
class Payment:
    """What one observation contributes to a counterparty's history."""

    observation_id: str
    counterparty: str
    amount: float | None = None
    currency: str | None = None
    iban: str | None = None
    domain: str | None = None


@dataclass(frozen=True)
class HistorySnapshot:
    """What the history knows about one counterparty (trusted observations only)."""

    observations: int = 0
    amounts: tuple[tuple[float, str], ...] = ()
    ibans: frozenset[str] = field(default_factory=frozenset)
    domains: frozenset[str] = field(default_factory=frozenset)

    def amounts_in(self, currency: str | None) -> list[float]:
        """Amounts seen in ``currency`` (all amounts when the currency is unknown)."""
        return [a for a, c in self.amounts if currency is None or c == currency]


class CounterpartyHistory(Protocol):
    """Durable memory of what each counterparty usually sends."""

    def snapshot(self, counterparty: str, *, exclude: str | None = None) -> HistorySnapshot:
        """The history of ``counterparty``, leaving out observation ``exclude``."""
        ...

    def record(self, payment: Payment, *, trusted: bool) -> None:
        """Remember ``payment``; recording the same observation id again changes nothing."""
        ...


class MemoryHistory:
    """In-memory `CounterpartyHistory` for training replays and tests."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[str, Payment, bool]] = {}

    def snapshot(self, counterparty: str, *, exclude: str | None = None) -> HistorySnapshot:
        key = counterparty_key(counterparty)
        rows = [
            p
            for k, p, trusted in self._rows.values()
            if k == key and trusted and p.observation_id != exclude
        ]
        return _snapshot(iter(rows))

    def record(self, payment: Payment, *, trusted: bool) -> None:
        if payment.observation_id not in self._rows:
            self._rows[payment.observation_id] = (
                counterparty_key(payment.counterparty),
                payment,
                trusted,
            )


def _snapshot(rows: Iterator[Payment]) -> HistorySnapshot:
    count = 0
    amounts: list[tuple[float, str]] = []
    ibans: set[str] = set()
    domains: set[str] = set()
    for payment in rows:
        count += 1
        if payment.amount is not None:
            amounts.append((payment.amount, payment.currency or ""))
        if payment.iban:
            ibans.add(payment.iban)
        if payment.domain:
            domains.add(payment.domain)
    return HistorySnapshot(count, tuple(amounts), frozenset(ibans), frozenset(domains))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS observations (
    observation_id TEXT PRIMARY KEY,
    counterparty   TEXT NOT NULL,
    name           TEXT NOT NULL,
    amount         REAL,
    currency       TEXT,
    iban           TEXT,
    domain         TEXT,
    trusted        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS observations_by_counterparty ON observations (counterparty, trusted);
"""


class SqliteHistory:
    """`CounterpartyHistory` in a SQLite file (stdlib sqlite3, WAL mode).

    Several processes of the scorer may share one file; each write is one transaction.
    Calls block on disk I/O, so async callers use ``anyio.to_thread.run_sync``.

    Args:
        path: Database file; created with its directory when missing.

    Raises:
        StateError: If the database cannot be opened.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self._path, check_same_thread=False, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._db.commit()
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"cannot open the counterparty history {self._path}: {exc}") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def snapshot(self, counterparty: str, *, exclude: str | None = None) -> HistorySnapshot:
        try:
            with self._lock:
                rows = self._db.execute(
                    "SELECT observation_id, name, amount, currency, iban, domain "
                    "FROM observations WHERE counterparty = ? AND trusted = 1 "
                    "AND observation_id IS NOT ? ORDER BY rowid",
                    (counterparty_key(counterparty), exclude),
                ).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"cannot read the counterparty history: {exc}") from exc
        return _snapshot(Payment(*row) for row in rows)

    def record(self, payment: Payment, *, trusted: bool) -> None:
        try:
            with self._lock, self._db:
                self._db.execute(
                    "INSERT OR IGNORE INTO observations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        payment.observation_id,
                        counterparty_key(payment.counterparty),
                        payment.counterparty,
                        payment.amount,
                        payment.currency,
                        payment.iban,
                        payment.domain,
                        int(trusted),
                    ),
                )
        except sqlite3.Error as exc:
            raise StateError(f"cannot write the counterparty history: {exc}") from exc

    def counterparties(self) -> list[str]:
        """Keys of every counterparty with at least one observation."""
        try:
            with self._lock:
                rows = self._db.execute(
                    "SELECT DISTINCT counterparty FROM observations ORDER BY counterparty"
                ).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"cannot read the counterparty history: {exc}") from exc
        return [str(row[0]) for row in rows]
