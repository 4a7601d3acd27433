"""Timestamps and JSON: tolerant readers, Go-compatible writers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox_admin.storage.fields import (
    GO_ZERO_TIME,
    GoTimestampField,
    JSONField,
    dumps_json,
    format_timestamp,
    is_zero_time,
    loads_json,
    parse_timestamp,
    to_iso,
)

UTC = timezone.utc


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-24 05:21:38.261790967+00:00", datetime(2026, 11, 24, 5, 21, 38, 261790, UTC)),
        ("2026-11-26 01:35:19", datetime(2026, 11, 26, 1, 35, 19, tzinfo=UTC)),
        ("2026-11-25 22:00:00-07:00", datetime(2026, 11, 26, 5, 0, 0, tzinfo=UTC)),
        ("2026-11-26T01:35:19Z", datetime(2026, 11, 26, 1, 35, 19, tzinfo=UTC)),
        ("2026-11-26T01:35:19.5+0130", datetime(2026, 11, 26, 0, 5, 19, 500000, UTC)),
        ("0001-01-01 00:00:00+00:00", GO_ZERO_TIME),
        ("2026-11-24 05:21:38.26 +0000 UTC", datetime(2026, 11, 24, 5, 21, 38, 260000, UTC)),
        ("2026-11-24", datetime(2026, 11, 24, tzinfo=UTC)),
        (1764120919, datetime(2025, 11, 26, 1, 35, 19, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("yesterday", None),
        ("2026-13-45 99:99:99", None),
    ],
)
def test_parse_every_format(text, expected):
    assert parse_timestamp(text) == expected


def test_format_is_go_compatible_and_utc():
    assert format_timestamp(datetime(2026, 11, 26, 1, 35, 19, tzinfo=UTC)) == "2026-11-26 01:35:19+00:00"
    assert format_timestamp(datetime(2026, 11, 26, 1, 35, 19, 123450, UTC)) == "2026-11-26 01:35:19.12345+00:00"
    tz = timezone(timedelta(hours=-7))
    assert format_timestamp(datetime(2026, 11, 25, 18, 0, tzinfo=tz)) == "2026-11-26 01:00:00+00:00"
    assert format_timestamp(GO_ZERO_TIME) == "0001-01-01 00:00:00+00:00"
    assert is_zero_time(parse_timestamp("0001-01-01 00:00:00+00:00"))
    assert to_iso(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"


aware = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@given(aware)
def test_roundtrip(value):
    assert parse_timestamp(format_timestamp(value)) == value


@given(aware, aware)
def test_text_order_is_instant_order(a, b):
    assert (format_timestamp(a) < format_timestamp(b)) == (a < b)


def test_field_values():
    f = GoTimestampField()
    assert f.db_value(None) is None
    assert f.db_value("2026-11-25 22:00:00-07:00") == "2026-11-26 05:00:00+00:00"
    with pytest.raises(ValueError):
        f.db_value("not a time")


def test_json_field_tolerant_reading_and_go_writing():
    f = JSONField()
    assert f.python_value("null") is None
    assert f.python_value(None) is None
    assert f.python_value("{}") == {}
    assert f.python_value("{broken") == "{broken"
    assert f.db_value(None) == "null"
    assert JSONField(null=True).db_value(None) is None
    assert f.db_value({"b": 1, "a": [1, 2], "c": "<b>&</b>"}) == '{"a":[1,2],"b":1,"c":"<b>&</b>"}'
    assert dumps_json({"é": "ü"}) == '{"é":"ü"}'
    assert loads_json(b'{"k":"v"}') == {"k": "v"}
