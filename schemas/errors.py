"""Errors raised by the schemas package.

Every error says whether repeating the same operation can succeed (``retryable``).
`SchemaError` is the branch of the one caseyard error tree (`bus.errors`)::

    SchemaError                               retryable=False
    ├── SchemaDefinitionError                 a model cannot be mapped to Avro
    ├── EncodeError
    │   └── EventTooLargeError                encoded event is over the codec's size limit
    ├── DecodeError                           bytes could not become an event
    │   ├── MagicByteError                    not Confluent wire format
    │   ├── UnknownSchemaIdError              the registry has no schema with this id
    │   ├── UnknownEventTypeError             the writer schema names no known event
    │   ├── CorruptPayloadError               truncated or corrupt frame or Avro body
    │   ├── SchemaResolutionError             writer schema cannot be read as the reader's
    │   ├── UpcastError                       no upcaster chain to the current version
    │   └── EventValidationError              valid Avro that the model rejects
    ├── RegistryError                         carries Confluent's error_code and HTTP status
    │   ├── RegistryUnavailableError          retryable=True: transport, timeout, 5xx, store
    │   ├── SchemaStoreConflictError          retryable=True: a concurrent writer won
    │   ├── SubjectNotFoundError              40401
    │   ├── VersionNotFoundError              40402
    │   ├── SchemaNotFoundError               40403
    │   ├── CompatibilityNotConfiguredError   40408
    │   ├── IncompatibleSchemaError           409
    │   ├── InvalidSchemaError                42201
    │   ├── InvalidVersionError               42202
    │   └── InvalidCompatibilityLevelError    42203
    └── BlobError
        ├── BlobNotFoundError
        └── BlobIntegrityError

Decode errors are never retryable: the same bytes fail the same way, so a consumer
dead-letters them. A registry that cannot be reached is retryable, which is why a codec
lets ``RegistryUnavailableError`` through instead of turning it into a ``DecodeError``.
"""

from __future__ import annotations

from typing import ClassVar

from bus.errors import CaseyardError


class SchemaError(CaseyardError):
    """An event could not be encoded, decoded or registered."""


class SchemaDefinitionError(SchemaError):
    """A pydantic model uses a type that has no Avro mapping."""


class EncodeError(SchemaError):
    """An event could not be encoded."""


class EventTooLargeError(EncodeError):
    """The encoded event is larger than the codec allows.

    Large content belongs in the blob store; events carry a ``DocumentRef`` instead.
    """

    def __init__(self, event_type: str, size: int, limit: int) -> None:
        super().__init__(
            f"{event_type} encodes to {size} bytes, over the limit of {limit} bytes; "
            "put large content in the blob store and send a DocumentRef"
        )
        self.event_type = event_type
        self.size = size
        self.limit = limit


class DecodeError(SchemaError):
    """Bytes could not be decoded into an event.

    Attributes:
        schema_id: The schema id from the frame header, when it could be read.
    """

    def __init__(self, message: str, *, schema_id: int | None = None) -> None:
        super().__init__(message)
        self.schema_id = schema_id


class MagicByteError(DecodeError):
    """The frame does not start with the Confluent magic byte 0."""


class UnknownSchemaIdError(DecodeError):
    """The frame names a schema id the registry does not know."""


class UnknownEventTypeError(DecodeError):
    """The writer schema is not the schema of any event this codec decodes."""


class CorruptPayloadError(DecodeError):
    """The frame is truncated, or its Avro body does not match the writer schema."""


class SchemaResolutionError(DecodeError):
    """The writer schema cannot be resolved against the reader (current) schema."""


class UpcastError(DecodeError):
    """An old event version has no upcaster chain to the current version, or it failed."""


class EventValidationError(DecodeError):
    """The bytes are valid Avro but the decoded data fails model validation.

    Attributes:
        event_type: The event type the data was validated as.
        details: pydantic's description of what is wrong.
    """

    def __init__(self, event_type: str, details: str, *, schema_id: int | None = None) -> None:
        super().__init__(f"{event_type} failed validation: {details}", schema_id=schema_id)
        self.event_type = event_type
        self.details = details


class RegistryError(SchemaError):
    """A schema registry operation failed.

    Attributes:
        error_code: Confluent's error code (``40401``...), also sent in REST error bodies.
        http_status: The HTTP status the REST API answers with.
    """

    error_code: ClassVar[int] = 50001
    http_status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RegistryUnavailableError(RegistryError):
    """The registry or its store could not be reached or failed; try again later."""

    retryable: ClassVar[bool] = True


class SchemaStoreConflictError(RegistryError):
    """Another writer appended the same subject version or schema id first."""

    retryable: ClassVar[bool] = True


class SubjectNotFoundError(RegistryError):
    """No schema is registered under the subject."""

    error_code: ClassVar[int] = 40401
    http_status: ClassVar[int] = 404


class VersionNotFoundError(RegistryError):
    """The subject has no such version."""

    error_code: ClassVar[int] = 40402
    http_status: ClassVar[int] = 404


class SchemaNotFoundError(RegistryError):
    """No schema has this id, or the schema is not registered under the subject."""

    error_code: ClassVar[int] = 40403
    http_status: ClassVar[int] = 404


class CompatibilityNotConfiguredError(RegistryError):
    """The subject has no subject-level compatibility level."""

    error_code: ClassVar[int] = 40408
    http_status: ClassVar[int] = 404


class IncompatibleSchemaError(RegistryError):
    """The schema breaks the subject's compatibility level.

    Attributes:
        messages: One line per incompatibility, naming the field.
    """

    error_code: ClassVar[int] = 409
    http_status: ClassVar[int] = 409

    def __init__(self, message: str, messages: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.messages = messages


class InvalidSchemaError(RegistryError):
    """The schema is not a valid Avro schema."""

    error_code: ClassVar[int] = 42201
    http_status: ClassVar[int] = 422


class InvalidVersionError(RegistryError):
    """The version is neither a positive integer nor ``latest``."""

    error_code: ClassVar[int] = 42202
    http_status: ClassVar[int] = 422


class InvalidCompatibilityLevelError(RegistryError):
    """The compatibility level is not one of the seven Confluent levels."""

    error_code: ClassVar[int] = 42203
    http_status: ClassVar[int] = 422


class BlobError(SchemaError):
    """A blob could not be stored or read."""


class BlobNotFoundError(BlobError):
    """No blob with the reference's sha256 is in the store."""


class BlobIntegrityError(BlobError):
    """The stored bytes do not match the reference's sha256 or size."""


class BlobTooLargeError(BlobError):
    """The content is larger than the store was asked to accept."""


REGISTRY_ERRORS_BY_CODE: dict[int, type[RegistryError]] = {
    cls.error_code: cls
    for cls in (
        SubjectNotFoundError,
        VersionNotFoundError,
        SchemaNotFoundError,
        CompatibilityNotConfiguredError,
        IncompatibleSchemaError,
        InvalidSchemaError,
        InvalidVersionError,
        InvalidCompatibilityLevelError,
    )
}
# Confluent Platform 7.x and later answer incompatible schemas with 40901.
REGISTRY_ERRORS_BY_CODE[40901] = IncompatibleSchemaError
