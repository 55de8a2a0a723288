"""`caseyard schemas ...` and `caseyard registry ...`, run in process on the embedded bus."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from caseyard import cli
from caseyard.commands import registry as registry_commands
from caseyard.commands import schemas as schemas_commands
from caseyard.commands.schemas import check_registry, topology_subjects
from caseyard.errors import ConfigError
from caseyard.settings import Settings
from schemas import (
    SNAPSHOT_DIR,
    CaseSubmitted,
    IncompatibleSchemaError,
    Registry,
    RegistryClient,
    avro_schema,
    create_registry_app,
    schema_text,
    topic_record_name_strategy,
)
from schemas.catalog import EVENT_TYPES


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    settings = Settings(bus=f"sqlite:///{tmp_path}/bus.db", data_dir=tmp_path / "data")
    monkeypatch.setattr(cli.state, "settings", settings)
    app = typer.Typer()
    schemas_commands.register(app)
    registry_commands.register(app)
    return app


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    copy = tmp_path / "avro"
    shutil.copytree(SNAPSHOT_DIR, copy)
    return copy


def invoke(app: typer.Typer, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args))
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.output, exception


def edit_field(path: Path, name: str, avro_type: object | None) -> None:
    """Change a field's type in an .avsc file, or drop the field (None)."""
    schema = json.loads(path.read_text())
    fields = [f for f in schema["fields"] if f["name"] != name or avro_type is not None]
    for field in fields:
        if field["name"] == name:
            field["type"] = avro_type
    schema["fields"] = fields
    path.write_text(json.dumps(schema, indent=2))


def test_every_command_help_has_an_example(app: typer.Typer) -> None:
    for command in (
        ("schemas",),
        ("schemas", "export"),
        ("schemas", "check"),
        ("schemas", "register"),
        ("registry",),
        ("registry", "subjects"),
        ("registry", "show"),
    ):
        code, output, _ = invoke(app, *command, "--help")
        assert code == 0 and "Example:" in output, command


