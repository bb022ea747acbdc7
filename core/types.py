"""Exact decimal column types that round-trip on SQLite and PostgreSQL alike.

SQLite's NUMERIC affinity stores binary floats, so on SQLite an `ExactDecimal` is kept as TEXT in
plain positional notation; on PostgreSQL it is a NUMERIC, which is exact. `MicroUnits` keeps a
quantity as a BIGINT count of millionths, so sums run exactly inside the database on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

MICRO = Decimal("0.000001")
_MICRO_FACTOR = 1_000_000


def to_decimal(value: Any) -> Decimal:
    """Convert an int, str or Decimal to Decimal, refusing floats (they are not exact)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"refusing inexact value {value!r}: use a string or Decimal")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal number: {value!r}") from exc
    raise TypeError(f"cannot convert {type(value).__name__} to Decimal")


def decimal_text(value: Decimal) -> str:
    """Plain positional notation (never exponent form), keeping the value's own scale."""
    text = format(value, "f")
    return "0" if text in ("-0", "+0") else text


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal column: NUMERIC on PostgreSQL, TEXT in positional notation on SQLite."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        dec = to_decimal(value)
        if not dec.is_finite():
            raise ValueError(f"refusing non-finite decimal {value!r}")
        return dec if dialect.name == "postgresql" else decimal_text(dec)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class MicroUnits(TypeDecorator[Decimal]):
    """A Decimal with at most 6 decimal places stored as a BIGINT of millionths (exact SQL sums)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return to_micro(to_decimal(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else from_micro(value)


def to_micro(value: Decimal) -> int:
    """Millionths of `value`; refuses more than 6 decimal places."""
    scaled = value * _MICRO_FACTOR
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than 6 decimal places")
    return int(scaled)


def from_micro(value: int | Decimal) -> Decimal:
    """The Decimal for a count of millionths, without trailing zeros."""
    return strip_zeros(Decimal(int(value)).scaleb(-6))


def strip_zeros(value: Decimal) -> Decimal:
    """`value` without trailing fractional zeros and never in exponent form (100, not 1E+2)."""
    norm = value.normalize()
    return norm.quantize(Decimal(1)) if norm == norm.to_integral_value() else norm


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC (timestamptz on PostgreSQL, UTC text on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"refusing naive datetime {value!r}: times must carry an offset")
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
