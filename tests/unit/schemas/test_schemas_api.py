"""The public surface of the schemas package is pinned."""

from __future__ import annotations

import ast
from pathlib import Path

import schemas

EXPECTED = {
    "CONTENT_TYPE",
    "DEFAULT_MAX_EVENT_BYTES",
    "EVENT_TYPES",
    "SNAPSHOT_DIR",
    "UPCASTERS",
    "AvroCodec",
    "BlobError",
    "BlobIntegrityError",
    "BlobTooLargeError",
    "BlobNotFoundError",
    "BlobStore",
    "CaseCompleted",
    "CaseEscalated",
    "CaseEvent",
    "CaseFailed",
    "CaseHandedOff",
    "CaseOpened",
    "CaseSubmitted",
    "Channel",
    "ClassifyOutput",
    "CompatibilityLevel",
    "CompatibilityNotConfiguredError",
    "CompatibilityResult",
    "CompensationCompleted",
    "CompensationStarted",
    "CorruptPayloadError",
    "DeadLetter",
    "Decision",
    "DecisionAction",
    "DecodeError",
    "DocType",
    "DocumentRef",
    "EncodeError",
    "Event",
    "EventTooLargeError",
    "EventValidationError",
    "ExtractOutput",
    "ExtractedField",
    "FieldPatch",
    "FieldType",
    "HumanDecision",
    "HumanTaskClaimed",
    "HumanTaskOpened",
    "Incompatibility",
    "IncompatibleSchemaError",
    "InvalidCompatibilityLevelError",
    "InvalidSchemaError",
    "InvalidVersionError",
    "Label",
    "MagicByteError",
    "MemorySchemaStore",
    "ModelHop",
    "ModelUsage",
    "PolicyDecision",
    "Producer",
    "RegisteredSchema",
    "Registry",
    "RegistryClient",
    "RegistryError",
    "RegistryUnavailableError",
    "RespondOutput",
    "RiskBand",
    "SchemaDefinitionError",
    "SchemaError",
    "SchemaNotFoundError",
    "SchemaRecord",
    "SchemaRegistry",
    "SchemaResolutionError",
    "SchemaStore",
    "SchemaStoreConflictError",
    "ScoreOutput",
    "Sha256Hex",
    "SnapshotReport",
    "Span",
    "SqliteSchemaStore",
    "StepCompleted",
    "StepFailed",
    "StepStarted",
    "StepTimedOut",
    "StoreContents",
    "SubjectNameStrategy",
    "SubjectNotFoundError",
    "TaskCompleted",
    "TaskFailed",
    "TaskInput",
    "TaskOutput",
    "TaskRequested",
    "TimerFired",
    "TimerPurpose",
    "ToolOutput",
    "ToolStatus",
    "UnknownEventTypeError",
    "UnknownSchemaIdError",
    "UpcastError",
    "Upcaster",
    "Upcasters",
    "Urgency",
    "UtcDatetime",
    "Version",
    "VersionNotFoundError",
    "avro_name",
    "avro_schema",
    "check_against_snapshot",
    "check_compatibility",
    "create_registry_app",
    "event_class",
    "event_id_time",
    "export_avsc",
    "new_event_id",
    "parse_version",
    "record_name_strategy",
    "schema_text",
    "topic_name_strategy",
    "topic_record_name_strategy",
    "trusted",
    "trusted_constructor",
}


def test_all_is_pinned() -> None:
    assert set(schemas.__all__) == EXPECTED
    assert len(schemas.__all__) == len(EXPECTED), "duplicates in __all__"


def test_every_name_in_all_exists() -> None:
    for name in schemas.__all__:
        assert hasattr(schemas, name), name


def test_schemas_imports_nothing_else_of_ours() -> None:
    # bus.errors is the one shared leaf: the error tree every package derives from.
    allowed = {"bus.errors"}
    root = Path(schemas.__file__).parent
    ours = {"bus", "caseyard", "agents", "coordinator"}
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name in allowed:
                    continue
                assert name.split(".")[0] not in ours, f"{path.name} imports {name}"


def test_every_error_says_whether_it_is_retryable() -> None:
    errors = [getattr(schemas, n) for n in schemas.__all__ if n.endswith("Error")]
    for error in errors:
        assert issubclass(error, schemas.SchemaError)
        assert isinstance(error.retryable, bool)
    assert schemas.RegistryUnavailableError.retryable
    assert not schemas.DecodeError.retryable
