"""The Kafka bus (`kafka://host:port[,host:port]`), on aiokafka.

Producers are idempotent with `acks=all`; consumers read committed records only and never
auto-commit; transactions use a second, transactional producer with an id per bus instance.
aiokafka errors are translated here and never reach callers.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka import TopicPartition as KafkaTP
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.conn import collect_hosts, create_conn
from aiokafka.errors import (
    CommitFailedError,
    IllegalOperation,
    IllegalSaslStateError,
    IllegalStateError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    ProducerFenced,
    RebalanceInProgressError,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
    UnknownMemberIdError,
    UnknownTopicOrPartitionError,
    UnsupportedSaslMechanismError,
    for_code,
)
from aiokafka.helpers import create_ssl_context
from aiokafka.producer import sender as aiokafka_sender

from bus import _txn_offsets as txn_offsets
from bus._base import DEFAULT_MAX_MESSAGE_BYTES, ConsumerBase, Outbound, Outbox
from bus._protocol import Consumer, Middleware, RebalanceListener
from bus._types import (
    ConfigChange,
    Headers,
    KafkaSecurity,
    Message,
    Position,
    Record,
    StartFrom,
    TopicPartition,
    TopicSpec,
    check_topic,
    partition_for,
)
from bus.errors import (
    BusClosed,
    BusError,
    BusUnavailable,
    CommitFailed,
    ConfigError,
    RecordTooLarge,
    TransactionError,
    UnknownTopic,
)

T = TypeVar("T")

_TOPIC_CONFIG = 1
"""DescribeConfigs' source of a config set on the topic itself (DYNAMIC_TOPIC_CONFIG)."""
_TX_RETRY_BACKOFF_MS = 5

