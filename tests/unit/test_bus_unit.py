"""Bus pieces that need no broker: URLs, the partitioner, middleware, the public API."""

from __future__ import annotations

import asyncio
import gc
import random
import sqlite3
import ssl
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext
from pathlib import Path

import anyio
import pytest

import bus
from bus import (
    Cleanup,
    KafkaSecurity,
    Message,
    Record,
    TopicPartition,
    TopicSpec,
    read_to_end,
)
from bus._kafka import KafkaBus, _read_when_done
from bus._log import DELETE_RETENTION_MS, LogStore
from bus._types import murmur2
from caseyard.errors import ConfigError, UnknownTopic
from tests.helpers import drain

pytestmark = pytest.mark.anyio


def test_public_api_is_pinned() -> None:
    assert bus.__all__ == [
        "DEFAULT_MAX_MESSAGE_BYTES",
        "Bus",
        "Cleanup",
        "ConfigChange",
        "Consumer",
        "Headers",
        "KafkaSecurity",
        "Message",
        "Middleware",
        "Outbox",
        "Position",
        "RebalanceListener",
        "Record",
        "StartFrom",
        "TopicPartition",
        "TopicSpec",
        "Transaction",
        "connect",
        "partition_for",
        "read_to_end",
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://localhost", "unknown scheme 'redis'"),
        ("localhost:9092", "unknown scheme 'localhost'"),
        ("kafka://", "expected kafka://host:port"),
        ("sqlite://", "expected sqlite:///path/to/file.db"),
        ("memory://?session_timeout_ms=abc", "invalid literal"),
        ("memory://?colour=blue", "unknown option(s) ['colour']"),
    ],
)
def test_bad_urls_are_one_clear_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        bus.connect(url)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("security", "message"),
    [
        (KafkaSecurity(protocol="TLS"), "security protocol 'TLS': use one of"),
        (KafkaSecurity(protocol="SASL_SSL"), "SASL mechanism None: use one of"),
        (
            KafkaSecurity(protocol="SASL_SSL", sasl_mechanism="GSSAPI"),
            "SASL mechanism 'GSSAPI': use one of",
        ),
        (
            KafkaSecurity(protocol="sasl_plaintext", sasl_mechanism="PLAIN", sasl_username="u"),
            "SASL (PLAIN) needs a username and a password",
        ),
        (KafkaSecurity(protocol="SSL", ssl_cafile="/nonexistent/ca.pem"), "/nonexistent/ca.pem"),
        (
            KafkaSecurity(sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p"),
            "SASL settings are given but the security protocol is PLAINTEXT",
        ),
        (
            KafkaSecurity(
                protocol="SASL_PLAINTEXT",
                sasl_mechanism="PLAIN",
                sasl_username="u",
                sasl_password="p",
                ssl_cafile="ca.pem",
            ),
            "TLS files are given but the security protocol is SASL_PLAINTEXT",
        ),
    ],
)
def test_bad_kafka_security_is_one_clear_config_error(
    security: KafkaSecurity, message: str
) -> None:
    """Found when the bus is made, before any connection is tried."""
    with pytest.raises(ConfigError) as info:
        bus.connect("kafka://127.0.0.1:9", security=security)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_kafka_security_reaches_every_client_and_keeps_its_secrets() -> None:
    security = KafkaSecurity(
        protocol="sasl_ssl",
        sasl_mechanism="scram-sha-512",
        sasl_username="svc",
        sasl_password="s3cret",
    )
    b = bus.connect("kafka://127.0.0.1:9", security=security)
    assert isinstance(b, KafkaBus)
    connection = b.connection
    assert connection["security_protocol"] == "SASL_SSL"
    assert connection["sasl_mechanism"] == "SCRAM-SHA-512"
    assert isinstance(connection["ssl_context"], ssl.SSLContext)
    assert connection["ssl_context"].check_hostname  # the broker's name is checked
    assert b.producer_options().items() >= connection.items()
    assert "s3cret" not in repr(security)
    # The default: plaintext, as a local broker takes it.
    assert bus.connect("kafka://127.0.0.1:9").connection == {  # type: ignore[attr-defined]
        "bootstrap_servers": "127.0.0.1:9",
        "security_protocol": "PLAINTEXT",
    }


def test_url_options_override_arguments() -> None:
    b = bus.connect("memory://?max_message_bytes=10", max_message_bytes=1000)
    assert b.url == "memory://?max_message_bytes=10"


# Kafka's own test vectors of the Java client's murmur2 (signed as Java's ints are).
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def test_keys_hash_as_the_java_client_and_aiokafka_hash_them() -> None:
    """A key lands on the partition Kafka's other clients put it on (caseyard owns a case
    by that partition; a foreign producer's record of the case must reach its owner)."""
    from aiokafka.partitioner import murmur2 as aiokafkas

    assert {k: murmur2(k) - (murmur2(k) >> 31 << 32) for k in JAVA_MURMUR2} == JAVA_MURMUR2
    rng = random.Random(7)
    keys = [rng.randbytes(rng.randrange(40)) for _ in range(2_000)]
    assert [murmur2(k) for k in keys] == [aiokafkas(k) for k in keys]


