"""The evaluation score (docs/reference.md#evaluation-score) and its payout, without a database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.i18n import language
from sla.scoring import aggregate_shown, pays, score_of, small_groups, suppressed
from tenants.contracts import EvaluationTerms
from tenants.permissions import Actor

TERMS = EvaluationTerms.model_validate(
    {
        "at_risk": "0.10",
        "min_ratings": 3,
        "payout": [
            {"min_score": "90", "pays": "1.00"},
            {"min_score": "80", "pays": "0.80"},
            {"min_score": "60", "pays": "0.50"},
            {"min_score": "0", "pays": "0.00"},
        ],
    }
)


def test_score_distribution_and_rates() -> None:
    score = score_of([5, 4, 3, 2, 5])
    assert score.count == 5
    assert score.distribution == {1: 0, 2: 1, 3: 1, 4: 1, 5: 2}
    assert score.score == Decimal(25) * (19 - 5) / 5  # 100 × (mean − 1) / 4 = 70
    assert score.score == Decimal(70)
    assert score.satisfaction_rate == Decimal("0.8")
    assert score.bad_review_rate == Decimal("0.2")


def test_score_prints_six_places() -> None:
    body = score_of([5, 5, 4]).to_dict()
    assert body["score"] == Decimal("91.666667")
    assert body["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 2}


def test_no_ratings_has_no_score() -> None:
    score = score_of([])
    assert (score.count, score.score, score.satisfaction_rate) == (0, None, None)
    assert pays(score, TERMS) == Decimal(1)


def test_fewer_than_min_ratings_pays_in_full() -> None:
    assert pays(score_of([1, 1]), TERMS) == Decimal(1)


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([5, 5, 5], "1.00"),
        ([5, 5, 4, 5], "1.00"),
        ([5, 4, 4], "0.80"),
        ([4, 4, 4], "0.50"),
        ([4, 4, 3], "0.50"),
        ([4, 3, 3], "0.00"),
        ([3, 3, 3], "0.00"),
        ([1, 1, 1], "0.00"),
    ],
)
def test_payout_row_is_the_first_by_min_score_descending_that_the_exact_score_reaches(levels, expected) -> None:
    assert pays(score_of(levels), TERMS) == Decimal(expected)


def test_a_score_just_below_a_row_does_not_reach_it() -> None:
    # mean 4.6 gives exactly 90 and reaches the top row; the exact value decides, never a rounded one
    assert score_of([5, 5, 5, 4, 4]).score == Decimal(90)
    almost = score_of([5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4])  # 100 × (53/12 − 1)/4 = 85.41666…
    assert pays(almost, TERMS) == Decimal("0.80")


@given(st.lists(st.integers(1, 5), min_size=1, max_size=50))
def test_score_lies_between_0_and_100_and_rates_add_up(levels: list[int]) -> None:
    score = score_of(levels)
    assert score.score is not None and Decimal(0) <= score.score <= Decimal(100)
    assert score.satisfaction_rate + score.bad_review_rate == Decimal(1)
    assert sum(score.distribution.values()) == len(levels)


def test_levels_outside_1_to_5_are_refused() -> None:
    with pytest.raises(ValueError):
        score_of([0])
    with pytest.raises(ValueError):
        score_of([6])


# ---------------------------------------------------------------------------- small groups (docs/reference.md#small-groups)

ROLES = ("admin", "bureau", "finance", "auditor", "operator", "department")
SCORED = score_of([5, 2]).to_dict()
FIGURES = ("count", "distribution", "score", "satisfaction_rate", "bad_review_rate", "pays")


def _actor(role: str) -> Actor:
    bound = {"operator": {"operator_id": "dgcloud"}, "department": {"department_id": "gd-edu"}}.get(role, {})
    return Actor(name=f"{role}1", role=role, **bound)


@given(st.sampled_from(ROLES), st.lists(st.sampled_from(["gd-edu", "gd-fin", "gd-hr", "sw-gaj", "gz-gaj"])))
def test_an_aggregate_shows_to_scoped_roles_only_over_three_distinct_departments(
    role: str, departments: list[str]
) -> None:
    actor = _actor(role)
    whole = role not in ("operator", "department")
    assert aggregate_shown(actor, departments) == (whole or len(set(departments)) >= 3)
    body = small_groups(actor, iter(departments), {**SCORED, "pays": Decimal("0.5")})
    if aggregate_shown(actor, departments):
        assert body == {"suppressed": False, **SCORED, "pays": Decimal("0.5")}
    else:
        assert body["suppressed"] is True and body["min_departments"] == 3
        assert body["reason"] == "fewer than 3 departments rated: not shown"
        assert not set(FIGURES) & set(body)


@pytest.mark.parametrize("role", ["operator", "department"])
def test_two_departments_rating_twice_are_still_two(role: str) -> None:
    assert not aggregate_shown(_actor(role), ["gd-edu", "gd-fin", "gd-edu", "gd-fin"])
    assert not aggregate_shown(_actor(role), [])
    assert aggregate_shown(_actor(role), ["gd-edu", "gd-fin", "gd-hr"])


def test_the_suppressed_reason_speaks_chinese() -> None:
    with language("zh"):
        assert suppressed()["reason"] == "评价部门少于 3 个，不予显示"
