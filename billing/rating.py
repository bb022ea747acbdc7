"""Rating: every formula of docs/reference.md#formulas as pure functions, without a database.

All arithmetic is exact decimal (fractions where a division must be exact), in the `core.types.EXACT`
context: 200 digits, so no sum or product is rounded even for a month of millions of events near the
10^12 limit priced with decimals (Python's default 28 digits would round those). Money is rounded once
per bill line to 0.01 with ROUND_HALF_UP; a bill's totals are sums of its rounded lines; credit
tiers and payout rows are compared on exact values (docs/reference.md#formulas).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import wraps
from typing import ParamSpec, TypeVar

from billing.models import CENT, ZERO, BillFlag, LineKind
from core.periods import Period, days_in_year, overlap_days
from core.types import EXACT
from sla.scoring import Score, pays
from tenants.contracts import ContractSpec, CreditTier, EvaluationTerms, Price, Tier

ONE = Decimal(1)

P = ParamSpec("P")
R = TypeVar("R")


def exact(function: Callable[P, R]) -> Callable[P, R]:
    """Run `function` in the `EXACT` decimal context (see the module docstring)."""

    @wraps(function)
    def in_exact_context(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(EXACT):
            return function(*args, **kwargs)

    return in_exact_context


def round2(value: Decimal) -> Decimal:
    """Round to 0.01 with ROUND_HALF_UP (四舍五入); zero is 0.00, never -0.00 (docs/reference.md#formulas)."""
    rounded = value.quantize(CENT, rounding=ROUND_HALF_UP, context=EXACT)
    return ZERO if rounded == 0 else rounded


def negate(amount: Decimal) -> Decimal:
    """`-amount`, keeping zero as 0.00."""
    return ZERO if amount == 0 else -amount


# ---------------------------------------------------------------------------- 4.1 annual fee


def annual_days(start: date, end: date, period: Period, through: date | None = None) -> tuple[int, int]:
    """(D_before, D_through) of docs/reference.md#annual-fee: term days from 1 January to the day before the period / its last day.

    `through` cuts the period short (a provisional run counts the days so far).
    """
    jan1 = date(period.year, 1, 1)
    last = period.last_day if through is None else min(period.last_day, through)
    d_before = overlap_days(jan1, period.first_day - timedelta(days=1), start, end) if period.month > 1 else 0
    d_through = max(d_before, overlap_days(jan1, last, start, end)) if last >= period.first_day else d_before
    return d_before, d_through


@exact
def annual_amount(
    annual_fee: Decimal, *, start: date, end: date, period: Period, through: date | None = None
) -> Decimal:
    """docs/reference.md#annual-fee, cumulative rounding: round2(fee × D_through / days) − round2(fee × D_before / days)."""
    d_before, d_through = annual_days(start, end, period, through)
    days = days_in_year(period.year)
    return round2(round2(annual_fee * d_through / days) - round2(annual_fee * d_before / days))


# ---------------------------------------------------------------------------- 4.2 usage


@exact
def price_quantity(price: Price, quantity: Decimal) -> Decimal:
    """The exact (unrounded) price of `quantity` under a flat, graduated or volume price (docs/reference.md#usage-charges)."""
    if quantity < 0:
        raise ValueError(f"negative quantity {quantity}")
    if price.model == "flat":
        assert price.unit_price is not None
        return quantity * price.unit_price
    tiers = price.tiers or []
    if price.model == "volume":
        return quantity * _volume_tier(tiers, quantity).unit_price
    total, lower = Decimal(0), Decimal(0)
    for tier in tiers:  # graduated: each tier prices the part of Q between the previous up_to and its own
        if quantity <= lower:
            break
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        total += (upper - lower) * tier.unit_price
        if tier.up_to is None:
            break
        lower = tier.up_to
    return total


def _volume_tier(tiers: Sequence[Tier], quantity: Decimal) -> Tier:
    """The first tier with Q ≤ up_to (the open last tier otherwise)."""
    for tier in tiers:
        if tier.up_to is None or quantity <= tier.up_to:
            return tier
    raise ValueError("price tiers must end with an open tier")


@exact
def usage_amount(price: Price, quantity: Decimal) -> Decimal:
    """`usage_m = round2(price(Q))` (docs/reference.md#usage-charges)."""
    return round2(price_quantity(price, quantity))


def unit_price_of(price: Price, quantity: Decimal) -> Decimal | None:
    """The one unit price that applies to all of Q (flat, volume), None when tiers split it (graduated)."""
    if price.model == "flat":
        return price.unit_price
    tiers = price.tiers or []
    if price.model == "volume":
        return _volume_tier(tiers, quantity).unit_price
    return tiers[0].unit_price if len(tiers) == 1 else None


@exact
def allocate(amount: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Split `amount` (a multiple of 0.01) by weight with the largest-remainder method (docs/reference.md#usage-charges).

    Each share is floored in fen, then the fen left over go one each to the largest remainders, ties
    to the lower department id, so the shares sum exactly to `amount`. A negative amount is allocated
    as its absolute value, then negated. With all weights zero, every department weighs the same.
    """
    if not weights:
        if amount != 0:
            raise ValueError("cannot allocate a non-zero amount to nobody")
        return {}
    if any(w < 0 for w in weights.values()):
        raise ValueError("negative allocation weight")
    fen = abs(amount) / CENT
    if fen != fen.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of fen")
    total_fen = int(fen)
    keys = sorted(weights)
    # exact integer arithmetic: every weight scaled by the same power of ten
    scale = max([0] + [-int(weights[k].as_tuple().exponent) for k in keys])
    ints = {k: _scaled(weights[k], scale) for k in keys}
    total = sum(ints.values())
    if total == 0:
        ints, total = {k: 1 for k in keys}, len(keys)
    shares: dict[str, int] = {}
    remainders: list[tuple[int, str]] = []
    for k in keys:
        floor, remainder = divmod(total_fen * ints[k], total)
        shares[k] = floor
        remainders.append((-remainder, k))
    left = total_fen - sum(shares.values())
    for _, k in sorted(remainders)[:left]:
        shares[k] += 1
    sign = -1 if amount < 0 else 1
    return {k: ZERO if shares[k] == 0 else Decimal(sign * shares[k]).scaleb(-2) for k in keys}


def _scaled(value: Decimal, scale: int) -> int:
    """`value × 10^scale` as an exact int (no decimal context rounding, whatever the digits)."""
    _, digits, exponent = value.as_tuple()
    magnitude: int = int("".join(map(str, digits)) or "0") * 10 ** (int(exponent) + scale)
    return magnitude


# ---------------------------------------------------------------------------- 4.3 / 4.5 SLA credit


def credit_share(availability: Decimal | None, credits: Sequence[CreditTier], *, insufficient: bool = False) -> Decimal:
    """The credit of the tier with the smallest `below` that A is strictly under; 0 when none (docs/reference.md#the-bill).

    Insufficient availability (docs/reference.md#availability) gives no automatic credit.
    """
    if availability is None or insufficient:
        return Decimal(0)
    under = [tier for tier in credits if availability < tier.below]
    return min(under, key=lambda tier: tier.below).credit if under else Decimal(0)


# ---------------------------------------------------------------------------- 4.4 evaluation


def payout_share(score: Decimal | None, count: int, evaluation: EvaluationTerms) -> Decimal:
    """`pays` of docs/reference.md#evaluation-score for a score S over `count` counted ratings (the SLA domain's payout table rule)."""
    return pays(
        Score(count=count, distribution={}, score=score, satisfaction_rate=None, bad_review_rate=None), evaluation
    )


# ---------------------------------------------------------------------------- 4.5 deductions


@exact
def sla_credit_amount(base: Decimal, credit: Decimal) -> Decimal:
    """`sla_credit = round2(base × c)` (docs/reference.md#the-bill), positive."""
    return round2(base * credit)


@exact
def evaluation_deduction_amount(base: Decimal, at_risk: Decimal, pays: Decimal) -> Decimal:
    """`evaluation_deduction = round2(base × at_risk × (1 − pays))` (docs/reference.md#the-bill), positive."""
    return round2(base * at_risk * (ONE - pays))


@exact
def cap_adjustment_amount(
    base: Decimal, sla_credit: Decimal, evaluation_deduction: Decimal, max_deduction: Decimal | None
) -> Decimal:
    """The excess of the deductions over `cap = round2(base × max_deduction)`, added back (docs/reference.md#the-bill)."""
    cap = round2(base * (ONE if max_deduction is None else max_deduction))
    excess = sla_credit + evaluation_deduction - cap
    return round2(excess) if excess > 0 else ZERO


# ---------------------------------------------------------------------------- 4.6 corrections


@exact
def correction_amount(price: Price | None, quantity_now: Decimal, billed: Decimal) -> Decimal:
    """The meter re-rated with every event now known, minus what approved bills already billed (docs/reference.md#late-usage)."""
    rerated = usage_amount(price, quantity_now) if price is not None else ZERO
    return round2(rerated - billed)


# ---------------------------------------------------------------------------- the bill


@dataclass(frozen=True)
class Allocation:
    """A department's share of a line."""

    department: str
    quantity: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Line:
    """One bill line; amounts are signed so that a bill's lines sum to its payable (docs/reference.md#the-bill)."""

    kind: LineKind
    amount: Decimal
    meter: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    period: str | None = None
    allocations: tuple[Allocation, ...] | None = None


@dataclass(frozen=True)
class UsageInput:
    """Usage of one meter in the period on the contract's clouds, by department; `price` None: unpriced."""

    meter: str
    price: Price | None
    quantities: Mapping[str, Decimal]


@dataclass(frozen=True)
class CorrectionInput:
    """A meter of an earlier period with an approved bill: every event now known vs what was billed."""

    period: str
    meter: str
    price: Price | None
    quantity_now: Decimal
    billed: Decimal
    late: Mapping[str, Decimal]


@dataclass(frozen=True)
class BillInputs:
    """Everything a bill is computed from (docs/reference.md#formulas): no database, no clock."""

    contract: ContractSpec
    period: Period
    active: bool = True  # False: the term has ended, a corrections-only bill
    annual_through: date | None = None  # a provisional run: the last day counted so far
    usage: Sequence[UsageInput] = ()
    availability: Decimal | None = None
    availability_insufficient: bool = False
    score: Decimal | None = None
    rating_count: int = 0
    corrections: Sequence[CorrectionInput] = ()


@dataclass(frozen=True)
class RatedBill:
    """A computed bill: its lines in docs/reference.md#command-line order, bill-level figures and flags."""

    lines: tuple[Line, ...]
    base: Decimal
    sla_credit: Decimal
    evaluation_deduction: Decimal
    cap_adjustment: Decimal
    corrections: Decimal
    payable: Decimal
    flags: tuple[BillFlag, ...] = field(default_factory=tuple)


def _allocated(amount: Decimal, quantities: Mapping[str, Decimal]) -> tuple[Allocation, ...]:
    shares = allocate(amount, quantities)
    return tuple(Allocation(dept, quantities[dept], shares[dept]) for dept in sorted(quantities))


@exact
def usage_line(item: UsageInput) -> Line:
    """A usage line allocated by quantity, or an unpriced line of 0.00 (docs/reference.md#usage-charges)."""
    q = sum(item.quantities.values(), Decimal(0))
    if item.price is None:
        return Line(
            LineKind.UNPRICED, ZERO, meter=item.meter, quantity=q, allocations=_allocated(ZERO, item.quantities)
        )
    amount = usage_amount(item.price, q)
    return Line(
        LineKind.USAGE,
        amount,
        meter=item.meter,
        quantity=q,
        unit_price=unit_price_of(item.price, q),
        allocations=_allocated(amount, item.quantities),
    )


@exact
def correction_line(item: CorrectionInput) -> Line | None:
    """A correction line allocated by the late quantities, None when nothing changed (docs/reference.md#late-usage)."""
    amount = correction_amount(item.price, item.quantity_now, item.billed)
    late = {k: v for k, v in item.late.items() if v != 0} or dict(item.late)
    late_q = sum(late.values(), Decimal(0))
    if amount == 0 and late_q == 0:
        return None
    return Line(
        LineKind.CORRECTION,
        amount,
        meter=item.meter,
        quantity=late_q,
        period=item.period,
        allocations=_allocated(amount, late),
    )


@exact
def rate_bill(inputs: BillInputs) -> RatedBill:
    """Compute one bill (docs/reference.md#the-bill): base, SLA credit, evaluation deduction, cap, corrections, payable."""
    c = inputs.contract
    lines: list[Line] = []
    flags: set[BillFlag] = set()
    base = sla_credit = deduction = cap_adj = ZERO
    if inputs.active:
        if c.annual_fee is not None:
            d_before, d_through = annual_days(c.start, c.end, inputs.period, inputs.annual_through)
            amount = annual_amount(
                c.annual_fee, start=c.start, end=c.end, period=inputs.period, through=inputs.annual_through
            )
            lines.append(Line(LineKind.ANNUAL, amount, quantity=Decimal(d_through - d_before)))
        for item in sorted(inputs.usage, key=lambda u: u.meter):
            line = usage_line(item)
            lines.append(line)
            if line.kind == LineKind.UNPRICED:
                flags.add(BillFlag.UNPRICED_USAGE)
        base = sum((line.amount for line in lines), ZERO)
        if c.sla is not None:
            sla_credit = sla_credit_amount(
                base, credit_share(inputs.availability, c.sla.credits, insufficient=inputs.availability_insufficient)
            )
            if inputs.availability_insufficient:
                flags.add(BillFlag.NEEDS_REVIEW)
        if c.evaluation is not None:
            pays = payout_share(inputs.score, inputs.rating_count, c.evaluation)
            deduction = evaluation_deduction_amount(base, c.evaluation.at_risk, pays)
        cap_adj = cap_adjustment_amount(base, sla_credit, deduction, c.max_deduction)
        if sla_credit != 0:
            lines.append(Line(LineKind.SLA_CREDIT, negate(sla_credit)))
        if deduction != 0:
            lines.append(Line(LineKind.EVALUATION, negate(deduction)))
        if cap_adj != 0:
            lines.append(Line(LineKind.CAP_ADJUSTMENT, cap_adj))
    corrections = ZERO
    for late in sorted(inputs.corrections, key=lambda x: (x.period, x.meter)):
        corrected = correction_line(late)
        if corrected is not None:
            lines.append(corrected)
            corrections += corrected.amount
            if late.price is None:
                flags.add(BillFlag.UNPRICED_USAGE)
    payable = base - sla_credit - deduction + cap_adj + corrections
    return RatedBill(
        lines=tuple(lines),
        base=round2(base),
        sla_credit=sla_credit,
        evaluation_deduction=deduction,
        cap_adjustment=cap_adj,
        corrections=round2(corrections),
        payable=round2(payable),
        flags=tuple(sorted(flags)),
    )
