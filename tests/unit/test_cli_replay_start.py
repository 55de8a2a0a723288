"""`--from` of `caseyard replay`: earliest, an offset, or a time (UTC unless it says)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from caseyard.commands.replay import Start, parse_start
from caseyard.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "start"),
    [
        (None, Start()),
        ("earliest", Start()),
        (" Earliest ", Start()),
        ("0", Start(offset=0)),
        ("1207", Start(offset=1207)),
        ("2024-05-01T09:00:00Z", Start(time=datetime(2024, 5, 1, 9, tzinfo=UTC))),
        ("2024-05-01T09:00:00", Start(time=datetime(2024, 5, 1, 9, tzinfo=UTC))),
        ("2024-05-01T11:00:00+02:00", Start(time=datetime(2024, 5, 1, 9, tzinfo=UTC))),
        ("2024-05-01", Start(time=datetime(2024, 5, 1, tzinfo=UTC))),
    ],
)
def test_from_accepts_earliest_an_offset_or_a_time(text: str | None, start: Start) -> None:
    assert parse_start(text) == start


def test_a_start_says_where_it_is() -> None:
    at = parse_start("2024-05-01T09:00:00.250Z")
    assert at.timestamp_ms == 1714554000250
    assert str(at) == "2024-05-01T09:00:00.250000+00:00"
    assert (str(Start()), str(Start(offset=3))) == ("earliest", "offset 3")
    assert Start().earliest and not Start(offset=0).earliest


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-5", "an offset cannot be negative"),
        ("yesterday", "expected an ISO-8601 time"),
        ("2024-13-01", "expected an ISO-8601 time"),
    ],
)
def test_a_bad_from_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_start(text)
