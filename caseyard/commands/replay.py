"""`caseyard replay`: rebuild cases from the log (and check every decision), or move a
consumer group back so an agent consumes a topic again.

Case replay reads the coordinator's input topics and the case-events log into memory and
runs the pure transition on them (`coordinator.replay`): nothing is published, no model is
called, no state is written. `--from` chooses the cases: those whose submission record on
the intake topic is at or after TIME (its record timestamp) or at or after OFFSET (on
every intake partition). A case submitted earlier is not rebuilt: its earlier inputs are
not read, so its state could not be. The other topics are read from a minute before the
first chosen submission of each partition (for producers' clock skew) and filtered to the
chosen cases. A case's records all live on its partition of each topic, so the cases are
read and rebuilt one partition at a time (memory is one partition's log, not the whole's),
in a process per core when the log is large (`PROCESSES_FROM_RECORDS`); a submission a
producer put on another partition is replayed where the coordinator sent it on to.

Group replay (`--group G --topic T --from ...`) commits, for group G, the first offset at
or after TIME (or the earliest, or OFFSET) on every partition of T, as
`kafka-consumer-groups --reset-offsets` does; the group's members then consume from there.
It joins G to do so and refuses when G has other live members on T, which both buses can
tell: the join does not get every partition.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import typer
from rich.progress import Progress, TaskID
from rich.table import Table

from bus import Bus, Record, TopicPartition, partition_for
from caseyard.app import (
    App,
    decode_records,
    offsets_for_times,
    open_app,
    read_records,
    topic_partitions,
)
from caseyard.commands._run import run
from caseyard.errors import AuditFailed, ConfigError
from caseyard.process import tune_gc
from caseyard.settings import Settings
from coordinator import (
    CaseReplay,
    CaseState,
    Logged,
    Mismatch,
    PipelineCatalog,
    StepStatus,
    gc_paused,
    replay,
)
from schemas import (
    CaseSubmitted,
    ClassifyOutput,
    ExtractOutput,
    TaskCompleted,
    TaskOutput,
)
from schemas.topology import CASE_EVENTS, HUMAN, INTAKE, RESULTS, TIMERS

if TYPE_CHECKING:
    from caseyard.whatif import Counts

CLOCK_SKEW_MS = 60_000
"""Records up to this much older than the first chosen submission are read too."""

GROUP_JOIN_TIMEOUT_S = 60.0
"""How long a group replay waits for its partitions (a Kafka group join takes seconds)."""

_ACTIVE = (
    StepStatus.PENDING,
    StepStatus.RUNNING,
    StepStatus.BACKOFF,
    StepStatus.REVIEW,
    StepStatus.COMPENSATING,
)


@dataclass(frozen=True, slots=True)
class Start:
    """Where reading starts: the earliest record, an offset on every partition, or a time."""

    offset: int | None = None
    time: datetime | None = None

    @property
    def earliest(self) -> bool:
        return self.offset is None and self.time is None

    @property
    def timestamp_ms(self) -> int | None:
        return None if self.time is None else int(self.time.timestamp() * 1000)

    def __str__(self) -> str:
        if self.offset is not None:
            return f"offset {self.offset}"
        if self.time is not None:
            return self.time.isoformat()
        return "earliest"


def parse_start(text: str | None) -> Start:
    """`--from`: 'earliest', an offset (integer >= 0) or an ISO-8601 time (UTC if naive)."""
    if text is None or text.strip().lower() == "earliest":
        return Start()
    value = text.strip()
    if value.lstrip("-").isdigit():
        if int(value) < 0:
            raise ConfigError(f"--from {text!r}: an offset cannot be negative")
        return Start(offset=int(value))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"--from {text!r}: expected an ISO-8601 time (2024-05-01T09:00:00Z), "
            "an offset (integer) or 'earliest'"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Start(time=moment.astimezone(UTC))


async def start_offsets(
    app: App, tps: Sequence[TopicPartition], start: Start
) -> dict[TopicPartition, int]:
    """The offset each of `tps` is read from."""
    if start.offset is not None:
        return dict.fromkeys(tps, start.offset)
    if start.timestamp_ms is not None:
        return await offsets_for_times(app.bus, dict.fromkeys(tps, start.timestamp_ms))
    return dict.fromkeys(tps, 0)


# -- what-if replay -----------------------------------------------------------------------


def _replay_what_if(
    start: Start, case_id: str | None, what_if: str, as_json: bool, html_path: Path | None
) -> None:
    from caseyard.cli import console, existing_settings
    from caseyard.whatif import ask_scorer, parse_what_if, score_requests

    capability, feedback = parse_what_if(what_if)

    async def body() -> None:
        catalog = PipelineCatalog.load(existing_settings().pipelines_dir)
        async with open_app(existing_settings()) as app:
            with Progress(console=console, transient=True, disable=as_json) as progress:
                task = progress.add_task("reading the log", total=0)
                log = await read_case_log(app, start, case_id, progress, task)
                answers: Mapping[str, Any]
                if capability == "score":
                    # One history for all, built in the order the scores came: asked together.
                    requests = score_requests(log.inputs, log.outputs, catalog)
                    progress.add_task(f"scoring {len(requests)} case(s) in order", total=None)
                    model, answers = await ask_scorer(app, requests)
                else:
                    model, answers = await _ask_each(app, capability, feedback, log, progress)
        _what_if_report(capability, log, catalog, answers, model, start, as_json, html_path)

    run(body)


async def _ask_each(
    app: App,
    capability: str,
    feedback: Path | None,
    log: CaseLog,
    progress: Progress,
) -> tuple[str, dict[str, Any]]:
    """The candidate classifier or extractor, and its answer for each case's document (of
    the cases that have its kind of output), asked one by one."""
    from caseyard.whatif import ask_candidate, ask_extractor

    kind: type[TaskOutput] = ClassifyOutput if capability == "classify" else ExtractOutput
    model, ask = (
        await ask_candidate(app, feedback) if capability == "classify" else ask_extractor(app)
    )
    submitted = {i.event.case_id: i.event for i in log.inputs if isinstance(i.event, CaseSubmitted)}
    wanted = {
        i.event.case_id
        for i in log.inputs
        if isinstance(i.event, TaskCompleted)
        and isinstance(i.event.output, kind)
        and i.event.case_id in submitted
    }
    asking = progress.add_task(f"asking {model}", total=len(wanted))
    answers: dict[str, Any] = {}
    for case in sorted(wanted):
        answers[case] = await ask(submitted[case])
        progress.advance(asking)
    return model, answers


def _what_if_report(
    capability: str,
    log: CaseLog,
    catalog: PipelineCatalog,
    answers: Mapping[str, Any],
    model: str,
    start: Start,
    as_json: bool,
    html_path: Path | None,
) -> None:
    from caseyard.cli import console, print_json
    from caseyard.whatif import (
        WhatIfRow,
        classify_what_if,
        extract_what_if,
        render_html,
        score_what_if,
        summarize,
        summarize_extract,
        summarize_score,
    )

    def answer(submitted: CaseSubmitted) -> Any:
        return answers.get(submitted.case_id)

    rows: Sequence[WhatIfRow]
    summary: Counts
    if capability == "classify":
        rows = found = classify_what_if(log.inputs, log.outputs, catalog, answer)
        summary = summarize(found)
    elif capability == "extract":
        rows = read = extract_what_if(log.inputs, log.outputs, catalog, answer)
        summary = summarize_extract(read)
    else:
        rows = scored = score_what_if(log.inputs, log.outputs, catalog, answer)
        summary = summarize_score(scored)
    if html_path is not None:
        html_path.write_text(
            render_html(capability, model, str(start), rows, summary), encoding="utf-8"
        )
    if as_json:
        print_json(
            {
                "candidate": model,
                "from": str(start),
                "cases": [r.as_dict() for r in rows],
                "summary": summary.as_dict(),
            }
        )
        return
    table = Table(*(type(rows[0]).HEADERS if rows else ("case",)))
    table.title = f"what if {capability} were {model}: {len(rows)} case(s) from {start}"
    for row in rows:
        table.add_row(*row.cells())
    console.print(table)
    console.print(summary.sentence(), markup=False, highlight=False)


# -- case replay -----------------------------------------------------------------------


@dataclass
class CaseLog:
    """What a case replay read: the chosen cases' inputs and case events, decoded."""

    inputs: list[Logged]
    outputs: list[Logged]
    undecodable: list[Record]
    not_rebuilt: set[str]


