"""Agent benchmark (issue 5): documents/s per agent with model time broken out, end to end.

Per agent: the real work function of each built-in agent, built as a service builds it
(`find_agent`, `build_router` over the agent's local models, `spec.build(AgentContext)`),
called one document at a time over every document of examples/documents/ (a blob store
in a temporary directory holds them). The tasks are those the document-intake pipeline
asks for: classify, then extract and triage (with the classification), score (with
classify, extract and triage), respond (with classify, extract and score), with the
pipeline's parameters, model allow-list and redactions; each later step gets the outputs
the earlier agents produced. The first call of each agent loads (or trains) its model and
is reported apart; then ROUNDS passes over the documents are timed.

- docs/s: calls / wall time, one call at a time;
- model share: `ModelUsage.latency_ms` of the outcome / wall time of the call (the rest
  is reading the blob, parsing PDF/HTML/e-mail, building the prompt, validating output);
- CPU ms/doc: process CPU time per call (models run in worker threads), which a busy
  machine inflates less than wall time.

Serial cost: per document, the sum of the calls the pipeline makes for it (no extract
for "other" and fraud reports, no reply to a fraud report), the pipeline's cost on one
lane. End to end: the coordinator and the four agents in one process on the memory bus
(as `caseyard demo`), one warm-up case, then every document submitted at once and timed
until each case completed or failed; cases escalated to a person are approved at once
(as `caseyard demo --auto-approve`). The results topic tells the time spent in models.

Models are cached in MODEL_CACHE (default .cache/bench-models, kept between runs);
`--cold` trains them in an empty cache instead, so the first call reports training.

    python -m bench.agents [--rounds N] [--documents DIR] [--cold] [--no-e2e]

Prints a table and writes bench/results/agents.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from agents.runtime import TaskHandler, TaskWork
from agents.spec import AgentContext, ModelPlace, find_agent
from bench._report import run_info, save
from bus import TopicPartition
from caseyard import process
from caseyard.app import MEDIA_TYPES, App, open_app, read_topic, submit
from caseyard.models import build_router
from caseyard.services import BUILT_IN_AGENTS, run_services
from caseyard.settings import Settings
from schemas import (
    BlobStore,
    CaseCompleted,
    CaseFailed,
    ClassifyOutput,
    DecisionAction,
    DocType,
    DocumentRef,
    HumanDecision,
    HumanTaskOpened,
    Producer,
    TaskCompleted,
    TaskInput,
    TaskOutput,
    TaskRequested,
)
from schemas.topology import CASE_EVENTS, HUMAN, RESULTS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "documents"
MODEL_CACHE = ROOT / ".cache" / "bench-models"
PRODUCER = Producer(service="bench", version="1")
REDACT = ("iban", "account_number", "card_number")
NOT_EXTRACTED = (DocType.OTHER, DocType.FRAUD_REPORT)


@dataclass(frozen=True)
class Step:
    """One step of document-intake as the coordinator asks for it."""

    id: str
    agent: str
    capability: str
    inputs: tuple[str, ...] = ()
    parameters: Mapping[str, str] = field(default_factory=dict)
    allowed_models: tuple[str, ...] = ()
    redact_fields: tuple[str, ...] = ()


STEPS = (
    Step("classify", "classifier", "classify", allowed_models=("local/*",)),
    Step("extract", "extractor", "extract", ("classify",), allowed_models=("local/*",)),
    Step("triage", "scorer", "score", ("classify",), {"mode": "triage"}),
    Step("score", "scorer", "score", ("classify", "extract", "triage")),
    Step(
        "respond",
        "responder",
        "respond",
        ("classify", "extract", "score"),
        {"template": "acknowledgement"},
        redact_fields=REDACT,
    ),
)


def documents(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in MEDIA_TYPES)


def task_for(
    step: Step, case_id: str, ref: DocumentRef, prior: Mapping[str, TaskOutput]
) -> TaskRequested:
    now = datetime.now(UTC)
    return TaskRequested(
        case_id=case_id,
        correlation_id=case_id,
        occurred_at=now,
        producer=PRODUCER,
        task_id=f"{case_id}/{step.id}#1.1",
        step=step.id,
        capability=step.capability,
        attempt=1,
        input=TaskInput(
            document=ref,
            parameters=step.parameters,
            prior={name: prior[name] for name in step.inputs if name in prior},
        ),
        deadline=now + timedelta(hours=1),
        allowed_models=step.allowed_models,
        redact_fields=step.redact_fields,
    )


# -- per agent -----------------------------------------------------------------------------------


@dataclass
class Calls:
    """Timings of one step's calls: per call wall, model and CPU milliseconds."""

    load_s: float = 0.0
    wall_ms: list[float] = field(default_factory=list)
    model_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    per_document_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    models: set[str] = field(default_factory=set)

    def summary(self) -> dict[str, Any]:
        wall = sum(self.wall_ms)
        return {
            "load_s": self.load_s,
            "calls": len(self.wall_ms),
            "docs_s": len(self.wall_ms) / (wall / 1000),
            "wall_ms_mean": statistics.mean(self.wall_ms),
            "wall_ms_p50": statistics.median(self.wall_ms),
            "wall_ms_max": max(self.wall_ms),
            "model_ms_mean": statistics.mean(self.model_ms),
            "model_share": sum(self.model_ms) / wall,
            "cpu_ms_mean": statistics.mean(self.cpu_ms),
            "models": sorted(self.models),
        }


