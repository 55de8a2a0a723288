"""The agent runtime's processed store: what an input produced, recorded once per batch."""

from __future__ import annotations

from pathlib import Path

from agents.runtime import ProcessedStore
from bus import Message


def out(value: bytes) -> Message:
    return Message("caseyard.results", value, b"case-1")


def test_outputs_are_kept_in_order_and_survive_a_reopen(tmp_path: Path) -> None:
    store = ProcessedStore(tmp_path / "processed.db")
    store.put_many({"t1": [out(b"a"), out(b"b")], "t2": []})
    store.close()
    store = ProcessedStore(tmp_path / "processed.db")
    assert store.get("t1") == [out(b"a"), out(b"b")]
    assert store.get("t2") == []  # handled, nothing to publish (an expired task)
    assert store.get("t3") is None
    store.close()


def test_a_replaced_key_keeps_only_its_new_outputs() -> None:
    store = ProcessedStore(":memory:")
    store.put_many({"t1": [out(b"failed"), out(b"dead letter")]})
    store.put_many({"t1": [out(b"completed")], "t2": [out(b"x")]}, replacing={"t1"})
    assert store.get("t1") == [out(b"completed")]
    assert store.get("t2") == [out(b"x")]
