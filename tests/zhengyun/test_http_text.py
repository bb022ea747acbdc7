"""Hostile text at the HTTP face, on a real uvicorn server: free text with a lone surrogate, a NUL or a megabyte,
times and periods outside the years 2000–2099, periods in digits other than ASCII — each a 4xx in the one error
shape `{"error", "problems"}`, never a 500, and nothing stored (docs/reference.md#free-text,
docs/reference.md#periods-and-times)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from core.audit import AuditEntry
from tests.zhengyun import test_http
from tests.zhengyun.test_http import CONTRACT

world = test_http.world  # the fixture: the worked example, a user of every role, the API serving it

LONE_SURROGATE = '"x\\ud800"'  # JSON text: a string holding "x" and an unpaired high surrogate
NUL = '"x\\u0000y"'


def _post(http: httpx.Client, path: str, fields: dict[str, Any], raw: dict[str, str] | None = None) -> httpx.Response:
    """POST a JSON body written by hand, so a field can hold what `json.dumps` would not send (a lone surrogate)."""
    parts = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in fields.items()]
    parts += [f"{json.dumps(k)}: {v}" for k, v in (raw or {}).items()]
    body = "{" + ", ".join(parts) + "}"
    return http.post(path, content=body.encode("ascii"), headers={"Content-Type": "application/json"})


def _refused(response: httpx.Response, path: str | None = None) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error", "problems"} and body["error"], body
    if path is not None:
        assert [p["path"] for p in body["problems"]] == [path], body
    return body


RATING = {"contract": CONTRACT, "level": "1", "department": "gd-gat"}
OUTAGE = {"contract": CONTRACT, "start": "2026-10-02T08:00:00+08:00", "end": "2026-10-02T09:00:00+08:00"}
WINDOW = {"contract": CONTRACT, "start": "2026-10-05T01:00:00+08:00", "end": "2026-10-05T02:00:00+08:00"}


@pytest.mark.parametrize("bad", [LONE_SURROGATE, NUL], ids=["lone-surrogate", "nul"])
def test_free_text_with_a_lone_surrogate_or_a_nul_is_refused(world, bad: str) -> None:
    server, tokens = world
    with server.client(tokens["gat"]) as department:
        _refused(_post(department, "/v1/ratings", RATING, {"comment": bad}), "comment")
        assert department.get("/v1/ratings").json()["ratings"] == []
    with server.client(tokens["ops"]) as operator:
        _refused(_post(operator, "/v1/outages", OUTAGE, {"note": bad}), "note")
        _refused(_post(operator, "/v1/maintenance", WINDOW, {"note": bad}), "note")
        assert operator.get("/v1/outages", params={"contract": CONTRACT, "period": "2026-10"}).json()["outages"] == []
        assert operator.get("/v1/maintenance").json()["maintenance"] == []


def test_a_rating_in_year_one_is_refused(world) -> None:
    server, tokens = world
    with server.client(tokens["gat"], **{"Accept-Language": "en"}) as department:
        body = _refused(
            _post(department, "/v1/ratings", {**RATING, "comment": "slow", "time": "0001-01-01T00:00:00+08:00"}),
            "time",
        )
        assert "2000" in body["problems"][0]["message"], body
    with server.client(tokens["gat"], **{"Accept-Language": "zh-CN"}) as department:
        body = _refused(
            _post(department, "/v1/ratings", {**RATING, "comment": "slow", "time": "2100-01-01T00:00:00+08:00"}),
            "time",
        )
        assert "年份" in body["problems"][0]["message"], body


def test_an_outage_in_year_one_is_refused(world) -> None:
    server, tokens = world
    with server.client(tokens["ops"]) as operator:
        early = {**OUTAGE, "start": "0001-01-01T00:00:00+08:00", "note": "n"}
        _refused(_post(operator, "/v1/outages", early), "start")


@pytest.mark.parametrize("period", ["9999-12", "0001-01", "1999-12", "2100-01", "２０２６-１１", "٢٠٢٦-١١"])
def test_periods_outside_the_century_or_not_in_ascii_digits_are_refused_everywhere(world, period: str) -> None:
    server, tokens = world
    with server.client(tokens["fin1"]) as finance:
        _refused(finance.post("/v1/bills/run", json={"period": period}))
        assert finance.get("/v1/bills").json()["bills"] == []  # nothing ran: not November's bills either
        _refused(finance.get("/v1/usage", params={"period": period}))
        _refused(finance.get("/v1/sla/availability", params={"contract": CONTRACT, "period": period}))
        _refused(finance.get("/v1/outages", params={"contract": CONTRACT, "period": period}))
        _refused(finance.get("/v1/ratings/score", params={"contract": CONTRACT, "period": period}))
        _refused(finance.get("/v1/bills", params={"period": period}))
        _refused(finance.get(f"/v1/bills/{period}"))


def test_a_megabyte_override_reason_is_refused_and_nothing_reaches_the_audit_log(world) -> None:
    server, tokens = world
    bill = f"{CONTRACT}@2026-10"
    with server.client(tokens["fin1"]) as fin1:
        assert fin1.post("/v1/bills/run", json={"period": "2026-10"}).status_code == 200
    with Session(server.engine) as session:
        before = len(session.exec(select(AuditEntry)).all())
    with server.client(tokens["fin2"], **{"Accept-Language": "en"}) as fin2:
        body = _refused(fin2.post(f"/v1/bills/{bill}/approve", json={"override": "x" * 1_000_000}), "override")
        assert "at most 2000 are allowed" in body["problems"][0]["message"], body
        _refused(fin2.post(f"/v1/bills/{bill}/approve", json={"override": "x" * 2001}), "override")
        assert fin2.get("/v1/bills").json()["bills"][0]["status"] == "draft"
    with Session(server.engine) as session:
        entries = session.exec(select(AuditEntry)).all()
        assert len(entries) == before and not any(e.action == "bills.approve" for e in entries)
        assert max(len(e.payload) for e in entries) < 100_000
    with server.client(tokens["fin2"]) as fin2:  # 2,000 characters are enough and allowed
        approved = fin2.post(f"/v1/bills/{bill}/approve", json={"override": "y" * 2000})
        assert approved.status_code == 200 and approved.json()["bill"]["status"] == "approved", approved.text


def test_appeal_reason_decision_note_and_ticket_answer_take_the_same_rule(world, cli) -> None:
    server, tokens = world
    rated = cli("ratings", "add", "--contract", CONTRACT, "--level", "1", "--comment", "slow", "--as", "gat", "--json")
    assert rated.code == 0, rated
    rating, ticket = rated.json()["rating"]["id"], rated.json()["ticket"]["id"]
    with server.client(tokens["ops"]) as operator:
        _refused(_post(operator, f"/v1/ratings/{rating}/appeal", {}, {"reason": LONE_SURROGATE}), "reason")
        _refused(operator.post(f"/v1/ratings/{rating}/appeal", json={"reason": "a\x07b"}), "reason")
        _refused(_post(operator, f"/v1/tickets/{ticket}/answer", {}, {"text": NUL}), "text")
        _refused(operator.post(f"/v1/tickets/{ticket}/answer", json={"text": "z" * 2001}), "text")
        appealed = operator.post(f"/v1/ratings/{rating}/appeal", json={"reason": "fixed\nthe same day\t(see log)"})
        assert appealed.status_code == 201, appealed.text
    with server.client(tokens["bureau1"]) as bureau:
        appeal = appealed.json()["appeal"]["id"]
        _refused(_post(bureau, f"/v1/appeals/{appeal}/decision", {"uphold": True}, {"note": LONE_SURROGATE}), "note")
