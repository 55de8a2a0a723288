"""A consumer's offsets in a Kafka transaction, fenced by its group generation (KIP-447).

aiokafka 0.14 commits a transaction's offsets with TxnOffsetCommit v0, which names the
group but not the member: a member the group has moved past (a zombie, paused beyond its
session and then woken) still commits offsets of partitions that belong to another member
now, and its transaction's records become visible beside the new owner's. Version 3 carries
the member id and the generation it was assigned in; the group coordinator refuses it from a
member of an older generation, and the transaction can only abort. This is what Kafka's
Java producer does with `sendOffsetsToTransaction(offsets, consumer.groupMetadata())`.

`add_group` adds the group to the producer's open transaction (AddOffsetsToTxn) and tells
aiokafka's transaction manager that a group joined it, so that even a transaction of
offsets alone ends with EndTxn; `commit_offsets` sends TxnOffsetCommit v3 itself. It
reads aiokafka's producer id and epoch and the consumer's generation from their private
attributes (aiokafka has no public accessor for either; `pyproject.toml` bounds its version);
the bus contract tests run it against a real broker.

Not covered, KIP-447's other half: a consumer starting on a partition asks for its committed
offset without `require_stable`, so while an old owner's transaction with offsets is still
open it gets the offset before it, and may handle those records again if that transaction
then commits. The coordinator does not read its positions from there (they are in its
changelog, read with read_committed).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.client import ConnectionGroup, CoordinationType
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.transaction import AddOffsetsToTxnRequest
from aiokafka.protocol.types import (
    CompactArray,
    CompactString,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)

from bus._types import TopicPartition
from bus.errors import BusUnavailable, TransactionError

RETRY_S = 0.1
CONCURRENT_RETRY_S = 0.002
PATIENCE_S = 10.0
"""Retriable answers (a coordinator loading or moving) are tried again RETRY_S apart; a
transaction still ending (CONCURRENT_TRANSACTIONS: the coordinator writing the last
commit's markers, a millisecond or two) CONCURRENT_RETRY_S apart, as the bus's
transactional producers do; after PATIENCE_S the transaction fails."""

_NONE = 0
_CONCURRENT = 51  # CONCURRENT_TRANSACTIONS
_RETRY = frozenset({14, _CONCURRENT})  # and COORDINATOR_LOAD_IN_PROGRESS
_MOVED = frozenset({15, 16})  # COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
_FENCED_PRODUCER = frozenset({47, 90})  # INVALID_PRODUCER_EPOCH, PRODUCER_FENCED
_FENCED_MEMBER = {
    22: "its generation is not the group's (rebalanced away)",
    25: "the group does not know the member any more",
    27: "the group is rebalancing",
    82: "another instance took over the member's static id",
}


class _TxnOffsetCommitResponseV3(Response):  # type: ignore[misc]
    API_KEY = 28
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition_index", Int32), ("error_code", Int16), ("tags", TaggedFields)
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _TxnOffsetCommitRequestV3(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 28
    API_VERSION = 3
    RESPONSE_TYPE = _TxnOffsetCommitResponseV3
    SCHEMA = Schema(
        ("transactional_id", CompactString("utf-8")),
        ("group_id", CompactString("utf-8")),
        ("producer_id", Int64),
        ("producer_epoch", Int16),
        ("generation_id", Int32),
        ("member_id", CompactString("utf-8")),
        ("group_instance_id", CompactString("utf-8")),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition_index", Int32),
                        ("committed_offset", Int64),
                        ("committed_leader_epoch", Int32),
                        ("committed_metadata", CompactString("utf-8")),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _TxnOffsetCommit(Request[_TxnOffsetCommitRequestV3]):  # type: ignore[misc]
    API_KEY = 28

    def __init__(self, *values: Any) -> None:
        self._values = values

    def build(self, request_struct_class: type[_TxnOffsetCommitRequestV3]) -> Any:
        return request_struct_class(*self._values)


Coordinators = dict[tuple[int, str], int]
"""The node of each (coordination type, key) found: a lookup is a request of its own."""


def _manager(producer: AIOKafkaProducer) -> Any:
    manager = producer._txn_manager  # producer id and epoch: aiokafka has no public API
    if manager is None or manager.transactional_id is None:
        raise TransactionError("offsets in a transaction need a transactional producer")
    return manager


async def add_group(producer: AIOKafkaProducer, group: str, coordinators: Coordinators) -> None:
    """Add `group`'s offsets to `producer`'s open transaction (AddOffsetsToTxn), so that
    the transaction's end decides them too. It may be sent any time before
    `commit_offsets`, while the transaction's records are still on their way."""
    manager = _manager(producer)
    tid = manager.transactional_id
    await _request(
        producer.client,
        coordinators,
        CoordinationType.TRANSACTION,
        tid,
        lambda: AddOffsetsToTxnRequest(tid, manager.producer_id, manager.producer_epoch, group),
        lambda resp: [resp.error_code],
        "adding the group to the transaction",
    )
    manager.consumer_group_added(group)


async def commit_offsets(
    producer: AIOKafkaProducer,
    consumer: AIOKafkaConsumer,
    group: str,
    offsets: Mapping[TopicPartition, int],
    coordinators: Coordinators,
    *,
    generation: tuple[int, str] | None = None,
) -> None:
    """Commit `offsets` of `consumer`'s group in `producer`'s open transaction with
    TxnOffsetCommit v3, fenced by the member's generation; the group must have been
    added to the transaction (`add_group`).

    `generation` is the (generation id, member id) to send; by default the consumer's
    current one (a test passes an older one to play a zombie). `coordinators` caches the
    coordinators found, across calls.

    Raises:
        TransactionError: The group refused the member (rebalanced away: the records come
            again to the partitions' owner), the producer was fenced, or the broker
            answered otherwise; the transaction can only abort.
        BusUnavailable: A coordinator stayed unavailable.
    """
    manager = _manager(producer)
    coordinator = consumer._coordinator  # the group generation: no public API either
    generation_id, member_id = generation or (coordinator.generation, coordinator.member_id)
    tid = manager.transactional_id
    by_topic: dict[str, list[tuple[int, int, int, str, dict[int, bytes]]]] = defaultdict(list)
    for tp, offset in sorted(offsets.items()):
        by_topic[tp.topic].append((tp.partition, offset, -1, "", {}))
    topics: list[tuple[str, list[Any], dict[int, bytes]]] = [
        (topic, partitions, {}) for topic, partitions in by_topic.items()
    ]
    await _request(
        producer.client,
        coordinators,
        CoordinationType.GROUP,
        group,
        lambda: _TxnOffsetCommit(
            tid,
            group,
            manager.producer_id,
            manager.producer_epoch,
            generation_id,
            member_id,
            None,
            topics,
            {},
        ),
        lambda resp: [p[1] for topic in resp.topics for p in topic[1]],
        f"committing the offsets of group {group!r} in the transaction",
    )


async def _request(
    client: Any,
    coordinators: Coordinators,
    kind: int,
    key: str,
    request: Any,
    errors: Any,
    what: str,
) -> None:
    """Send `request()` to the coordinator of `key` until it is answered without a
    retriable error; raise what the first other error means."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE_S
    while loop.time() < deadline:
        try:
            node = coordinators.get((kind, key))
            if node is None:
                node = coordinators[(kind, key)] = await client.coordinator_lookup(kind, key)
            response = await client.send(node, request(), group=ConnectionGroup.COORDINATION)
        except Exception as exc:  # aiokafka's connection and lookup errors
            coordinators.pop((kind, key), None)
            if not getattr(exc, "retriable", False):
                raise BusUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
            await asyncio.sleep(RETRY_S)
            continue
        codes = set(errors(response)) - {_NONE}
        if not codes:
            return
        fenced = codes & _FENCED_MEMBER.keys()
        if fenced:
            raise TransactionError(f"transaction aborted: {what}: {_FENCED_MEMBER[min(fenced)]}")
        if codes & _FENCED_PRODUCER:
            raise TransactionError(f"{what}: the producer was fenced by a newer one")
        if codes <= _RETRY | _MOVED:
            if codes & _MOVED:
                coordinators.pop((kind, key), None)
            await asyncio.sleep(CONCURRENT_RETRY_S if codes == {_CONCURRENT} else RETRY_S)
            continue
        raise TransactionError(f"{what}: the broker answered error code(s) {sorted(codes)}")
    raise BusUnavailable(f"{what}: still refused after {PATIENCE_S:g} s")
