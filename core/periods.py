"""Billing periods: calendar months in the province's timezone (docs/reference.md#contracts-and-bills)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.errors import InvalidInput, invalid_field
from core.i18n import register

#: How a period is written, as interfaces show it (option help, API descriptions, messages).
PERIOD_FORMAT = "YYYY-MM"
#: The years the platform takes, in periods and in times alike (docs/reference.md#periods-and-times).
FIRST_YEAR, LAST_YEAR = 2000, 2099
#: The pattern a period's text matches: the one definition `Period.parse` and the interfaces validate with.
#: ASCII digits only (`[0-9]`, never `\d`, which matches every Unicode digit), a year 2000–2099, a month 01–12.
PERIOD_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
_PERIOD = re.compile(PERIOD_PATTERN)

register(
    {
        "period must be YYYY-MM with a year from {first} to {last}, got {value!r}": (
            "期间格式应为 YYYY-MM，年份须在 {first} 至 {last} 之间，实际为 {value!r}"
        ),
        "must be an ISO 8601 time with an offset (e.g. 2026-10-01T08:00:00+08:00), got {value!r}": (
            "必须是带时区偏移的 ISO 8601 时间（例如 2026-10-01T08:00:00+08:00），实际为 {value!r}"
        ),
        "time {value!r} has no offset: add one, e.g. +08:00": "时间 {value!r} 缺少时区偏移：请加上，例如 +08:00",
        "the year of {value!r} must be from {first} to {last}": "{value!r} 的年份须在 {first} 至 {last} 之间",
        "a required field is empty": "必填字段为空",
    }
)


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month `YYYY-MM`."""

    year: int
    month: int

    @classmethod
    def parse(cls, value: str) -> Period:
        """Parse `YYYY-MM` in ASCII digits with a year 2000–2099; an InvalidInput otherwise
        (docs/reference.md#periods-and-times)."""
        text = value.strip() if isinstance(value, str) else ""
        if not _PERIOD.fullmatch(text):
            raise InvalidInput(
                "period must be YYYY-MM with a year from {first} to {last}, got {value!r}",
                value=value,
                first=FIRST_YEAR,
                last=LAST_YEAR,
            )
        return cls(int(text[:4]), int(text[5:]))

    @classmethod
    def of(cls, moment: datetime | date, tz: str | ZoneInfo | None = None) -> Period:
        """The period holding `moment` (an aware datetime is converted to `tz` first)."""
        if isinstance(moment, datetime):
            if moment.tzinfo is None:
                raise ValueError("naive datetime")
            moment = moment.astimezone(_zone(tz or "Asia/Shanghai")).date()
        return cls(moment.year, moment.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        """The period's first day."""
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        """The period's last day."""
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return calendar.monthrange(self.year, self.month)[1]

    def next(self) -> Period:
        """The following month."""
        return Period(self.year + 1, 1) if self.month == 12 else Period(self.year, self.month + 1)

    def previous(self) -> Period:
        """The preceding month."""
        return Period(self.year - 1, 12) if self.month == 1 else Period(self.year, self.month - 1)

    def bounds(self, tz: str | ZoneInfo) -> tuple[datetime, datetime]:
        """`[first day 00:00, next month's first day 00:00)` in `tz`, as aware datetimes."""
        zone = _zone(tz)
        nxt = self.next()
        return (
            datetime(self.year, self.month, 1, tzinfo=zone),
            datetime(nxt.year, nxt.month, 1, tzinfo=zone),
        )

    def contains(self, moment: datetime, tz: str | ZoneInfo) -> bool:
        """Whether the aware `moment` falls in the period in `tz`."""
        start, end = self.bounds(tz)
        return start <= moment < end


def parse_time(value: datetime | str | None, field: str) -> datetime:
    """An aware datetime from a datetime or ISO 8601 text with an offset, in the years 2000–2099: the one time
    parser of ratings, outages and maintenance (docs/reference.md#periods-and-times). An InvalidInput whose
    problem names `field` otherwise: a time without offset, text that is no time, a year outside the range."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid_field(field, "a required field is empty")
    if isinstance(value, str):
        text = value.strip()
        try:
            if not text.isascii():  # fromisoformat takes digits of every script
                raise ValueError(text)
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise invalid_field(
                field,
                "must be an ISO 8601 time with an offset (e.g. 2026-10-01T08:00:00+08:00), got {value!r}",
                value=value,
            ) from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise invalid_field(
            field,
            "must be an ISO 8601 time with an offset (e.g. 2026-10-01T08:00:00+08:00), got {value!r}",
            value=value,
        )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise invalid_field(field, "time {value!r} has no offset: add one, e.g. +08:00", value=str(value))
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise invalid_field(
            field,
            "the year of {value!r} must be from {first} to {last}",
            value=str(value),
            first=FIRST_YEAR,
            last=LAST_YEAR,
        )
    return parsed


def days_in_year(year: int) -> int:
    """365 or 366."""
    return 366 if calendar.isleap(year) else 365


def overlap_days(a_start: date, a_end: date, b_start: date, b_end: date) -> int:
    """Days shared by two inclusive date ranges (0 when disjoint)."""
    start, end = max(a_start, b_start), min(a_end, b_end)
    return max(0, (end - start).days + 1)


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
