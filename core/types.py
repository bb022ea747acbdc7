"""Exact decimal column types that round-trip on SQLite and PostgreSQL alike, and exact sums of them.

SQLite's NUMERIC affinity stores binary floats, so on SQLite an `ExactDecimal` is kept as TEXT in
plain positional notation; on PostgreSQL it is a NUMERIC, which is exact. `MicroUnits` keeps a
quantity as a BIGINT count of millionths; `micro_sum` sums such a column exactly in SQL on both
(SQLite adds 64-bit integers and fails past 2^63, so there it sums three 20-bit parts), and
`micro_total` puts the parts together. `EXACT` is a decimal context that never rounds a sum or a
product of stored values (Python's default keeps 28 digits).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric, String, func, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

MICRO = Decimal("0.000001")
_MICRO_FACTOR = 1_000_000
#: Decimal arithmetic for money and quantities: 200 significant digits, so that sums and products of
#: stored values (a month of millions of events near 10^12 times a price) are never rounded; money is
#: rounded once per bill line, explicitly (docs/reference.md#formulas). Invalid operations raise instead of giving NaN.
EXACT = Context(prec=200, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
#: SQLite sums integers in 64 bits and fails past 2^63 ("integer overflow"): ten events near the 10^12
#: limit (10^18 millionths each) would make a month unbillable. A quantity is below 2^60 millionths,
#: so SQLite sums it in three 20-bit parts; each part's sum stays below 2^63 for up to 2^43 events in
#: a group, more than a SQLite database can hold. PostgreSQL's SUM of a BIGINT is an exact NUMERIC.
_PART_BITS = 20
_PART_MASK = (1 << _PART_BITS) - 1


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
    """The Decimal for a count of millionths, without trailing zeros (exact whatever its digits)."""
    number = int(value)
    whole, fraction = divmod(abs(number), _MICRO_FACTOR)
    text = f"{whole}.{fraction:06d}".rstrip("0").rstrip(".")
    return Decimal(f"-{text}" if number < 0 else text)


def strip_zeros(value: Decimal) -> Decimal:
    """`value` without trailing fractional zeros and never in exponent form (100, not 1E+2)."""
    norm = value.normalize(EXACT)
    return norm.quantize(Decimal(1), context=EXACT) if norm == norm.to_integral_value() else norm


def micro_sum(column: Any, dialect: str) -> list[ColumnElement[int]]:
    """The SQL aggregates that sum a `MicroUnits` column exactly on `dialect` (see `micro_total`)."""
    micro = type_coerce(column, BigInteger)
    if dialect != "sqlite":
        return [type_coerce(func.sum(micro), BigInteger)]
    parts = (
        micro.op(">>")(2 * _PART_BITS),
        micro.op(">>")(_PART_BITS).op("&")(_PART_MASK),
        micro.op("&")(_PART_MASK),
    )
    return [type_coerce(func.sum(part), BigInteger) for part in parts]


def micro_total(parts: Sequence[Any]) -> int:
    """The exact sum in millionths from the values of `micro_sum`'s aggregates (None: no rows)."""
    total = 0
    for value in parts:
        total = (total << _PART_BITS) + int(value or 0)
    return total


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
