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
