"""The HTTP API on a real uvicorn server on 127.0.0.1: tokens, roles and scopes, errors, usage push."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from core.db import make_engine
from zhengyun.api.main import create_app

DATA = Path(__file__).resolve().parents[1] / "billing" / "data"
CONTRACT = "WORKED-IAAS-2026"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`create_app` served by uvicorn in a thread of this process, on a free port of 127.0.0.1."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.port = _free_port()
        config = uvicorn.Config(create_app(self.engine), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.engine.dispose()

    def client(self, token: str | None = None, timeout: float = 30, **headers: str) -> httpx.Client:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=headers, timeout=timeout)


@pytest.fixture
def world(cli: Any, use_db: str) -> Iterator[tuple[Server, dict[str, str]]]:
    """The worked example of docs/billing.md, a user of every role, and the API serving it."""
    assert cli("tenants", "import", DATA / "worked_tenancy.yaml").code == 0
    assert cli("contracts", "import", DATA / "worked_contracts.yaml").code == 0
    tokens = {}
    for name, role, extra in (
        ("bureau1", "bureau", ()),
        ("fin1", "finance", ()),
        ("fin2", "finance", ()),
        ("fin3", "finance", ()),
        ("aud", "auditor", ()),
        ("ops", "operator", ("--operator", "dgcloud")),
        ("gzop", "operator", ("--operator", "gzops")),
        ("gat", "department", ("--department", "gd-gat")),
        ("prom", "monitor", ()),
    ):
        result = cli("users", "add", name, "--role", role, *extra, "--json")
        assert result.code == 0, result
        tokens[name] = result.json()["token"]
    with Server(use_db) as server:
        yield server, tokens


def _event(event_id: str, **over: Any) -> dict[str, Any]:
    event = {
        "event_id": event_id,
        "time": "2026-10-03T10:00:00+08:00",
        "department": "gd-gat",
        "cloud": "gd-prov",
        "meter": "vcpu_hours",
        "quantity": "2.5",
    }
    event.update(over)
    return event


def test_health_and_openapi(world) -> None:
    server, _ = world
    with server.client() as http:
        health = http.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        spec = http.get("/openapi.json").json()
        assert "/v1/usage/events" in spec["paths"] and "/v1/bills/{bill_id}/approve" in spec["paths"]
        docs = http.get("/docs")
        assert docs.status_code == 200 and "cdn." not in docs.text  # its assets come from this server
        script = next(p for p in docs.text.split('"') if p.endswith("swagger-ui-bundle.js"))
        assert http.get(script).status_code == 200


def test_without_a_valid_token_every_endpoint_is_401_with_the_json_error_shape(world) -> None:
    server, tokens = world
    with server.client() as anonymous:
        missing = anonymous.get("/v1/contracts")
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert set(missing.json()) == {"error", "problems"}
    with server.client("zy_not-a-token") as forged:
        assert forged.get("/v1/bills").status_code == 401
        assert forged.post("/v1/usage/events", json=[_event("x")]).status_code == 401


def test_a_bad_token_or_a_refused_role_is_answered_while_another_process_writes(world, use_db) -> None:
    """Callers are authenticated before they queue for SQLite's write lock: a forged token or a role that
    may not push is answered at once, not after the holder (here for ever) lets go."""
    if not use_db.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    server, tokens = world
    holder = sqlite3.connect(use_db.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        with server.client("zy_not-a-token", timeout=10) as forged:
            assert forged.post("/v1/usage/events", json=[_event("x")]).status_code == 401
        with server.client(tokens["aud"]) as auditor:
            assert auditor.post("/v1/usage/events", json=[_event("y")]).status_code == 403
    finally:
        holder.rollback()
        holder.close()
    with server.client(tokens["ops"]) as operator:  # the lock released, the same push by its operator lands
        assert operator.post("/v1/usage/events", json=[_event("y")]).json()["accepted"] == 1


def test_a_disabled_user_is_refused(world, cli) -> None:
    """A disabled user's token is as invalid as a forged one: 401, naming no one."""
    server, tokens = world
    assert cli("users", "disable", "aud").code == 0
    with server.client(tokens["aud"]) as http, server.client("zy_not-a-token") as forged:
        refused = http.get("/v1/contracts")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert refused.json() == forged.get("/v1/contracts").json() == {"error": "invalid token", "problems": []}