async def timed_call(work: TaskWork, task: TaskRequested, calls: Calls, name: str) -> TaskOutput:
    cpu = time.process_time()
    began = time.perf_counter()
    outcome = await work(task)
    wall_ms = (time.perf_counter() - began) * 1000
    calls.wall_ms.append(wall_ms)
    calls.cpu_ms.append((time.process_time() - cpu) * 1000)
    calls.model_ms.append(outcome.usage.latency_ms)
    calls.per_document_ms[name].append(wall_ms)
    calls.models.add(f"{outcome.usage.provider}/{outcome.usage.model}")
    return outcome.output


def store_documents(
    settings: Settings, paths: Sequence[Path]
) -> tuple[BlobStore, dict[str, DocumentRef]]:
    """A blob store in the data directory holding `paths`, and their references by name."""
    blobs = BlobStore(settings.blob_dir)
    return blobs, {p.name: blobs.put(p.read_bytes(), MEDIA_TYPES[p.suffix.lower()]) for p in paths}


def state_dir_of(settings: Settings, agent: str) -> Path:
    state_dir = settings.data_dir / "agents" / agent
    state_dir.mkdir(parents=True, exist_ok=True)
    return state_dir


async def bench_per_agent(
    settings: Settings,
    cache_dir: Path,
    paths: Sequence[Path],
    rounds: int,
    console: Console,
) -> tuple[dict[str, Calls], dict[str, dict[str, TaskOutput]]]:
    """Every step over every document; returns the timings and the outputs per document."""
    blobs, refs = store_documents(settings, paths)
    cases = {p.name: f"bench-{uuid.uuid4().hex[:8]}" for p in paths}
    outputs: dict[str, dict[str, TaskOutput]] = {p.name: {} for p in paths}
    timings: dict[str, Calls] = {}
    async with AsyncExitStack() as stack:
        works: dict[str, TaskWork] = {}
        for name in dict.fromkeys(step.agent for step in STEPS):
            spec = find_agent(name)
            state_dir = state_dir_of(settings, spec.name)
            place = ModelPlace(cache_dir=cache_dir, state_dir=state_dir)
            router = await stack.enter_async_context(
                build_router(settings, spec.capabilities, spec.local_models(place))
            )
            handler = spec.build(
                AgentContext(blobs=blobs, router=router, state_dir=state_dir, producer=PRODUCER)
            )
            assert isinstance(handler, TaskHandler), f"{name} is not a task agent"
            works[name] = handler.work
        progress = Progress(console=console, transient=True)
        stack.enter_context(progress)
        for step in STEPS:
            console.print(f"  {step.id} ({step.agent}): {len(paths)} documents x {rounds}")
            bar = progress.add_task(f"{step.id}", total=len(paths) * rounds)
            calls = timings[step.id] = Calls()
            work = works[step.agent]
            # The first call loads the model (or trains it); a warm-up document of its own.
            first = paths[0].name
            warm = task_for(step, f"warm-{uuid.uuid4().hex[:8]}", refs[first], outputs[first])
            began = time.perf_counter()
            await work(warm)
            calls.load_s = time.perf_counter() - began
            for round_ in range(rounds):
                for path in paths:
                    task = task_for(step, cases[path.name], refs[path.name], outputs[path.name])
                    output = await timed_call(work, task, calls, path.name)
                    progress.advance(bar)
                    if round_ == 0:
                        outputs[path.name][step.id] = output
    return timings, outputs


