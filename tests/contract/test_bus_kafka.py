from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import bus
from bus import Bus
from bus._kafka import KafkaTransaction
from caseyard.errors import BusUnavailable, TransactionError
from tests.contract.bus_contract import BusContract
from tests.contract.event_contract import EventContract
from tests.helpers import drain, quiet

KAFKA_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kafka"


@pytest.mark.kafka
class TestKafkaBus(BusContract, EventContract):
    fences_alone = False

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
    async def test_a_producer_failed_for_good_mid_transaction_fails_it_cleanly(
        self, url: str
    ) -> None:
        """aiokafka's sender puts a transactional producer in its fatal state when it meets
        an error no transaction survives (a fence answered to its requests, seen in a
        two-process coordinator's rebalance); there it can neither send nor abort, and
        the coordinator process died of an AssertionError from aborting. Injected here as
        the sender does it: every later step of the transaction says TransactionError
        (the coordinator rewinds on it), and the next transaction of the id commits on a
        new producer."""
        from aiokafka.errors import ProducerFenced

        async with self.connect(url) as b:
            topic = await self.topic(b)
            async with b.consumer("failed-for-good", [topic]) as c:
                with pytest.raises(TransactionError, match="failed for good"):
                    async with b.begin(transactional_id="failed-for-good") as tx:
                        await tx.publish(topic, b"lost with its producer")
                        assert isinstance(tx, KafkaTransaction)
                        tx._running()._txn_manager.fatal_error(ProducerFenced())
                        await tx.send_offsets(c, {})
                doomed = await b.begin(transactional_id="failed-for-good").__aenter__()
                assert isinstance(doomed, KafkaTransaction)
                doomed._running()._txn_manager.fatal_error(ProducerFenced())
                with pytest.raises(TransactionError, match="failed for good"):
                    await doomed.abort()
                async with b.begin(transactional_id="failed-for-good") as tx:
                    await tx.publish(topic, b"from the next producer")
            async with b.consumer("reader", [topic]) as reader:
                assert [r.value for r in await drain(reader, 1)] == [b"from the next producer"]
                assert await quiet(reader) == []