def test_export_writes_the_changed_files_only(app: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "out"
    code, output, _ = invoke(app, "schemas", "export", "--dir", str(target))
    assert code == 0
    assert f"wrote {len(EVENT_TYPES)} of {len(EVENT_TYPES)} schemas" in output
    assert sorted(p.stem for p in target.glob("*.avsc")) == sorted(
        m.event_type for m in EVENT_TYPES
    )
    edit_field(target / "CaseSubmitted.avsc", "source", "long")
    (target / "Retired.avsc").write_text("{}")
    code, output, _ = invoke(app, "schemas", "export", "--dir", str(target))
    assert code == 0
    assert (
        f"wrote 1 of {len(EVENT_TYPES)} schemas" in output and "1 changed: CaseSubmitted" in output
    )
    assert "Retired.avsc: no event type of this name" in output
    code, output, _ = invoke(app, "schemas", "export", "--dir", str(target))
    assert f"all {len(EVENT_TYPES)} schemas" in output and "up to date" in output


def test_check_passes_on_the_committed_snapshot(app: typer.Typer) -> None:
    code, output, _ = invoke(app, "schemas", "check")
    assert code == 0 and "up to date" in output


def test_check_names_the_field_of_an_incompatible_change(app: typer.Typer, snapshot: Path) -> None:
    edit_field(snapshot / "CaseSubmitted.avsc", "source", "long")
    code, output, error = invoke(app, "schemas", "check", "--dir", str(snapshot))
    assert code == 1
    assert isinstance(error, IncompatibleSchemaError)
    assert "CaseSubmitted (field 'source')" in str(error)
    assert "field 'source': type changed" in output
    assert '-      "type": "long",' in output and '+      "type": "string",' in output


def test_check_accepts_a_compatible_change_and_says_so(app: typer.Typer, snapshot: Path) -> None:
    # The model has an optional field the snapshot lacks: adding it is BACKWARD compatible.
    edit_field(snapshot / "CaseSubmitted.avsc", "pipeline", None)
    code, output, _ = invoke(app, "schemas", "check", "--dir", str(snapshot))
    assert code == 0
    assert "CaseSubmitted: changed compatibly (BACKWARD)" in output
    assert "caseyard schemas export" in output


def test_check_a_removed_required_field_per_level(app: typer.Typer, snapshot: Path) -> None:
    # The snapshot lacks a required field of the model: old data cannot fill it.
    edit_field(snapshot / "CaseSubmitted.avsc", "source", None)
    code, _, error = invoke(app, "schemas", "check", "--dir", str(snapshot))
    assert code == 1 and "field 'source'" in str(error)
    code, _, _ = invoke(app, "schemas", "check", "--dir", str(snapshot), "--level", "forward")
    assert code == 0
    code, _, _ = invoke(app, "schemas", "check", "--dir", str(snapshot), "--level", "none")
    assert code == 0


def test_check_needs_a_snapshot(app: typer.Typer, tmp_path: Path) -> None:
    _, _, error = invoke(app, "schemas", "check", "--dir", str(tmp_path / "nothing"))
    assert isinstance(error, ConfigError)
    assert "caseyard schemas export --dir" in str(error)


def test_check_names_an_invalid_snapshot_file(app: typer.Typer, snapshot: Path) -> None:
    (snapshot / "CaseSubmitted.avsc").write_text('{"type": "record"}')
    _, _, error = invoke(app, "schemas", "check", "--dir", str(snapshot))
    assert error is not None and "CaseSubmitted.avsc" in str(error)


def test_register_into_the_built_in_registry(app: typer.Typer, tmp_path: Path) -> None:
    subjects = topology_subjects()
    code, output, _ = invoke(app, "schemas", "register")
    assert code == 0, output
    assert f"{len(subjects)} new schema(s) registered" in output
    assert (tmp_path / "data" / "registry.db").exists()
    code, output, _ = invoke(app, "schemas", "register")
    assert code == 0 and "0 new schema(s) registered" in output

    code, output, _ = invoke(app, "registry", "subjects")
    assert code == 0
    assert all(subject in output for subject, _ in subjects)
    code, output, _ = invoke(
        app, "registry", "show", "caseyard.intake-caseyard.CaseSubmitted", "--version", "1"
    )
    assert code == 0 and "version 1, id 1" in output and '"name": "CaseSubmitted"' in output
    _, _, error = invoke(app, "registry", "show", "nope")
    assert error is not None and "Subject 'nope' not found." in str(error)


def test_subjects_cover_every_event_type_per_topic() -> None:
    subjects = topology_subjects()
    assert {model for _, model in subjects} == set(EVENT_TYPES)
    assert ("caseyard.results-caseyard.TaskFailed", EVENT_TYPES[3]) in subjects
    tasks = [s for s, _ in subjects if s.endswith("caseyard.TaskRequested")]
    assert tasks == [
        f"caseyard.tasks.{c}-caseyard.TaskRequested"
        for c in ("classify", "extract", "score", "respond", "tool")
    ]
    assert len({s for s, _ in subjects}) == len(subjects)


def long_source() -> str:
    schema = json.loads(json.dumps(avro_schema(CaseSubmitted)))
    for field in schema["fields"]:
        if field["name"] == "source":
            field["type"] = "long"
    return json.dumps(schema)


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
async def client(registry: Registry) -> AsyncIterator[RegistryClient]:
    transport = httpx.ASGITransport(app=create_registry_app(registry))
    async with RegistryClient("http://registry", transport=transport) as client:
        yield client


@pytest.fixture
def console() -> Iterator[Console]:
    yield Console(record=True, width=200)


@pytest.mark.anyio
async def test_check_against_a_registry(
    registry: Registry, client: RegistryClient, console: Console
) -> None:
    subject = "caseyard.intake-caseyard.CaseSubmitted"
    await check_registry(console, client, "http://registry", topic_record_name_strategy)
    assert "new subject" in console.export_text()
    for name, model in topology_subjects():
        await registry.register(name, schema_text(model))
    await check_registry(console, client, "http://registry", topic_record_name_strategy)
    assert f"up to date: all {len(topology_subjects())} subjects" in console.export_text()

    fresh = Registry()
    await fresh.register(subject, long_source())  # what an older producer registered
    with pytest.raises(IncompatibleSchemaError, match=r"CaseSubmitted \(field 'source'\)"):
        await check_registry(console, fresh, "memory", topic_record_name_strategy)
    text = console.export_text()
    assert "INCOMPATIBLE (BACKWARD)" in text
    assert f"registry/{subject}/versions/1" in text


@pytest.mark.anyio
async def test_register_reports_refusals_and_registers_the_rest(
    registry: Registry, console: Console
) -> None:
    subject = "caseyard.intake-caseyard.CaseSubmitted"
    await registry.register(subject, long_source())
    with pytest.raises(IncompatibleSchemaError, match=r"1 subject\(s\) refused"):
        await schemas_commands.register_schemas(
            console, registry, "memory", topic_record_name_strategy
        )
    assert "field 'source'" in console.export_text()
    assert len(await registry.subjects()) == len(topology_subjects())
