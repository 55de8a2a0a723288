"""The agent runtime's processed store: what an input produced, recorded once per batch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agents.runtime import KEEP_OUTPUTS_S, ProcessedStore
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


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_outputs_older_than_the_retention_are_dropped_as_batches_are_recorded() -> None:
    clock = Clock()
    store = ProcessedStore(":memory:", keep_s=60, clock=clock)
    old = [f"old{i}" for i in range(5)]
    store.put_many({key: [out(b"x")] for key in old})
    clock.now += 30
    store.put_many({"middle": [out(b"y")]})
    clock.now += 40  # the old ones are 70 s old, middle 40 s
    # A batch of one looks at the two oldest rows only (bounded work per batch) ...
    store.put_many({"new1": [out(b"z")]})
    assert store.recorded(old).keys() == {"old2", "old3", "old4"}
    # ... and the next batches carry on, until they reach rows within the retention.
    store.put_many({"new2": [out(b"z")], "new3": [out(b"z")]})
    assert store.recorded([*old, "middle", "new1"]).keys() == {"middle", "new1"}
    clock.now += 21  # middle is 61 s old now
    store.put_many({"new4": [out(b"z")]})
    assert store.get("middle") is None
    assert store.recorded(["new1", "new2", "new3", "new4"]).keys() == {
        "new1",
        "new2",
        "new3",
        "new4",
    }


def test_a_deployment_keeps_outputs_a_week_unless_told_otherwise() -> None:
    from caseyard.settings import Settings

    assert Settings.model_fields["agent_keep_outputs_s"].default == KEEP_OUTPUTS_S == 604800
