"""The task list a reviewer works from: what each task is about, filtered, sorted, paged.

A `View` is the list's state as a query string (``?band=high&sort=risk&page=2``): links
carry it, so a reviewer who decides a task lands on the next task of the same view.
A `Row` is what a reviewer decides by, read from the evidence the task was opened with:
document type, sender, amount, risk band and score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlencode

from caseyard.inbox.auth import User
from caseyard.inbox.projection import HumanTask, TaskStatus
from schemas import ClassifyOutput, ExtractOutput, HumanTaskOpened, ScoreOutput

PAGE_SIZE = 50
SORTS = ("sla", "risk", "age")
CLAIMED = ("any", "me", "none", "others")
BANDS = ("low", "medium", "high")
_SENDER_FIELDS = ("issuer", "payee_name", "sender_name", "organization", "sender_email", "email")
_AMOUNT_FIELDS = ("total_amount", "amount")


@dataclass(frozen=True)
class Row:
    """One task as the list shows it."""

    task: HumanTask
    doc_type: str = ""
    sender: str = ""
    amount: str = ""
    band: str = ""
    score: float | None = None

    def matches(self, words: str) -> bool:
        """Whether every word of `words` is in the case id, sender, type or reason."""
        text = " ".join((self.task.case_id, self.sender, self.doc_type, self.task.reason)).lower()
        return all(word in text for word in words.lower().split())


def _about(announced: HumanTaskOpened) -> tuple[str, str, str, str, float | None]:
    doc_type = sender = amount = band = ""
    score = None
    for output in announced.evidence.values():
        if isinstance(output, ClassifyOutput):
            doc_type = output.doc_type.value
        elif isinstance(output, ScoreOutput):
            band, score = output.band.value, output.score
        elif isinstance(output, ExtractOutput):
            first: dict[str, str] = {}
            for field in output.fields:
                first.setdefault(field.name, field.normalized or field.value)
            sender = next((first[n] for n in _SENDER_FIELDS if n in first), "")
            amount = next((first[n] for n in _AMOUNT_FIELDS if n in first), "")
    return doc_type, sender, amount, band, score


class Rows:
    """What a reviewer decides each task by, from its evidence (empty where it has none),
    read once per announcement (a list
    of 10,000 open tasks is built on every page view)."""

    def __init__(self) -> None:
        self._about: dict[str, tuple[HumanTaskOpened, tuple[str, str, str, str, float | None]]]
        self._about = {}

    def of(self, tasks: Sequence[HumanTask]) -> list[Row]:
        out = []
        for task in tasks:
            hit = self._about.get(task.id)
            if hit is None or hit[0] is not task.announced:
                hit = self._about[task.id] = (task.announced, _about(task.announced))
            out.append(Row(task, *hit[1]))
        if len(self._about) > 2 * len(tasks) + 1000:
            live = {t.id for t in tasks}
            self._about = {k: v for k, v in self._about.items() if k in live}
        return out


@dataclass(frozen=True)
class View:
    """Which tasks the list shows and in what order (defaults: all, SLA first)."""

    queue: str = ""
    doc_type: str = ""
    band: str = ""
    claimed: str = "any"
    q: str = ""
    sort: str = "sla"
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> View:
        """The view a query string asks for; values it does not know fall back to defaults."""
        page = params.get("page", "1")
        return cls(
            queue=params.get("queue", "").strip(),
            doc_type=params.get("type", "").strip(),
            band=params.get("band", "") if params.get("band", "") in BANDS else "",
            claimed=params.get("claimed", "any") if params.get("claimed") in CLAIMED else "any",
            q=params.get("q", "").strip()[:200],
            sort=params.get("sort", "sla") if params.get("sort") in SORTS else "sla",
            page=max(1, int(page)) if page.isdigit() else 1,
        )

    def query(self, **changes: str | int) -> str:
        """This view as a query string (without its defaults), with `changes` applied."""
        view = replace(self, **changes)  # type: ignore[arg-type]
        pairs = {
            "queue": view.queue,
            "type": view.doc_type,
            "band": view.band,
            "claimed": "" if view.claimed == "any" else view.claimed,
            "q": view.q,
            "sort": "" if view.sort == "sla" else view.sort,
            "page": "" if view.page == 1 else str(view.page),
        }
        return urlencode({k: v for k, v in pairs.items() if v})

    def keeps(self, found: Row, user: User) -> bool:
        task = found.task
        if self.queue and task.queue != self.queue:
            return False
        if self.doc_type and found.doc_type != self.doc_type:
            return False
        if self.band and found.band != self.band:
            return False
        if self.claimed == "me" and task.claimed_by != user.name:
            return False
        if self.claimed == "none" and task.claimed_by is not None:
            return False
        if self.claimed == "others" and task.claimed_by in (None, user.name):
            return False
        return not self.q or found.matches(self.q)


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int
    view: View

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def select(rows: Sequence[Row], view: View, user: User) -> Page:
    """The page of `rows` (open tasks `user` may see) that `view` shows."""
    kept = [r for r in rows if view.keeps(r, user)]
    kept.sort(key=_ORDER[view.sort])
    start = (view.page - 1) * PAGE_SIZE
    return Page(kept[start : start + PAGE_SIZE], len(kept), view)


def next_task(rows: Sequence[Row], view: View, user: User, after: str) -> HumanTask | None:
    """The first open task of `view` other than `after` that `user` can act on: where a
    reviewer goes once they decided `after`."""
    kept = [r for r in rows if view.keeps(r, user)]
    kept.sort(key=_ORDER[view.sort])
    for found in kept:
        task = found.task
        if task.id != after and task.status is TaskStatus.OPEN and user.can_act(task.queue):
            return task
    return None


def _by_sla(found: Row) -> tuple[datetime, str]:
    return found.task.sla_deadline, found.task.id


def _by_risk(found: Row) -> tuple[float, datetime, str]:
    score = found.score if found.score is not None else -1.0
    return -score, found.task.sla_deadline, found.task.id


def _by_age(found: Row) -> tuple[datetime, str]:
    return found.task.opened_at, found.task.id


_ORDER = {"sla": _by_sla, "risk": _by_risk, "age": _by_age}
