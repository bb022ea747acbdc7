"""Availability, coverage, error budget and burn rate (docs/reference.md#sla, #availability): pure functions, no database.

Intervals are half-open `[start, end)` pairs of aware datetimes in whole seconds. Every result is
an exact `Decimal` (or an int of seconds); nothing goes through binary floats.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

Interval = tuple[datetime, datetime]

#: Below this coverage a contract with probes has an `insufficient` availability (docs/reference.md#availability).
MIN_COVERAGE = Decimal("0.9")
#: A maintenance window counts only when announced this long before it starts (docs/reference.md#sla).
_SECOND = timedelta(seconds=1)
_SIX = Decimal("0.000001")
_PRECISION = 50  # digits for quotients: far beyond any gap between a result and a tier boundary


def seconds(delta: timedelta) -> int:
    """Whole seconds of a duration (floored)."""
    return delta // _SECOND


def six_places(value: Decimal | None) -> Decimal | None:
    """A computed percentage, score or rate as printed: 6 decimal places, ROUND_HALF_UP (docs/reference.md#command-line)."""
    return None if value is None else value.quantize(_SIX, rounding=ROUND_HALF_UP)


def ratio(numerator: int | Decimal, denominator: int | Decimal) -> Decimal:
    """`numerator / denominator` as a Decimal with ample precision."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return Decimal(numerator) / Decimal(denominator)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering the same time; overlapping or touching ones are joined."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def clip(intervals: Iterable[Interval], lo: datetime, hi: datetime) -> list[Interval]:
    """The merged parts of `intervals` inside `[lo, hi)`."""
    return merge((max(s, lo), min(e, hi)) for s, e in intervals)


def subtract(intervals: Iterable[Interval], cut: Iterable[Interval]) -> list[Interval]:
    """The merged parts of `intervals` outside every interval of `cut`."""
    cuts = merge(cut)
    out: list[Interval] = []
    for start, end in merge(intervals):
        cursor = start
        for c_start, c_end in cuts:
            if c_end <= cursor or c_start >= end:
                continue
            if c_start > cursor:
                out.append((cursor, c_start))
            cursor = max(cursor, c_end)
            if cursor >= end:
                break
        if cursor < end:
            out.append((cursor, end))
    return out


def total_seconds(intervals: Iterable[Interval]) -> int:
    """Seconds covered by the union of `intervals`."""
    return sum(seconds(e - s) for s, e in merge(intervals))


def timely(start: datetime, announced_at: datetime, notice_hours: int) -> bool:
    """Whether a maintenance window was announced at least `notice_hours` (the contract's) before it starts."""
    return announced_at <= start - timedelta(hours=notice_hours)


@dataclass(frozen=True)
class Availability:
    """Availability of one contract over a window (docs/reference.md#availability), with the figures behind it."""

    start: datetime
    end: datetime
    availability: Decimal
    eligible_seconds: int
    down_seconds: int
    maintenance_seconds: int
    coverage: Decimal | None
    insufficient: bool
    outages: tuple[Interval, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of `sla availability` (docs/reference.md#command-line): percentages and fractions to 6 places."""
        return {
            "start": self.start,
            "end": self.end,
            "availability": six_places(self.availability),
            "eligible_seconds": self.eligible_seconds,
            "down_seconds": self.down_seconds,
            "maintenance_seconds": self.maintenance_seconds,
            "coverage": six_places(self.coverage),
            "insufficient": self.insufficient,
            "outages": [{"start": s, "end": e, "seconds": seconds(e - s)} for s, e in self.outages],
        }


def compute_availability(
    *,
    start: datetime,
    end: datetime,
    outages: Iterable[Interval],
    maintenance: Iterable[Interval] = (),
    checks: Iterable[Interval] | None = None,
    min_coverage: Decimal = MIN_COVERAGE,
) -> Availability:
    """docs/reference.md#availability over the active window `[start, end)`.

    `maintenance` holds only approved, timely windows. `checks` is None for a contract without
    probes; otherwise each stored check as the interval it covers (`[time, time + interval_s)`).
    """
    end = max(start, end)
    window = seconds(end - start)
    kept = clip(maintenance, start, end)
    merged = clip(outages, start, end)
    maintenance_s = total_seconds(kept)
    eligible = window - maintenance_s
    down = total_seconds(subtract(merged, kept))
    percent = Decimal(100) if eligible == 0 else ratio(100 * (eligible - down), eligible)
    coverage: Decimal | None = None
    insufficient = False
    if checks is not None:
        covered = total_seconds(subtract(clip(checks, start, end), kept))
        coverage = Decimal(1) if eligible == 0 else ratio(covered, eligible)
        insufficient = coverage < min_coverage
    return Availability(
        start=start,
        end=end,
        availability=percent,
        eligible_seconds=eligible,
        down_seconds=down,
        maintenance_seconds=maintenance_s,
        coverage=coverage,
        insufficient=insufficient,
        outages=tuple(merged),
    )


@dataclass(frozen=True)
class ErrorBudget:
    """The downtime a target allows over a window, and what is left of it."""

    total_seconds: Decimal
    remaining_seconds: Decimal
    remaining_ratio: Decimal | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_seconds": self.total_seconds,
            "remaining_seconds": self.remaining_seconds,
            "remaining_ratio": six_places(self.remaining_ratio),
        }


def error_budget(availability: Availability, target: Decimal) -> ErrorBudget:
    """Budget = eligible seconds × (100 − target) %; remaining = budget − down seconds (may be negative)."""
    total = Decimal(availability.eligible_seconds) * (Decimal(100) - target) / Decimal(100)
    remaining = total - availability.down_seconds
    share = ratio(remaining, total) if total else None
    return ErrorBudget(total_seconds=total, remaining_seconds=remaining, remaining_ratio=share)


def burn_rate(availability: Availability, target: Decimal) -> Decimal | None:
    """Observed error rate over the window divided by the rate the target allows (1 = on budget).

    None when the target allows no downtime at all (100 %).
    """
    allowed = (Decimal(100) - target) / Decimal(100)
    if not allowed:
        return None
    if availability.eligible_seconds == 0:
        return Decimal(0)
    return ratio(ratio(availability.down_seconds, availability.eligible_seconds), allowed)
