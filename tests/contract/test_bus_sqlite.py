from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.bus_contract import BusContract


class TestSqliteBus(BusContract):
    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/bus.db"
