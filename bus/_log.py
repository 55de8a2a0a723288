"""The embedded log: Kafka's model (topics, partitions, offsets, groups) in SQLite.

One `LogStore` wraps one SQLite connection and does synchronous work only; `_embedded.py`
runs it off the event loop. Records are appended only inside a committing SQLite
transaction, so readers never see an uncommitted (or aborted) record: the embedded
equivalent of `read_committed`.

Group membership uses leases: a member renews its row on every poll; a member whose lease
ran out is dropped, and its partitions go to the live members. Partition ownership is a row
per partition, claimed only when free, so two members never own one partition at once; a
commit checks ownership, which fences a member that lost its partitions.

Transactional ids fence as on Kafka: taking an id over (`fence`) bumps its epoch, and a
transaction begun under an older epoch of the id cannot commit (a zombie's).
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from bus._types import (
    Cleanup,
    ConfigChange,
    Headers,
    Message,
    Position,
    Record,
    TopicPartition,
    TopicSpec,
)
from bus._types import partition_for as _partition_for
from bus.errors import CommitFailed, TransactionError, UnknownTopic

SCHEMA = """
CREATE TABLE IF NOT EXISTS topics(
    name TEXT PRIMARY KEY, partitions INTEGER NOT NULL, cleanup TEXT NOT NULL,
    retention_ms INTEGER, delete_retention_ms INTEGER);
