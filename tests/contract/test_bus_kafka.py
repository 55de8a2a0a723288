from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import bus
from bus import Bus
from caseyard.errors import BusUnavailable, TransactionError
from tests.contract.bus_contract import BusContract
from tests.contract.event_contract import EventContract
from tests.helpers import drain, quiet

KAFKA_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kafka"


@pytest.mark.kafka
class TestKafkaBus(BusContract, EventContract):
    @pytest.fixture
    def url(self, kafka_bootstrap: str) -> str:
        return f"kafka://{kafka_bootstrap}"

    async def restart(self, url: str, b: Bus) -> Bus:
        """Stop the broker (SIGTERM) and start it again on its data; then reconnect."""
        await b.close()
        await anyio.run_process([str(KAFKA_SCRIPT), "down"])
        await anyio.run_process([str(KAFKA_SCRIPT), "up"])
        return await self.connect(url).__aenter__()

    @pytest.mark.anyio
    async def test_unreachable_broker_fails_within_the_bounded_wait(self) -> None:
        unreachable = bus.connect("kafka://127.0.0.1:1", connect_timeout=1.0)
        with pytest.raises(BusUnavailable, match=r"cannot reach Kafka at 127.0.0.1:1 within 1s"):
            await unreachable.__aenter__()

    @pytest.mark.anyio
    async def test_same_transactional_id_fences_the_older_producer(self, url: str) -> None:
        async with self.connect(url) as old, self.connect(url) as new:
            topic = await self.topic(new)
            zombie = await old.begin(transactional_id="fence-me").__aenter__()
            await zombie.publish(topic, b"from the zombie")
            async with new.begin(transactional_id="fence-me") as tx:
                await tx.publish(topic, b"from the new owner")
            with pytest.raises(TransactionError):
                await zombie.commit()
            async with new.consumer("reader", [topic]) as c:
                assert [r.value for r in await drain(c, 1)] == [b"from the new owner"]
                assert await quiet(c) == []