async def _decoded(app: App, records: list[Record], log: CaseLog) -> list[Logged]:
    decoded, broken = await decode_records(app, records)
    log.undecodable.extend(r for r, _ in broken)
    return [Logged(r.topic, r.partition, r.offset, r.timestamp_ms, e) for r, e in decoded]


async def read_case_log(
    app: App,
    start: Start,
    case_id: str | None,
    progress: Progress,
    task: TaskID,
    partition: int | None = None,
) -> CaseLog:
    """Read the submissions at/after `start`, then the rest of those cases' records (of
    every partition, or of `partition` only: the cases it owns, all their records)."""
    log = CaseLog([], [], [], set())

    async def read(topic: str, starts: Mapping[TopicPartition, int]) -> list[Record]:
        ends = await app.bus.end_offsets(list(starts))
        progress.update(
            task,
            total=(progress.tasks[task].total or 0)
            + sum(max(0, ends[tp] - starts[tp]) for tp in starts),
        )
        return await read_records(
            app,
            topic,
            case_id=case_id,
            start=starts,
            on_batch=lambda batch: progress.advance(task, len(batch)),
            partition=partition,
        )

    intake = await topic_partitions(app.bus, INTAKE.name, case_id=case_id, partition=partition)
    submissions = await _decoded(
        app, await read(INTAKE.name, await start_offsets(app, intake, start)), log
    )
    if partition is not None:
        # A submission on another partition than its case's was sent on, unchanged, to
        # the case's own by the coordinator (`Coordinator._forward`): the copy there is
        # the one it applied, and the one that partition's replay reads.
        count = await app.bus.partitions(INTAKE.name)
        submissions = [
            i for i in submissions if partition_for(i.event.case_id.encode(), count, 0) == partition
        ]
    chosen = {i.event.case_id for i in submissions if isinstance(i.event, CaseSubmitted)}
    log.inputs.extend(submissions)
    # Per partition, when its first chosen case was submitted.
    first: dict[int, int] = {}
    for item in submissions:
        if item.event.case_id in chosen:
            first[item.partition] = min(
                first.get(item.partition, item.timestamp_ms), item.timestamp_ms
            )
    keys = {c.encode() for c in chosen}
    for topic in (RESULTS.name, HUMAN.name, TIMERS.name, CASE_EVENTS.name):
        tps = await topic_partitions(app.bus, topic, case_id=case_id, partition=partition)
        ends = await app.bus.end_offsets(tps)
        if start.earliest:
            wanted = {tp: 0 for tp in tps if tp.partition in first}
        else:
            wanted = await offsets_for_times(
                app.bus,
                {tp: first[tp.partition] - CLOCK_SKEW_MS for tp in tps if tp.partition in first},
            )
        kept: list[Record] = []
        for r in await read(topic, {tp: wanted.get(tp, ends[tp]) for tp in tps}):
            if r.key in keys:
                kept.append(r)
            elif r.key is not None:
                log.not_rebuilt.add(r.key.decode(errors="replace"))
        decoded = await _decoded(app, kept, log)
        (log.outputs if topic == CASE_EVENTS.name else log.inputs).extend(decoded)
    progress.update(task, completed=progress.tasks[task].total)
    return log


