"""Event contracts of caseyard, and how they travel.

Events are frozen pydantic models (one module per family: ``intake``, ``tasks``,
``results``, ``lifecycle``, ``human``, ``dead_letters``; capability outputs in
``payloads``). Their Avro schemas are generated from the models, framed in Confluent's
wire format by ``AvroCodec``, and registered in a Confluent-compatible registry: the
in-process ``Registry`` (also served over REST by ``create_registry_app``) or any
Confluent registry through ``RegistryClient``. Subjects are named per topic and event
type (``<topic>-caseyard.<EventType>``) by default, because caseyard topics carry several
event types each.
"""

import importlib
from typing import TYPE_CHECKING

from schemas._avro import avro_name, avro_schema, schema_text
from schemas._codec import (
    DEFAULT_MAX_EVENT_BYTES,
    AvroCodec,
    SubjectNameStrategy,
    record_name_strategy,
    topic_name_strategy,
    topic_record_name_strategy,
)
from schemas._compat import CompatibilityLevel, Incompatibility, check_compatibility
from schemas._registry import (
    CompatibilityResult,
    RegisteredSchema,
    Registry,
    SchemaRegistry,
    Version,
    parse_version,
)
from schemas._store import (
    MemorySchemaStore,
    SchemaRecord,
    SchemaStore,
    SqliteSchemaStore,
    StoreContents,
)
from schemas._trusted import trusted, trusted_constructor
from schemas._upcasting import UPCASTERS, Upcaster, Upcasters
from schemas.blobs import BlobStore, DocumentRef, Sha256Hex
from schemas.catalog import (
    EVENT_TYPES,
    SNAPSHOT_DIR,
    SnapshotReport,
    check_against_snapshot,
    event_class,
    export_avsc,
)
from schemas.dead_letters import DeadLetter
from schemas.envelope import Event, Producer, UtcDatetime, event_id_time, new_event_id
from schemas.errors import (
    BlobError,
    BlobIntegrityError,
    BlobNotFoundError,
    BlobTooLargeError,
    CompatibilityNotConfiguredError,
    CorruptPayloadError,
    DecodeError,
    EncodeError,
    EventTooLargeError,
    EventValidationError,
    IncompatibleSchemaError,
    InvalidCompatibilityLevelError,
    InvalidSchemaError,
    InvalidVersionError,
    MagicByteError,
    RegistryError,
    RegistryUnavailableError,
    SchemaDefinitionError,
    SchemaError,
    SchemaNotFoundError,
    SchemaResolutionError,
    SchemaStoreConflictError,
    SubjectNotFoundError,
    UnknownEventTypeError,
    UnknownSchemaIdError,
    UpcastError,
    VersionNotFoundError,
)
from schemas.human import (
    DecisionAction,
    FieldPatch,
    HumanDecision,
    HumanTaskClaimed,
    HumanTaskOpened,
)
from schemas.intake import CaseSubmitted
from schemas.lifecycle import (
    CaseCompleted,
    CaseEscalated,
    CaseEvent,
    CaseFailed,
    CaseHandedOff,
    CaseOpened,
    CompensationCompleted,
    CompensationStarted,
    Decision,
    PolicyDecision,
    StepCompleted,
    StepFailed,
    StepStarted,
    StepTimedOut,
    TimerFired,
    TimerPurpose,
)
from schemas.payloads import (
    Channel,
    ClassifyOutput,
    DocType,
    ExtractedField,
    ExtractOutput,
    FieldType,
    Label,
    RespondOutput,
    RiskBand,
    ScoreOutput,
    Span,
    TaskOutput,
    ToolOutput,
    ToolStatus,
    Urgency,
)
from schemas.results import ModelHop, ModelUsage, TaskCompleted, TaskFailed
from schemas.tasks import TaskInput, TaskRequested

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_MAX_EVENT_BYTES",
    "EVENT_TYPES",
    "SNAPSHOT_DIR",
    "UPCASTERS",
    "AvroCodec",
    "BlobError",
    "BlobIntegrityError",
    "BlobNotFoundError",
    "BlobStore",
    "BlobTooLargeError",
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
]

if TYPE_CHECKING:
    from schemas._registry_app import CONTENT_TYPE, create_registry_app
    from schemas._registry_client import RegistryClient

_ON_FIRST_USE = {
    "CONTENT_TYPE": "schemas._registry_app",
    "create_registry_app": "schemas._registry_app",
    "RegistryClient": "schemas._registry_client",
}
"""Imported when first asked for: the REST side of the registry brings httpx (44 ms to
import, its command-line module with it) and Starlette (12 ms), which every `caseyard`
command paid at start and few use."""


if not TYPE_CHECKING:  # for mypy the names above are the module's; a typo stays an error

    def __getattr__(name: str) -> object:
        module = _ON_FIRST_USE.get(name)
        if module is None:
            raise AttributeError(f"module 'schemas' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
