"""The pure rating functions of docs/reference.md#formulas, with examples worked by hand and hypothesis properties."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.rating import (
    CorrectionInput,
    UsageInput,
    allocate,
    annual_amount,
    annual_days,
    cap_adjustment_amount,
    correction_line,
    credit_share,
    evaluation_deduction_amount,
    payout_share,
    price_quantity,
    round2,
    unit_price_of,
    usage_amount,
    usage_line,
)
from core.periods import Period
from tenants.contracts import CreditTier, EvaluationTerms, PayoutRow, Price, Tier

D = Decimal

quantities = st.decimals(min_value=0, max_value=D("999999999.999999"), places=6, allow_nan=False, allow_infinity=False)
prices = st.decimals(min_value=0, max_value=D("1000"), places=4, allow_nan=False, allow_infinity=False)
fen = st.integers(min_value=-(10**9), max_value=10**9).map(lambda n: D(n).scaleb(-2))
dept_ids = st.from_regex(r"[a-z][a-z0-9-]{1,8}", fullmatch=True)


def flat(p: str) -> Price:
    return Price(meter="vcpu_hours", model="flat", unit_price=D(p))


def tiered(model: str, *tiers: tuple[str | None, str]) -> Price:
    return Price(
        meter="vcpu_hours",
        model=model,
        tiers=[Tier(up_to=None if u is None else D(u), unit_price=D(p)) for u, p in tiers],
    )


@st.composite
def tier_prices(draw: st.DrawFn, model: str) -> Price:
    bounds = sorted(set(draw(st.lists(st.decimals(min_value=1, max_value=10**7, places=2), max_size=4))))
    unit = draw(st.lists(prices, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    tiers = [Tier(up_to=b, unit_price=u) for b, u in zip(bounds, unit[:-1], strict=True)]
    tiers.append(Tier(up_to=None, unit_price=unit[-1]))
    return Price(meter="vcpu_hours", model=model, tiers=tiers)


# ---------------------------------------------------------------------------- rounding


def test_round2_is_half_up_and_never_negative_zero() -> None:
    assert round2(D("0.005")) == D("0.01")
    assert round2(D("0.015")) == D("0.02")  # half-even would give 0.02 too; 0.025 tells them apart
    assert str(round2(D("0.025"))) == "0.03"
    assert str(round2(D("-0.025"))) == "-0.03"
    assert str(round2(D("-0.004"))) == "0.00"
    assert str(round2(D("0"))) == "0.00"


# ---------------------------------------------------------------------------- 4.1 annual fee


def test_a_years_months_add_up_to_the_annual_fee_in_leap_and_common_years() -> None:
    for year in (2026, 2028):
        fee = D("1000000.01")
        months = [
            annual_amount(fee, start=date(year, 1, 1), end=date(year, 12, 31), period=Period(year, m))
            for m in range(1, 13)
        ]
        assert sum(months) == fee
        days = 366 if year == 2028 else 365
        assert months[0] == round2(fee * 31 / days)


def test_annual_fee_counts_only_the_days_of_the_term() -> None:
    # term starts 2026-07-16: July has 16 active days; D_before = 0, D_through = 16
    assert annual_days(date(2026, 7, 16), date(2026, 12, 31), Period(2026, 7)) == (0, 16)
    july = annual_amount(D("365000"), start=date(2026, 7, 16), end=date(2026, 12, 31), period=Period(2026, 7))
    assert july == D("16000.00")
    assert annual_amount(D("365000"), start=date(2026, 7, 16), end=date(2026, 12, 31), period=Period(2026, 6)) == 0


def test_provisional_annual_fee_counts_days_so_far() -> None:
    amount = annual_amount(
        D("365000"), start=date(2026, 1, 1), end=date(2026, 12, 31), period=Period(2026, 10), through=date(2026, 10, 10)
    )
    assert amount == D("10000.00")


@given(
    fee=st.decimals(min_value=0, max_value=10**10, places=2),
    year=st.integers(2000, 2100),
    start=st.integers(1, 365),
    length=st.integers(0, 800),
)
def test_months_of_any_term_add_up_to_the_fee_share_of_the_year(
    fee: Decimal, year: int, start: int, length: int
) -> None:
    from datetime import timedelta

    begin = date(year, 1, 1) + timedelta(days=start - 1)
    end = begin + timedelta(days=length)
    total = sum(annual_amount(fee, start=begin, end=end, period=Period(year, m)) for m in range(1, 13))
    in_year = (min(end, date(year, 12, 31)) - begin).days + 1 if begin.year == year else 0
    days = 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365
    assert total == round2(fee * in_year / days)


# ---------------------------------------------------------------------------- 4.2 prices


def test_flat_graduated_and_volume_prices_by_hand() -> None:
    assert price_quantity(flat("0.0005"), D("2000000")) == D("1000")
    grad = tiered("graduated", ("100000", "0.12"), (None, "0.10"))
    assert price_quantity(grad, D("150000")) == D("100000") * D("0.12") + D("50000") * D("0.10")
    vol = tiered("volume", ("1000", "0.15"), (None, "0.11"))
    assert price_quantity(vol, D("1000")) == D("150")
    assert price_quantity(vol, D("1000.5")) == D("1000.5") * D("0.11")
    assert unit_price_of(vol, D("10")) == D("0.15") and unit_price_of(grad, D("10")) is None
    assert usage_amount(flat("0.0005"), D("3")) == D("0.00")
    assert usage_amount(flat("0.005"), D("1")) == D("0.01")


@given(q=quantities, p=prices)
def test_graduated_equals_volume_for_a_single_tier(q: Decimal, p: Decimal) -> None:
    one = [Tier(up_to=None, unit_price=p)]
    grad = Price(meter="vcpu_hours", model="graduated", tiers=one)
    vol = Price(meter="vcpu_hours", model="volume", tiers=one)
    assert price_quantity(grad, q) == price_quantity(vol, q) == price_quantity(flat(str(p)), q)


@given(price=tier_prices("graduated"), a=quantities, b=quantities)
def test_graduated_is_non_decreasing_in_quantity(price: Price, a: Decimal, b: Decimal) -> None:
    low, high = min(a, b), max(a, b)
    assert price_quantity(price, low) <= price_quantity(price, high)
    assert usage_amount(price, low) <= usage_amount(price, high)


@given(price=st.one_of(tier_prices("graduated"), tier_prices("volume")), q=quantities)
def test_rating_is_deterministic(price: Price, q: Decimal) -> None:
    assert usage_amount(price, q) == usage_amount(price.model_copy(deep=True), Decimal(str(q)))


# ---------------------------------------------------------------------------- allocation


def test_largest_remainder_allocation_by_hand() -> None:
    # 1.00 over three equal shares: 33 fen each, the left-over fen to the lowest id
    assert allocate(D("1.00"), {"c": D(1), "a": D(1), "b": D(1)}) == {"a": D("0.34"), "b": D("0.33"), "c": D("0.33")}
    # 0.05 by 1:3 -> 1.25 / 3.75 fen: floors 1 and 3, the fen left goes to the larger remainder (0.75)
    assert allocate(D("0.05"), {"x": D(1), "y": D(3)}) == {"x": D("0.01"), "y": D("0.04")}
    # negative: allocate the absolute value, then negate; zero stays 0.00
    shares = allocate(D("-1.00"), {"a": D(1), "b": D(1), "c": D(1)})
    assert shares == {"a": D("-0.34"), "b": D("-0.33"), "c": D("-0.33")}
    assert str(allocate(D("-0.01"), {"a": D(1), "b": D(1)})["b"]) == "0.00"


@given(amount=fen, weights=st.dictionaries(dept_ids, quantities, min_size=1, max_size=30))
def test_allocations_always_sum_exactly_to_their_line(amount: Decimal, weights: dict[str, Decimal]) -> None:
    shares = allocate(amount, weights)
    assert set(shares) == set(weights)
    assert sum(shares.values()) == amount
    assert all(s.as_tuple().exponent == -2 for s in shares.values())
    assert all(str(s) != "-0.00" for s in shares.values())
    total = sum(weights.values())
    if total:
        for k, s in shares.items():  # each share is within one fen of the exact proportion
            assert abs(abs(s) - abs(amount) * weights[k] / total) < D("0.01")
    assert allocate(amount, dict(reversed(list(weights.items())))) == shares


# ---------------------------------------------------------------------------- SLA, evaluation, cap

CREDITS = [
    CreditTier(below=D("99.95"), credit=D("0.10")),
    CreditTier(below=D("99.0"), credit=D("0.25")),
    CreditTier(below=D("95.0"), credit=D("1.00")),
]
EVALUATION = EvaluationTerms(
    at_risk=D("0.10"),
    min_ratings=3,
    payout=[
        PayoutRow(min_score=D(90), pays=D("1.00")),
        PayoutRow(min_score=D(80), pays=D("0.80")),
        PayoutRow(min_score=D(60), pays=D("0.50")),
        PayoutRow(min_score=D(0), pays=D(0)),
    ],
)


def test_sla_credit_tier_uses_the_smallest_below_strictly_under() -> None:
    assert credit_share(D("99.95"), CREDITS) == 0
    assert credit_share(D("99.949999"), CREDITS) == D("0.10")
    assert credit_share(D("99.0"), CREDITS) == D("0.10")
    assert credit_share(D("98.99"), CREDITS) == D("0.25")
    assert credit_share(D("94"), CREDITS) == D("1.00")
    assert credit_share(D("50"), CREDITS, insufficient=True) == 0
    assert credit_share(None, CREDITS) == 0


def test_evaluation_payout_rows_and_minimum_ratings() -> None:
    assert payout_share(D(75), 3, EVALUATION) == D("0.50")
    assert payout_share(D(80), 3, EVALUATION) == D("0.80")
    assert payout_share(D("79.999"), 3, EVALUATION) == D("0.50")
    assert payout_share(D(10), 2, EVALUATION) == 1  # fewer than min_ratings
    assert evaluation_deduction_amount(D("1000.00"), D("0.10"), D("0.50")) == D("50.00")


def test_cap_adjustment_adds_back_the_excess_over_the_cap() -> None:
    assert cap_adjustment_amount(D("1000.00"), D("1000.00"), D("100.00"), D("0.50")) == D("600.00")
    assert cap_adjustment_amount(D("1000.00"), D("100.00"), D("100.00"), D("0.50")) == D("0.00")
    assert cap_adjustment_amount(D("1000.00"), D("1000.00"), D("100.00"), None) == D("100.00")


def test_a_correction_is_the_rerated_meter_minus_what_was_billed() -> None:
    price = tiered("volume", ("1000", "0.15"), (None, "0.11"))
    # billed 900 units at 0.15 = 135.00; 200 late units move Q to 1100, all at 0.11 = 121.00: -14.00
    line = correction_line(
        CorrectionInput(
            period="2026-09",
            meter="vcpu_hours",
            price=price,
            quantity_now=D(1100),
            billed=D("135.00"),
            late={"a": D(150), "b": D(50)},
        )
    )
    assert line is not None and line.amount == D("-14.00") and line.quantity == D(200)
    assert [(a.department, a.amount) for a in line.allocations or ()] == [("a", D("-10.50")), ("b", D("-3.50"))]
    unchanged = CorrectionInput(
        period="2026-09", meter="m", price=price, quantity_now=D(900), billed=D("135.00"), late={}
    )
    assert correction_line(unchanged) is None
    assert UsageInput("m", None, {}).price is None


@settings(max_examples=50)
@given(q=quantities, price=st.one_of(tier_prices("graduated"), tier_prices("volume")))
def test_correction_after_all_events_billed_is_zero(q: Decimal, price: Price) -> None:
    billed = usage_amount(price, q)
    assert correction_line(CorrectionInput("2026-01", "m", price, q, billed, {})) is None


def test_a_usage_line_of_ten_million_events_near_the_limit_is_exact() -> None:
    # 9,713,764 events just below 10^12 each, at a price with decimals: 31 significant digits, more than
    # Python's default decimal context keeps (it would round this line to ...741.23)
    quantity = Decimal("9713763999999999989.439440")
    price = Price(meter="vcpu_hours", model="flat", unit_price=Decimal("799887.39"))
    assert usage_amount(price, quantity) == Decimal("7769917333035959991552741.22")
    line = usage_line(UsageInput("vcpu_hours", price, {"a": quantity - 1, "b": Decimal(1)}))
    assert line.amount == Decimal("7769917333035959991552741.22") and line.quantity == quantity
    assert sum(a.amount for a in line.allocations or ()) == line.amount