def test_keyed_partitioning_is_stable_and_keyless_round_robins() -> None:
    keys = [f"case-{i}".encode() for i in range(1000)]
    first = [bus.partition_for(k, 6, 0) for k in keys]
    assert first == [bus.partition_for(k, 6, 99) for k in keys]
    assert set(first) == set(range(6))
    assert [bus.partition_for(None, 3, n) for n in range(6)] == [0, 1, 2, 0, 1, 2]


class Tracing:
    """A middleware that stamps a header on the way out and records what comes in."""

    def __init__(self) -> None:
        self.seen: list[bytes | None] = []

    def outgoing(self, message: Message) -> Message:
        return message._replace(headers=(*message.headers, ("traceparent", b"00-t-s-01")))

    def delivered(self, messages: Sequence[Message], error: BaseException | None) -> None:
        pass

    def incoming(self, record: Record) -> Record:
        self.seen.append(record.header("traceparent"))
        return record

    def processing(self, record: Record, group: str) -> AbstractContextManager[None]:
        return nullcontext()


async def test_middleware_sees_every_message_out_and_record_in() -> None:
    tracing = Tracing()
    async with bus.connect("memory://", middleware=[tracing]) as b:
        await b.ensure_topics([TopicSpec("t")])
        await b.publish("t", b"plain")
        async with b.begin() as tx:
            await tx.publish("t", b"in a transaction")
        async with b.consumer("g", ["t"]) as c:
            records = await drain(c, 2)
    assert [r.header("traceparent") for r in records] == [b"00-t-s-01"] * 2
    assert tracing.seen == [b"00-t-s-01"] * 2


