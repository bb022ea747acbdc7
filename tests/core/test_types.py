"""Exact decimals and aware times round-trip through SQLite and PostgreSQL unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select

from core.types import ExactDecimal, MicroUnits, UtcDateTime, from_micro, to_decimal, to_micro

VALUES = ["0.1", "0.000001", "123456789012.123456", "-0.01", "0", "1.10", "99999999999999.99"]


def _table() -> Table:
    return Table(
        "t",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("d", ExactDecimal()),
        Column("q", MicroUnits()),
        Column("t", UtcDateTime()),
    )


def test_exact_decimal_round_trips_unchanged(engine) -> None:
    table = _table()
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": i, "d": Decimal(v)} for i, v in enumerate(VALUES)])
        back = [r.d for r in conn.execute(select(table).order_by(table.c.id))]
    assert [str(v) for v in back] == VALUES
    assert all(isinstance(v, Decimal) for v in back)


def test_micro_units_sum_exactly_in_sql(engine) -> None:
    table = _table()
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(table),
            [{"id": i, "q": Decimal("0.1")} for i in range(10)] + [{"id": 100, "q": Decimal("123456789012.123456")}],
        )
        total = conn.execute(select(func.sum(table.c.q))).scalar_one()
        back = conn.execute(select(table.c.q).where(table.c.id == 100)).scalar_one()
    assert total == Decimal("123456789013.123456")  # the sum keeps the column type
    assert back == Decimal("123456789012.123456")


def test_datetimes_are_stored_in_utc_and_read_back_aware(engine) -> None:
    table = _table()
    table.metadata.create_all(engine)
    moment = datetime(2026, 10, 1, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": 1, "t": moment}])
        back = conn.execute(select(table.c.t)).scalar_one()
    assert back == moment and back.tzinfo is not None and back.utcoffset() == timedelta(0)


def test_naive_datetimes_and_floats_are_refused(engine) -> None:
    table = _table()
    table.metadata.create_all(engine)
    with pytest.raises(Exception, match="naive"):
        with engine.begin() as conn:
            conn.execute(insert(table), [{"id": 1, "t": datetime(2026, 1, 1)}])
    with pytest.raises(TypeError, match="inexact"):
        to_decimal(0.1)


def test_micro_conversion_refuses_more_than_six_places() -> None:
    assert to_micro(Decimal("1.000001")) == 1_000_001
    assert from_micro(100_000_000) == Decimal("100") and str(from_micro(100_000_000)) == "100"
    with pytest.raises(ValueError):
        to_micro(Decimal("0.0000001"))


def test_micro_sums_are_exact_past_64_bits(engine) -> None:
    from core.types import micro_sum, micro_total

    table = _table()
    table.metadata.create_all(engine)
    largest = Decimal("999999999999.999999")  # the largest valid quantity (docs/reference.md#usage-events-file)
    rows = [{"id": i, "q": largest} for i in range(25)] + [{"id": 100, "q": Decimal("0.000001")}]
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
        parts = conn.execute(select(*micro_sum(table.c.q, engine.dialect.name))).one()
        empty = conn.execute(select(*micro_sum(table.c.q, engine.dialect.name)).where(table.c.id < 0)).one()
    assert from_micro(micro_total(parts)) == largest * 25 + Decimal("0.000001")  # 2.5 x 10^19 millionths
    assert micro_total(empty) == 0


def test_micro_parts_recombine_exactly_at_their_limits() -> None:
    from core.types import micro_total

    biggest = 2**63 - 1  # each of SQLite's three part sums may reach 2^63 - 1
    assert micro_total([biggest, biggest, biggest]) == (biggest << 40) + (biggest << 20) + biggest
    assert micro_total([None]) == 0 and micro_total([7]) == 7


def test_from_micro_and_strip_zeros_are_exact_for_any_number_of_digits() -> None:
    from core.types import strip_zeros

    assert str(from_micro(10**40 + 1)) == "10000000000000000000000000000000000.000001"
    assert str(from_micro(-1_500_000)) == "-1.5" and str(from_micro(0)) == "0"
    assert str(strip_zeros(Decimal("123456789012345678901234567890.1200"))) == "123456789012345678901234567890.12"
