from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import bus
from bus import Bus
from bus import _txn_offsets as txn_offsets
from bus._kafka import KafkaBus, KafkaConsumer, KafkaTransaction
from caseyard.errors import BusUnavailable, TransactionError
from tests.contract.bus_contract import BusContract, name
from tests.contract.event_contract import EventContract
from tests.helpers import drain, eventually, quiet

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
    async def test_a_member_of_an_older_generation_cannot_commit_offsets_in_a_transaction(
        self, url: str
    ) -> None:
        """KIP-447: TxnOffsetCommit carries the member's generation, and the group refuses
        an old one. A zombie (a member the group moved past while it slept, still holding
        its old generation) sends its offsets with it: refused, and what it wrote in the
        transaction is never seen."""
        async with self.connect(url) as b:
            assert isinstance(b, KafkaBus)
            source, sink = await self.topic(b), await self.topic(b)
            await b.publish(source, b"x")
            group = name("zombie")
            async with b.consumer(group, [source]) as first:
                (record,) = await drain(first, 1)
                assert isinstance(first, KafkaConsumer)
                coordinator = first._client()._coordinator
                asleep = (coordinator.generation, coordinator.member_id)
                async with b.consumer(group, [source]) as second:

                    async def moved_on() -> None:
                        await first.poll(timeout=0.1, max_records=0)
                        await second.poll(timeout=0.1, max_records=0)
                        assert coordinator.generation > asleep[0]

                    await eventually(moved_on, timeout=40)
                    tx = await b.begin().__aenter__()
                    assert isinstance(tx, KafkaTransaction)
                    await tx.publish(sink, b"from a zombie")
                    await txn_offsets.add_group(tx._running(), group, b.coordinators)
                    with pytest.raises(TransactionError, match=r"rebalanced away"):
                        await txn_offsets.commit_offsets(
                            tx._running(),
                            first._client(),
                            group,
                            {record.tp: record.offset + 1},
                            b.coordinators,
                            generation=asleep,
                        )
                    await tx.abort()
            async with b.consumer(name("reader"), [sink]) as reader:
                assert await quiet(reader) == []

    @pytest.mark.anyio
    async def test_a_transaction_adds_the_group_of_the_ids_last_one_as_it_begins(
        self, url: str
    ) -> None:
        """AddOffsetsToTxn goes out when the transaction begins, not after its records:
        the group the id's last transaction committed offsets of is being added while the
        caller works, and `send_offsets` then only commits them."""
        async with self.connect(url) as b:
            topic, group, tid = await self.topic(b), name("g"), name("t")
            await b.publish_batch([bus.Message(topic, b"one"), bus.Message(topic, b"two")])
            async with b.consumer(group, [topic]) as c:
                first, second = await drain(c, 2)
                async with b.begin(transactional_id=tid) as tx:
                    assert isinstance(tx, KafkaTransaction)
                    assert tx._adding is None  # nothing known of the id yet
                    await tx.send_offsets(c, {first.tp: first.offset + 1})
                async with b.begin(transactional_id=tid) as tx:
                    assert isinstance(tx, KafkaTransaction)
                    assert tx._adding is not None and tx._adding[0] == group
                    await tx.send_offsets(c, {second.tp: second.offset + 1})
            async with b.consumer(group, [topic]) as c:
                assert await c.committed(second.tp) == second.offset + 1
                assert await quiet(c) == []

    @pytest.mark.anyio
    async def test_a_producer_that_failed_for_good_leaves_no_error_unread(
        self, url: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """aiokafka keeps a fenced producer's error in a future for whoever waits for the
        transaction's end, and a new one each time its sender fails again; closing the bus
        reads the last, so asyncio has no "exception was never retrieved" to log."""
        import gc

        from aiokafka.errors import ProducerFenced

        from bus._kafka import _failed_for_good

        b = await self.connect(url).__aenter__()
        tx = await b.begin(transactional_id=name("fenced")).__aenter__()
        assert isinstance(tx, KafkaTransaction)
        producer = tx._running()
        producer._txn_manager.fatal_error(ProducerFenced())
        assert _failed_for_good(producer) is not None  # what a transaction's step reads
        producer._txn_manager.fatal_error(ProducerFenced())  # failing again: a new future
        await b.close()
        del tx, producer
        gc.collect()
        assert "never retrieved" not in caplog.text

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