class Scoped:
    """A middleware that logs when its processing scope is entered and left."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def outgoing(self, message: Message) -> Message:
        return message

    def delivered(self, messages: Sequence[Message], error: BaseException | None) -> None:
        pass

    def incoming(self, record: Record) -> Record:
        return record

    @contextmanager
    def _scope(self, record: Record, group: str) -> Iterator[None]:
        self.log.append(f"{self.name} enter {group} {record.value.decode()}")
        try:
            yield
        finally:
            self.log.append(f"{self.name} exit")

    def processing(self, record: Record, group: str) -> AbstractContextManager[None]:
        return self._scope(record, group)


async def test_processing_enters_every_middleware_scope_in_order() -> None:
    log: list[str] = []
    chain = [Scoped("a", log), Scoped("b", log)]
    async with bus.connect("memory://", middleware=chain) as b:
        await b.ensure_topics([TopicSpec("t")])
        await b.publish("t", b"r1")
        async with b.consumer("g", ["t"]) as c:
            (record,) = await drain(c, 1)
            with c.processing(record):
                log.append("handler")
    assert log == ["a enter g r1", "b enter g r1", "handler", "b exit", "a exit"]


async def test_processing_without_middleware_is_a_no_op() -> None:
    async with bus.connect("memory://") as b:
        await b.ensure_topics([TopicSpec("t")])
        await b.publish("t", b"r1")
        async with b.consumer("g", ["t"]) as c:
            (record,) = await drain(c, 1)
            with c.processing(record):
                pass


async def test_consumers_lists_open_group_members_only() -> None:
    async with bus.connect("memory://") as b:
        await b.ensure_topics([TopicSpec("t", partitions=2)])
        assert b.consumers() == []
        async with b.consumer("g", ["t"]) as c, b.reader([TopicPartition("t", 0)]):
            assert b.consumers() == [c]
            assert c.assignment() == {TopicPartition("t", 0), TopicPartition("t", 1)}
        assert b.consumers() == []


async def test_sqlite_compacts_keyed_records_to_the_newest_per_key_when_opened(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/bus.db"
    writes = [(b"a", b"a1"), (b"b", b"b1"), (None, b"x1"), (b"a", b"a2"), (None, b"x2")]
    async with bus.connect(url) as b:
        await b.ensure_topics(
            [TopicSpec("log", partitions=2), TopicSpec("state", 2, Cleanup.COMPACT)]
        )
        for topic in ("log", "state"):
            await b.publish_batch([Message(topic, v, key=k, partition=0) for k, v in writes])
            await b.publish(topic, b"a-other-partition", key=b"a", partition=1)
    async with bus.connect(url) as b:

        async def values(topic: str) -> dict[int, list[bytes]]:
            tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
            by_partition: dict[int, list[bytes]] = {0: [], 1: []}
            async for batch in read_to_end(b, tps):
                for r in batch:
                    by_partition[r.partition].append(r.value)
            return by_partition

        # Keyless records are never compacted; the key is per partition, as in Kafka.
        assert await values("state") == {0: [b"b1", b"x1", b"a2", b"x2"], 1: [b"a-other-partition"]}
        assert await values("log") == {0: [v for _, v in writes], 1: [b"a-other-partition"]}


async def test_sqlite_compacts_what_a_bus_wrote_as_it_closes_and_not_if_it_only_read(
    tmp_path: Path,
) -> None:
    """The next process to open the log (a read-only command, often) finds it compacted."""
    url = f"sqlite:///{tmp_path}/bus.db"
    count = "SELECT COUNT(*) FROM records WHERE topic='state'"

    def rows(conn: sqlite3.Connection) -> int:
        return int(conn.execute(count).fetchone()[0])

    def another_writer_repeats_the_key(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO records SELECT topic, partition, offset + 1, ts, key, value, headers,"
            " tombstone FROM records WHERE topic='state' ORDER BY offset DESC LIMIT 1"
        )
        conn.commit()

    with closing(sqlite3.connect(":memory:")) as conn:
        async with bus.connect(url) as b:
            await b.ensure_topics([TopicSpec("state", 1, Cleanup.COMPACT)])
            await b.publish_batch(
                [Message("state", v, key=b"a", partition=0) for v in (b"1", b"2")]
            )
            conn.execute(f"ATTACH '{tmp_path}/bus.db' AS bus")
            assert rows(conn) == 2
        assert rows(conn) == 1  # compacted as the writer closed
        another_writer_repeats_the_key(conn)
        async with bus.connect(url) as b:
            assert rows(conn) == 1  # opening compacts too
            another_writer_repeats_the_key(conn)
            await b.end_offsets([TopicPartition("state", 0)])
        assert rows(conn) == 2  # a bus that only read leaves the log as it was


async def test_sqlite_compacts_while_a_bus_writes_and_an_append_outlives_a_failed_cleaning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A long-running writer keeps its log to what is live without closing (a `caseyard
    up` of a day); if a housekeeping fails, the append that ran it still succeeds."""
    monkeypatch.setattr(bus._embedded, "HOUSEKEEPING_EVERY_RECORDS", 10)
    url = f"sqlite:///{tmp_path}/bus.db"
    count = "SELECT COUNT(*) FROM records WHERE topic='state'"
    with closing(sqlite3.connect(f"{tmp_path}/bus.db")) as conn:
        async with bus.connect(url) as b:
            await b.ensure_topics([TopicSpec("state", 1, Cleanup.COMPACT)])
            for n in range(95):
                await b.publish("state", b"%d" % n, key=b"k%d" % (n % 3), partition=0)
            # 95 appended, one housekeeping per 10: 3 live keys and the last 5 appends.
            assert int(conn.execute(count).fetchone()[0]) == 3 + 5

            def fails(now_ms: int) -> None:
                raise sqlite3.OperationalError("database is locked")

            monkeypatch.setattr(b._store, "housekeeping", fails)  # type: ignore[attr-defined]
            with caplog.at_level("WARNING", logger="bus._embedded"):
                for _ in range(10):
                    await b.publish("state", b"x", key=b"k0", partition=0)
            assert "was not compacted while writing" in caplog.text
            assert int(conn.execute(count).fetchone()[0]) == 8 + 10  # all appended


async def test_a_cancellation_while_appending_still_reports_the_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records a bus appended are reported to its caller even when the caller is cancelled
    meanwhile, also when the bus runs a housekeeping around that append: the cancellation
    comes at the caller's next checkpoint."""
    monkeypatch.setattr(bus._embedded, "HOUSEKEEPING_EVERY_RECORDS", 1)
    started, release = threading.Event(), threading.Event()
    async with bus.connect(f"sqlite:///{tmp_path}/bus.db") as b:
        await b.ensure_topics([TopicSpec("state", 1, Cleanup.COMPACT)])
        store = b._store  # type: ignore[attr-defined]
        real = store.append

        def slow(*args: object) -> object:
            started.set()
            release.wait(10)
            return real(*args)

        monkeypatch.setattr(store, "append", slow)
        got = []
        with anyio.CancelScope() as scope:

            async def cancel_once_it_runs() -> None:
                await anyio.to_thread.run_sync(started.wait, 10)
                scope.cancel()
                release.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_once_it_runs)
                got.append(await b.publish("state", b"v", key=b"k", partition=0))
                await anyio.sleep_forever()
        assert scope.cancelled_caught
        assert [p.offset for p in got] == [0]