CREATE TABLE IF NOT EXISTS partitions(
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY(topic, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records(
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    ts INTEGER NOT NULL, key BLOB, value BLOB NOT NULL, headers BLOB NOT NULL,
    tombstone INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(topic, partition, offset));
CREATE TABLE IF NOT EXISTS group_offsets(
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL,
    offset INTEGER NOT NULL, PRIMARY KEY(grp, topic, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS producers(
    transactional_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members(
    grp TEXT NOT NULL, member TEXT NOT NULL, topics TEXT NOT NULL,
    expires_ms INTEGER NOT NULL, PRIMARY KEY(grp, member)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS owners(
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL,
    member TEXT NOT NULL, PRIMARY KEY(grp, topic, partition)) WITHOUT ROWID;
"""
ADDED_COLUMNS = (
    ("topics", "delete_retention_ms", "INTEGER"),
    ("records", "tombstone", "INTEGER NOT NULL DEFAULT 0"),
)
"""Columns a log written by an earlier version lacks: added when it is opened."""
DELETE_RETENTION_MS = 24 * 60 * 60 * 1000
"""How long a tombstone outlives the records it deleted, unless the topic's
`delete.retention.ms` says otherwise (Kafka's default)."""
_KEPT = {
    "cleanup.policy": "cleanup",
    "retention.ms": "retention_ms",
    "delete.retention.ms": "delete_retention_ms",
}
"""The topic configs the log has a use for, and their columns of `topics`."""

_HEADER = struct.Struct(">HI")


def encode_headers(headers: Headers) -> bytes:
    parts: list[bytes] = []
    for name, value in headers:
        raw = name.encode()
        parts.append(_HEADER.pack(len(raw), len(value)))
        parts.append(raw)
        parts.append(value)
    return b"".join(parts)


def decode_headers(blob: bytes) -> Headers:
    out: list[tuple[str, bytes]] = []
    pos = 0
    while pos < len(blob):
        name_len, value_len = _HEADER.unpack_from(blob, pos)
        pos += _HEADER.size
        name = blob[pos : pos + name_len].decode()
        pos += name_len
        out.append((name, blob[pos : pos + value_len]))
        pos += value_len
    return tuple(out)


@dataclass(frozen=True, slots=True)
class GroupView:
    """What a member learns from one heartbeat."""

    owned: frozenset[TopicPartition]
    target: frozenset[TopicPartition]


class LogStore:
    """Synchronous operations on one SQLite connection (not thread-safe: serialize calls)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._partitions: dict[str, int] = {}
        self._counter = 0

    @classmethod
    def open(cls, target: str, *, uri: bool = False, busy_timeout_ms: int = 10_000) -> LogStore:
        conn = sqlite3.connect(
            target, uri=uri, isolation_level=None, check_same_thread=False, timeout=0
        )
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if not uri:
            conn.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL is durable across process crashes; only an OS crash can lose
            # the last transactions, the same trade Kafka makes with its page cache.
            conn.execute("PRAGMA synchronous=NORMAL")
        with _write(conn):
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            for table, column, definition in ADDED_COLUMNS:
                if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        return cls(conn)

    def close(self) -> None:
        self._conn.close()

    # -- topics ---------------------------------------------------------------------------

    def ensure_topics(self, specs: Sequence[TopicSpec]) -> None:
        with _write(self._conn):
            for spec in specs:
                delete_retention = spec.config.get("delete.retention.ms")
                created = self._conn.execute(
                    "INSERT INTO topics(name, partitions, cleanup, retention_ms,"
                    " delete_retention_ms) VALUES(?,?,?,?,?) ON CONFLICT(name) DO NOTHING",
                    (
                        spec.name,
                        spec.partitions,
                        spec.cleanup.value,
                        spec.retention_ms,
                        None if delete_retention is None else int(delete_retention),
                    ),
                )
                if created.rowcount == 0:
                    continue  # it exists, with the partitions it has
                self._conn.executemany(
                    "INSERT INTO partitions(topic, partition, next_offset) VALUES(?,?,0)"
                    " ON CONFLICT DO NOTHING",
                    [(spec.name, p) for p in range(spec.partitions)],
                )

    def align_topics(self, specs: Sequence[TopicSpec]) -> list[ConfigChange]:
        changes: list[ConfigChange] = []
        with _write(self._conn):
            for spec in specs:
                row = self._conn.execute(
                    "SELECT cleanup, retention_ms, delete_retention_ms FROM topics WHERE name=?",
                    (spec.name,),
                ).fetchone()
                if row is None:
                    continue
                have = {
                    name: None if v is None else str(v) for name, v in zip(_KEPT, row, strict=True)
                }
                for name, value in spec.configs().items():
                    if name not in _KEPT or have[name] == value:
                        continue  # segments and the like: the log has none
                    column = _KEPT[name]
                    self._conn.execute(
                        f"UPDATE topics SET {column}=? WHERE name=?",
                        (value if column == "cleanup" else int(value), spec.name),
                    )
                    changes.append(ConfigChange(spec.name, name, have[name], value))
        return changes

    def partitions(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            row = self._conn.execute(
                "SELECT partitions FROM topics WHERE name=?", (topic,)
            ).fetchone()
            if row is None:
                raise UnknownTopic(f"topic {topic!r} does not exist; create it first")
            count = self._partitions[topic] = int(row[0])
        return count

    def end_offsets(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self._next_offset(tp) for tp in tps}

    def start_offset(self, tp: TopicPartition) -> int:
        row = self._conn.execute(
            "SELECT MIN(offset) FROM records WHERE topic=? AND partition=?",
            (tp.topic, tp.partition),
        ).fetchone()
        return int(row[0]) if row[0] is not None else self._next_offset(tp)

    def offset_for_time(self, tp: TopicPartition, timestamp_ms: int) -> int:
        row = self._conn.execute(
            "SELECT MIN(offset) FROM records WHERE topic=? AND partition=? AND ts>=?",
            (tp.topic, tp.partition, timestamp_ms),
        ).fetchone()
        return int(row[0]) if row[0] is not None else self._next_offset(tp)

    def _next_offset(self, tp: TopicPartition) -> int:
        row = self._conn.execute(
            "SELECT next_offset FROM partitions WHERE topic=? AND partition=?",
            (tp.topic, tp.partition),
        ).fetchone()
        if row is None:
            raise UnknownTopic(f"partition {tp.partition} of topic {tp.topic!r} does not exist")
        return int(row[0])

    def housekeeping(self, now_ms: int) -> None:
        """Apply retention (delete topics) and compaction (keep the newest record per key;
        a tombstone, once older than the topic's delete retention, goes too)."""
        with _write(self._conn):
            for name, cleanup, retention, delete_retention in self._conn.execute(
                "SELECT name, cleanup, retention_ms, delete_retention_ms FROM topics"
            ).fetchall():
                if retention is not None:
                    self._conn.execute(
                        "DELETE FROM records WHERE topic=? AND ts<?", (name, now_ms - retention)
                    )
                if cleanup == Cleanup.COMPACT.value:
                    # One pass numbering each key's records newest first (a sort), not a
                    # search of newer records per record: that was quadratic without an
                    # index by key (minutes for a changelog of 100k open cases), and an
                    # index would cost every write. Nor `(partition, offset) NOT IN (the
                    # newest per key)`: SQLite compared each record with that whole list,
                    # 1.8 s for a changelog of 24,872 records (5,000 cases) against 0.04 s.
                    self._conn.execute(
                        "DELETE FROM records WHERE rowid IN (SELECT rowid FROM (SELECT"
                        " rowid, ROW_NUMBER() OVER (PARTITION BY partition, key"
                        " ORDER BY offset DESC) AS newer FROM records"
                        " WHERE topic=? AND key IS NOT NULL) WHERE newer > 1)",
                        (name,),
                    )
                    if delete_retention is None:
                        delete_retention = DELETE_RETENTION_MS
                    self._conn.execute(
                        "DELETE FROM records WHERE topic=? AND tombstone=1 AND ts<?",
                        (name, now_ms - delete_retention),
                    )

    # -- writes ---------------------------------------------------------------------------

    def append(
        self,
        messages: Sequence[Message],
        now_ms: int,
        offsets: tuple[str, str, Mapping[TopicPartition, int]] | None = None,
        producer: tuple[str, int] | None = None,
    ) -> list[Position]:
        """Append `messages` and, if given, commit `(group, member, offsets)` atomically;
        if `producer` `(transactional_id, epoch)` is given, only while that epoch is the
        id's latest."""
        with _write(self._conn):
            if producer is not None:
                self._check_epoch(*producer)
            positions = [self._append_one(m, now_ms) for m in messages]
            if offsets is not None:
                group, member, committed = offsets
                try:
                    self._commit_offsets(group, member, committed)
                except CommitFailed as exc:
                    raise TransactionError(f"transaction aborted: {exc}") from exc
        return positions

    def _append_one(self, message: Message, now_ms: int) -> Position:
        count = self.partitions(message.topic)
        partition = message.partition
        if partition is None:
            self._counter += 1
            partition = _partition_for(message.key, count, self._counter)
        elif not 0 <= partition < count:
            raise UnknownTopic(f"partition {partition} of topic {message.topic!r} does not exist")
        row = self._conn.execute(
            "UPDATE partitions SET next_offset=next_offset+1 WHERE topic=? AND partition=?"
            " RETURNING next_offset-1",
            (message.topic, partition),
        ).fetchone()
        offset = int(row[0])
        self._conn.execute(
            "INSERT INTO records(topic, partition, offset, ts, key, value, headers, tombstone)"
            " VALUES(?,?,?,?,?,?,?,?)",
            (
                message.topic,
                partition,
                offset,
                message.timestamp_ms if message.timestamp_ms is not None else now_ms,
                message.key,
                b"" if message.value is None else message.value,
                encode_headers(message.headers),
                message.value is None,
            ),
        )
        return Position(message.topic, partition, offset)

    # -- reads ----------------------------------------------------------------------------

    def fetch(self, positions: Mapping[TopicPartition, int], max_records: int) -> list[Record]:
        out: list[Record] = []
        for tp, offset in positions.items():
            if len(out) >= max_records:
                break
            rows = self._conn.execute(
                "SELECT offset, ts, key, value, headers FROM records"
                " WHERE topic=? AND partition=? AND offset>=? ORDER BY offset LIMIT ?",
                (tp.topic, tp.partition, offset, max_records - len(out)),
            ).fetchall()
            out.extend(
                Record(tp.topic, tp.partition, o, ts, k, v, decode_headers(h))
                for o, ts, k, v, h in rows
            )
        return out

    def past_gaps(self, positions: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Where positions with no record at or after them move to: the partition's end, as
        a Kafka consumer's position moves past offsets no record has (a record removed from
        the file must not leave a reader waiting for it forever). One query for the ends
        (first: a record below an end is already visible), one per partition behind."""
        ends = {
            TopicPartition(topic, partition): int(end)
            for topic, partition, end in self._conn.execute(
                "SELECT topic, partition, next_offset FROM partitions"
            )
        }
        moved: dict[TopicPartition, int] = {}
        for tp, offset in positions.items():
            end = ends.get(tp, offset)
            if offset >= end:
                continue
            row = self._conn.execute(
                "SELECT 1 FROM records WHERE topic=? AND partition=? AND offset>=? AND offset<?"
                " LIMIT 1",
                (tp.topic, tp.partition, offset, end),
            ).fetchone()
            if row is None:
                moved[tp] = end
        return moved

    # -- groups ---------------------------------------------------------------------------

    def heartbeat(
        self, group: str, member: str, topics: Sequence[str], now_ms: int, session_ms: int
    ) -> GroupView:
        """Renew `member`'s lease, drop expired members, and say what it owns and should own."""
        with _write(self._conn):
            self._conn.execute(
                "INSERT INTO members(grp, member, topics, expires_ms) VALUES(?,?,?,?)"
                " ON CONFLICT(grp, member) DO UPDATE SET expires_ms=excluded.expires_ms",
                (group, member, ",".join(topics), now_ms + session_ms),
            )
            self._conn.execute("DELETE FROM members WHERE grp=? AND expires_ms<?", (group, now_ms))
            self._conn.execute(
                "DELETE FROM owners WHERE grp=? AND member NOT IN"
                " (SELECT member FROM members WHERE grp=?)",
                (group, group),
            )
            live = self._conn.execute(
                "SELECT member, topics FROM members WHERE grp=? ORDER BY member", (group,)
            ).fetchall()
            owned = self._owned(group, member)
        target: set[TopicPartition] = set()
        for topic in topics:
            subscribers = [m for m, t in live if topic in t.split(",")]
            index = subscribers.index(member)
            # Partition p of every topic goes to the same member (co-partitioning).
            target.update(
                TopicPartition(topic, p)
                for p in range(self.partitions(topic))
                if p % len(subscribers) == index
            )
        return GroupView(owned=owned, target=frozenset(target))

    def rebalance(
        self,
        group: str,
        member: str,
        release: Iterable[TopicPartition],
        claim: Iterable[TopicPartition],
    ) -> frozenset[TopicPartition]:
        """Give up `release`, take those of `claim` that nobody owns; return what is owned."""
        with _write(self._conn):
            self._conn.executemany(
                "DELETE FROM owners WHERE grp=? AND topic=? AND partition=? AND member=?",
                [(group, tp.topic, tp.partition, member) for tp in release],
            )
            self._conn.executemany(
                "INSERT INTO owners(grp, topic, partition, member) VALUES(?,?,?,?)"
                " ON CONFLICT DO NOTHING",
                [(group, tp.topic, tp.partition, member) for tp in claim],
            )
            return self._owned(group, member)

    def leave(self, group: str, member: str) -> None:
        with _write(self._conn):
            self._conn.execute("DELETE FROM owners WHERE grp=? AND member=?", (group, member))
            self._conn.execute("DELETE FROM members WHERE grp=? AND member=?", (group, member))

    def _owned(self, group: str, member: str) -> frozenset[TopicPartition]:
        rows = self._conn.execute(
            "SELECT topic, partition FROM owners WHERE grp=? AND member=?", (group, member)
        ).fetchall()
        return frozenset(TopicPartition(t, p) for t, p in rows)

    def fence(self, transactional_id: str) -> int:
        """Take `transactional_id` over: its next epoch, which fences every older one."""
        with _write(self._conn):
            (epoch,) = self._conn.execute(
                "INSERT INTO producers(transactional_id, epoch) VALUES(?, 0)"
                " ON CONFLICT(transactional_id) DO UPDATE SET epoch=epoch+1 RETURNING epoch",
                (transactional_id,),
            ).fetchone()
        return int(epoch)

    def _check_epoch(self, transactional_id: str, epoch: int) -> None:
        row = self._conn.execute(
            "SELECT epoch FROM producers WHERE transactional_id=?", (transactional_id,)
        ).fetchone()
        if row is None or int(row[0]) != epoch:
            raise TransactionError(
                f"transaction aborted: transactional id {transactional_id!r} was taken over"
                f" by a newer producer (epoch {row and row[0]}, this one {epoch}): fenced"
            )

    def committed(self, group: str, tp: TopicPartition) -> int | None:
        row = self._conn.execute(
            "SELECT offset FROM group_offsets WHERE grp=? AND topic=? AND partition=?",
            (group, tp.topic, tp.partition),
        ).fetchone()
        return None if row is None else int(row[0])

    def commit(self, group: str, member: str, offsets: Mapping[TopicPartition, int]) -> None:
        with _write(self._conn):
            self._commit_offsets(group, member, offsets)

    def _commit_offsets(
        self, group: str, member: str, offsets: Mapping[TopicPartition, int]
    ) -> None:
        owned = self._owned(group, member)
        lost = [tp for tp in offsets if tp not in owned]
        if lost:
            raise CommitFailed(
                f"group {group!r}: partitions {sorted(lost)} are no longer assigned to this"
                " member (rebalanced); their records will be redelivered to the new owner"
            )
        self._conn.executemany(
            "INSERT INTO group_offsets(grp, topic, partition, offset) VALUES(?,?,?,?)"
            " ON CONFLICT(grp, topic, partition) DO UPDATE SET offset=excluded.offset",
            [(group, tp.topic, tp.partition, off) for tp, off in offsets.items()],
        )


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[None]:
    """One SQLite write transaction: `BEGIN IMMEDIATE`, then `COMMIT`, or `ROLLBACK` on error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
