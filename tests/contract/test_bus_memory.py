from __future__ import annotations

import pytest

from tests.contract.bus_contract import BusContract


class TestMemoryBus(BusContract):
    supports_restart = False

    @pytest.fixture
    def url(self) -> str:
        return "memory://"
