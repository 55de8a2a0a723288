"""Claim checks: large content lives in a blob store, events carry a ``DocumentRef``.

The filesystem store is content-addressed: a blob's path is derived from its sha256, so
storing the same bytes twice is free and a reference can never point at changed content.
Its methods block on file I/O; from async code call them through
``anyio.to_thread.run_sync``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas.errors import BlobError, BlobIntegrityError, BlobNotFoundError, BlobTooLargeError

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
"""A sha256 digest as 64 lowercase hex digits."""


class DocumentRef(BaseModel):
    """A reference to content held in a blob store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uri: str = Field(min_length=1, description="Where the store put the content.")
    sha256: Sha256Hex = Field(description="Hex sha256 of the content.")
    size: int = Field(ge=0, description="Content length in bytes.")
    media_type: str = Field(min_length=1, description="IANA media type, e.g. application/pdf.")


_CHUNK = 1024 * 1024
"""Bytes read at a time when a file is stored."""


class BlobStore:
    """A content-addressed blob store on the local filesystem.

    Blobs live at ``<root>/sha256/<first two hex digits>/<sha256>``. ``get`` finds content
    by the reference's sha256 under this store's root, so a reference written by another
    process over the same (shared) directory resolves here too.

    Args:
        root: Directory that holds the blobs; created on first ``put``.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root).resolve()

    @property
    def root(self) -> Path:
        """The directory that holds the blobs."""
        return self._root

    def _path(self, sha256: str) -> Path:
        return self._root / "sha256" / sha256[:2] / sha256

    def put(self, data: bytes, media_type: str) -> DocumentRef:
        """Store ``data`` and return its reference.

        The write is atomic (temporary file, fsync, rename), so a crash never leaves a
        partial blob under its final name.

        Raises:
            BlobError: If the file cannot be written.
        """
        return self._store(iter((data,)), media_type, "blob", max_bytes=None)

    def put_file(self, source: Path, media_type: str, *, max_bytes: int) -> DocumentRef:
        """Store the file at ``source``, read in chunks (never whole in memory), hashed as
        it is copied; refused once it passes ``max_bytes``, and nothing is left behind.

        Raises:
            BlobTooLargeError: If the file is larger than ``max_bytes``.
            BlobError: If it cannot be read or written.
        """
        try:
            with source.open("rb") as src:
                chunks = iter(lambda: src.read(_CHUNK), b"")
                return self._store(chunks, media_type, str(source), max_bytes=max_bytes)
        except OSError as exc:
            raise BlobError(f"cannot read {source}: {exc.strerror or exc}") from exc

    def _store(
        self, chunks: Iterator[bytes], media_type: str, what: str, *, max_bytes: int | None
    ) -> DocumentRef:
        """Copy `chunks` to a temporary file (hashing, fsync), then rename it to its sha256."""
        digest = hashlib.sha256()
        size = 0
        incoming = self._root / "sha256"
        try:
            incoming.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=incoming, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as tmp:
                    for chunk in chunks:
                        size += len(chunk)
                        if max_bytes is not None and size > max_bytes:
                            raise BlobTooLargeError(
                                f"{what} is larger than the {max_bytes:,}-byte limit"
                            )
                        digest.update(chunk)
                        tmp.write(chunk)
                    tmp.flush()
                    os.fsync(tmp.fileno())
                sha256 = digest.hexdigest()
                path = self._path(sha256)
                if path.exists():  # content-addressed: the same bytes are there already
                    os.unlink(tmp_name)
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp_name, path)
            except BaseException:
                # Not `Path(tmp_name)`: Python 3.11's pathlib interns the parts it parses,
                # and a new name per document churns the interpreter's intern table.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name)
                raise
        except OSError as exc:
            raise BlobError(f"cannot store {what} under {self._root}: {exc}") from exc
        return DocumentRef(uri=path.as_uri(), sha256=sha256, size=size, media_type=media_type)

    def get(self, ref: DocumentRef) -> bytes:
        """Return the content of ``ref``, verified against its sha256 and size.

        Raises:
            BlobNotFoundError: If no blob with the reference's sha256 is stored.
            BlobIntegrityError: If the stored bytes do not match the reference.
            BlobError: If the file cannot be read.
        """
        path = self._path(ref.sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"blob {ref.sha256} not found under {self._root}") from exc
        except OSError as exc:
            raise BlobError(f"cannot read blob {ref.sha256}: {exc}") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != ref.sha256:
            raise BlobIntegrityError(
                f"blob {ref.sha256} is corrupt: stored content hashes to {actual}"
            )
        if len(data) != ref.size:
            raise BlobIntegrityError(
                f"blob {ref.sha256} is {len(data)} bytes, the reference says {ref.size}"
            )
        return data

    def exists(self, ref: DocumentRef) -> bool:
        """Return whether content with the reference's sha256 is stored."""
        return self._path(ref.sha256).is_file()