def serial_cost(
    timings: Mapping[str, Calls], outputs: Mapping[str, Mapping[str, TaskOutput]]
) -> dict[str, Any]:
    """Per document, the mean time of the calls document-intake makes for it."""
    per_document: dict[str, float] = {}
    for name, produced in outputs.items():
        classified = produced.get("classify")
        doc_type = classified.doc_type if isinstance(classified, ClassifyOutput) else None
        total = 0.0
        for step in STEPS:
            if step.id == "extract" and doc_type in NOT_EXTRACTED:
                continue
            if step.id == "respond" and doc_type is DocType.FRAUD_REPORT:
                continue
            total += statistics.mean(timings[step.id].per_document_ms[name])
        per_document[name] = total
    mean_ms = statistics.mean(per_document.values())
    return {
        "mean_ms": mean_ms,
        "max_ms": max(per_document.values()),
        "docs_s": 1000 / mean_ms,
        "per_document_ms": per_document,
    }


# -- end to end ----------------------------------------------------------------------------------


@dataclass
class Watch:
    """Cases being watched on caseyard.case-events until each completed or failed."""

    pending: set[str]
    done_at: dict[str, float] = field(default_factory=dict)
    outcome: dict[str, str] = field(default_factory=dict)
    escalated: set[str] = field(default_factory=set)


async def watch(app: App, reader_ends: dict[TopicPartition, int], w: Watch, timeout: float) -> None:
    """Read case events from `reader_ends` on until every pending case is decided;
    approve every human task of a watched case at once."""
    async with app.bus.reader(list(reader_ends)) as reader:
        for tp, offset in reader_ends.items():
            await reader.seek(tp, offset)
        with anyio.fail_after(timeout):
            while w.pending:
                for record in await reader.poll(timeout=0.2, max_records=1000):
                    event = await app.codec.decode(record.value)
                    case_id = event.case_id
                    if case_id not in w.pending:
                        continue
                    if isinstance(event, HumanTaskOpened):
                        w.escalated.add(case_id)
                        decision = HumanDecision(
                            case_id=case_id,
                            correlation_id=event.correlation_id,
                            causation_id=event.event_id,
                            occurred_at=datetime.now(UTC),
                            producer=PRODUCER,
                            human_task_id=event.human_task_id,
                            decided_by="bench (auto-approve)",
                            action=DecisionAction.APPROVE,
                        )
                        await app.bus.publish(
                            HUMAN.name,
                            await app.codec.encode(decision, HUMAN.name),
                            key=case_id.encode(),
                        )
                    elif isinstance(event, CaseCompleted | CaseFailed):
                        w.pending.discard(case_id)
                        w.done_at[case_id] = time.perf_counter()
                        w.outcome[case_id] = (
                            event.outcome if isinstance(event, CaseCompleted) else "failed"
                        )