# A transaction begun right after the last commit meets the broker still writing that
# commit's markers: AddPartitionsToTxn is answered ConcurrentTransactions (KAFKA-5477) and
# aiokafka asks again after a fixed 20 ms, so back-to-back transactions of one id cost
# 20+ ms each where the markers take 1-3 ms (measured: 24 ms -> 4.7 ms per transaction).
# aiokafka has no setting for it; its module constant is read at each retry.
_TX_BACKOFF_S = 0.002
if hasattr(aiokafka_sender, "BACKOFF_OVERRIDE"):
    aiokafka_sender.BACKOFF_OVERRIDE = _TX_BACKOFF_S


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn aiokafka errors raised inside the block into caseyard errors that say `what`."""
    try:
        yield
    except ProducerFenced as exc:
        raise TransactionError(f"{what}: fenced by a newer producer ({exc})") from exc
    except (CommitFailedError, RebalanceInProgressError, UnknownMemberIdError) as exc:
        raise CommitFailed(f"{what}: partitions were rebalanced ({exc})") from exc
    except MessageSizeTooLargeError as exc:
        raise RecordTooLarge(f"{what}: {exc}") from exc
    except (KafkaConnectionError, KafkaTimeoutError) as exc:
        raise BusUnavailable(f"{what}: Kafka unreachable ({exc})") from exc
    except (KafkaError, IllegalStateError, IllegalOperation) as exc:
        # aiokafka marks transient broker errors (leader moved, coordinator loading...).
        kind = BusUnavailable if getattr(exc, "retriable", False) else BusError
        raise kind(f"{what}: {type(exc).__name__}: {exc}") from exc


class KafkaBus:
    """A bus on a Kafka cluster. Create it with `bus.connect(url)` and enter it."""

    def __init__(
        self,
        url: str,
        bootstrap: str,
        *,
        middleware: Sequence[Middleware] = (),
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        session_timeout_ms: int = 30_000,
        connect_timeout: float = 15.0,
        client_id: str = "caseyard",
        transactional_id: str | None = None,
        linger_ms: int = 0,
        security: KafkaSecurity | None = None,
    ) -> None:
        self._url = url
        self.bootstrap = bootstrap
        self.connection: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            **_security_options(security or KafkaSecurity()),
        }
        """Where and how every client of the bus connects (aiokafka's arguments)."""
        self._out = Outbound(middleware, max_message_bytes)
        self.session_timeout_ms = session_timeout_ms
        self._connect_timeout = connect_timeout
        self.client_id = client_id
        self._transactional_id = transactional_id or f"{client_id}-{uuid.uuid4().hex}"
        self._linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._tx_producers: dict[str, AIOKafkaProducer] = {}
        self._tx_locks: dict[str, asyncio.Lock] = {}
        self._probe: AIOKafkaConsumer | None = None
        self.coordinators: txn_offsets.Coordinators = {}
        """Transaction and group coordinators found (for `send_offsets`)."""
        self.groups: dict[str, str] = {}
        """The group whose offsets each transactional id's last transaction committed: the
        next transaction of the id adds it when it begins (`KafkaTransaction`)."""
        self._partitions: dict[str, int] = {}
        self._started = False

    @property
    def url(self) -> str:
        return self._url

    def producer_options(self) -> dict[str, Any]:
        """The producer settings caseyard uses (the benchmark gives raw aiokafka the same)."""
        return {
            **self.connection,
            "client_id": self.client_id,
            "enable_idempotence": True,
            "acks": "all",
            "linger_ms": self._linger_ms,
            # aiokafka's default batch (16 KiB a partition) holds 15 records of 1 KiB, and
            # `send` waits for the batch ahead to be acknowledged: a round trip every 15
            # records. As large as the largest record (1 MiB by default, librdkafka's
            # batch size), which the topics take already; built as records come, not
            # allocated ahead.
            "max_batch_size": self._out.max_message_bytes,
            # Kafka counts batch overhead against max.request.size; leave room for it.
            "max_request_size": self._out.max_message_bytes + 64 * 1024,
            "partitioner": _partitioner,
        }

    async def start_client(
        self, factory: Callable[[], T], start: Callable[[T], Awaitable[None]]
    ) -> T:
        """Create and start an aiokafka client, retrying until `connect_timeout` runs out."""
        deadline = time.monotonic() + self._connect_timeout
        delay = 0.1
        while True:
            client = factory()
            try:
                with _quiet_bootstrap(self.bootstrap):
                    await start(client)
                return client
            except (KafkaConnectionError, KafkaTimeoutError, OSError) as exc:
                stop = getattr(client, "stop", None) or getattr(client, "close", None)
                if stop is not None:
                    await stop()
                # aiokafka logs why it could not bootstrap and raises "Unable to
                # bootstrap": one connection of our own says why.
                cause = await self._why_unreachable()
                if isinstance(cause, _REFUSALS):
                    how = self.connection["security_protocol"]
                    if "sasl_mechanism" in self.connection:
                        how += f" {self.connection['sasl_mechanism']}"
                    raise ConfigError(
                        f"Kafka at {self.bootstrap} refused this client ({how}):"
                        f" {_described(cause)} (check the security settings: protocol,"
                        " SASL mechanism and credentials, CA file)"
                    ) from cause
                if time.monotonic() + delay > deadline:
                    why = _described(cause) if cause is not None else str(exc)
                    raise BusUnavailable(
                        f"cannot reach Kafka at {self.bootstrap} within "
                        f"{self._connect_timeout:g}s: {why}"
                    ) from exc
                await anyio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _why_unreachable(self) -> BaseException | None:
        """What connecting to the bootstrap servers fails with: the first refusal, else the
        last server's error (None: one connects)."""
        options = {k: v for k, v in self.connection.items() if k != "bootstrap_servers"}
        cause: BaseException | None = None
        for host, port, _ in collect_hosts(self.bootstrap, randomize=False):
            try:
                with anyio.fail_after(self._connect_timeout):
                    conn = await create_conn(host, port, **options)
            except (OSError, KafkaError, TimeoutError) as exc:
                if isinstance(exc, _REFUSALS):
                    return exc
                cause = exc
                continue
            conn.close()
            return None
        return cause

    async def __aenter__(self) -> Self:
        if self._out.closed:
            raise BusClosed("the bus is closed")
        if not self._started:
            options = self.producer_options()
            self._producer = await self.start_client(
                lambda: AIOKafkaProducer(**options), AIOKafkaProducer.start
            )
            self._started = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._out.closed:
            return
        self._out.closed = True
        # Shielded: a cancelled close would leave connections open.
        with anyio.CancelScope(shield=True):
            for producer in (self._producer, *self._tx_producers.values()):
                if producer is not None:
                    await _stopped(producer)
            if self._probe is not None:
                await self._probe.stop()

    def _running_producer(self) -> AIOKafkaProducer:
        if self._out.closed:
            raise BusClosed("the bus is closed")
        if self._producer is None:
            raise BusClosed("the Kafka bus was not started: use `async with connect(url)`")
        return self._producer

    @property
    def outbound(self) -> Outbound:
        return self._out

    def consumers(self) -> list[Consumer]:
        return list(self._out.group_members())

    async def partitions(self, topic: str) -> int:
        check_topic(topic)
        count = self._partitions.get(topic)
        if count is None:
            producer = self._running_producer()
            with _translated("reading cluster metadata"):
                metadata = await producer.client.fetch_all_metadata()
            parts = metadata.partitions_for_topic(topic)
            if not parts:
                raise UnknownTopic(f"topic {topic!r} does not exist; create it first")
            count = self._partitions[topic] = len(parts)
        return count

    async def publish(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Headers = (),
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> Position:
        (position,) = await self.publish_batch(
            [Message(topic, value, key, headers, partition, timestamp_ms)]
        )
        return position

    async def publish_batch(self, messages: Sequence[Message]) -> list[Position]:
        return await self._send_prepared(self._out.prepare_all(messages))

    def outbox(self) -> Outbox:
        return Outbox(self._out, self._send_prepared)

    async def _send_prepared(self, prepared: Sequence[Message]) -> list[Position]:
        positions: list[Position | None] = [None] * len(prepared)
        try:
            producer = self._running_producer()
            counts = {t: await self.partitions(t) for t in {m.topic for m in prepared}}
            with _translated(f"publishing to {sorted(counts)}"):
                # Hand everything to the producer before waiting, so it goes in few requests.
                sent = await _enqueue(producer, prepared, counts)
                try:
                    for future, members in sent:
                        md = await future
                        for n, i in enumerate(members):
                            positions[i] = Position(md.topic, md.partition, md.offset + n)
                        if self._out.middleware:
                            self._out.delivered([prepared[i] for i in members])
                except BaseException:
                    _read_when_done(future for future, _ in sent)
                    raise
        except BaseException as exc:
            self._out.delivered(
                [m for m, p in zip(prepared, positions, strict=True) if p is None], exc
            )
            raise
        return [p for p in positions if p is not None]

    def consumer(
        self,
        group: str,
        topics: Sequence[str],
        *,
        start: StartFrom = StartFrom.EARLIEST,
        listener: RebalanceListener | None = None,
    ) -> KafkaConsumer:
        return KafkaConsumer(self, group, topics, start, listener)

    def reader(
        self, partitions: Sequence[TopicPartition], *, start: StartFrom = StartFrom.EARLIEST
    ) -> KafkaReader:
        return KafkaReader(self, partitions, start)

    def begin(self, *, transactional_id: str | None = None) -> KafkaTransaction:
        return KafkaTransaction(self, transactional_id or self._transactional_id)

    def tx_lock(self, transactional_id: str) -> asyncio.Lock:
        """Kafka allows one open transaction per producer: serialize them per id."""
        return self._tx_locks.setdefault(transactional_id, asyncio.Lock())

    async def fence(self, transactional_id: str) -> None:
        async with self.tx_lock(transactional_id):
            await self.discard_producer(transactional_id)
            # Starting the producer sends InitProducerId, which bumps the epoch (fencing
            # older producers) and completes or aborts their open transaction first. It
            # is not kept: the id may be another process's (a coordinator fences the
            # member that wrote a partition last); a `begin` with it starts a new one.
            await self.transactional_producer(transactional_id)
            await self.discard_producer(transactional_id)

    async def discard_producer(self, transactional_id: str) -> None:
        producer = self._tx_producers.pop(transactional_id, None)
        if producer is not None:
            await _stopped(producer)

    async def transactional_producer(self, transactional_id: str) -> AIOKafkaProducer:
        """The producer of `transactional_id`; starting it fences older ones with that id."""
        producer = self._tx_producers.get(transactional_id)
        if producer is None:
            options = self.producer_options() | {
                "transactional_id": transactional_id,
                # Retriable answers are common between back-to-back transactions (see
                # _TX_BACKOFF_S; a produce not yet verified in the transaction is told
                # NOT_ENOUGH_REPLICAS, KIP-890): ask again soon, not after 100 ms.
                "retry_backoff_ms": _TX_RETRY_BACKOFF_MS,
            }
            producer = self._tx_producers[transactional_id] = await self.start_client(
                lambda: AIOKafkaProducer(**options), AIOKafkaProducer.start
            )
        return producer

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> None:
        for spec in specs:
            check_topic(spec.name)
        async with self._admin() as admin:
            with _translated("reading cluster metadata"):
                metadata = await admin._client.fetch_all_metadata()
            brokers = len(metadata.brokers())
            new = [
                NewTopic(
                    spec.name,
                    spec.partitions,
                    spec.replication or min(3, brokers),
                    topic_configs=spec.configs(),
                )
                for spec in specs
                if not metadata.partitions_for_topic(spec.name)
            ]
            if new:
                with _translated("creating topics"):
                    response = await admin.create_topics(new)
                for name, code, *message in response.topic_errors:
                    if code not in (0, TopicAlreadyExistsError.errno):
                        raise BusError(f"cannot create topic {name!r}: error {code} {message}")
        await self._await_leaders([s.name for s in specs])

    async def align_topics(self, specs: Sequence[TopicSpec]) -> list[ConfigChange]:
        for spec in specs:
            check_topic(spec.name)
        async with self._admin() as admin:
            with _translated("reading cluster metadata"):
                metadata = await admin._client.fetch_all_metadata()
            existing = [s for s in specs if metadata.partitions_for_topic(s.name)]
            if not existing:
                return []
            with _translated("reading topic configs"):
                responses = await admin.describe_configs(
                    [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in existing]
                )
            current: dict[str, dict[str, tuple[str | None, int]]] = {}
            for response in responses:
                for code, message, _, topic, entries, *_ in response.resources:
                    if code == UnknownTopicOrPartitionError.errno:
                        # Created a moment ago (with the spec's configs), and this broker
                        # does not know it yet.
                        continue
                    if code:
                        raise BusError(
                            f"cannot read the configs of {topic!r}:"
                            f" {for_code(code).__name__}: {message or ''}"
                        )
                    # (name, value, read-only, source, ...): DescribeConfigs v1 and later.
                    current[topic] = {entry[0]: (entry[1], entry[3]) for entry in entries}
            changes: list[ConfigChange] = []
            alter: list[ConfigResource] = []
            for spec in existing:
                if spec.name not in current:
                    continue
                have = current[spec.name]
                values = {n: v for n, (v, _) in have.items()}
                diff = [
                    ConfigChange(spec.name, name, values.get(name), value)
                    for name, value in spec.configs().items()
                    if values.get(name) != value
                ]
                if diff:
                    # AlterConfigs replaces the topic's whole set: the ones set on the
                    # topic go along, so that only those of the spec change.
                    own = {n: v for n, (v, source) in have.items() if source == _TOPIC_CONFIG}
                    configs = own | spec.configs()
                    alter.append(ConfigResource(ConfigResourceType.TOPIC, spec.name, configs))
                    changes += diff
            if alter:
                with _translated("altering topic configs"):
                    responses = await admin.alter_configs(alter)
                for response in responses:
                    for code, message, _, topic in response.resources:
                        if code:
                            raise BusError(
                                f"cannot alter the configs of {topic!r}:"
                                f" {for_code(code).__name__}: {message or ''}"
                            )
        return changes

    @asynccontextmanager
    async def _admin(self) -> AsyncIterator[AIOKafkaAdminClient]:
        self._running_producer()
        admin = await self.start_client(
            lambda: AIOKafkaAdminClient(**self.connection, client_id=self.client_id),
            lambda a: a.start(),
        )
        try:
            yield admin
        finally:
            await admin.close()

    async def _await_leaders(self, topics: Sequence[str]) -> None:
        """Wait until every partition of `topics` has a leader, so producing can start."""
        producer = self._running_producer()
        with anyio.fail_after(self._connect_timeout):
            while True:
                with _translated("reading cluster metadata"):
                    metadata = await producer.client.fetch_all_metadata()
                ready = all(
                    metadata.partitions_for_topic(t)
                    and all(
                        metadata.leader_for_partition(KafkaTP(t, p)) not in (None, -1)
                        for p in metadata.partitions_for_topic(t)
                    )
                    for t in topics
                )
                if ready:
                    # Remembered: another broker's metadata may not show a new topic yet.
                    for t in topics:
                        self._partitions[t] = len(metadata.partitions_for_topic(t))
                    return
                await anyio.sleep(0.05)

    async def end_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        self._running_producer()
        # One group-less consumer for the bus's lifetime: a client per call costs ~100 ms.
        if self._probe is None:
            probe = await self.start_client(self._new_probe, AIOKafkaConsumer.start)
            # Two first calls at once (a coordinator's restore and a reader) each start
            # one: the second is stopped, not dropped unclosed.
            if self._probe is None:
                self._probe = probe
            else:
                await probe.stop()
        probe = self._probe
        with _translated("reading end offsets"):
            ends = await probe.end_offsets([KafkaTP(t.topic, t.partition) for t in tps])
        return {TopicPartition(tp.topic, tp.partition): int(off) for tp, off in ends.items()}

    def _new_probe(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **self.connection,
            client_id=self.client_id,
            isolation_level="read_committed",
        )


def _partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's default partitioner (murmur2, as the Java client), its keys remembered."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[partition_for(key, len(all_partitions), 0)]


_REFUSALS = (
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
    IllegalSaslStateError,
    ssl.SSLCertVerificationError,
)
"""Why a broker turns a client away however often it asks: wrong credentials, a mechanism
the listener does not enable, a certificate that does not verify. (Other TLS errors, a
connection reset or closed, may pass: a broker restarting.)"""


class _BootstrapNoise(logging.Filter):
    def __init__(self, bootstrap: str) -> None:
        super().__init__()
        self._lines = tuple(
            f'Unable connect to "{host}:{port}"'
            for host, port, _ in collect_hosts(bootstrap, randomize=False)
        )

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self._lines)


@contextmanager
def _quiet_bootstrap(bootstrap: str) -> Iterator[None]:
    """aiokafka logs an error for each bootstrap server it cannot connect to, then
    raises; `start_client` says why in its own error (or connects on a retry), so the
    log would say it twice. Other clients' lines, and other servers', stay."""
    logger = logging.getLogger("aiokafka")  # aiokafka.client logs under this name
    noise = _BootstrapNoise(bootstrap)
    logger.addFilter(noise)
    try:
        yield
    finally:
        logger.removeFilter(noise)


def _described(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, KafkaError):
        # A broker's error code comes as the connection, its meaning as `description`.
        said = exc.args[0] if exc.args else None
        text = said if isinstance(said, str) else str(getattr(exc, "description", ""))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_PROTOCOLS = frozenset(("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"))
_MECHANISMS = frozenset(("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"))


def _security_options(security: KafkaSecurity) -> dict[str, Any]:
    """aiokafka's arguments for `security`.

    Raises:
        ConfigError: If a setting is unknown, missing or unreadable (a file, a key).
    """
    protocol = security.protocol.upper()
    if protocol not in _PROTOCOLS:
        raise ConfigError(
            f"Kafka security protocol {security.protocol!r}: use one of {sorted(_PROTOCOLS)}"
        )
    options: dict[str, Any] = {"security_protocol": protocol}
    sasl = (security.sasl_mechanism, security.sasl_username, security.sasl_password)
    if not protocol.startswith("SASL_") and any(v is not None for v in sasl):
        raise ConfigError(
            f"Kafka SASL settings are given but the security protocol is {protocol}:"
            " SASL_SSL or SASL_PLAINTEXT uses them"
        )
    tls = (security.ssl_cafile, security.ssl_certfile, security.ssl_keyfile)
    if not protocol.endswith("SSL") and any(v is not None for v in tls):
        raise ConfigError(
            f"Kafka TLS files are given but the security protocol is {protocol}:"
            " SSL or SASL_SSL uses them"
        )
    if protocol.startswith("SASL_"):
        mechanism = (security.sasl_mechanism or "").upper()
        if mechanism not in _MECHANISMS:
            raise ConfigError(
                f"Kafka SASL mechanism {security.sasl_mechanism!r}: use one of"
                f" {sorted(_MECHANISMS)}"
            )
        if not security.sasl_username or security.sasl_password is None:
            raise ConfigError(f"Kafka SASL ({mechanism}) needs a username and a password")
        options |= {
            "sasl_mechanism": mechanism,
            "sasl_plain_username": security.sasl_username,
            "sasl_plain_password": security.sasl_password,
        }
    if protocol.endswith("SSL"):
        try:
            options["ssl_context"] = create_ssl_context(
                cafile=security.ssl_cafile,
                certfile=security.ssl_certfile,
                keyfile=security.ssl_keyfile,
                password=security.ssl_key_password,
            )
        except (OSError, ssl.SSLError) as exc:
            files = [f for f in tls if f]
            raise ConfigError(f"Kafka TLS files {files}: {exc}") from exc
    return options


def _read_when_done(deliveries: Iterable[asyncio.Future[Any]]) -> None:
    """The caller was told an error: read each delivery's outcome when it comes. A fenced
    producer fails every batch in flight, and asyncio logs each failure nobody read as an
    exception never retrieved."""
    for future in deliveries:
        future.add_done_callback(_read_outcome)


def _read_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _enqueue(
    producer: AIOKafkaProducer, prepared: Sequence[Message], partitions: Mapping[str, int]
) -> list[tuple[asyncio.Future[Any], list[int]]]:
    """Hand `prepared` to `producer` as record batches, one per topic-partition (more if
    one is full), keeping their order; returns each batch's delivery with the indexes in
    `prepared` of its records.

    aiokafka's `send` costs a future, a metadata lookup and a partitioner call per record
    (profiled: ~20 us each, a tenth of the coordinator's CPU); a batch builder appends a
    record in C. `partitions` has each topic's partition count; keys are partitioned as
    the producer's partitioner does (murmur2, as the Java client).
    """
    by_tp: dict[tuple[str, int], list[int]] = {}
    for i, m in enumerate(prepared):
        p = m.partition
        if p is None:
            count = partitions[m.topic]
            p = random.randrange(count) if m.key is None else partition_for(m.key, count, 0)
        by_tp.setdefault((m.topic, p), []).append(i)
    # Every batch is built first; then they go in rounds, the k-th batch of each
    # topic-partition together: a batch waits until the one before it of its partition
    # is taken by the sender, so one round costs one produce request, whatever the number
    # of partitions (a partition after another would cost one request per batch).
    built: list[tuple[str, int, list[tuple[Any, list[int]]]]] = []
    for (topic, p), indexes in by_tp.items():
        batches: list[tuple[Any, list[int]]] = []
        batch = producer.create_batch()
        members: list[int] = []
        for i in indexes:
            m = prepared[i]
            record = {"key": m.key, "value": m.value, "timestamp": m.timestamp_ms}
            if batch.append(**record, headers=list(m.headers)) is None:
                # Full: the first record of a new batch always fits.
                batches.append((batch, members))
                batch, members = producer.create_batch(), []
                batch.append(**record, headers=list(m.headers))
            members.append(i)
        batches.append((batch, members))
        built.append((topic, p, batches))
    sent: list[tuple[asyncio.Future[Any], list[int]]] = []
    try:
        for k in range(max(len(batches) for _, _, batches in built)):
            for topic, p, batches in built:
                if k < len(batches):
                    batch, members = batches[k]
                    sent.append((await producer.send_batch(batch, topic, partition=p), members))
    except BaseException:
        _read_when_done(future for future, _ in sent)
        raise
    return sent


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: KafkaConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[KafkaTP]) -> None:
        await self._consumer.revoked(
            frozenset(TopicPartition(t.topic, t.partition) for t in revoked)
        )

    async def on_partitions_assigned(self, assigned: set[KafkaTP]) -> None:
        await self._consumer.assigned(
            frozenset(TopicPartition(t.topic, t.partition) for t in assigned)
        )


