"""Deterministic identifiers and the audit hash chain.

Everything the coordinator names is derived from its inputs, never from a clock or a random
source, so replaying the same inputs reproduces byte-identical outputs:

- output event ids: UUIDv7-shaped; the time is the input's ``occurred_at``, the 12-bit
  counter is the output's index and the random part comes from a hash of the input id
  and the index (``EventIds``);
- task ids: ``<case_id>/<node>/<run>.<attempt>`` (``node`` is a step or a compensation);
- human task ids: ``<case_id>/human/<n>``;
- timer ids, unique within their case (``TimerFired`` carries the case id):
  ``<node>/<run>.<attempt>/timeout``, ``<node>/<run>.<attempt>/retry``,
  ``human/<n>/sla/<level>`` and ``deadline``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from schemas.lifecycle import CaseEvent

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_RAND_B = (1 << 62) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_VARIANT = 0b10 << 62
_TIME_LIMIT = 1 << 48


class EventIds:
    """The ids of the events derived from one input, by output index.

    The random part of id ``i`` is ``(seed + i * 0x9E3779B97F4A7C15) mod 2**62`` with
    ``seed`` the 64-bit blake2b digest of the input id: distinct for every index of one
    input, unrelated between inputs, and one hash per input instead of one per output.

    Args:
        source_id: The input event's id.
        at: The input event's ``occurred_at``.
    """

    __slots__ = ("_head", "_prefix", "_seed")

    def __init__(self, source_id: str, at: datetime) -> None:
        ms = (at - _EPOCH) // _MILLISECOND
        # The first 13 hex digits never change between outputs: the 48-bit time, then
        # the version. Formatted once, not once per output.
        text = f"{ms:012x}"
        self._head = f"{text[:8]}-{text[8:]}-7" if 0 <= ms < _TIME_LIMIT else None
        self._prefix = (ms << 80) | (0x7 << 76) | _VARIANT
        self._seed = int.from_bytes(hashlib.blake2b(source_id.encode(), digest_size=8).digest())

    def __call__(self, index: int) -> str:
        """Return the id of output ``index``."""
        random = (self._seed + index * _GOLDEN) & _RAND_B
        if self._head is not None:
            low = f"{_VARIANT | random:016x}"
            return f"{self._head}{index & 0xFFF:03x}-{low[:4]}-{low[4:]}"
        # A time before 1970 or after 10889 is no UUIDv7 time: the id is what the first
        # versions made of it, so that a replay of their log derives the same.
        text = f"{self._prefix | ((index & 0xFFF) << 64) | random:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def derive_event_id(source_id: str, index: int, at: datetime) -> str:
    """Return the id of the ``index``-th event derived from the event ``source_id``.

    The result is a valid UUIDv7 (RFC 9562) whose time is ``at`` and whose counter is
    ``index``, so the outputs of one input sort in the order they were made.
    """
    return EventIds(source_id, at)(index)


def event_key(event_id: str) -> int:
    """Return a 48-bit digest of an event id: what the state remembers for dedupe.

    48 bits keep the state small; with a handful of ids remembered per case, a false
    match is about one in 10^13 inputs.
    """
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=6).digest())


def task_id(case_id: str, node: str, run: int, attempt: int) -> str:
    """Return the id of one attempt of one run of a step (or compensation) of a case."""
    return f"{case_id}/{node}/{run}.{attempt}"


def parse_task_id(case_id: str, value: str) -> tuple[str, int, int] | None:
    """Return ``(node, run, attempt)`` of a task id of ``case_id``, or None if it is not one."""
    prefix = f"{case_id}/"
    if not value.startswith(prefix):
        return None
    node, sep, counters = value[len(prefix) :].partition("/")
    run, dot, attempt = counters.partition(".")
    if not (sep and dot and node and run.isdigit() and attempt.isdigit()):
        return None
    return node, int(run), int(attempt)


def step_of_task(case_id: str, value: str) -> str:
    """The step (or compensation) a task id of ``case_id`` is of; ``value`` itself if it
    is not such a task id."""
    parsed = parse_task_id(case_id, value)
    return parsed[0] if parsed is not None else value


DEADLINE_TIMER = "deadline"
"""The id of a case's deadline timer."""


def timeout_timer(node: str, run: int, attempt: int) -> str:
    """Return the id of the deadline timer of one attempt."""
    return f"{node}/{run}.{attempt}/timeout"


def retry_timer(node: str, run: int, attempt: int) -> str:
    """Return the id of the backoff timer after attempt ``attempt`` failed."""
    return f"{node}/{run}.{attempt}/retry"


def parse_timeout_timer(value: str) -> tuple[str, int, int] | None:
    """Return ``(node, run, attempt)`` of a timeout timer id, or None if it is not one."""
    if not value.endswith("/timeout"):
        return None
    node, sep, counters = value.removesuffix("/timeout").rpartition("/")
    run, dot, attempt = counters.partition(".")
    if not (sep and dot and node and run.isdigit() and attempt.isdigit()):
        return None
    return node, int(run), int(attempt)


def sla_timer(human_task_id: str, level: int) -> str:
    """Return the id of the SLA timer of a human task in queue ``level`` of its chain."""
    return f"human/{human_task_id.rpartition('/')[2]}/sla/{level}"


def handoff_case_id(case_id: str, pipeline: str) -> str:
    """Return the id of the case a hand-off to ``pipeline`` opens (one per case and
    pipeline: a case ends when it hands off)."""
    return f"{case_id}.{pipeline}"


def human_task_id(case_id: str, number: int) -> str:
    """Return the id of the ``number``-th human task of a case."""
    return f"{case_id}/human/{number}"


def parse_human_task_id(case_id: str, value: str) -> int | None:
    """Return the number of a human task id of ``case_id``, or None if it is not one."""
    prefix = f"{case_id}/human/"
    if not value.startswith(prefix) or not value[len(prefix) :].isdigit():
        return None
    return int(value[len(prefix) :])


def case_event_hash(event: CaseEvent) -> str:
    """Return the hash that the next event of the case carries as ``previous_hash``.

    The hash is the hex sha256 of ``<event_type>\\n<pydantic JSON of the event>`` (UTF-8).
    The JSON lists the fields in declaration order and includes ``previous_hash``, so
    each hash covers the whole chain before it; ``caseyard audit verify`` recomputes it
    from the decoded events.
    """
    # The serializer itself: the bytes of ``model_dump_json()`` without its wrapper and
    # a decode/encode round trip (a case event is hashed on every transition).
    digest = hashlib.sha256(event.event_type.encode())
    digest.update(b"\n")
    digest.update(event.__pydantic_serializer__.to_json(event))
    return digest.hexdigest()
