"""The evaluation score (docs/reference.md#evaluation-score) and what it pays: pure functions, no database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.i18n import register, t
from sla.availability import ratio, six_places
from tenants.contracts import EvaluationTerms
from tenants.permissions import Actor

#: docs/reference.md#small-groups: the fewest distinct departments an aggregate of ratings shown to a
#: department or an operator may be over.
MIN_DEPARTMENTS = 3
#: The roles the small-groups rule applies to; the bureau, finance, auditors and `admin` see aggregates whole.
SMALL_GROUP_ROLES = frozenset({"department", "operator"})
SMALL_GROUP = "fewer than 3 departments rated: not shown"

register({SMALL_GROUP: "评价部门少于 3 个，不予显示"})

LEVELS = (1, 2, 3, 4, 5)
#: The national five-level scale (docs/reference.md#evaluation): Chinese name -> level.
LEVEL_NAMES = {"非常满意": 5, "满意": 4, "基本满意": 3, "不满意": 2, "非常不满意": 1}
BAD_LEVELS = frozenset({1, 2})
SATISFIED_LEVELS = frozenset({3, 4, 5})


@dataclass(frozen=True)
class Score:
    """The counted ratings of a period summed up: S = 100 × (mean(level) − 1) / 4 (docs/reference.md#evaluation-score)."""

    count: int
    distribution: dict[int, int]
    score: Decimal | None
    satisfaction_rate: Decimal | None
    bad_review_rate: Decimal | None

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of `ratings score` (docs/reference.md#command-line): score 0–100, rates 0–1, each to 6 places."""
        return {
            "count": self.count,
            "distribution": {str(k): v for k, v in self.distribution.items()},
            "score": six_places(self.score),
            "satisfaction_rate": six_places(self.satisfaction_rate),
            "bad_review_rate": six_places(self.bad_review_rate),
        }


def score_of(levels: Iterable[int]) -> Score:
    """Count, distribution by level, score S, satisfaction rate (levels 3–5) and bad-review rate (1–2)."""
    values = list(levels)
    for level in values:
        if level not in LEVELS:
            raise ValueError(f"level must be 1-5, got {level!r}")
    n = len(values)
    distribution = {level: values.count(level) for level in LEVELS}
    if n == 0:
        return Score(0, distribution, None, None, None)
    # 100 × (Σ/n − 1) / 4 = 25 × (Σ − n) / n, one exact quotient
    score = ratio(25 * (sum(values) - n), n)
    satisfied = sum(distribution[level] for level in SATISFIED_LEVELS)
    bad = sum(distribution[level] for level in BAD_LEVELS)
    return Score(n, distribution, score, ratio(satisfied, n), ratio(bad, n))


def pays(score: Score, evaluation: EvaluationTerms) -> Decimal:
    """The share of the at-risk amount paid (docs/reference.md#evaluation-score).

    Fewer than `min_ratings` counted ratings (or none at all) pays 1; otherwise the first payout row,
    by `min_score` descending, whose `min_score` the exact score reaches.
    """
    if score.score is None or score.count < evaluation.min_ratings:
        return Decimal(1)
    for row in sorted(evaluation.payout, key=lambda r: r.min_score, reverse=True):
        if score.score >= row.min_score:
            return row.pays
    return Decimal(0)  # unreachable for a validated table: it has a row with min_score 0


# ---------------------------------------------------------------------------- small groups


def aggregate_shown(actor: Actor, departments: Iterable[str]) -> bool:
    """Whether an aggregate of ratings over `departments` (the departments whose ratings it sums up,
    repeats counted once) may be shown to `actor` (docs/reference.md#small-groups): always to the
    bureau, finance, auditors and `admin`; to a department or an operator only over at least
    `MIN_DEPARTMENTS` distinct departments."""
    return actor.role not in SMALL_GROUP_ROLES or len(set(departments)) >= MIN_DEPARTMENTS


def suppressed() -> dict[str, Any]:
    """The clearly-marked stand-in for an aggregate not shown: no count, distribution, score, rate or payout."""
    return {"suppressed": True, "reason": t(SMALL_GROUP), "min_departments": MIN_DEPARTMENTS}


def small_groups(actor: Actor, departments: Iterable[str], aggregate: Mapping[str, Any]) -> dict[str, Any]:
    """The one rule for every face (docs/reference.md#small-groups): `aggregate` marked `suppressed: false`
    when `aggregate_shown`, else `suppressed()` — none of its figures."""
    if aggregate_shown(actor, departments):
        return {"suppressed": False, **aggregate}
    return suppressed()