def test_roles_and_scopes_are_the_command_lines(world) -> None:
    server, tokens = world
    with server.client(tokens["gzop"]) as other_operator:
        assert [c["id"] for c in other_operator.get("/v1/contracts").json()["contracts"]] == ["GZ-PAYG-2026"]
        pushed = other_operator.post("/v1/usage/events", json=[_event("gz-1")]).json()  # on gd-prov: not its cloud
        assert pushed["accepted"] == 0 and len(pushed["rejected"]) == 1, pushed
    with server.client(tokens["ops"]) as operator:
        assert [c["id"] for c in operator.get("/v1/contracts").json()["contracts"]] == [CONTRACT]
    with server.client(tokens["aud"]) as auditor:
        refused = auditor.post("/v1/bills/run", json={"period": "2026-10"})
        assert refused.status_code == 403 and "may not run bills" in refused.json()["error"]


def test_bills_run_approve_and_pay_keep_four_eyes(world) -> None:
    server, tokens = world
    with server.client(tokens["ops"]) as operator:
        pushed = operator.post("/v1/usage/events", json=[_event("v-1"), _event("v-2", quantity="100")])
        assert pushed.json()["accepted"] == 2, pushed.text
    bill = f"{CONTRACT}@2026-10"
    with (
        server.client(tokens["fin1"]) as fin1,
        server.client(tokens["fin2"]) as fin2,
        server.client(tokens["fin3"]) as fin3,
    ):
        run = fin1.post("/v1/bills/run", json={"period": "2026-10"})
        assert (
            run.status_code == 200
            and {"id": bill, "contract": CONTRACT, "status": "draft", "locked": False} in (run.json()["bills"])
        )
        own = fin1.post(f"/v1/bills/{bill}/approve", json={"override": "checked by hand"})
        assert own.status_code == 403, own.text
        approved = fin2.post(f"/v1/bills/{bill}/approve", json={"override": "checked by hand"})
        assert approved.status_code == 200 and approved.json()["bill"]["status"] == "approved", approved.text
        payment = {"reference": "FZ-2026-1105-001", "date": "2026-11-05"}
        assert fin2.post(f"/v1/bills/{bill}/pay", json=payment).status_code == 403  # it approved the bill
        paid = fin3.post(f"/v1/bills/{bill}/pay", json=payment).json()["bill"]
        assert (paid["status"], paid["paid_by"], paid["payment_reference"], paid["payment_date"]) == (
            "paid",
            "fin3",
            "FZ-2026-1105-001",
            "2026-11-05",
        ), paid
        focus = fin2.get("/v1/bills/2026-10/export", params={"format": "focus"})
        assert focus.status_code == 200 and focus.text.startswith("BilledCost,")
    with server.client(tokens["gat"]) as department:
        shown = department.get("/v1/bills/2026-10").json()["bills"]
        # a department's shape: its own shares, no line with others' allocations (docs/reference.md#roles)
        assert shown and all(b["department"] == "gd-gat" and "lines" not in b and b["shares"] for b in shown)


def test_usage_push_is_exactly_once_with_per_event_results(world) -> None:
    server, tokens = world
    body = [_event("e-1"), _event("e-2", department="nowhere"), _event("e-3", quantity="-1")]
    with server.client(tokens["ops"]) as http:
        first = http.post("/v1/usage/events", json=body).json()
        assert first["accepted"] == 1 and [r["index"] for r in first["rejected"]] == [1, 2], first
        again = http.post("/v1/usage/events", json=body).json()
        assert again["accepted"] == 0 and again["duplicates"] == 1, again
        ndjson = "\n".join(json.dumps(e) for e in [_event("n-1"), _event("e-1")]) + "\n{not json\n"
        pushed = http.post("/v1/usage/events", content=ndjson, headers={"Content-Type": "application/x-ndjson"})
        assert (pushed.json()["accepted"], pushed.json()["duplicates"]) == (1, 1), pushed.text
        assert [r["index"] for r in pushed.json()["rejected"]] == [2]
        too_many = http.post("/v1/usage/events", json=[_event(f"m-{i}") for i in range(10_001)])
        assert too_many.status_code == 413 and "at most 10000 events" in too_many.json()["error"]
        usage = http.get("/v1/usage", params={"period": "2026-10", "lang": "en"}).json()
        assert [(u["department"], u["quantity"]) for u in usage["usage"]] == [("gd-gat", "5")], usage


def test_bad_requests_are_4xx_with_a_reason_in_the_language_asked_for(world) -> None:
    server, tokens = world
    with server.client(tokens["fin1"]) as http:
        invalid = http.post("/v1/bills/run", json={"period": "October"})
        assert invalid.status_code == 422 and invalid.json()["problems"][0]["path"] == "body.period"
        assert http.get("/v1/bills/2026-10", params={"contract": "NOPE"}).status_code == 404
        assert http.post("/v1/bills/NOPE@2026-10/pay").status_code == 404
    with server.client() as anonymous:
        chinese = anonymous.get("/v1/bills", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).json()["error"]
        english = anonymous.get("/v1/bills", headers={"Accept-Language": "en-GB,en;q=0.8"}).json()["error"]
        assert chinese.startswith("需要持有者令牌") and english.startswith("a bearer token is required")


