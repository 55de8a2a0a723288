"""Bus pieces that need no broker: URLs, the partitioner, middleware, the public API."""

from __future__ import annotations

import pytest

import bus
from bus import Message, Record, TopicSpec
from caseyard.errors import ConfigError
from tests.helpers import drain

pytestmark = pytest.mark.anyio


def test_public_api_is_pinned() -> None:
    assert bus.__all__ == [
        "DEFAULT_MAX_MESSAGE_BYTES",
        "Bus",
        "Cleanup",
        "Consumer",
        "Headers",
        "Message",
        "Middleware",
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


def test_url_options_override_arguments() -> None:
    b = bus.connect("memory://?max_message_bytes=10", max_message_bytes=1000)
    assert b.url == "memory://?max_message_bytes=10"


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

    def incoming(self, record: Record) -> Record:
        self.seen.append(record.header("traceparent"))
        return record


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
