"""The agent runtime's processed store: what an input produced, recorded once per batch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agents.runtime import ProcessedStore
from bus import Message


def out(value: bytes) -> Message:
    return Message("caseyard.results", value, b"case-1")


def test_outputs_are_kept_whole_and_in_order_and_survive_a_reopen(tmp_path: Path) -> None:
    store = ProcessedStore(tmp_path / "processed.db")
    letter = Message(
        "caseyard.dlq", b"", None, (("dlq.reason", b"x"), ("traceparent", b"00-ab")), 3
    )
    store.put_many({"t1": [out(b"a"), letter], "t2": []})
    store.close()
    store = ProcessedStore(tmp_path / "processed.db")
    assert store.get("t1") == [out(b"a"), letter]
    assert store.get("t2") == []  # handled, nothing to publish (an expired task)
    assert store.get("t3") is None
    store.close()


def test_a_key_recorded_again_keeps_only_its_new_outputs() -> None:
    # A redriven dead letter is handled anew: its new outcome replaces the recorded one.
    store = ProcessedStore(":memory:")
    store.put_many({"t1": [out(b"failed"), out(b"dead letter")]})
    store.put_many({"t1": [out(b"completed")], "t2": [out(b"x")]})
    assert store.recorded(["t1", "t2", "t3"]) == {"t1": [out(b"completed")], "t2": [out(b"x")]}


def test_a_batch_of_keys_is_looked_up_whatever_its_size() -> None:
    store = ProcessedStore(":memory:")
    store.put_many({f"t{i}": [out(str(i).encode())] for i in range(0, 1200, 2)})
    found = store.recorded([f"t{i}" for i in range(1200)] + ["t0"])
    assert sorted(found) == sorted(f"t{i}" for i in range(0, 1200, 2))
    assert found["t1198"] == [out(b"1198")]


def test_a_store_of_the_earlier_layout_is_converted_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "processed.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE processed(key TEXT NOT NULL, idx INTEGER NOT NULL, topic TEXT NOT"
            " NULL, msg_key BLOB, value BLOB NOT NULL, PRIMARY KEY(key, idx))"
        )
        conn.execute("CREATE TABLE done(key TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)")
        conn.executemany(
            "INSERT INTO processed VALUES(?,?,?,?,?)",
            [
                ("t1", 1, "caseyard.dlq", None, b"second"),
                ("t1", 0, "caseyard.results", b"case-1", b"first"),
                ("orphan", 0, "caseyard.results", b"case-1", b"never marked done"),
            ],
        )
        conn.executemany("INSERT INTO done VALUES(?,?)", [("t1", 1), ("t2", 2)])
    store = ProcessedStore(path)
    assert store.get("t1") == [out(b"first"), Message("caseyard.dlq", b"second")]
    assert store.get("t2") == []
    assert store.get("orphan") is None
    store.close()
    with sqlite3.connect(path) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert "done" not in tables and "processed" not in tables
    reopened = ProcessedStore(path)
    assert reopened.get("t1") == [out(b"first"), Message("caseyard.dlq", b"second")]
    reopened.close()