def test_a_body_nested_too_deeply_is_a_422_with_a_reason_not_a_server_error(world) -> None:
    """100,000 nested `[` exceed Python's recursion limit: a malformed body like any other (a 4xx with
    the reason in the language asked for), never a 500; on an NDJSON line, that line is rejected."""
    server, tokens = world
    deep = b"[" * 100_000
    with server.client(tokens["ops"]) as http:
        english = http.post(
            "/v1/usage/events", content=deep, headers={"Content-Type": "application/json", "Accept-Language": "en"}
        )
        assert english.status_code == 422, english.text
        assert english.json()["error"].endswith("nested too deeply")
        chinese = http.post(
            "/v1/usage/events", content=deep, headers={"Content-Type": "application/json", "Accept-Language": "zh-CN"}
        )
        assert chinese.status_code == 422 and chinese.json()["error"].endswith("嵌套层数过深"), chinese.text
        ndjson = json.dumps(_event("d-1")).encode() + b"\n" + deep + b"\n"
        pushed = http.post("/v1/usage/events", content=ndjson, headers={"Content-Type": "application/x-ndjson"})
        assert pushed.status_code == 200 and pushed.json()["accepted"] == 1, pushed.text
        assert [r["index"] for r in pushed.json()["rejected"]] == [1]
        # attributes deep enough to read but not to put in canonical form: that event is rejected
        attributes = '{"a":' * 600 + "1" + "}" * 600
        body = [_event("d-2"), _event("d-3", attributes=json.loads(attributes))]
        pushed = http.post("/v1/usage/events", json=body, headers={"Accept-Language": "en"})
        assert pushed.status_code == 200 and pushed.json()["accepted"] == 1, pushed.text
        assert [(r["index"], r["reason"]) for r in pushed.json()["rejected"]] == [
            (1, "attributes are nested too deeply")
        ], pushed.text


def test_metrics_are_prometheus_text_with_what_to_watch(world) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    server, tokens = world
    with server.client(tokens["fin1"]) as http:
        assert http.post("/v1/bills/run", json={"period": "2026-10"}).status_code == 200
        assert http.get("/v1/bills/NOPE-1").status_code == 422
    with server.client(tokens["aud"]) as http:  # an auditor may read the metrics (metrics.read)
        text = http.get("/metrics").text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for name in (
        "zhengyun_metering_events",
        "zhengyun_http_requests",
        "zhengyun_http_request_duration_seconds",
        "zhengyun_billing_run_duration_seconds",
        "zhengyun_billing_bills",
        "zhengyun_sla_availability_percent",
        "zhengyun_sla_burn_rate_ratio",
        "zhengyun_sla_probe_up",
        "zhengyun_scheduler_job_duration_seconds",
        "zhengyun_scheduler_leader",
    ):
        assert name in families, name
    bills = {s.labels["status"]: s.value for s in families["zhengyun_billing_bills"].samples}
    assert bills["draft"] >= 1 and set(bills) == {"draft", "approved", "paid"}
    requests = families["zhengyun_http_requests"].samples
    assert any(
        s.labels == {"method": "POST", "route": "/v1/bills/run", "status": "200"} and s.value >= 1 for s in requests
    )


# ---------------------------------------------------------------------------- every endpoint × every role

