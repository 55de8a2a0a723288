"""Topology as data: which topics exist, who writes them, which events they carry.

Every case-keyed topic is keyed by `case_id`, and those of `COPARTITIONED` have one
partition count (`CASE_PARTITIONS` when caseyard creates them), so partition p of each
holds the same cases and the coordinator member that owns p owns those cases
(co-partitioning). The composition root turns this into `TopicSpec`s
(`caseyard topics ensure`); the same data can generate an AsyncAPI document.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.dead_letters import DeadLetter
from schemas.envelope import Event
from schemas.human import HumanDecision, HumanTaskClaimed, HumanTaskOpened
from schemas.intake import CaseSubmitted
from schemas.lifecycle import (
    CaseCompleted,
    CaseEscalated,
    CaseFailed,
    CaseHandedOff,
    CaseOpened,
    CompensationCompleted,
    CompensationStarted,
    PolicyDecision,
    StepCompleted,
    StepFailed,
    StepStarted,
    StepTimedOut,
    TimerFired,
)
from schemas.results import TaskCompleted, TaskFailed
from schemas.tasks import TaskRequested

CASE_PARTITIONS = 6
"""Partitions caseyard creates each case-keyed topic with; topics created beforehand with
another count work as well, if those of `COPARTITIONED` agree. More partitions allow more
coordinator members."""

CAPABILITIES = ("classify", "extract", "score", "respond", "tool")
"""The capabilities the built-in agents serve (new agents may add their own); ``tool`` is
the tools agent's: pipeline tool steps, calls of tools on MCP servers."""


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic of the topology."""

    name: str
    events: tuple[type[Event], ...]
    description: str
    writers: tuple[str, ...]
    readers: tuple[str, ...]
    compacted: bool = False
    partitions: int = CASE_PARTITIONS
    """Its count where caseyard decides it; a case-keyed topic gets the deployment's
    (`CASEYARD_CASE_PARTITIONS`, this by default)."""
    case_keyed: bool = True
    """Keyed by case id (False: keyed by something else, with `partitions` fixed)."""
    config: tuple[tuple[str, str], ...] = ()
    """Kafka topic configs it is created with, beside its cleanup policy."""


AGENTS = "agents"
"""Writer/reader name standing for every agent, built-in or added (agents may also read
intake: the language agent does)."""

INTAKE = Topic(
    "caseyard.intake",
    (CaseSubmitted,),
    "documents submitted, one case each (the coordinator writes those a hand-off opens)",
    writers=("cli", "coordinator"),
    readers=("coordinator", AGENTS),
)
RESULTS = Topic(
    "caseyard.results",
    (TaskCompleted, TaskFailed),
    "agent results",
    writers=(AGENTS,),
    readers=("coordinator",),
)
HUMAN = Topic(
    "caseyard.human",
    (HumanTaskClaimed, HumanDecision),
    "reviewers' claims and decisions",
    writers=("inbox",),
    readers=("coordinator", "inbox"),
)
TIMERS = Topic(
    "caseyard.timers",
    (TimerFired,),
    "timers the coordinator fired for itself",
    writers=("coordinator",),
    readers=("coordinator",),
)
CASE_EVENTS = Topic(
    "caseyard.case-events",
    (
        CaseOpened,
        StepStarted,
        StepCompleted,
        StepFailed,
        StepTimedOut,
        PolicyDecision,
        CaseEscalated,
        CompensationStarted,
        CompensationCompleted,
        CaseCompleted,
        CaseFailed,
        CaseHandedOff,
        HumanTaskOpened,
    ),
    "every case's lifecycle and decisions: the audit log",
    writers=("coordinator",),
    readers=("inbox", "cli"),
)
STATE = Topic(
    "caseyard.coordinator.state",
    (),
    "the coordinator's saga state changelog, keyed by case_id (compacted); a finished "
    "case's state is deleted by a tombstone",
    writers=("coordinator",),
    readers=("coordinator",),
    compacted=True,
    # A coordinator reads the whole changelog of the partitions it gains, so what the
    # log holds beyond the open cases' latest states is paid at every start and
    # rebalance. Kafka compacts only closed segments (by default a segment closes at 1
    # GiB or after 7 days: every state of millions of cases), and keeps a tombstone for
    # delete.retention.ms after compacting (by default a day: a record per finished
    # case). Segments close at 16 MiB or 10 minutes; tombstones go 10 minutes after
    # compaction, far longer than a restore reads (a reader that took longer could miss
    # a finished case's tombstone after reading an earlier state of it).
    config=(
        ("segment.bytes", str(16 * 1024 * 1024)),
        ("segment.ms", str(10 * 60 * 1000)),
        ("delete.retention.ms", str(10 * 60 * 1000)),
    ),
)
DEAD_LETTERS = Topic(
    "caseyard.dlq",
    (DeadLetter,),
    "records that could not be processed",
    writers=("coordinator", AGENTS),
    readers=("cli",),
)


AUDIT = Topic(
    "caseyard.audit.checkpoints",
    (),
    "signed heads of the case chains, one checkpoint per coordinator transaction that "
    "advanced chains, in the partition of its cases (schemas.audit.ChainCheckpoint, JSON)",
    writers=("coordinator",),
    readers=("cli",),
)


REDRIVES = Topic(
    "caseyard.dlq.redriven",
    (),
    "markers of dead letters redriven by `caseyard dlq redrive`, keyed by the dead letter's "
    "id (compacted): each is redriven at most once",
    writers=("cli",),
    readers=("cli",),
    compacted=True,
    partitions=1,
    case_keyed=False,
)


def tasks_topic(capability: str) -> Topic:
    """The topic an agent of `capability` consumes its `TaskRequested` events from."""
    return Topic(
        f"caseyard.tasks.{capability}",
        (TaskRequested,),
        f"{capability} tasks",
        writers=("coordinator",),
        readers=(AGENTS,),
    )


COPARTITIONED = (INTAKE, RESULTS, HUMAN, TIMERS, STATE, AUDIT, CASE_EVENTS)
"""The topics whose partition p holds the cases of p of the others: the coordinator's
inputs, the changelog and audit checkpoints it writes to p itself, and the case events
that a replay reads with p's inputs. They need one partition count, any count
(`CASE_PARTITIONS` is the one caseyard creates them with)."""


def all_topics(capabilities: tuple[str, ...] = CAPABILITIES) -> tuple[Topic, ...]:
    """Every topic of the topology, the task topics of `capabilities` included."""
    return (
        INTAKE,
        RESULTS,
        HUMAN,
        TIMERS,
        CASE_EVENTS,
        STATE,
        AUDIT,
        DEAD_LETTERS,
        REDRIVES,
        *(tasks_topic(c) for c in capabilities),
    )