def _status(case: CaseReplay) -> str:
    if case.state is None:
        return f"not opened: {case.rejected}" if case.rejected else "not opened"
    return case.state.status.value


def _steps(state: CaseState | None) -> list[str]:
    if state is None:
        return []
    return [
        f"{sid} ({s.status.value}, attempt {s.attempt})" if s.attempt else f"{sid} ({s.status})"
        for sid, s in state.steps.items()
        if s.status in _ACTIVE
    ]


def case_summary(case: CaseReplay) -> dict[str, Any]:
    """One rebuilt case as plain data (the JSON output and the table rows)."""
    state = case.state
    human = state.human if state is not None else None
    return {
        "case": case.case_id,
        "status": _status(case),
        "pipeline": f"{state.pipeline} v{state.version}" if state is not None else "",
        "steps": _steps(state),
        "timers": [
            {"id": t.id, "purpose": t.purpose.value, "due_at": t.due_at.isoformat()}
            for t in (state.timers if state is not None else ())
        ],
        "human_task": None
        if human is None
        else {"id": human.id, "queue": human.queue, "claimed_by": human.claimed_by},
        "cost_usd": state.cost_usd if state is not None else 0.0,
        "inputs": case.inputs,
        "applied": case.applied,
        "ignored": case.ignored,
        "dead_lettered": case.dead_lettered,
    }


def _table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table("case", "status", "pipeline", "step", "open timers", "human task", "inputs")
    table.title = title
    for row in rows:
        human = row["human_task"]
        extra = [f"{row[k]} {k.replace('_', '-')}" for k in ("ignored", "dead_lettered") if row[k]]
        table.add_row(
            row["case"],
            row["status"],
            row["pipeline"],
            "\n".join(row["steps"]),
            "\n".join(
                f"{t['purpose']} {datetime.fromisoformat(t['due_at']):%Y-%m-%d %H:%M:%S}"
                for t in row["timers"]
            ),
            "" if human is None else f"{human['id']} in {human['queue']}",
            str(row["inputs"]) + (f" ({', '.join(extra)})" if extra else ""),
        )
    return table


