"""The small-groups rule on ratings (docs/reference.md#small-groups, #evaluation, #evaluation-score): an
aggregate over fewer than 3 departments is shown to no department or operator — neither as a score nor
as a list of ratings naming their departments — through the services, the command line and the HTTP API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sla import evaluation
from tenants.permissions import Actor
from tests.sla.conftest import ADMIN, BUREAU, DG_OPS, EDU, Clock
from tests.zhengyun.test_http import Server

SH = ZoneInfo("Asia/Shanghai")
RATED = "2026-09-30T10:00:00+08:00"
WHOLE = [BUREAU, ADMIN, Actor(name="fin1", role="finance"), Actor(name="aud1", role="auditor")]
SCOPED = [EDU, DG_OPS]
FIGURES = {"count", "distribution", "score", "satisfaction_rate", "bad_review_rate", "pays"}
HIDDEN = "fewer than 3 departments rated: not shown"


def _rate(call: Any, department: str, level: int, *, comment: str | None = None, time: str = RATED) -> Any:
    return call(
        evaluation.add_rating,
        actor=BUREAU,
        contract_id="PROV-2026",
        department_id=department,
        level=level,
        comment=comment,
        time=time,
        now=Clock(datetime(2026, 10, 20, 9, tzinfo=SH)),
    ).rating


def _score(call: Any, actor: Actor) -> dict[str, Any]:
    return call(evaluation.get_score, actor=actor, contract_id="PROV-2026", period="2026-09")


def test_a_score_over_two_departments_is_suppressed_for_departments_and_operators_only(call) -> None:
    _rate(call, "gd-edu", 5)
    _rate(call, "gd-fin", 2, comment="slow")  # the issue: gd-edu saw {2: 1, 5: 1}, so gd-fin's 2
    for actor in SCOPED:
        body = _score(call, actor)
        assert body["suppressed"] is True and body["reason"] == HIDDEN and body["min_departments"] == 3, actor
        assert not FIGURES & set(body), (actor, body)
        assert (body["contract"], body["period"], body["min_ratings"]) == ("PROV-2026", "2026-09", 3)
    for actor in WHOLE:
        body = _score(call, actor)
        assert body["suppressed"] is False, actor
        assert (body["count"], body["distribution"]) == (2, {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}), actor


def test_a_third_department_shows_the_score_and_a_second_rating_is_no_third_department(call) -> None:
    _rate(call, "gd-edu", 5)
    _rate(call, "gd-fin", 2, comment="slow")
    _rate(call, "gd-edu", 4, time="2026-09-30T11:00:00+08:00")  # the same department again
    assert [_score(call, a)["suppressed"] for a in SCOPED] == [True, True]
    _rate(call, "gd-hr", 3)
    for actor in SCOPED + WHOLE:
        body = _score(call, actor)
        assert body["suppressed"] is False and body["count"] == 3 and body["score"] == Decimal(50), actor


def test_an_upheld_appeal_that_leaves_two_departments_suppresses_the_score_again(call) -> None:
    _rate(call, "gd-edu", 5)
    _rate(call, "gd-fin", 4)
    bad = _rate(call, "gd-hr", 1, comment="down all day")
    assert _score(call, EDU)["count"] == 3
    clock = Clock(datetime(2026, 10, 21, 9, tzinfo=SH))
    appeal = call(evaluation.appeal_rating, actor=DG_OPS, rating_id=bad.id, reason="planned", now=clock)
    call(evaluation.decide_appeal, actor=BUREAU, appeal_id=appeal.id, uphold=True, now=clock)
    assert [_score(call, a)["suppressed"] for a in SCOPED] == [True, True]
    assert _score(call, BUREAU)["count"] == 2
    # its list follows the same counted departments: only the bad review remains for the operator
    listed = call(evaluation.list_ratings, actor=DG_OPS, contract_id="PROV-2026")
    assert [(r.department, r.level, r.excluded) for r in listed] == [("gd-hr", 1, True)]


def test_an_operator_lists_a_small_groups_ratings_only_where_it_must_answer_them(call) -> None:
    _rate(call, "gd-edu", 5)
    _rate(call, "gd-fin", 2, comment="slow")
    _rate(call, "gd-edu", 5, time="2026-10-10T10:00:00+08:00")  # October: one department
    ops = call(evaluation.list_ratings, actor=DG_OPS)
    assert [(r.department, r.period, r.level, r.comment) for r in ops] == [("gd-fin", "2026-09", 2, "slow")]
    assert [t.rating for t in call(evaluation.list_tickets, actor=DG_OPS)] == [ops[0].id]  # what it answers
    filtered = call(evaluation.list_ratings, actor=DG_OPS, period="2026-09", department_id="gd-edu")
    assert filtered == []  # a filter narrows the list, not the group it is judged by
    assert [r.department for r in call(evaluation.list_ratings, actor=EDU)] == ["gd-edu", "gd-edu"]  # its own
    assert len(call(evaluation.list_ratings, actor=BUREAU)) == 3
    _rate(call, "sw-gaj", 4)
    ops = call(evaluation.list_ratings, actor=DG_OPS, period="2026-09")
    assert [r.department for r in ops] == ["gd-edu", "gd-fin", "sw-gaj"]  # three departments: the list is shown
    assert call(evaluation.list_ratings, actor=DG_OPS, period="2026-10") == []


def test_the_command_line_says_the_score_is_not_shown(loaded, call) -> None:
    _rate(call, "gd-edu", 5)
    _rate(call, "gd-fin", 2, comment="slow")
    args = ("ratings", "score", "--contract", "PROV-2026", "--period", "2026-09")
    for user in ("edu1", "ops-dg"):
        human = loaded(*args, "--as", user)
        assert human.code == 0 and HIDDEN in human.stdout, human
        assert "50" not in human.stdout and "distribution" not in human.stdout
        body = loaded(*args, "--as", user, "--json").json()
        assert body["suppressed"] is True and not FIGURES & set(body)
    whole = loaded(*args, "--as", "fin1", "--json").json()
    assert whole["suppressed"] is False and whole["count"] == 2
    assert "count 2" in loaded(*args, "--as", "bureau1").stdout
    listed = loaded("ratings", "list", "--as", "ops-dg", "--json").json()["ratings"]
    assert [r["department"] for r in listed] == ["gd-fin"]


@pytest.fixture
def api(loaded: Any, use_db: str) -> Any:
    tokens = {u: loaded("users", "token", u, "--json").json()["token"] for u in ("edu1", "ops-dg", "bureau1")}
    with Server(use_db) as server:
        yield server, tokens


def test_the_http_api_suppresses_the_score_and_says_why_in_either_language(api, call) -> None:
    server, tokens = api
    _rate(call, "gd-edu", 5)
    _rate(call, "gd-fin", 2, comment="slow")
    url = "/v1/ratings/score?contract=PROV-2026&period=2026-09"
    for user in ("edu1", "ops-dg"):
        with server.client(tokens[user]) as client:
            body = client.get(url, headers={"Accept-Language": "zh-CN"}).json()
            assert body["suppressed"] is True and body["reason"] == "评价部门少于 3 个，不予显示", body
            assert not FIGURES & set(body)
            assert client.get(url, headers={"Accept-Language": "en"}).json()["reason"] == HIDDEN
    with server.client(tokens["ops-dg"]) as client:
        assert [r["level"] for r in client.get("/v1/ratings").json()["ratings"]] == [2]
    with server.client(tokens["bureau1"]) as client:
        body = client.get(url).json()
        assert body["suppressed"] is False and body["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
        assert len(client.get("/v1/ratings").json()["ratings"]) == 2
