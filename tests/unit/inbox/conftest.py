"""Fixtures for the inbox tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.inbox.inbox_support import write_users


@pytest.fixture(scope="session")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_users(tmp_path_factory.mktemp("inbox") / "users.toml")
