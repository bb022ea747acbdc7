"""Billing periods: calendar months in the province's timezone (docs/reference.md#contracts-and-bills)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.errors import InvalidInput

#: How a period is written, as interfaces show it (option help, API descriptions, messages).
PERIOD_FORMAT = "YYYY-MM"
#: The pattern a period's text matches: the one definition `Period.parse` and the interfaces validate with.
PERIOD_PATTERN = r"^\d{4}-\d{2}$"
_PERIOD = re.compile(PERIOD_PATTERN)


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month `YYYY-MM`."""

    year: int
    month: int

    @classmethod
    def parse(cls, value: str) -> Period:
        """Parse `YYYY-MM`; an InvalidInput otherwise."""
        text = value.strip() if isinstance(value, str) else ""
        year, month = (int(text[:4]), int(text[5:])) if _PERIOD.match(text) else (0, 0)
        if not 1 <= month <= 12 or year < 1:
            raise InvalidInput("period must be YYYY-MM, got {value!r}", value=value)
        return cls(year, month)

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


def days_in_year(year: int) -> int:
    """365 or 366."""
    return 366 if calendar.isleap(year) else 365


def overlap_days(a_start: date, a_end: date, b_start: date, b_end: date) -> int:
    """Days shared by two inclusive date ranges (0 when disjoint)."""
    start, end = max(a_start, b_start), min(a_end, b_end)
    return max(0, (end - start).days + 1)


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