@dataclass
class Replayed:
    """What a case replay found (`replay_log`): a row per case rebuilt, in partition order."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    decisions: int = 0
    """Inputs replayed."""
    mismatches: list[Mismatch] = field(default_factory=list)
    broken: list[tuple[str, str]] = field(default_factory=list)
    """(case, record) of the case events that do not decode."""
    not_rebuilt: set[str] = field(default_factory=set)
    """Keys of records whose case has no submission among those read."""

    def add(self, other: Replayed) -> None:
        self.rows.extend(other.rows)
        self.decisions += other.decisions
        self.mismatches.extend(other.mismatches)
        self.broken.extend(other.broken)
        self.not_rebuilt |= other.not_rebuilt


REPLAY_PROCESSES = (
    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
)
"""The cores this process may run on (a container's cpuset, not the host's count); a log
gets at most a process per partition (`replay_log`)."""
PROCESSES_FROM_RECORDS = 50_000
"""A log of at least this many records is replayed by REPLAY_PROCESSES processes, the
partitions shared among them (a case's records all live on its partition, so they are
independent). Below it, starting them (spawned, each imports caseyard: ~0.35 s) costs what
it saves. Measured on a 2-core machine, `caseyard replay --verify` over 150,000 records
(10,000 cases): 4.9-5.1 s in one process, 3.2-3.4 s in two; over 30,000 (2,000 cases),
0.84-0.91 s either way."""


async def replay_log(
    settings: Settings,
    start: Start,
    case_id: str | None,
    progress: Progress,
    processes: int = REPLAY_PROCESSES,
) -> Replayed:
    """Rebuild the cases chosen by `start` (or `case_id`) and compare their decisions with
    the recorded ones, one partition at a time: in this process, or shared among
    `processes` when the log is large (PROCESSES_FROM_RECORDS)."""
    async with open_app(settings) as app:
        intake = await topic_partitions(app.bus, INTAKE.name, case_id=case_id)
        partitions = sorted(tp.partition for tp in intake)
        tps = [
            TopicPartition(topic, p)
            for topic in (INTAKE.name, RESULTS.name, HUMAN.name, TIMERS.name, CASE_EVENTS.name)
            for p in partitions
        ]
        records = sum((await app.bus.end_offsets(tps)).values())
        shared = processes > 1 and len(partitions) > 1 and records >= PROCESSES_FROM_RECORDS
        if not shared:
            done = await _replay_each(app, settings, start, case_id, partitions, progress)
    if shared:
        groups = [partitions[n::processes] for n in range(min(processes, len(partitions)))]
        progress.add_task(f"replaying {records:,} records in {len(groups)} processes", total=None)
        done = await anyio.to_thread.run_sync(_in_processes, settings, start, case_id, groups)
    found = Replayed()
    for _, part in sorted(done, key=lambda item: item[0]):
        found.add(part)
    return found


def _in_processes(
    settings: Settings, start: Start, case_id: str | None, groups: list[list[int]]
) -> list[tuple[int, Replayed]]:
    """Each group of partitions replayed in a process of its own (spawned: this process
    has threads, and a forked copy of them is not safe)."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(groups), mp_context=spawn) as pool:
        work = [pool.submit(_replay_partitions, settings, start, case_id, g) for g in groups]
        return [item for future in work for item in future.result()]


def _replay_partitions(
    settings: Settings, start: Start, case_id: str | None, partitions: list[int]
) -> list[tuple[int, Replayed]]:
    """A replay process's share: `partitions` (see `replay_log`)."""
    tune_gc()

    async def body() -> list[tuple[int, Replayed]]:
        async with open_app(settings) as app:
            with Progress(disable=True) as progress:
                return await _replay_each(app, settings, start, case_id, partitions, progress)

    return anyio.run(body)


async def _replay_each(
    app: App,
    settings: Settings,
    start: Start,
    case_id: str | None,
    partitions: list[int],
    progress: Progress,
) -> list[tuple[int, Replayed]]:
    """Replay `partitions` one after another, each with the cyclic GC paused: what one
    read and rebuilt is gone before the next (and the collector) runs."""
    catalog = PipelineCatalog.load(settings.pipelines_dir)
    task = progress.add_task("reading the log", total=0)
    done: list[tuple[int, Replayed]] = []
    for p in partitions:
        with gc_paused():
            done.append(
                (p, await _replay_partition(app, start, case_id, progress, task, p, catalog))
            )
    return done


