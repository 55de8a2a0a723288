"""`caseyard schemas export|check|register`: the Avro contracts of every event type.

The models are the source of truth. `export` writes their `.avsc` snapshot (committed under
`schemas/avro/`), `check` says whether the models still honour the snapshot or a registry,
`register` puts every schema under the subjects the services will use: one per topic of
the topology and event type it carries (the codec's default subject naming).
"""

from __future__ import annotations

import difflib
import enum
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from caseyard.commands._run import run
from caseyard.commands.registry import RegistryOption, open_registry, say
from caseyard.errors import ConfigError
from schemas import (
    SNAPSHOT_DIR,
    CompatibilityLevel,
    Event,
    Incompatibility,
    IncompatibleSchemaError,
    SchemaNotFoundError,
    SchemaRegistry,
    SubjectNameStrategy,
    SubjectNotFoundError,
    check_against_snapshot,
    export_avsc,
    record_name_strategy,
    schema_text,
    topic_name_strategy,
    topic_record_name_strategy,
)
from schemas.catalog import EVENT_TYPES, avsc_text
from schemas.topology import all_topics

_FIELD = re.compile(r"field '([^']+)'")


class SubjectNaming(enum.StrEnum):
    """How subjects are named; the codec's default is `topic-record`."""

    TOPIC_RECORD = "topic-record"
    TOPIC = "topic"
    RECORD = "record"

    @property
    def strategy(self) -> SubjectNameStrategy:
        return {
            SubjectNaming.TOPIC_RECORD: topic_record_name_strategy,
            SubjectNaming.TOPIC: topic_name_strategy,
            SubjectNaming.RECORD: record_name_strategy,
        }[self]


def topology_subjects(
    strategy: SubjectNameStrategy = topic_record_name_strategy,
) -> list[tuple[str, type[Event]]]:
    """Every (subject, event class) the topology's topics use, in topology order."""
    seen: dict[tuple[str, type[Event]], None] = {}
    for topic in all_topics():
        for model in topic.events:
            seen.setdefault((strategy(topic.name, model), model))
    return list(seen)


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _print_diff(console: Console, diff: str) -> None:
    styles = {"+": "green", "-": "red", "@": "cyan"}
    for line in diff.splitlines():
        console.print(Text(line, style=styles.get(line[:1], "")), soft_wrap=True)


def _fields(problems: Sequence[Incompatibility]) -> str:
    names = dict.fromkeys(f"field '{p.field}'" if p.field else "the record" for p in problems)
    return ", ".join(names)


def export_snapshot(console: Console, directory: Path) -> list[str]:
    """Write the snapshot into `directory`; return the event types whose file changed."""
    try:
        before = {p.name: p.read_text(encoding="utf-8") for p in directory.glob("*.avsc")}
        paths = export_avsc(directory)
        changed = [p.stem for p in paths if before.get(p.name) != p.read_text(encoding="utf-8")]
    except OSError as exc:
        raise ConfigError(f"cannot write the snapshot to {directory}: {exc}") from exc
    where = _shown(directory)
    if changed:
        new = sum(f"{name}.avsc" not in before for name in changed)
        updated = [name for name in changed if f"{name}.avsc" in before]
        say(
            console,
            f"wrote {len(changed)} of {len(paths)} schemas to {where}: {new} new, "
            f"{len(updated)} changed{': ' if updated else ''}{', '.join(updated)}",
        )
    else:
        say(console, f"all {len(paths)} schemas in {where} are up to date")
    stale = sorted(set(before) - {p.name for p in paths})
    for name in stale:
        say(
            console,
            f"{name}: no event type of this name any more; delete the file if that is meant",
            style="yellow",
        )
    return changed


def check_snapshot(console: Console, directory: Path, level: CompatibilityLevel) -> None:
    """Compare the models with the snapshot in `directory`.

    Raises:
        IncompatibleSchemaError: If a change breaks `level` or an event type disappeared.
        ConfigError: If there is no snapshot in `directory`.
    """
    where = _shown(directory)
    if not directory.is_dir() or not any(directory.glob("*.avsc")):
        raise ConfigError(
            f"no .avsc snapshot in {where}: write one with `caseyard schemas export --dir {where}`"
        )
    report = check_against_snapshot(directory, level)
    if report.up_to_date:
        say(console, f"up to date: the {len(EVENT_TYPES)} event schemas match {where}")
        return
    for line in report.messages():
        say(console, line)
    if report.diff:
        _print_diff(console, report.diff)
    if report.ok:
        say(
            console,
            f"compatible ({level}) with {where}, not up to date: "
            f"run `caseyard schemas export --dir {where}` and commit the files",
        )
        return
    broken = [f"{name} ({_fields(found)})" for name, found in report.incompatibilities.items()]
    broken += [f"{name} (removed)" for name in report.removed]
    raise IncompatibleSchemaError(
        f"{len(broken)} event type(s) break {level} compatibility with {where}: "
        + "; ".join(broken)
    )


