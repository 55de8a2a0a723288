from __future__ import annotations

import pytest

from tests.contract.bus_contract import BusContract
from tests.contract.event_contract import EventContract


class TestMemoryBus(BusContract, EventContract):
    supports_restart = False

    @pytest.fixture
    def url(self) -> str:
        return "memory://"