BILL = f"{CONTRACT}@2026-10"
#: (method, path, JSON body, capability) — the capability is the permission table's (tenants.permissions)
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("GET", "/v1/tenants", None, "registry.read"),
    ("GET", "/v1/tenants/export", None, "registry.read"),
    ("GET", "/v1/contracts", None, "contracts.read"),
    ("POST", "/v1/usage/events", [_event("matrix-1")], "usage.write"),
    ("GET", "/v1/usage?period=2026-10", None, "usage.read"),
    ("GET", f"/v1/sla/availability?contract={CONTRACT}&period=2026-10", None, "sla.read"),
    ("GET", f"/v1/outages?contract={CONTRACT}&period=2026-10", None, "sla.read"),
    (
        "POST",
        "/v1/outages",
        {"contract": CONTRACT, "start": "2026-10-05T10:00:00+08:00", "end": "2026-10-05T10:10:00+08:00", "note": "x"},
        "outages.write",
    ),
    ("GET", "/v1/maintenance", None, "sla.read"),
    (
        "POST",
        "/v1/maintenance",
        {"contract": CONTRACT, "start": "2026-12-20T01:00:00+08:00", "end": "2026-12-20T02:00:00+08:00"},
        "maintenance.request",
    ),
    ("POST", "/v1/maintenance/{window}/decision", {"approve": True}, "maintenance.approve"),
    ("GET", "/v1/ratings", None, "ratings.read"),
    ("POST", "/v1/ratings", {"contract": CONTRACT, "level": "5", "department": "gd-gat"}, "ratings.write"),
    ("GET", f"/v1/ratings/score?contract={CONTRACT}&period=2026-10", None, "ratings.read"),
    ("POST", "/v1/ratings/{rating}/appeal", {"reason": "fixed the same day"}, "ratings.appeal"),
    ("POST", "/v1/appeals/{appeal}/decision", {"uphold": False}, "ratings.decide"),
    ("GET", "/v1/tickets", None, "tickets.read"),
    ("POST", "/v1/tickets/{ticket}/answer", {"text": "replaced the disk"}, "tickets.answer"),
    ("GET", "/v1/bills", None, "bills.read"),
    ("GET", "/v1/bills/2026-10", None, "bills.read"),
    ("GET", "/v1/bills/2026-10/export?format=focus", None, "bills.read"),
    ("POST", f"/v1/bills/{BILL}/approve", {"override": "matrix"}, "bills.approve"),
    ("POST", f"/v1/bills/{BILL}/pay", None, "bills.pay"),
    ("GET", "/metrics", None, "metrics.read"),
    ("POST", "/v1/bills/run", {"period": "2026-10"}, "bills.run"),  # last: the runner may not approve
]
#: the user of each role in the matrix (fin2 did not run the bills: four eyes let it approve)
ROLE_USERS = {
    "bureau": "bureau1",
    "operator": "ops",
    "finance": "fin2",
    "department": "gat",
    "auditor": "aud",
    "monitor": "prom",
}


def test_every_endpoint_for_every_role_follows_the_permission_table(world, cli) -> None:
    from tenants.permissions import CAPABILITIES

    server, tokens = world
    ids = {
        "window": cli(
            "sla",
            "maintenance",
            "request",
            "--contract",
            CONTRACT,
            "--start",
            "2026-12-21T01:00:00+08:00",
            "--end",
            "2026-12-21T02:00:00+08:00",
            "--as",
            "ops",
            "--json",
        ).json()["maintenance"]["id"],  # fmt: skip
    }
    rated = cli("ratings", "add", "--contract", CONTRACT, "--level", "1", "--comment", "slow", "--as", "gat", "--json")
    ids["rating"], ids["ticket"] = rated.json()["rating"]["id"], rated.json()["ticket"]["id"]
    ids["appeal"] = cli("ratings", "appeal", str(ids["rating"]), "--reason", "x", "--as", "ops", "--json").json()[
        "appeal"
    ]["id"]
    assert cli("bills", "run", "--period", "2026-10", "--as", "fin1").code == 0
    wrong = []
    for method, path, body, capability in ENDPOINTS:
        url = path.format(**ids)
        with server.client() as anonymous:
            if anonymous.request(method, url, json=body).status_code != 401:
                wrong.append(f"{method} {url} without a token: not 401")
        for role, user in ROLE_USERS.items():
            with server.client(tokens[user]) as http:
                status = http.request(method, url, json=body).status_code
            allowed = role in CAPABILITIES[capability]
            if allowed and status in (401, 403) or status >= 500 or not allowed and status != 403:
                wrong.append(f"{method} {url} as {role}: {status} (allowed: {allowed})")
    assert not wrong, "\n".join(wrong)


def test_an_operator_and_a_department_stay_in_their_scope(world, cli) -> None:
    server, tokens = world
    with server.client(tokens["gzop"]) as other_operator:  # another operator's contract: as if there were none
        assert other_operator.get(f"/v1/outages?contract={CONTRACT}&period=2026-10").status_code == 404
        assert other_operator.get("/v1/bills").json() == {"bills": []}
        late = {"contract": CONTRACT, "start": "2026-10-05T10:00:00+08:00", "end": "2026-10-05T10:10:00+08:00"}
        assert other_operator.post("/v1/outages", json={**late, "note": "x"}).status_code == 404
    with server.client(tokens["gat"]) as department:
        assert department.get("/v1/usage?period=2026-10&department=gd-edu").status_code == 403
        rating = {"contract": "GZ-PAYG-2026", "level": "5"}
        assert department.post("/v1/ratings", json=rating).status_code == 404  # not a contract it uses