async def check_registry(
    console: Console, registry: SchemaRegistry, where: str, strategy: SubjectNameStrategy
) -> None:
    """Compare the models with what `registry` holds under the topology's subjects.

    Each subject is checked at its own compatibility level (the registry's global level
    unless the subject sets one).

    Raises:
        IncompatibleSchemaError: If a model breaks its subject's level.
    """
    table = Table(Column("subject", overflow="fold"), "status", title=f"schemas against {where}")
    broken: list[str] = []
    subjects = topology_subjects(strategy)
    for subject, model in subjects:
        text = schema_text(model)
        try:
            await registry.lookup(subject, text)
            continue
        except SubjectNotFoundError:
            table.add_row(subject, "new subject")
            continue
        except SchemaNotFoundError:
            pass
        level = await registry.get_compatibility(subject, default_to_global=True)
        result = await registry.check_compatibility(
            subject, text, None if level.transitive else "latest"
        )
        if result.is_compatible:
            table.add_row(subject, f"changed, compatible ({level})")
            continue
        table.add_row(subject, Text(f"INCOMPATIBLE ({level})", style="red"))
        for message in result.messages:
            say(console, f"{subject}: {message}")
        latest = await registry.get_version(subject)
        registered = json.dumps(json.loads(latest.schema), indent=2, ensure_ascii=False) + "\n"
        _print_diff(
            console,
            "".join(
                difflib.unified_diff(
                    registered.splitlines(keepends=True),
                    avsc_text(model).splitlines(keepends=True),
                    fromfile=f"registry/{subject}/versions/{latest.version}",
                    tofile=f"model/{model.event_type}.avsc",
                )
            ),
        )
        fields = dict.fromkeys(f for m in result.messages for f in _FIELD.findall(m))
        named = ", ".join(f"field '{f}'" for f in fields)
        broken.append(f"{subject} ({named or 'see above'})")
    if table.row_count:
        console.print(table)
    if broken:
        raise IncompatibleSchemaError(
            f"{len(broken)} subject(s) would reject the current schema: " + "; ".join(broken)
        )
    if table.row_count:
        say(console, f"compatible: `caseyard schemas register` adds {table.row_count} schema(s)")
    else:
        say(console, f"up to date: all {len(subjects)} subjects hold the current schemas")


async def register_schemas(
    console: Console, registry: SchemaRegistry, where: str, strategy: SubjectNameStrategy
) -> None:
    """Register every event type's schema under each topology subject that carries it.

    Raises:
        IncompatibleSchemaError: If a subject refused its schema (the others are registered).
    """
    table = Table(
        Column("subject", overflow="fold"), "version", "id", "status", title=f"schemas in {where}"
    )
    refused: list[IncompatibleSchemaError] = []
    added = 0
    known = set(await registry.subjects())
    for subject, model in topology_subjects(strategy):
        text = schema_text(model)
        status = "already registered"
        try:
            if subject not in known:
                raise SubjectNotFoundError(subject)
            found = await registry.lookup(subject, text)
        except (SubjectNotFoundError, SchemaNotFoundError):
            try:
                await registry.register(subject, text)
            except IncompatibleSchemaError as exc:
                refused.append(exc)
                table.add_row(subject, "", "", Text("REFUSED: incompatible", style="red"))
                continue
            found = await registry.lookup(subject, text)
            status = "registered"
            added += 1
        table.add_row(subject, str(found.version), str(found.schema_id), status)
    console.print(table)
    for refusal in refused:
        for message in refusal.messages or (refusal.message,):
            say(console, message)
    if refused:
        raise IncompatibleSchemaError(
            f"{len(refused)} subject(s) refused their schema as incompatible; "
            f"{added} new schema(s) registered"
        )
    say(console, f"{added} new schema(s) registered in {where}")


_Dir = Annotated[
    Path,
    typer.Option("--dir", help="Directory of the .avsc snapshot.", show_default="schemas/avro"),
]
_Naming = Annotated[
    SubjectNaming,
    typer.Option(
        "--subjects", help="Subject naming: topic-record (the codec's default), topic or record."
    ),
]


def register(app: typer.Typer) -> None:
    """Add `caseyard schemas export|check|register`."""
    schemas_app = typer.Typer(
        help="Avro contracts: snapshot, compatibility check, registration.\n\n"
        "Example: caseyard schemas check",
        no_args_is_help=True,
    )
    app.add_typer(schemas_app, name="schemas")

    @schemas_app.command("export")
    def export(
        directory: _Dir = SNAPSHOT_DIR,
    ) -> None:
        """Write one .avsc per event type, generated from the models (default: schemas/avro).

        Example: caseyard schemas export --dir schemas/avro
        """
        from caseyard.cli import console

        export_snapshot(console, directory)

    @schemas_app.command("check")
    def check(
        directory: _Dir = SNAPSHOT_DIR,
        registry_url: Annotated[
            str | None,
            typer.Option(
                "--registry",
                metavar="URL",
                help="Check against this registry (over HTTP) instead of the snapshot.",
            ),
        ] = None,
        level: Annotated[
            CompatibilityLevel,
            typer.Option(
                "--level",
                case_sensitive=False,
                help="What a change must satisfy against the snapshot (a registry uses its own).",
            ),
        ] = CompatibilityLevel.BACKWARD,
        naming: _Naming = SubjectNaming.TOPIC_RECORD,
    ) -> None:
        """Fail, naming the fields, if the models break the snapshot or a registry.

        Example: caseyard schemas check --registry http://127.0.0.1:8081
        """
        from caseyard.cli import console

        if registry_url is None:
            check_snapshot(console, directory, level)
            return
        url = registry_url

        async def body() -> None:
            from schemas import RegistryClient  # httpx: imported when a registry is asked

            async with RegistryClient(url) as client:
                await check_registry(console, client, url, naming.strategy)

        run(body)

    @schemas_app.command("register")
    def register_command(
        registry_url: RegistryOption = None,
        naming: _Naming = SubjectNaming.TOPIC_RECORD,
    ) -> None:
        """Register every event type's schema for each topic that carries it.

        Example: CASEYARD_BUS=kafka://127.0.0.1:9092 caseyard schemas register
        """
        from caseyard.cli import console, settings

        async def body() -> None:
            async with open_registry(settings(), registry_url) as (registry, where):
                await register_schemas(console, registry, where, naming.strategy)

        run(body)
