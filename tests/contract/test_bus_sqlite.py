from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.bus_contract import BusContract
from tests.contract.event_contract import EventContract


class TestSqliteBus(BusContract, EventContract):
    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/bus.db"