async def _replay_partition(
    app: App,
    start: Start,
    case_id: str | None,
    progress: Progress,
    task: TaskID,
    partition: int,
    catalog: PipelineCatalog,
) -> Replayed:
    """What replaying the cases of `partition` finds."""
    log = await read_case_log(app, start, case_id, progress, task, partition)
    result = replay(log.inputs, log.outputs, catalog)
    chosen = {c.case_id for c in result.cases}
    return Replayed(
        rows=[case_summary(c) for c in result.cases],
        decisions=sum(c.inputs for c in result.cases),
        mismatches=list(result.mismatches),
        # A case event that does not decode was changed: a difference no replay can show.
        broken=[
            (case, f"{r.topic}/{r.partition}/{r.offset}")
            for r in log.undecodable
            if r.topic == CASE_EVENTS.name
            and (case := (r.key or b"").decode(errors="replace")) in chosen
        ],
        not_rebuilt=set(log.not_rebuilt),
    )


def _replay_cases(start: Start, case_id: str | None, verify: bool, as_json: bool) -> None:
    from caseyard.cli import console, existing_settings, print_json

    async def body() -> None:
        with Progress(console=console, transient=True, disable=as_json) as progress:
            found = await replay_log(existing_settings(), start, case_id, progress)
        rows, mismatches, broken = found.rows, found.mismatches, found.broken
        if case_id is not None and not any(row["case"] == case_id for row in rows):
            raise ConfigError(f"no submission of case {case_id!r} on {INTAKE.name} from {start}")
        problems = [str(m) for m in mismatches] + [
            f"case {case}: {where}: a case event that does not decode (changed)"
            for case, where in broken
        ]
        skipped = sorted(found.not_rebuilt - {row["case"] for row in rows})
        if as_json:
            document: dict[str, Any] = {"from": str(start), "cases": rows, "not_rebuilt": skipped}
            if verify:
                document["differences"] = [
                    {
                        "case": m.case_id,
                        "input": m.input,
                        "expected": m.expected,
                        "recorded": m.recorded,
                    }
                    for m in mismatches
                ] + [
                    {"case": case, "record": where, "problem": "does not decode"}
                    for case, where in broken
                ]
            print_json(document)
        else:
            console.print(_table(rows, f"{len(rows)} case(s) rebuilt from {start}"))
            if skipped:
                console.print(
                    f"not rebuilt: {len(skipped)} case(s) with records but no submission on "
                    f"{INTAKE.name} from {start} (their earlier inputs are not read)",
                    soft_wrap=True,
                )
            if verify:
                for line in problems:
                    console.print(line, markup=False, highlight=False, soft_wrap=True)
        if verify:
            decisions = found.decisions
            if problems:
                raise AuditFailed(
                    f"{len(problems)} recorded decision(s) differ from the replay in "
                    f"{len({m.case_id for m in mismatches} | {c for c, _ in broken})} "
                    "case(s) "
                    f"({decisions} inputs replayed)"
                )
            if not as_json:
                console.print(
                    f"verified: {decisions} inputs of {len(rows)} case(s) decide as recorded",
                    soft_wrap=True,
                )

    run(body)


# -- group replay ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Moved:
    """One partition of a group replay: the committed offset before and after."""

    partition: int
    before: int | None
    after: int
    end: int


async def reset_group(
    b: Bus, group: str, topic: str, start: Start, *, join_timeout: float = GROUP_JOIN_TIMEOUT_S
) -> list[Moved]:
    """Commit, for `group`, the offset `start` names on every partition of `topic`.

    Raises:
        ConfigError: The group has other live members on the topic.
    """
    count = await b.partitions(topic)
    tps = [TopicPartition(topic, p) for p in range(count)]
    async with b.consumer(group, [topic]) as consumer:
        with anyio.move_on_after(join_timeout):
            while not consumer.assignment():
                await consumer.poll(timeout=0.2, max_records=0)
        owned = consumer.assignment()
        if owned != set(tps):
            raise ConfigError(
                f"group {group!r} has other live members on {topic!r} (this replay got "
                f"{len(owned)} of {count} partitions): stop them, or wait for their session "
                "to time out, and try again"
            )
        before = {tp: await consumer.committed(tp) for tp in tps}
        ends = await b.end_offsets(tps)
        if start.timestamp_ms is not None:
            await consumer.seek_to_timestamp(start.timestamp_ms, *tps)
        else:
            await consumer.seek_to_beginning(*tps)
            if start.offset is not None:
                for tp in tps:
                    first = await consumer.position(tp)
                    await consumer.seek(tp, min(max(start.offset, first), ends[tp]))
        after = {tp: await consumer.position(tp) for tp in tps}
        await consumer.commit(after)
    return [Moved(tp.partition, before[tp], after[tp], ends[tp]) for tp in tps]


