"""The HTTP API on a real uvicorn server on 127.0.0.1: tokens, roles and scopes, errors, usage push."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from core.db import make_engine
from zhengyun.http import create_app

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

    def client(self, token: str | None = None, **headers: str) -> httpx.Client:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=headers, timeout=30)


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
        ("aud", "auditor", ()),
        ("ops", "operator", ("--operator", "dgcloud")),
        ("gzop", "operator", ("--operator", "gzops")),
        ("gat", "department", ("--department", "gd-gat")),
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


def test_a_disabled_user_is_refused(world, cli) -> None:
    server, tokens = world
    assert cli("users", "disable", "aud").code == 0
    with server.client(tokens["aud"]) as http:
        refused = http.get("/v1/contracts")
        assert refused.status_code == 403 and "disabled" in refused.json()["error"]


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
    with server.client(tokens["fin1"]) as fin1, server.client(tokens["fin2"]) as fin2:
        run = fin1.post("/v1/bills/run", json={"period": "2026-10"})
        assert (
            run.status_code == 200
            and {"id": bill, "contract": CONTRACT, "status": "draft", "locked": False} in (run.json()["bills"])
        )
        own = fin1.post(f"/v1/bills/{bill}/approve", json={"override": "checked by hand"})
        assert own.status_code == 403, own.text
        approved = fin2.post(f"/v1/bills/{bill}/approve", json={"override": "checked by hand"})
        assert approved.status_code == 200 and approved.json()["bill"]["status"] == "approved", approved.text
        assert fin2.post(f"/v1/bills/{bill}/pay").json()["bill"]["status"] == "paid"
        focus = fin2.get("/v1/bills/2026-10/export", params={"format": "focus"})
        assert focus.status_code == 200 and focus.text.startswith("BilledCost,")
    with server.client(tokens["gat"]) as department:
        shown = department.get("/v1/bills/2026-10").json()["bills"]
        assert shown and all(
            {a["department"] for line in b["lines"] for a in (line["allocations"] or [])} <= {"gd-gat"} for b in shown
        )


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


def test_metrics_are_prometheus_text(world) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    server, _ = world
    with server.client() as http:
        text = http.get("/metrics").text
    names = {family.name for family in text_string_to_metric_families(text)}
    assert "zhengyun_metering_events" in names
