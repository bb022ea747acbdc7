"""The Ratings page follows the small-groups rule (docs/reference.md#small-groups): over fewer than 3
departments a department or an operator sees why the score is not shown, never its figures."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.billing.conftest import CONTRACT, ok
from tests.dashboards.conftest import APP, USERS, text_of

MONTH = "2026-11"  # the worked example's October has three rating departments; November gets two


@pytest.fixture
def november(world: Any) -> Any:
    for department, level, comment in (("gd-edu", "5", ""), ("gd-gat", "2", "slow in the mornings")):
        args = ["--contract", CONTRACT, "--department", department, "--level", level, "--comment", comment]
        ok(world("ratings", "add", *args, "--time", "2026-11-20T10:00:00+08:00", "--json"))
    return world


def _ratings_page(user: str, lang: str = "en") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["actor"] = USERS[user]
    at.session_state["lang"] = lang
    at.session_state["period"] = MONTH
    at.session_state["page"] = "ratings"
    at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    return at


def _scores(at: AppTest) -> dict[str, dict[str, Any]]:
    frame = at.dataframe[0].value
    return {row.iloc[0]: dict(row) for _, row in frame.iterrows()}


@pytest.mark.parametrize(("user", "lang"), [("gat", "en"), ("ops", "en"), ("gat", "zh"), ("ops", "zh")])
def test_a_department_and_an_operator_see_the_score_not_shown(november: Any, user: str, lang: str) -> None:
    at = _ratings_page(user, lang)
    hidden = "fewer than 3 departments rated: not shown" if lang == "en" else "评价部门少于 3 个，不予显示"
    row = _scores(at)[CONTRACT]
    assert set(list(row.values())[1:]) == {hidden}, row
    assert "slow in the mornings" in text_of(at)  # its own, or (the operator) the bad review it must answer
    if user == "ops":
        assert "gd-edu" not in text_of(at)  # the good review of a two-department group is not listed


@pytest.mark.parametrize("user", ["fin1", "aud", "admin"])
def test_finance_auditors_and_admin_see_the_score_whole(november: Any, user: str) -> None:
    row = _scores(_ratings_page(user))[CONTRACT]
    assert (row["count"], row["score"]) == ("2", "62.5"), row
