"""Local-time buckets (day, hour) of UTC timestamps, computed in SQL on SQLite and PostgreSQL alike.

The province's UTC offset is constant between its transitions (Asia/Shanghai has none today, other
zones have DST or half-hour offsets), so for a query range we find the offsets and their transitions in
Python from the zone database, and the SQL adds the right offset to each stored UTC time with a `CASE`
over the transitions. One code path, exact for any zone, no assumption about +08:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, literal_column

_UTC = UTC
_STEP = timedelta(hours=1)


def offset_segments(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """`[(from_utc, offset_seconds), ...]` covering `[start, end)`: each offset holds until the next entry."""

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    cursor = start.astimezone(_UTC)
    stop = end.astimezone(_UTC)
    segments = [(cursor, offset(cursor))]
    while cursor < stop:
        nxt = min(cursor + _STEP, stop)
        if offset(nxt) != segments[-1][1]:
            lo, hi = cursor, nxt  # the transition lies in (lo, hi]: find its exact second
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if offset(mid) == segments[-1][1]:
                    lo = mid
                else:
                    hi = mid
            segments.append((hi, offset(hi)))
        cursor = nxt
    return segments


def local_bucket(dialect: str, column: Any, zone: ZoneInfo, start: datetime, end: datetime, unit: str) -> Any:
    """A SQL expression giving the local `YYYY-MM-DD` (unit "day") or `YYYY-MM-DD HH` (unit "hour") of `column`."""
    segments = offset_segments(zone, start, end)
    if dialect == "postgresql":
        seconds: Any = _by_segment(column, segments, lambda off: literal_column(str(off)))
        local = func.timezone("UTC", column) + func.make_interval(0, 0, 0, 0, 0, 0, seconds)
        return func.to_char(local, "YYYY-MM-DD" if unit == "day" else "YYYY-MM-DD HH24")
    modifier = _by_segment(column, segments, lambda off: literal(f"{off:+d} seconds"))
    return func.substr(func.datetime(column, modifier), 1, 10 if unit == "day" else 13)


def _by_segment(column: Any, segments: list[tuple[datetime, int]], value: Any) -> Any:
    if len(segments) == 1:
        return value(segments[0][1])
    whens = [(column < segments[i + 1][0], value(off)) for i, (_, off) in enumerate(segments[:-1])]
    return case(*whens, else_=value(segments[-1][1]))


def label(value: str, unit: str) -> str:
    """The bucket as shown: `YYYY-MM-DD` or `YYYY-MM-DDTHH:00` (local time)."""
    return value if unit == "day" else f"{value[:10]}T{value[11:13]}:00"
