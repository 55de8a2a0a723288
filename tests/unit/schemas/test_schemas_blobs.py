"""The content-addressed blob store behind claim checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from schemas import BlobIntegrityError, BlobNotFoundError, BlobStore, BlobTooLargeError, DocumentRef


def test_put_then_get(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = b"%PDF-1.7 invoice INV-2024-0042"
    ref = store.put(data, "application/pdf")
    digest = hashlib.sha256(data).hexdigest()
    assert ref == DocumentRef(
        uri=(tmp_path / "blobs" / "sha256" / digest[:2] / digest).resolve().as_uri(),
        sha256=digest,
        size=len(data),
        media_type="application/pdf",
    )
    assert store.get(ref) == data
    assert store.exists(ref)
    assert store.root == (tmp_path / "blobs").resolve()


def test_content_addressing_dedupes_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    first = store.put(b"same", "text/plain")
    second = store.put(b"same", "text/markdown")
    assert first.sha256 == second.sha256 and first.uri == second.uri
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [first.sha256]
    assert store.get(second) == b"same"
    empty = store.put(b"", "application/octet-stream")
    assert store.get(empty) == b"" and empty.size == 0


def test_another_store_over_the_same_directory_resolves_refs(tmp_path: Path) -> None:
    ref = BlobStore(tmp_path).put(b"shared", "text/plain")
    assert BlobStore(tmp_path).get(ref) == b"shared"


def test_missing_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    ref = BlobStore(tmp_path / "elsewhere").put(b"x", "text/plain")
    with pytest.raises(BlobNotFoundError, match=ref.sha256):
        store.get(ref)
    assert not store.exists(ref)


def test_corrupt_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    ref = store.put(b"original", "text/plain")
    Path(ref.uri.removeprefix("file://")).write_bytes(b"tampered")
    with pytest.raises(BlobIntegrityError, match="corrupt"):
        store.get(ref)


def test_reference_with_the_wrong_size(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    ref = store.put(b"original", "text/plain")
    with pytest.raises(BlobIntegrityError, match="the reference says 3"):
        store.get(ref.model_copy(update={"size": 3}))


def test_a_file_is_stored_in_chunks_as_put_stores_its_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10_000  # 2.5 MB: several chunks
    source = tmp_path / "doc.bin"
    source.write_bytes(data)
    store = BlobStore(tmp_path / "blobs")
    ref = store.put_file(source, "application/pdf", max_bytes=len(data))
    assert ref == store.put(data, "application/pdf")
    assert store.get(ref) == data


def test_a_file_over_the_limit_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "doc.bin"
    source.write_bytes(b"x" * 3_000_000)
    store = BlobStore(tmp_path / "blobs")
    with pytest.raises(BlobTooLargeError, match="larger than the 2,999,999-byte limit"):
        store.put_file(source, "text/plain", max_bytes=2_999_999)
    assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
