"""`caseyard dlq list|show|redrive`: look at dead letters and send them back.

A dead letter is identified by its event id (any unique prefix will do). Redriving
publishes the original record (key, value and headers) to the topic it came from; a
record that failed on an agent's retry topic goes back to the agent's main topic (the
`retry.source` header says which), without its retry headers, so it is a fresh delivery.

Each dead letter is redriven at most once: the redriven record and a marker keyed by the
dead letter's id (on the compacted topic `caseyard.dlq.redriven`) are published in one
transaction, and a dead letter with a marker is not redriven again. If the record fails
again it becomes a new dead letter, with a new id. The redriven record also carries the
header `dlq.redriven_from` (the dead letter's id), so its consumer and the audit can
tell. Two redrives of the same letter started at the same moment could both pass the
check: the marker is a record, not a lock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from agents.runtime import RETRY_ATTEMPT, RETRY_NOT_BEFORE, RETRY_SOURCE
from bus import Headers, Record
from caseyard.app import App, decode_records, read_records
from caseyard.commands._run import run
from caseyard.errors import ConfigError
from schemas import DeadLetter, DecodeError
from schemas.dead_letters import DLQ_REDRIVEN_FROM
from schemas.topology import DEAD_LETTERS, REDRIVES

_RETRY_HEADERS = frozenset({RETRY_ATTEMPT, RETRY_NOT_BEFORE, RETRY_SOURCE})
_PREVIEW_BYTES = 256


@dataclass(frozen=True, slots=True)
class Letter:
    """A dead letter, where it sits on the dead-letter topic, and its redrive if any."""

    record: Record
    letter: DeadLetter
    redrive: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.letter.event_id

    @property
    def source(self) -> str:
        letter = self.letter
        return f"{letter.source_topic}/{letter.source_partition}/{letter.source_offset}"

    @property
    def target(self) -> str:
        """The topic a redrive publishes to."""
        main = self.letter.original_headers.get(RETRY_SOURCE)
        return main.decode(errors="replace") if main else self.letter.source_topic

    @property
    def headers(self) -> Headers:
        """The headers a redrive publishes: the original's, retry bookkeeping dropped."""
        kept = [(k, v) for k, v in self.letter.original_headers.items() if k not in _RETRY_HEADERS]
        return (*kept, (DLQ_REDRIVEN_FROM, self.id.encode()))

    def row(self) -> dict[str, Any]:
        letter = self.letter
        return {
            "id": self.id,
            "time": letter.occurred_at.isoformat(),
            "case": letter.case_id,
            "reason": letter.reason,
            "error_class": letter.error_class,
            "message": letter.message,
            "source": self.source,
            "attempts": letter.attempts,
            "redriven": self.redrive,
            "where": f"{self.record.topic}/{self.record.partition}/{self.record.offset}",
        }


def why(row: dict[str, Any]) -> str:
    """A dead letter's reason and, unless the reason says it already, the error's own words
    ("classifier: not retryable: CorruptDocument: the PDF is encrypted with a password")."""
    reason, message = str(row["reason"]), str(row["message"])
    if message in reason:
        return reason
    return f"{reason}: {row['error_class']}: {message}"


def pick(letters: Sequence[Letter], ids: Sequence[str]) -> list[Letter]:
    """The letters named by `ids` (full ids or unique prefixes), in the order given."""
    picked: list[Letter] = []
    for wanted in ids:
        found = [letter for letter in letters if letter.id.startswith(wanted)]
        if not found:
            raise ConfigError(
                f"no dead letter {wanted!r} on {DEAD_LETTERS.name} (see `caseyard dlq list`)"
            )
        if len(found) > 1:
            raise ConfigError(f"{wanted!r} names {len(found)} dead letters; give more of the id")
        if found[0] not in picked:
            picked.append(found[0])
    return picked


async def load_letters(app: App) -> tuple[list[Letter], list[Record]]:
    """Every dead letter with its redrive marker, and the records that do not decode."""
    redrives: dict[str, Any] = {}
    for r in await read_records(app, REDRIVES.name):
        try:
            redrives[(r.key or b"").decode(errors="replace")] = json.loads(r.value)
        except ValueError:  # not a marker caseyard wrote: it redrove nothing
            continue
    decoded, broken = await decode_records(app, await read_records(app, DEAD_LETTERS.name))
    letters = [
        Letter(record, event, redrives.get(event.event_id))
        for record, event in decoded
        if isinstance(event, DeadLetter)
    ]
    letters.sort(key=lambda letter: (letter.letter.occurred_at, letter.id))
    return letters, [record for record, _ in broken]


async def redrive(app: App, letter: Letter) -> dict[str, Any]:
    """Publish the letter's original record to its target and mark it redriven, atomically."""
    marker = {
        "dead_letter": letter.id,
        "topic": letter.target,
        "at": datetime.now(UTC).isoformat(),
    }
    original = letter.letter
    async with app.bus.begin() as tx:
        await tx.publish(
            letter.target,
            original.original_value,
            key=original.original_key,
            headers=letter.headers,
        )
        await tx.publish(REDRIVES.name, json.dumps(marker).encode(), key=letter.id.encode())
    return marker


