"""The pure parts of ingest: validation fast paths equal the slow ones, canonical content, local-time segments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metering.events import Lookups, Rejected, Validator, canonical_json
from metering.timebuckets import label, offset_segments

LOOKUPS = Lookups({"gd-edu": "gd-prov"}, {"gd-prov": "dgcloud"}, frozenset({"vcpu_hours"}))
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _row(**fields):
    base = {
        "event_id": "e",
        "time": "2026-10-01T13:00:00+08:00",
        "department": "gd-edu",
        "cloud": "gd-prov",
        "meter": "vcpu_hours",
        "quantity": "1",
        "resource_id": None,
        "attributes": None,
    }
    base.update(fields)
    return Validator(LOOKUPS, NOW).validate(*base.values())


@given(st.decimals(min_value=0, max_value=Decimal("999999999999.999999"), places=6, allow_nan=False))
def test_quantity_text_fast_path_equals_exact_decimal_parsing(value: Decimal) -> None:
    text = format(value, "f")
    assert _row(quantity=text)[5] == int(value * 10**6) == _row(quantity=Decimal(text))[5]


@settings(max_examples=300)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2029, 12, 1)),
    st.integers(min_value=-14 * 4, max_value=14 * 4),
)
def test_time_fast_path_equals_full_parsing_for_any_offset(moment: datetime, quarters: int) -> None:
    zone = timezone(timedelta(minutes=15 * quarters))
    aware = moment.replace(microsecond=0, tzinfo=zone)
    text = aware.isoformat()  # YYYY-MM-DDTHH:MM:SS±HH:MM: the minute cache path
    expected = aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    validator = Validator(LOOKUPS, NOW)
    assert validator._parse_time(text)[0] == expected
    assert validator._parse_time(text)[0] == expected  # from the cache
    assert _row(time=aware.isoformat(" ", "microseconds"))[4] == expected


def test_equal_content_gives_equal_rows_and_different_content_different_ones() -> None:
    """`row[2:]` is what a repeated key is compared by: canonical, so spellings of one event are equal."""
    base = _row(attributes={"a": 1, "b": [1, {"c": "d"}]}, resource_id="vm")
    same = _row(
        time="2026-10-01T05:00:00Z", quantity="1.000", attributes={"b": [1.0, {"c": "d"}], "a": 1}, resource_id="vm"
    )
    assert same[2:] == base[2:]
    for change in (
        {"quantity": "2"},
        {"resource_id": "vm2"},
        {"attributes": {"a": 2}},
        {"time": "2026-10-01T13:00:01+08:00"},
        {"resource_id": None},
    ):
        assert _row(**{"attributes": {"a": 1, "b": [1, {"c": "d"}]}, "resource_id": "vm", **change})[2:] != base[2:]


def test_canonical_json_sorts_keys_and_normalises_numbers() -> None:
    assert (
        canonical_json({"b": Decimal("1.50"), "a": [Decimal("1E+2"), -0, True, None, "中"]})
        == '{"a":[100,0,true,null,"中"],"b":1.5}'
    )
    with pytest.raises(Rejected):
        canonical_json({"x": Decimal("NaN")})


@pytest.mark.parametrize("value", ["1.", ".5", "+1", "1e3", "1_000", " 2 "])
def test_other_decimal_spellings_are_read_exactly(value: str) -> None:
    assert _row(quantity=value)[5] == int(Decimal(value.strip()) * 10**6)


def test_empty_attributes_and_resource_mean_none() -> None:
    assert _row(attributes={}, resource_id="")[6:8] == (None, None)


def test_offset_segments_find_daylight_saving_transitions_to_the_second() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start, end = datetime(2026, 10, 1, tzinfo=berlin), datetime(2026, 11, 1, tzinfo=berlin)
    assert offset_segments(berlin, start, end) == [
        (start.astimezone(UTC), 7200),
        (datetime(2026, 10, 25, 1, tzinfo=UTC), 3600),
    ]
    shanghai = ZoneInfo("Asia/Shanghai")
    assert offset_segments(shanghai, start, end) == [(start.astimezone(UTC), 28800)]
    assert label("2026-10-01 13", "hour") == "2026-10-01T13:00" and label("2026-10-01", "day") == "2026-10-01"
