"""Codec benchmark: microseconds to encode and decode one event, Avro vs pydantic JSON.

Avro is ``schemas.AvroCodec`` as services use it (Confluent framing, default subject
naming, warm schema-id caches, in-process registry); JSON is ``model_dump_json`` /
``model_validate_json``. Each figure is the best of several rounds, to keep scheduler
noise out.

Run ``python -m bench.codec`` (or ``python bench/codec.py``); it prints a table and writes
``bench/results/codec.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import fastavro
import pydantic

from schemas import AvroCodec, Event, Registry
from schemas.testing import example_events

EVENT_TYPES = ("CaseSubmitted", "TaskRequested", "TaskCompleted", "StepStarted", "HumanTaskOpened")
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "codec.json"


@dataclass(frozen=True)
class Row:
    """Timings for one event type, in microseconds per event."""

    event_type: str
    avro_encode_us: float
    avro_decode_us: float
    avro_bytes: int
    json_encode_us: float
    json_decode_us: float
    json_bytes: int


async def _best_async(fn: Callable[[], Awaitable[object]], iterations: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            await fn()
        best = min(best, (time.perf_counter_ns() - start) / iterations / 1000)
    return best


def _best_sync(fn: Callable[[], object], iterations: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / iterations / 1000)
    return best


async def measure(event: Event, codec: AvroCodec, iterations: int, rounds: int) -> Row:
    """Time one event through both codecs."""
    topic = "bench"
    frame = await codec.encode(event, topic)
    if await codec.decode(frame) != event:
        raise AssertionError(f"{event.event_type} does not round-trip through Avro")
    text = event.model_dump_json()
    model = type(event)
    if model.model_validate_json(text) != event:
        raise AssertionError(f"{event.event_type} does not round-trip through JSON")

    async def avro_encode() -> object:
        return await codec.encode(event, topic)

    async def avro_decode() -> object:
        return await codec.decode(frame)

    return Row(
        event_type=event.event_type,
        avro_encode_us=await _best_async(avro_encode, iterations, rounds),
        avro_decode_us=await _best_async(avro_decode, iterations, rounds),
        avro_bytes=len(frame),
        json_encode_us=_best_sync(event.model_dump_json, iterations, rounds),
        json_decode_us=_best_sync(lambda: model.model_validate_json(text), iterations, rounds),
        json_bytes=len(text.encode()),
    )


async def run(iterations: int, rounds: int) -> list[Row]:
    """Measure every benchmarked event type."""
    codec = AvroCodec(Registry())  # default subjects: one per (topic, event type)
    events = {event.event_type: event for event in example_events()}
    return [await measure(events[name], codec, iterations, rounds) for name in EVENT_TYPES]


def table(rows: Sequence[Row]) -> str:
    """Render the rows as a plain-text table."""
    header = (
        f"{'event':<17} {'avro enc':>9} {'avro dec':>9} {'avro B':>7} "
        f"{'json enc':>9} {'json dec':>9} {'json B':>7}   (µs per event)"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.event_type:<17} {row.avro_encode_us:>9.1f} {row.avro_decode_us:>9.1f} "
            f"{row.avro_bytes:>7} {row.json_encode_us:>9.1f} {row.json_decode_us:>9.1f} "
            f"{row.json_bytes:>7}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=2000, help="events per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best one counts")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    args = parser.parse_args(argv)
    rows = anyio.run(run, args.iterations, args.rounds)
    sys.stdout.write(table(rows) + "\n")
    result: dict[str, Any] = {
        "benchmark": "codec",
        "unit": "microseconds per event",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "iterations": args.iterations,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "fastavro": fastavro.__version__,
        "pydantic": pydantic.VERSION,
        "rows": [asdict(row) for row in rows],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {args.output}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
