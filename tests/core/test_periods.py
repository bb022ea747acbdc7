"""Periods are calendar months in the province's timezone."""

from datetime import UTC, date, datetime

import pytest

from core.errors import InvalidInput
from core.periods import Period, days_in_year, overlap_days


def test_period_bounds_are_local_midnights() -> None:
    start, end = Period.parse("2026-10").bounds("Asia/Shanghai")
    assert start.isoformat() == "2026-10-01T00:00:00+08:00"
    assert end.isoformat() == "2026-11-01T00:00:00+08:00"


def test_a_utc_instant_belongs_to_the_local_month() -> None:
    late = datetime(2026, 9, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 October in Shanghai
    assert str(Period.of(late, "Asia/Shanghai")) == "2026-10"
    assert Period.parse("2026-10").contains(late, "Asia/Shanghai")


def test_december_rolls_into_january_and_leap_years_have_366_days() -> None:
    assert str(Period.parse("2026-12").next()) == "2027-01"
    assert str(Period.parse("2026-01").previous()) == "2025-12"
    assert days_in_year(2028) == 366 and days_in_year(2026) == 365
    assert Period.parse("2028-02").days == 29 and Period.parse("2028-02").last_day == date(2028, 2, 29)


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-01", "2026/01", "", "2026-00"])
def test_bad_periods_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="YYYY-MM"):
        Period.parse(bad)


def test_overlap_days_counts_inclusive_days() -> None:
    assert overlap_days(date(2026, 1, 1), date(2026, 12, 31), date(2026, 12, 31), date(2027, 1, 5)) == 1
    assert overlap_days(date(2026, 1, 1), date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 5)) == 0


def test_the_period_pattern_is_what_parse_accepts() -> None:
    import re

    from core.periods import PERIOD_FORMAT, PERIOD_PATTERN

    assert PERIOD_FORMAT == "YYYY-MM"
    for text in ("2026-10", "2026-13", "0000-01", "2026-1", "26-10", "2026/10"):
        try:
            Period.parse(text)
            parsed = True
        except InvalidInput:
            parsed = False
        assert parsed <= bool(re.match(PERIOD_PATTERN, text)), text  # the pattern lets through all it accepts


# ---------------------------------------------------------------------------- ASCII digits, years 2000–2099

import re  # noqa: E402
import unicodedata  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from core.periods import FIRST_YEAR, LAST_YEAR, PERIOD_PATTERN, parse_time  # noqa: E402

#: every character Unicode calls a decimal digit, but not 0-9
OTHER_DIGITS = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Nd" and not chr(c).isascii()]


@given(st.integers(FIRST_YEAR, LAST_YEAR), st.integers(1, 12))
def test_every_valid_period_round_trips(year: int, month: int) -> None:
    text = f"{year:04d}-{month:02d}"
    assert str(Period.parse(text)) == text and Period.parse(text) == Period(year, month)
    assert re.fullmatch(PERIOD_PATTERN, text)


@given(st.integers(FIRST_YEAR, LAST_YEAR), st.integers(1, 12), st.data())
def test_a_period_with_any_digit_other_than_ascii_is_refused(year: int, month: int, data: st.DataObject) -> None:
    text = list(f"{year:04d}-{month:02d}")
    at = data.draw(st.sampled_from([0, 1, 2, 3, 5, 6]))
    digit = data.draw(st.sampled_from(OTHER_DIGITS))
    text[at] = digit
    written = "".join(text)
    with pytest.raises(InvalidInput, match="YYYY-MM"):
        Period.parse(written)
    assert not re.search(PERIOD_PATTERN, written)  # the API's pattern refuses it too


@pytest.mark.parametrize("bad", ["２０２６-１１", "٢٠٢٦-١١", "2026-1１", "9999-12", "0001-01", "1999-12", "2100-01"])
def test_periods_outside_the_century_or_in_other_digits_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="a year from 2000 to 2099"):
        Period.parse(bad)
    assert not re.search(PERIOD_PATTERN, bad)


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+08:00",
        "9999-12-31T23:59:59+08:00",
        "1999-12-31T23:59:59+00:00",
        "2100-01-01T00:00:00+08:00",
    ],
)
def test_a_time_outside_the_years_2000_to_2099_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_time(text, "time")
    assert caught.value.problems[0].path == "time" and "2000" in caught.value.problems[0].message
    with pytest.raises(InvalidInput):
        parse_time(datetime.fromisoformat(text), "time")


def test_a_time_in_the_years_2000_to_2099_with_an_offset_is_taken() -> None:
    assert parse_time("2000-01-01T00:00:00+08:00", "time").year == 2000  # 1999 in UTC: the written year counts
    assert parse_time(" 2099-12-31T23:59:59+08:00 ", "time").year == 2099
    for bad in ("2026-10-01T08:00:00", "２０２６-10-01T08:00:00+08:00", "yesterday", ""):
        with pytest.raises(InvalidInput):
            parse_time(bad, "time")
