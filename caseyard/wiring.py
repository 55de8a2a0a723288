"""Process wiring: turn settings and the topology into connected parts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

import bus
from bus import Bus, Cleanup, KafkaSecurity, Middleware, TopicSpec
from caseyard.settings import Settings
from coordinator import copartitioned_count
from schemas.topology import CASE_PARTITIONS, Topic, all_topics

log = logging.getLogger(__name__)


def open_bus(
    settings: Settings,
    *,
    transactional_id: str | None = None,
    middleware: Sequence[Middleware] = (),
) -> Bus:
    """The bus the settings name (enter it with `async with`); `middleware` is the
    process's telemetry (`Telemetry.middleware`): tracing and metrics."""
    return bus.connect(
        settings.bus,
        middleware=middleware,
        max_message_bytes=settings.max_message_bytes,
        session_timeout_ms=settings.session_timeout_ms,
        connect_timeout=settings.connect_timeout,
        client_id=settings.client_id,
        transactional_id=transactional_id,
        security=kafka_security(settings),
    )


def kafka_security(settings: Settings) -> KafkaSecurity:
    """How the settings say Kafka's clients connect (TLS, SASL)."""

    def secret(value: SecretStr | None) -> str | None:
        return None if value is None else value.get_secret_value()

    def path(value: Path | None) -> str | None:
        return None if value is None else str(value)

    return KafkaSecurity(
        protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=secret(settings.kafka_sasl_password),
        ssl_cafile=path(settings.kafka_ssl_cafile),
        ssl_certfile=path(settings.kafka_ssl_certfile),
        ssl_keyfile=path(settings.kafka_ssl_keyfile),
        ssl_key_password=secret(settings.kafka_ssl_key_password),
    )


def topic_spec(topic: Topic, case_partitions: int = CASE_PARTITIONS) -> TopicSpec:
    """`topic` as caseyard creates it; a case-keyed one with `case_partitions`."""
    return TopicSpec(
        topic.name,
        partitions=case_partitions if topic.case_keyed else topic.partitions,
        cleanup=Cleanup.COMPACT if topic.compacted else Cleanup.DELETE,
        config=dict(topic.config),
    )


async def ensure_topology(
    b: Bus, topics: tuple[Topic, ...] | None = None, *, case_partitions: int = CASE_PARTITIONS
) -> list[TopicSpec]:
    """Create every topic of the topology that does not exist yet, the case-keyed ones with
    `case_partitions`; existing topics keep their count, and once co-partitioned topics
    exist, those missing get their count whatever `case_partitions` says.

    Raises:
        ConfigError: If the co-partitioned topics that exist disagree (nothing is created).
    """
    existing = await copartitioned_count(b)
    if existing is not None and existing != case_partitions:
        log.warning(
            "the case-keyed topics have %d partitions, not the %d of case_partitions: new ones"
            " get %d",
            existing,
            case_partitions,
            existing,
        )
    count = existing or case_partitions
    specs = [topic_spec(t, count) for t in (topics if topics is not None else all_topics())]
    await b.ensure_topics(specs)
    return specs
