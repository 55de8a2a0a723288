"""A small on-disk cache for trained models, keyed by what they were trained from.

Models are retrained in seconds from the corpora in ``data/``, so the cache is a speed-up,
never a source of truth: the key covers the corpus digest, the seed, the model version and
the scikit-learn version, and an unreadable or foreign file is rebuilt rather than trusted.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sklearn  # type: ignore[import-untyped]

from agents.errors import ModelError

T = TypeVar("T")


def cache_key(*parts: object) -> str:
    """A short stable digest of ``parts`` plus the scikit-learn version."""
    text = "\x1f".join([str(sklearn.__version__), *map(str, parts)])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def load_or_build(cache_dir: Path, name: str, key: str, kind: type[T], build: Callable[[], T]) -> T:
    """Return the cached object for ``(name, key)``, building and storing it if needed.

    Args:
        cache_dir: Directory owned by this process' agent; created when missing.
        name: Model name, part of the file name.
        key: Digest of everything the model depends on (see `cache_key`).
        kind: Expected type; anything else in the file is discarded and rebuilt.
        build: Trains the model.

    Raises:
        ModelError: If the cache directory cannot be written.
    """
    path = cache_dir / f"{name}-{key}.pkl"
    cached = _read(path, kind)
    if cached is not None:
        return cached
    obj = build()
    tmp: str | None = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{name}-")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
        # Atomic rename: a concurrent reader sees the old file or the whole new one.
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise ModelError(f"cannot write the model cache in {cache_dir}: {exc}") from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return obj


_UNREADABLE = (
    OSError,
    EOFError,
    pickle.UnpicklingError,
    AttributeError,
    ImportError,
    IndexError,
    KeyError,
    TypeError,
    ValueError,
)
"""What unpickling a truncated, foreign or stale file raises; any of them means rebuild."""


def _read(path: Path, kind: type[T]) -> T | None:
    if not path.exists():
        return None
    try:
        with path.open("rb") as handle:
            # The cache directory belongs to the agent; nobody else writes pickles there.
            obj = pickle.load(handle)
    except _UNREADABLE:
        return None
    return obj if isinstance(obj, kind) else None


def file_digest(path: Path) -> str:
    """Hex sha256 of a file's content.

    Raises:
        ModelError: If the file cannot be read.
    """
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelError(f"cannot read training data {path}: {exc}") from exc