@dataclass
class Run:
    """Cases submitted at once and watched until decided."""

    watch: Watch
    seconds: float
    submit_s: float
    latencies: list[float]


async def run_cases(app: App, paths: Sequence[Path], timeout: float) -> Run:
    """Submit `paths` at once and wait until every case completed or failed."""
    tps = [TopicPartition(CASE_EVENTS.name, p) for p in range(CASE_EVENTS.partitions)]
    ends = await app.bus.end_offsets(tps)
    began = time.perf_counter()
    ids = [(await submit(app, path, source="bench")).case_id for path in paths]
    submit_s = time.perf_counter() - began
    w = Watch(pending=set(ids))
    await watch(app, ends, w, timeout)
    seconds = time.perf_counter() - began
    return Run(w, seconds, submit_s, sorted(at - began for at in w.done_at.values()))


def e2e_settings(data_dir: Path, cache_dir: Path) -> Settings:
    """Settings of a fresh data directory whose model cache is `cache_dir` (warm)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "models").symlink_to(cache_dir, target_is_directory=True)
    return Settings(bus="memory://", data_dir=data_dir)


async def bench_e2e(
    settings: Settings, paths: Sequence[Path], timeout: float, console: Console
) -> dict[str, Any]:
    stop, started = anyio.Event(), anyio.Event()
    async with open_app(settings) as app, anyio.create_task_group() as tg:
        names = ["coordinator", *BUILT_IN_AGENTS]

        async def services() -> None:
            await run_services(app, names, stop, started=started)

        tg.start_soon(services)
        with anyio.fail_after(120):
            await started.wait()
        console.print(f"  warm-up case ({paths[0].name})")
        warm = await run_cases(app, paths[:1], timeout)
        console.print(f"  {len(paths)} cases at once")
        cpu = time.process_time()
        run = await run_cases(app, paths, timeout)
        cpu_s = time.process_time() - cpu
        cases = run.watch
        model_ms: dict[str, float] = defaultdict(float)
        attempt_ms: dict[str, float] = defaultdict(float)
        tasks: dict[str, int] = defaultdict(int)
        ours = set(cases.outcome)
        for _, event in await read_topic(app, RESULTS.name):
            if isinstance(event, TaskCompleted) and event.case_id in ours:
                model_ms[event.capability] += event.usage.latency_ms
                attempt_ms[event.capability] += event.latency_ms
                tasks[event.capability] += 1
        stop.set()
    outcomes: dict[str, int] = defaultdict(int)
    for outcome in cases.outcome.values():
        outcomes[outcome] += 1
    return {
        "documents": len(paths),
        "warm_up_case_s": warm.seconds,
        "submit_s": run.submit_s,
        "seconds": run.seconds,
        "docs_s": len(paths) / run.seconds,
        "cpu_s": cpu_s,
        "decided_p50_s": run.latencies[len(run.latencies) // 2],
        "decided_max_s": run.latencies[-1],
        "escalated_and_approved": len(cases.escalated),
        "outcomes": dict(outcomes),
        "tasks": dict(tasks),
        "model_s": sum(model_ms.values()) / 1000,
        "agent_attempt_s": sum(attempt_ms.values()) / 1000,
        "model_s_by_capability": {k: v / 1000 for k, v in model_ms.items()},
        "agent_attempt_s_by_capability": {k: v / 1000 for k, v in attempt_ms.items()},
    }


# -- report --------------------------------------------------------------------------------------


def model_cache(path: Path) -> Path:
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def report(console: Console, out: dict[str, Any]) -> None:
    table = Table(
        "step",
        "1st call s",
        "docs/s",
        "ms/doc p50",
        "ms/doc mean",
        "model ms",
        "model share",
        "CPU ms",
        title=f"agents, one call at a time, {out['documents']} documents x "
        f"{out['args']['rounds']} rounds",
        caption="agents: classify=classifier, extract=extractor, triage and score=scorer, "
        "respond=responder (its 'model' is templates and the outbox); 1st call: model "
        f"{'loaded from the cache' if out['model_cache_warm'] else 'trained'}; "
        f"load average {out['load_avg'][0]:.1f} on {out['cpus']} CPUs",
    )
    for step in STEPS:
        s = out["per_agent"][step.id]
        table.add_row(
            step.id,
            f"{s['load_s']:.2f}",
            f"{s['docs_s']:,.1f}",
            f"{s['wall_ms_p50']:.1f}",
            f"{s['wall_ms_mean']:.1f}",
            f"{s['model_ms_mean']:.1f}",
            f"{s['model_share']:.0%}",
            f"{s['cpu_ms_mean']:.1f}",
        )
    serial = out["serial"]
    table.add_row(
        "serial cost",
        "",
        f"{serial['docs_s']:,.1f}",
        "",
        f"{serial['mean_ms']:.1f}",
        "",
        "",
        "",
    )
    console.print(table)
    e = out.get("e2e")
    if e:
        e2e = Table("end to end (memory bus, one process)", "value", title="caseyard demo-like run")
        e2e.add_row("documents", f"{e['documents']}")
        e2e.add_row("warm-up case (loads models)", f"{e['warm_up_case_s']:.2f} s")
        e2e.add_row("all documents at once", f"{e['seconds']:.2f} s")
        e2e.add_row("  of which submitting (agents already at work)", f"{e['submit_s']:.2f} s")
        e2e.add_row("docs/s", f"{e['docs_s']:.1f}")
        e2e.add_row(
            "case decided after start, p50 / last",
            f"{e['decided_p50_s']:.2f} / {e['decided_max_s']:.2f} s",
        )
        e2e.add_row("process CPU time", f"{e['cpu_s']:.2f} s")
        e2e.add_row("agent attempts, summed (they overlap)", f"{e['agent_attempt_s']:.2f} s")
        e2e.add_row(
            "  of which in models",
            f"{e['model_s']:.2f} s ({e['model_s'] / e['agent_attempt_s']:.0%})",
        )
        e2e.add_row("escalated, approved at once", f"{e['escalated_and_approved']}")
        e2e.add_row("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(e["outcomes"].items())))
        console.print(e2e)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per agent")
    parser.add_argument("--documents", type=Path, default=EXAMPLES)
    parser.add_argument("--model-cache", type=Path, default=MODEL_CACHE)
    parser.add_argument("--cold", action="store_true", help="train models in an empty cache")
    parser.add_argument("--no-e2e", action="store_true", help="skip the end-to-end run")
    parser.add_argument("--timeout", type=float, default=600.0, help="end to end, seconds")
    args = parser.parse_args()
    console = Console()
    if not console.is_terminal:
        console.width = 110  # logs: keep the table's rows on one line
    paths = documents(args.documents)
    if not paths:
        raise SystemExit(f"no documents in {args.documents}")
    out = run_info(
        args={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        documents=len(paths),
        cold=args.cold,
    )
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = model_cache(Path(tmp) / "models" if args.cold else args.model_cache)
        out["model_cache"] = str(cache_dir)
        out["model_cache_warm"] = any(cache_dir.glob("*.pkl"))
        settings = Settings(bus="memory://", data_dir=Path(tmp) / "per-agent")
        console.print(f"per agent: {len(paths)} documents, {args.rounds} rounds")
        timings, outputs = await bench_per_agent(settings, cache_dir, paths, args.rounds, console)
        out["per_agent"] = {step: calls.summary() for step, calls in timings.items()}
        out["serial"] = serial_cost(timings, outputs)
        if not args.no_e2e:
            console.print("end to end: coordinator and four agents on the memory bus")
            e2e = e2e_settings(Path(tmp) / "e2e", cache_dir)
            out["e2e"] = await bench_e2e(e2e, paths, args.timeout, console)
    report(console, out)
    save(out, "agents", console)


if __name__ == "__main__":
    process.tune()  # what `caseyard run` sets
    anyio.run(main)
