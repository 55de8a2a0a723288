from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import bus
from bus import Bus
from caseyard.errors import BusUnavailable
from tests.contract.bus_contract import BusContract

KAFKA_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kafka"


@pytest.mark.kafka
class TestKafkaBus(BusContract):
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
