"""Checkpoints of the case chains: what an auditor checks the case-events log against.

Each case's events are chained by hash (``CaseEvent.previous_hash``), which shows an edit,
a removal or a reordering *inside* a chain, but not a chain cut short at its end, nor a
case removed whole, and whoever can write the log can rewrite a chain consistently. So
every coordinator transaction that advances chains also writes, in the same transaction,
a ``ChainCheckpoint`` to the checkpoints topic (partition p for the cases of partition p):
the head of each chain it advanced (how many events, the hash of the last), numbered and
chained to the partition's previous checkpoint, and signed with the coordinator's Ed25519
key. Whoever holds the public key can check the log without trusting whoever wrote it:

- a case's chain must reach the last head a checkpoint signed for it (else its tail, or
  the whole case, was removed, or rewritten);
- a partition's checkpoints must be numbered 1, 2, 3... each naming the hash of the one
  before (else checkpoints were removed or changed);
- each signature must verify with a key the auditor trusts (else forged).

The record is the JSON of ``ChainCheckpoint``; the signature covers the same JSON without
its ``signature`` field (``signed_bytes``), so it can be checked offline with any Ed25519
tool. Keys rotate by configuring a new private key: checkpoints name their key by id (the
first 16 hex digits of the sha256 of the raw public key) and old ones keep verifying with
the old public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

from schemas.blobs import Sha256Hex
from schemas.envelope import UtcDatetime


class CaseHead(BaseModel):
    """Where one case's chain stood: its number of case events and the last one's hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str = Field(min_length=1)
    events: int = Field(ge=0, description="Case events in the chain so far.")
    hash: Sha256Hex = Field(description="case_event_hash of the last of them.")


class ChainCheckpoint(BaseModel):
    """The heads one coordinator transaction of a partition left, signed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    partition: int = Field(ge=0)
    sequence: int = Field(ge=1, description="1 for a partition's first checkpoint, then +1.")
    previous: Sha256Hex | None = Field(
        default=None, description="digest() of the partition's checkpoint before this one."
    )
    written_at: UtcDatetime
    heads: tuple[CaseHead, ...]
    key_id: str | None = Field(default=None, description="Which key signed (None: unsigned).")
    signature: str | None = Field(default=None, description="Ed25519, base64, of signed_bytes.")

    def signed_bytes(self) -> bytes:
        """What the signature covers: the record's JSON without ``signature``."""
        return self.model_dump_json(exclude={"signature"}).encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ChainCheckpoint:
        """Raises pydantic.ValidationError (a ValueError) if `data` is not a checkpoint."""
        return cls.model_validate_json(data)

    def digest(self) -> str:
        """What the next checkpoint of the partition names as ``previous``."""
        return hashlib.sha256(self.to_bytes()).hexdigest()


class AuditKeyError(ValueError):
    """A signing or public key file that cannot be read or is not an Ed25519 key."""


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Signer:
    """Signs checkpoints with an Ed25519 private key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_key = private.public_key()
        self.key_id = key_id(self.public_key)

    @classmethod
    def load(cls, path: Path) -> Signer:
        """The key of a PEM (PKCS#8) file, as `generate` writes it."""
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise AuditKeyError(f"cannot read the audit signing key {path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditKeyError(f"{path} is not an Ed25519 private key")
        return cls(key)

    @classmethod
    def generate(cls, path: Path) -> Signer:
        """A new key, written to `path` (mode 600) with its public key beside it (.pub)."""
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.touch(mode=0o600)
        path.write_bytes(pem)
        public_path(path).write_bytes(public_pem(key.public_key()))
        return cls(key)

    def sign(self, checkpoint: ChainCheckpoint) -> ChainCheckpoint:
        unsigned = checkpoint.model_copy(update={"key_id": self.key_id, "signature": None})
        signature = self._private.sign(unsigned.signed_bytes())
        return unsigned.model_copy(update={"signature": base64.b64encode(signature).decode()})


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name + ".pub")


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise AuditKeyError(f"cannot read the audit public key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError(f"{path} is not an Ed25519 public key")
    return key


def signature_problem(
    checkpoint: ChainCheckpoint, keys: Mapping[str, Ed25519PublicKey]
) -> str | None:
    """Why the checkpoint's signature does not hold with `keys` (by key id), or None."""
    if checkpoint.signature is None or checkpoint.key_id is None:
        return "is not signed"
    public = keys.get(checkpoint.key_id)
    if public is None:
        return f"is signed with key {checkpoint.key_id}, which is not among the trusted keys"
    try:
        public.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_bytes())
    except (InvalidSignature, binascii.Error, ValueError):
        return f"has a signature that does not verify with key {checkpoint.key_id} (forged)"
    return None