async def test_the_deliveries_after_a_failed_one_are_read_when_they_fail_too() -> None:
    """A fenced producer fails every batch in flight; the caller is told the first. The
    others, failing later, are read as they come: asyncio logs none of them as an
    exception never retrieved (`make bench` showed such tracebacks on a rebalance)."""
    loop = asyncio.get_running_loop()
    unread: list[str] = []
    loop.set_exception_handler(lambda _, context: unread.append(context["message"]))
    try:
        done, pending = loop.create_future(), loop.create_future()
        done.set_exception(RuntimeError("fenced"))
        _read_when_done([done, pending])
        pending.set_exception(RuntimeError("fenced"))
        await asyncio.sleep(0)  # one loop turn: the done callbacks run
        del done, pending
        gc.collect()  # a future's unread exception is reported when it is freed
        unheeded = loop.create_future()
        unheeded.set_exception(RuntimeError("nobody reads this one"))
        del unheeded
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert unread == ["Future exception was never retrieved"]  # only the unheeded one


def test_sqlite_compaction_deletes_a_tombstoned_key_then_the_tombstone(tmp_path: Path) -> None:
    """A tombstone deletes its key's earlier records at the next compaction and goes
    itself once older than the topic's `delete.retention.ms` (Kafka's default, a day,
    for a topic that does not set it); a live key keeps its newest record."""
    store = LogStore.open(str(tmp_path / "bus.db"))
    try:
        store.ensure_topics(
            [
                TopicSpec("state", 1, Cleanup.COMPACT, config={"delete.retention.ms": "1000"}),
                TopicSpec("plain", 1, Cleanup.COMPACT),
            ]
        )
        for topic in ("state", "plain"):
            store.append(
                [
                    Message(topic, b"v1", key=b"done", partition=0),
                    Message(topic, b"v1", key=b"live", partition=0),
                    Message(topic, None, key=b"done", partition=0),
                ],
                now_ms=10_000,
            )

        def left(topic: str) -> list[tuple[bytes | None, bytes]]:
            records = store.fetch({TopicPartition(topic, 0): 0}, 100)
            return [(r.key, r.value) for r in records]

        store.housekeeping(now_ms=10_500)
        assert left("state") == left("plain") == [(b"live", b"v1"), (b"done", b"")]
        store.housekeeping(now_ms=11_001)
        assert left("state") == [(b"live", b"v1")]
        assert left("plain") == [(b"live", b"v1"), (b"done", b"")]
        store.housekeeping(now_ms=10_000 + DELETE_RETENTION_MS + 1)
        assert left("plain") == [(b"live", b"v1")]
    finally:
        store.close()


def test_sqlite_log_of_an_earlier_version_takes_tombstones(tmp_path: Path) -> None:
    """A log written before tombstones existed (no column for them) gets it when opened:
    its records stay, and a tombstone appended to it is compacted away."""
    path = tmp_path / "bus.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(
            "CREATE TABLE topics(name TEXT PRIMARY KEY, partitions INTEGER NOT NULL,"
            " cleanup TEXT NOT NULL, retention_ms INTEGER);"
            "CREATE TABLE partitions(topic TEXT NOT NULL, partition INTEGER NOT NULL,"
            " next_offset INTEGER NOT NULL, PRIMARY KEY(topic, partition)) WITHOUT ROWID;"
            "CREATE TABLE records(topic TEXT NOT NULL, partition INTEGER NOT NULL,"
            " offset INTEGER NOT NULL, ts INTEGER NOT NULL, key BLOB, value BLOB NOT NULL,"
            " headers BLOB NOT NULL, PRIMARY KEY(topic, partition, offset));"
            "INSERT INTO topics VALUES('state', 1, 'compact', NULL);"
            "INSERT INTO partitions VALUES('state', 0, 1);"
            "INSERT INTO records VALUES('state', 0, 0, 0, x'6b', x'7631', x'');"
        )
    store = LogStore.open(str(path))
    try:
        store.append([Message("state", None, key=b"k", partition=0)], now_ms=1)
        tp = TopicPartition("state", 0)
        assert [(r.offset, r.value) for r in store.fetch({tp: 0}, 10)] == [(0, b"v1"), (1, b"")]
        store.housekeeping(now_ms=2 + DELETE_RETENTION_MS)
        assert store.fetch({tp: 0}, 10) == []
    finally:
        store.close()


def test_sqlite_ensure_topics_leaves_an_existing_topic_its_partitions(tmp_path: Path) -> None:
    """As Kafka does: ensuring a topic that exists with another count changes nothing (no
    partition rows past its count that would read as empty partitions)."""
    store = LogStore.open(str(tmp_path / "bus.db"))
    try:
        store.ensure_topics([TopicSpec("t", partitions=2)])
        store.ensure_topics([TopicSpec("t", partitions=5)])
        assert store.partitions("t") == 2
        with pytest.raises(UnknownTopic):
            store.end_offsets([TopicPartition("t", 4)])
    finally:
        store.close()