def _replay_group(group: str, topic: str, start: Start, as_json: bool) -> None:
    from caseyard.cli import console, existing_settings, print_json

    async def body() -> None:
        async with open_app(existing_settings()) as app:
            moved = await reset_group(app.bus, group, topic, start)
        rows = [
            {
                "partition": m.partition,
                "before": m.before,
                "after": m.after,
                "to_consume": m.end - m.after,
            }
            for m in moved
        ]
        if as_json:
            print_json({"group": group, "topic": topic, "partitions": rows})
            return
        table = Table("partition", "committed before", "committed now", "to consume again")
        table.title = f"group {group} on {topic} from {start}"
        for r in rows:
            table.add_row(
                str(r["partition"]),
                "none" if r["before"] is None else str(r["before"]),
                str(r["after"]),
                str(r["to_consume"]),
            )
        console.print(table)

    run(body)


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_command(
        start_text: Annotated[
            str | None,
            typer.Option(
                "--from",
                help="TIME (ISO-8601, UTC if no offset), OFFSET (on every partition) or "
                "'earliest'. Cases: those submitted from there on. Group: where it reads again.",
            ),
        ] = None,
        case_id: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
        verify: Annotated[
            bool,
            typer.Option(
                "--verify",
                help="Re-run the coordinator's decisions on the recorded inputs and report "
                "every one that differs from the log (non-zero exit if any).",
            ),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        what_if: Annotated[
            str | None,
            typer.Option(
                "--what-if",
                help="classify[=FEEDBACK.jsonl]: ask a candidate classifier (the local model "
                "as it trains now, or trained with that feedback file) for each case's "
                "document and report what would have changed: type, urgency, route, "
                "agreement with the people who decided. extract: the same with the local "
                "extractor as it is now (fields, route, agreement with the fields people "
                "settled). score: the local scorer as it trains now, its counterparty "
                "history rebuilt from the cases in the order they were scored (band, route, "
                "agreement with people's verdicts). Nothing is published.",
            ),
        ] = None,
        html_path: Annotated[
            Path | None,
            typer.Option("--html", help="With --what-if: also write the report as an HTML page."),
        ] = None,
        group: Annotated[
            str | None,
            typer.Option(
                "--group",
                help="Move this consumer group back instead (with --topic); its whole name,"
                " CASEYARD_GROUP_PREFIX included (e.g. agent.classifier).",
            ),
        ] = None,
        topic: Annotated[
            str | None, typer.Option("--topic", help="The topic the group consumes again.")
        ] = None,
    ) -> None:
        """Rebuild cases from the log in a sandbox (nothing published, no model called) and
        show each one's status, step, open timers and human task; --verify checks that the
        coordinator still decides every recorded input as the log says. With --group and
        --topic, move that consumer group's offsets instead, so an agent (say a new one)
        consumes the topic again from --from.

        Example: caseyard replay --from 2024-05-01T09:00:00Z --verify
        Example: caseyard replay --what-if classify=.caseyard/feedback.jsonl
        Example: caseyard replay --group agent.language --topic caseyard.intake --from earliest
        """
        start = parse_start(start_text)
        if (group is None) != (topic is None):
            raise ConfigError("--group and --topic go together (a group replay)")
        if group is not None and topic is not None:
            if case_id is not None or verify or what_if is not None:
                raise ConfigError("--case, --verify and --what-if are for case replay, not --group")
            if start_text is None:
                raise ConfigError("a group replay needs --from TIME, OFFSET or earliest")
            _replay_group(group, topic, start, as_json)
            return
        if html_path is not None and what_if is None:
            raise ConfigError("--html writes a what-if report: it goes with --what-if")
        if what_if is not None:
            if verify:
                raise ConfigError("--what-if and --verify go separately")
            _replay_what_if(start, case_id, what_if, as_json, html_path)
            return
        _replay_cases(start, case_id, verify, as_json)