class KafkaConsumer(ConsumerBase):
    """A consumer-group member on Kafka (read_committed, manual commits)."""

    def __init__(
        self,
        bus: KafkaBus,
        group: str,
        topics: Sequence[str],
        start: StartFrom,
        listener: RebalanceListener | None,
    ) -> None:
        super().__init__(group, topics, start, listener, bus.outbound)
        self._bus = bus
        self._consumer: AIOKafkaConsumer | None = None

    def _client(self) -> AIOKafkaConsumer:
        self._check_open()
        assert self._consumer is not None
        return self._consumer

    async def _join(self) -> None:
        for topic in self._topics:
            await self._bus.partitions(topic)
        session = self._bus.session_timeout_ms
        consumer = await self._bus.start_client(
            lambda: AIOKafkaConsumer(
                **self._bus.connection,
                client_id=self._bus.client_id,
                group_id=self._group,
                enable_auto_commit=False,
                isolation_level="read_committed",
                auto_offset_reset=self._start.value,
                session_timeout_ms=session,
                heartbeat_interval_ms=max(100, session // 3),
            ),
            AIOKafkaConsumer.start,
        )
        consumer.subscribe(list(self._topics), listener=_Listener(self))
        self._consumer = consumer

    async def _maintain(self) -> None:
        """Nothing to do: aiokafka heartbeats from a background task."""

    def _pause_fetching(self, tps: Sequence[TopicPartition]) -> None:
        self._client().pause(*[KafkaTP(tp.topic, tp.partition) for tp in tps])

    def _resume_fetching(self, tps: Sequence[TopicPartition]) -> None:
        self._client().resume(*[KafkaTP(tp.topic, tp.partition) for tp in tps])

    async def _leave(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def revoked(self, tps: frozenset[TopicPartition]) -> None:
        if self._listener is not None:
            await self._listener.on_revoked(tps)
        self._forget(tps)

    async def assigned(self, tps: frozenset[TopicPartition]) -> None:
        if self._listener is not None:
            await self._listener.on_assigned(tps)

    def assignment(self) -> frozenset[TopicPartition]:
        if self._consumer is None:
            return frozenset()
        return frozenset(TopicPartition(t.topic, t.partition) for t in self._consumer.assignment())

    async def _fetch(self, timeout: float, max_records: int) -> list[Record]:
        with _translated(f"consuming for group {self._group!r}"):
            batches = await self._client().getmany(
                timeout_ms=int(timeout * 1000), max_records=max_records
            )
        return [
            Record(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value or b"", r.headers)
            for records in batches.values()
            for r in records
        ]

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        lost = sorted(set(offsets) - self.assignment())
        if lost:
            raise CommitFailed(
                f"group {self._group!r}: partitions {lost} are not assigned to this member"
            )
        with _translated(f"committing offsets of group {self._group!r}"):
            await self._client().commit(
                {KafkaTP(tp.topic, tp.partition): o for tp, o in offsets.items()}
            )

    async def committed(self, tp: TopicPartition) -> int | None:
        with _translated("reading committed offset"):
            offset = await self._client().committed(KafkaTP(tp.topic, tp.partition))
        return None if offset is None else int(offset)

    async def _fetch_position(self, tp: TopicPartition) -> int:
        with _translated(f"reading the position of {tp}"):
            return int(await self._client().position(KafkaTP(tp.topic, tp.partition)))

    async def seek(self, tp: TopicPartition, offset: int) -> None:
        self._drop_buffered(tp)
        self._client().seek(KafkaTP(tp.topic, tp.partition), offset)

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        for tp in tps or tuple(self.assignment()):
            self._drop_buffered(tp)
        kafka_tps = [KafkaTP(t.topic, t.partition) for t in tps]
        with _translated("seeking to beginning"):
            await self._client().seek_to_beginning(*kafka_tps)

    async def seek_to_timestamp(self, timestamp_ms: int, *tps: TopicPartition) -> None:
        targets = [KafkaTP(t.topic, t.partition) for t in (tps or tuple(self.assignment()))]
        client = self._client()
        with _translated("seeking to timestamp"):
            found = await client.offsets_for_times(dict.fromkeys(targets, timestamp_ms))
            ends = await client.end_offsets(targets)
        for tp in targets:
            hit = found.get(tp)
            await self.seek(TopicPartition(tp.topic, tp.partition), hit.offset if hit else ends[tp])


class KafkaReader(KafkaConsumer):
    """Reads the given partitions with no group (manual assignment, no commits)."""

    def __init__(
        self, bus: KafkaBus, partitions: Sequence[TopicPartition], start: StartFrom
    ) -> None:
        super().__init__(bus, "", sorted({tp.topic for tp in partitions}), start, None)
        self._wanted = [KafkaTP(tp.topic, tp.partition) for tp in partitions]

    async def _join(self) -> None:
        for topic in self._topics:
            await self._bus.partitions(topic)
        consumer = await self._bus.start_client(
            lambda: AIOKafkaConsumer(
                **self._bus.connection,
                client_id=self._bus.client_id,
                enable_auto_commit=False,
                isolation_level="read_committed",
                auto_offset_reset=self._start.value,
            ),
            AIOKafkaConsumer.start,
        )
        consumer.assign(self._wanted)
        with _translated("positioning reader"):
            if self._start is StartFrom.EARLIEST:
                await consumer.seek_to_beginning(*self._wanted)
            else:
                await consumer.seek_to_end(*self._wanted)
        self._consumer = consumer

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        raise BusError("a reader is in no consumer group: it has nothing to commit to")

    async def committed(self, tp: TopicPartition) -> int | None:
        return None


def _failed_for_good(producer: AIOKafkaProducer) -> str | None:
    """Why the transactional producer is in aiokafka's fatal state (None: it is not).

    Its sender met an error no transaction survives (fenced by a newer producer with the
    same id, most often), so it can neither send, abort nor begin again. aiokafka's own
    transaction context asks the same private question before aborting. The cause is
    read from the transaction's waiter, which also marks it retrieved (asyncio would
    log it as never retrieved otherwise).
    """
    manager = producer._txn_manager
    if manager is None or not manager.is_fatal_error():
        return None
    waiter = manager.wait_for_transaction_end()
    cause = waiter.exception() if waiter.done() else None
    return f"{type(cause).__name__}: {cause}" if cause is not None else "unknown cause"


async def _stopped(producer: AIOKafkaProducer) -> None:
    """Stop `producer`, reading the errors it failed with, if it did.

    A fenced producer's sender fails every batch it holds and the transaction: aiokafka
    sets the error on each batch's drain waiter (awaited only by a sender waiting for
    room) and on a future for whoever waits for the transaction's end (a new one each
    time it fails again). Nobody reads most of them, and asyncio logged each, when
    collected, as "Future exception was never retrieved" (15 in a benchmark run where
    coordinators fence each other)."""
    _read_failures(producer)
    try:
        await producer.stop()
    finally:
        _read_failures(producer)


def _read_failures(producer: AIOKafkaProducer) -> None:
    _failed_for_good(producer)  # reads the transaction waiter's error, if it has one
    accumulator = producer._message_accumulator  # aiokafka's: no public API
    held = [*accumulator._pending_batches]
    for batches in accumulator._batches.values():
        held.extend(batches)
    for batch in held:
        for future in (batch._drain_waiter, batch.future):
            if future.done():
                _read_outcome(future)


class KafkaTransaction:
    """A Kafka transaction on the bus's transactional producer (one at a time per bus).

    A producer that failed for good mid-transaction (fenced while its records were in
    flight) makes every later step raise `TransactionError` and is dropped: the broker
    aborts its transaction, and the next transaction of the id starts a new producer.
    """

    def __init__(self, bus: KafkaBus, transactional_id: str) -> None:
        self._bus = bus
        self._lock = bus.tx_lock(transactional_id)
        self._transactional_id = transactional_id
        self._producer: AIOKafkaProducer | None = None
        self._unsent: list[Message] = []
        self._messages: list[Message] = []
        """Every message of the transaction, told delivered (or not) when it ends."""
        self._partitions: dict[str, int] = {}
        self._pending: list[asyncio.Future[Any]] = []
        self._done = False
        self._adding: tuple[str, asyncio.Future[None]] | None = None
        """The group being added to the transaction since it began, and the request."""

    async def __aenter__(self) -> Self:
        await self._lock.acquire()
        try:
            self._producer = await self._bus.transactional_producer(self._transactional_id)
            if _failed_for_good(self._producer) is not None:
                await self._bus.discard_producer(self._transactional_id)
                self._producer = await self._bus.transactional_producer(self._transactional_id)
            with self._translated("beginning transaction"):
                await self._producer.begin_transaction()
        except BaseException:
            self._lock.release()
            raise
        group = self._bus.groups.get(self._transactional_id)
        if group is not None:
            # The group the last transaction of this id committed offsets of joins this
            # one now, while the caller works: right after a commit the coordinator is
            # still writing its markers (ConcurrentTransactions) and that wait is spent
            # here, not later by the records' AddPartitionsToTxn, on the transaction's
            # critical path (one round trip less there, too).
            request = txn_offsets.add_group(self._producer, group, self._bus.coordinators)
            self._adding = (group, asyncio.ensure_future(request))
            self._adding[1].add_done_callback(_read_outcome)  # whoever waits, or nobody
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._done:
            return
        if exc_type is None:
            await self.commit()
        else:
            # The block's error is the one to report, not a failure to abort after it.
            await self._end_aborted(exc or TransactionError("aborted"), after_error=True)

    def _running(self) -> AIOKafkaProducer:
        if self._done or self._producer is None:
            raise TransactionError("the transaction is not open (enter it with `async with`)")
        return self._producer

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        """`_translated`, and a producer that failed for good raises `TransactionError`
        (aiokafka says "Can't send messages while not in transaction" or fails the
        delivery; neither is the error a caller can act on)."""
        try:
            with _translated(what):
                yield
        except BusError as exc:
            why = None if self._producer is None else _failed_for_good(self._producer)
            if why is None:
                raise
            raise TransactionError(
                f"{what}: the transactional producer failed for good ({why})"
            ) from exc

    async def publish(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> None:
        await self.publish_batch([Message(topic, value, key, headers, partition)])

    async def publish_batch(self, messages: Sequence[Message]) -> None:
        """Checked and stamped now, handed to the producer together with the rest of the
        transaction's records (at `send_offsets` or `commit`): few, full batches."""
        self._running()
        prepared = self._bus.outbound.prepare_all(messages)
        self._messages.extend(prepared)
        for topic in {m.topic for m in prepared}:
            self._partitions[topic] = await self._bus.partitions(topic)
        self._unsent.extend(prepared)

    async def _send_unsent(self, producer: AIOKafkaProducer) -> None:
        unsent, self._unsent = self._unsent, []
        if unsent:
            with self._translated(f"publishing to {sorted({m.topic for m in unsent})}"):
                sent = await _enqueue(producer, unsent, self._partitions)
            self._pending.extend(future for future, _ in sent)

    async def _acknowledged(self) -> None:
        """Every record sent so far is delivered; else the first failure raises."""
        try:
            for future in self._pending:
                await future
        except BaseException:
            _read_when_done(self._pending)
            raise

    async def send_offsets(
        self, consumer: Consumer, offsets: Mapping[TopicPartition, int] | None = None
    ) -> None:
        """The consumer's offsets commit with the transaction, if the group still counts
        the consumer as the member it assigned them to (KIP-447, `bus._txn_offsets`).

        The transaction's records are acknowledged first: once the group has let the
        offsets in, they are in the log as part of the open transaction, so a new owner
        reading with read_committed waits for it to end rather than reading past it.
        """
        producer = self._running()
        if not isinstance(consumer, KafkaConsumer):
            raise TransactionError("send_offsets needs a consumer of the same bus")
        await self._send_unsent(producer)
        chosen = consumer.consumed() if offsets is None else offsets
        if not chosen:
            return
        assigned = consumer.assignment()  # built anew on each call
        lost = sorted(tp for tp in chosen if tp not in assigned)
        if lost:
            raise TransactionError(
                f"transaction aborted: group {consumer.group!r}: partitions {lost} are no"
                " longer assigned to this member (rebalanced); their records will be"
                " redelivered to the new owner"
            )
        with self._translated("publishing the transaction's records"):
            await self._acknowledged()
        with self._translated("sending offsets to transaction"):
            await self._group_added(producer, consumer.group)
            await txn_offsets.commit_offsets(
                producer, consumer._client(), consumer.group, chosen, self._bus.coordinators
            )
        self._bus.groups[self._transactional_id] = consumer.group

    async def _group_added(self, producer: AIOKafkaProducer, group: str) -> None:
        """`group` is in the transaction: added when it began, else now."""
        if self._adding is not None and self._adding[0] == group:
            adding, self._adding = self._adding, None
            await adding[1]
            return
        await self._settled()
        await txn_offsets.add_group(producer, group, self._bus.coordinators)

    async def _settled(self) -> None:
        """The group request begun with the transaction has ended, whatever its outcome
        (the transaction ends after it; a failure shows again at EndTxn)."""
        adding, self._adding = self._adding, None
        if adding is not None:
            await asyncio.wait([adding[1]])

    async def commit(self) -> None:
        producer = self._running()
        self._done = True
        try:
            await self._send_unsent(producer)
            with self._translated("committing transaction"):
                await self._acknowledged()
                await self._settled()
                await producer.commit_transaction()
        except TransactionError as exc:
            # Fenced: this producer is dead for good. Drop it; the broker has aborted
            # the transaction, and the caller must treat its partitions as lost.
            self._told(exc)
            await self._bus.discard_producer(self._transactional_id)
            raise
        except BaseException as exc:
            self._told(exc)
            await self._abort(producer, after_error=True)
            raise
        else:
            self._told(None)
        finally:
            self._lock.release()

    async def abort(self) -> None:
        await self._end_aborted(TransactionError("transaction aborted"), after_error=False)

    def _told(self, error: BaseException | None) -> None:
        """The middleware learns what became of the transaction's messages."""
        messages, self._messages = self._messages, []
        self._bus.outbound.delivered(messages, error)
        if error is not None:
            # Deliveries nobody awaits now: a fenced producer fails them all later.
            _read_when_done(self._pending)

    async def _end_aborted(self, why: BaseException, *, after_error: bool) -> None:
        producer = self._running()
        self._done = True
        self._told(why)
        try:
            await self._settled()
            await self._abort(producer, after_error=after_error)
        finally:
            self._lock.release()

    async def _abort(self, producer: AIOKafkaProducer, *, after_error: bool) -> None:
        why = _failed_for_good(producer)
        if why is not None:
            # Nothing to abort with: the broker aborts the transaction when the producer's
            # successor starts (or it times out); this producer is of no further use.
            await self._bus.discard_producer(self._transactional_id)
            if not after_error:
                raise TransactionError(
                    f"aborting transaction: the producer failed for good ({why})"
                )
            return
        try:
            await producer.abort_transaction()
        except (KafkaError, IllegalStateError) as exc:
            if not after_error:
                raise TransactionError(f"aborting transaction: {exc}") from exc
            # A commit or the block already failed: its error is the one to report; the
            # broker aborts the transaction itself when it times out or the producer is
            # fenced.