async def original_of(app: App, letter: DeadLetter) -> dict[str, Any]:
    """The original record, decoded if it decodes, else a preview of its bytes."""
    value = letter.original_value
    out: dict[str, Any] = {
        "key": None
        if letter.original_key is None
        else letter.original_key.decode(errors="replace"),
        "headers": {k: v.decode(errors="replace") for k, v in letter.original_headers.items()},
        "size": len(value),
    }
    try:
        event = await app.codec.decode(value)
    except DecodeError as exc:
        out["decoded"] = None
        out["decode_error"] = str(exc)
        out["hex"] = value[:_PREVIEW_BYTES].hex(" ")
        out["text"] = value[:_PREVIEW_BYTES].decode("utf-8", errors="replace")
        return out
    out["decoded"] = {"type": event.event_type, **event.model_dump(mode="json")}
    return out


def register(app: typer.Typer) -> None:
    dlq = typer.Typer(help="Dead letters: list, show, redrive.", no_args_is_help=True)
    app.add_typer(dlq, name="dlq")

    @dlq.command("list")
    def list_command(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """List dead letters: id, time, case, where the record came from, why, redriven.

        Example: caseyard dlq list --json
        """
        from caseyard.app import open_app
        from caseyard.cli import console, existing_settings, print_json

        async def body() -> None:
            async with open_app(existing_settings()) as app:
                letters, broken = await load_letters(app)
            rows = [letter.row() for letter in letters]
            if as_json:
                print_json(rows)
                return
            table = Table("id", "time", "case", "source", "reason", "redriven")
            table.title = f"{len(rows)} dead letter(s) on {DEAD_LETTERS.name}"
            for r in rows:
                table.add_row(
                    r["id"],
                    datetime.fromisoformat(r["time"]).strftime("%Y-%m-%d %H:%M:%S"),
                    r["case"],
                    r["source"],
                    why(r),
                    "" if r["redriven"] is None else f"to {r['redriven']['topic']}",
                )
            console.print(table)
            if broken:
                where = ", ".join(f"{r.partition}/{r.offset}" for r in broken)
                console.print(
                    f"{len(broken)} record(s) that do not decode: {where}", soft_wrap=True
                )

        run(body)

    @dlq.command("show")
    def show_command(
        letter_id: Annotated[str, typer.Argument(help="Dead letter id (or a unique prefix).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Show one dead letter in full, with the original record decoded (or its bytes).

        Example: caseyard dlq show 0192f3a8-c2d1
        """
        from caseyard.app import open_app
        from caseyard.cli import console, existing_settings, print_json

        async def body() -> None:
            async with open_app(existing_settings()) as app:
                letters, _ = await load_letters(app)
                (letter,) = pick(letters, [letter_id])
                original = await original_of(app, letter.letter)
            document = letter.row()
            document["producer"] = letter.letter.producer.service
            document["redrive_to"] = letter.target
            document["original"] = original
            if as_json:
                print_json(document)
                return
            table = Table(show_header=False, title=f"dead letter {letter.id}")
            for key in ("time", "case", "producer", "reason", "error_class", "message"):
                table.add_row(key, str(document[key]))
            table.add_row("source", letter.source)
            table.add_row("attempts", str(letter.letter.attempts))
            table.add_row("redrive to", letter.target)
            table.add_row("redriven", json.dumps(letter.redrive) if letter.redrive else "no")
            for name, value in original["headers"].items():
                table.add_row(f"header {name}", value)
            table.add_row("key", str(original["key"]))
            console.print(table, markup=False)
            if original["decoded"] is not None:
                print_json(original["decoded"])
            else:
                console.print(
                    f"original ({original['size']} bytes) does not decode: "
                    f"{original['decode_error']}\nhex: {original['hex']}\n"
                    f"text: {original['text']!r}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )

        run(body)

    @dlq.command("redrive")
    def redrive_command(
        letter_ids: Annotated[
            list[str] | None, typer.Argument(help="Dead letter ids (or unique prefixes).")
        ] = None,
        every: Annotated[
            bool, typer.Option("--all", help="Every dead letter not redriven yet.")
        ] = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Say what would be redriven; publish nothing.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Republish dead letters' original records to the topics they came from (a retry
        topic's to the agent's main topic); each dead letter is redriven once.

        Example: caseyard dlq redrive --all --dry-run
        """
        from caseyard.app import open_app
        from caseyard.cli import console, existing_settings, print_json

        if bool(letter_ids) == every:
            raise ConfigError("give dead letter ids or --all (one of the two)")

        async def body() -> None:
            done: list[dict[str, Any]] = []
            async with open_app(existing_settings()) as app:
                letters, _ = await load_letters(app)
                if every:
                    chosen = [letter for letter in letters if letter.redrive is None]
                else:
                    chosen = pick(letters, letter_ids or [])
                    again = [(letter.id, letter.redrive) for letter in chosen if letter.redrive]
                    if again:
                        (first, marker), more = again[0], len(again) - 1
                        raise ConfigError(
                            f"dead letter {first} was already redriven to {marker['topic']} "
                            f"at {marker['at']}" + (f" (and {more} more)" if more else "")
                        )
                for letter in chosen:
                    row = {"id": letter.id, "case": letter.letter.case_id, "to": letter.target}
                    if not dry_run:
                        row["at"] = (await redrive(app, letter))["at"]
                    done.append(row)
            if as_json:
                print_json({"dry_run": dry_run, "redriven": done})
                return
            verb = "would redrive" if dry_run else "redriven"
            for row in done:
                console.print(
                    f"{verb}: {row['id']} (case {row['case']}) to {row['to']}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            console.print(f"{len(done)} dead letter(s) {verb}")

        run(body)
