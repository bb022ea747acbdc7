"""Trust at the HTTP face, on a real uvicorn server: `/metrics` takes a token, `/healthz` tells nothing, an id
outside the caller's scope is as missing as an id that is not there, and every error — a route that does not
exist, a body that does not parse, a failure nobody expected — is `{"error", "problems"}`."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.zhengyun import test_http
from tests.zhengyun.test_http import CONTRACT, Server

world = test_http.world  # the fixture: the worked example, a user of every role, the API serving it

OTHER_CONTRACT = "GZ-PAYG-2026"  # gzops's: outside the scope of `ops` (dgcloud) and of `gat`
MISSING = 987654321


# ---------------------------------------------------------------------------- /metrics and /healthz


def test_prometheus_scrapes_metrics_with_a_monitor_token_from_a_credentials_file(world, cli, tmp_path: Path) -> None:
    """`zhengyun users add prometheus --role monitor` prints the token docs/deploy.md puts in the file that
    Prometheus' `authorization: credentials_file` names; Prometheus sends `Authorization: Bearer <the file's
    content>` (trimmed). Without a token 401, with a department's or an operator's 403."""
    server, tokens = world
    added = cli("users", "add", "prometheus", "--role", "monitor", "--json")
    assert added.code == 0, added
    scrape = _scrape_config_of_deploy_md()
    auth = scrape["authorization"]
    assert auth["type"] == "Bearer" and auth["credentials_file"].endswith("zhengyun.token")
    credentials = tmp_path / Path(auth["credentials_file"]).name  # the file the config names, here
    credentials.write_text(added.json()["token"] + "\n")  # as `… | jq -r .token > file` leaves it
    with server.client(tokens["fin1"]) as finance:
        assert finance.post("/v1/bills/run", json={"period": "2026-10"}).status_code == 200

    # what Prometheus sends: `<type> <the credentials file's content, trimmed>`
    authorization = {"Authorization": f"{auth['type']} {credentials.read_text().strip()}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", headers=authorization, timeout=30) as prometheus:
        scraped = prometheus.get(scrape["metrics_path"], headers={"Accept": "text/plain;version=0.0.4"})
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain"), scraped.text
    families = {family.name: family for family in text_string_to_metric_families(scraped.text)}
    bills = {s.labels["status"]: s.value for s in families["zhengyun_billing_bills"].samples}
    assert set(bills) == {"draft", "approved", "paid"} and bills["draft"] >= 1
    for name in ("zhengyun_sla_availability_percent", "zhengyun_sla_probe_up", "zhengyun_http_requests"):
        assert name in families, name

    with server.client() as anonymous:
        refused = anonymous.get("/metrics", headers={"Accept-Language": "en"})
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert refused.json() == {"error": "a bearer token is required (Authorization: Bearer <token>)", "problems": []}
    for user in ("gat", "ops", "fin1"):
        with server.client(tokens[user], **{"Accept-Language": "en"}) as http:
            denied = http.get("/metrics")
            assert denied.status_code == 403 and "may not read the metrics" in denied.json()["error"], denied.text
    for user in ("bureau1", "aud"):
        with server.client(tokens[user]) as http:
            assert http.get("/metrics").status_code == 200

    # the scraper's token reads nothing else, and a monitor has no password to sign in to the dashboards with
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", headers=authorization, timeout=30) as prometheus:
        assert prometheus.get("/v1/contracts").status_code == 403
        assert prometheus.get("/v1/bills").status_code == 403
    refused_password = cli("users", "add", "scraper2", "--role", "monitor", "--password", input="longenough\n" * 2)
    assert refused_password.code == 1 and "a monitor user has a token only" in refused_password.stderr


def _scrape_config_of_deploy_md() -> dict[str, Any]:
    """The `zhengyun` job of the Prometheus scrape configuration docs/deploy.md shows."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "scrape_configs" in b]
    assert len(blocks) == 1, "docs/deploy.md shows one scrape configuration"
    return next(job for job in blocks[0]["scrape_configs"] if job["job_name"] == "zhengyun")


def test_healthz_says_only_ok_or_not(world) -> None:
    server, _ = world
    with server.client() as anonymous:
        health = anonymous.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}


def test_healthz_of_an_unreachable_database_is_503_naming_no_database() -> None:
    """Nothing listens on port 9 of the loopback: the database cannot be reached."""
    url = "postgresql://zhengyun:secret@127.0.0.1:9/zhengyun"
    with Server(url) as server, server.client() as anonymous:
        health = anonymous.get("/healthz")
    assert health.status_code == 503 and health.json() == {"status": "unavailable"}, health.text


# ---------------------------------------------------------------------------- ids outside the scope


def _same_shape(outside: httpx.Response, missing: httpx.Response, outside_id: Any, missing_id: Any) -> None:
    """The two answers differ only in the id they repeat back."""
    assert outside.status_code == missing.status_code == 404, (outside.text, missing.text)
    assert set(outside.json()) == {"error", "problems"}
    masked = outside.text.replace(str(outside_id), "ID")
    assert masked == missing.text.replace(str(missing_id), "ID"), (outside.text, missing.text)


@pytest.fixture
def records(world, cli) -> dict[str, Any]:
    """A ticket and an appeal on `ops`'s contract, a maintenance window it requested, and the bills of 2026-10."""
    rated = cli("ratings", "add", "--contract", CONTRACT, "--level", "1", "--comment", "slow", "--as", "gat", "--json")
    assert rated.code == 0, rated
    ids = {"rating": rated.json()["rating"]["id"], "ticket": rated.json()["ticket"]["id"]}
    second = cli("ratings", "add", "--contract", CONTRACT, "--level", "2", "--comment", "late", "--as", "gat", "--json")
    ids["second_rating"] = second.json()["rating"]["id"]
    appealed = cli("ratings", "appeal", str(ids["rating"]), "--reason", "fixed", "--as", "ops", "--json")
    assert appealed.code == 0, appealed
    ids["appeal"] = appealed.json()["appeal"]["id"]
    window = cli(
        "sla", "maintenance", "request", "--contract", CONTRACT, "--start", "2026-12-21T01:00:00+08:00",
        "--end", "2026-12-21T02:00:00+08:00", "--as", "ops", "--json",
    )  # fmt: skip
    assert window.code == 0, window
    ids["window"] = window.json()["maintenance"]["id"]
    assert cli("bills", "run", "--period", "2026-10", "--as", "fin1").code == 0
    return ids


def test_another_operators_ticket_rating_or_contract_is_not_found_like_a_missing_one(world, records) -> None:
    """`gzop` (operator gzops) and `ops`'s records: every answer is the 404 of an id that does not exist."""
    server, tokens = world
    period = "period=2026-10"
    window = {"start": "2026-12-22T01:00:00+08:00", "end": "2026-12-22T02:00:00+08:00"}
    outage = {"start": "2026-10-05T10:00:00+08:00", "end": "2026-10-05T10:10:00+08:00", "note": "x"}
    for lang in ("en", "zh"):
        with server.client(tokens["gzop"], **{"Accept-Language": lang}) as other:
            # an id in the path
            for path, body, own in (
                ("/v1/tickets/{}/answer", {"text": "done"}, records["ticket"]),
                ("/v1/ratings/{}/appeal", {"reason": "fixed"}, records["second_rating"]),
            ):
                _same_shape(
                    other.post(path.format(own), json=body), other.post(path.format(MISSING), json=body), own, MISSING
                )
            # a contract id in the query or the body
            for method, path, body in (
                ("GET", "/v1/sla/availability?contract={}&" + period, None),
                ("GET", "/v1/outages?contract={}&" + period, None),
                ("POST", "/v1/outages", {"contract": "{}", **outage}),
                ("GET", "/v1/maintenance?contract={}", None),
                ("POST", "/v1/maintenance", {"contract": "{}", **window}),
                ("GET", "/v1/ratings?contract={}", None),
                ("GET", "/v1/ratings/score?contract={}&" + period, None),
                ("GET", "/v1/bills/2026-10?contract={}", None),
                ("GET", "/v1/bills/2026-10/export?format=json&contract={}", None),
            ):
                answers = []
                for contract in (CONTRACT, "NO-SUCH-CONTRACT"):
                    filled = {k: v.format(contract) for k, v in body.items()} if body else None
                    answers.append(other.request(method, path.format(contract), json=filled))
                _same_shape(*answers, CONTRACT, "NO-SUCH-CONTRACT")
    with server.client(tokens["gat"]) as department:  # a contract not on its cloud, as a missing one
        rate = {"level": "5"}
        _same_shape(
            department.post("/v1/ratings", json={**rate, "contract": OTHER_CONTRACT}),
            department.post("/v1/ratings", json={**rate, "contract": "NO-SUCH-CONTRACT"}),
            OTHER_CONTRACT,
            "NO-SUCH-CONTRACT",
        )
        _same_shape(
            department.get("/v1/ratings/score", params={"contract": OTHER_CONTRACT, "period": "2026-10"}),
            department.get("/v1/ratings/score", params={"contract": "NO-SUCH-CONTRACT", "period": "2026-10"}),
            OTHER_CONTRACT,
            "NO-SUCH-CONTRACT",
        )
    with server.client(tokens["ops"]) as own:  # and its own operator still may
        assert own.post(f"/v1/tickets/{records['ticket']}/answer", json={"text": "done"}).status_code == 200


def test_decisions_and_bill_approvals_refuse_by_role_before_looking_the_id_up(world, records) -> None:
    """Deciding windows and appeals (bureau) and approving or paying bills (finance) are not scoped: a role that
    may not is refused alike for a stored id and a missing one; a role that may gets 404 for a missing one."""
    server, tokens = world
    bill = f"{CONTRACT}@2026-10"
    with server.client(tokens["ops"]) as operator, server.client(tokens["gat"]) as department:
        for path, body, stored, missing in (
            ("/v1/maintenance/{}/decision", {"approve": True}, records["window"], MISSING),
            ("/v1/appeals/{}/decision", {"uphold": False}, records["appeal"], MISSING),
            ("/v1/bills/{}/approve", {"override": "x"}, bill, "NOPE@2026-10"),
            ("/v1/bills/{}/pay", None, bill, "NOPE@2026-10"),
        ):
            for http in (operator, department):
                known = http.post(path.format(stored), json=body)
                unknown = http.post(path.format(missing), json=body)
                assert known.status_code == unknown.status_code == 403 and known.json() == unknown.json(), path
    with server.client(tokens["bureau1"]) as bureau, server.client(tokens["fin2"]) as finance:
        assert bureau.post(f"/v1/maintenance/{MISSING}/decision", json={"approve": True}).status_code == 404
        assert bureau.post(f"/v1/appeals/{MISSING}/decision", json={"uphold": False}).status_code == 404
        assert finance.post("/v1/bills/NOPE@2026-10/pay").status_code == 404
        assert finance.post("/v1/bills/NOPE@2026-10/approve", json={"override": "x"}).status_code == 404


def test_the_command_line_answers_an_id_outside_the_scope_as_missing(world, records, cli) -> None:
    """The rule is in the services: `--as gzop` on the command line is told the same as over HTTP."""
    outside = cli("tickets", "answer", str(records["ticket"]), "--text", "done", "--as", "gzop", "--json")
    missing = cli("tickets", "answer", str(MISSING), "--text", "done", "--as", "gzop", "--json")
    assert outside.code == missing.code == 1
    assert outside.stdout.replace(str(records["ticket"]), "ID") == missing.stdout.replace(str(MISSING), "ID")
    assert outside.json()["error"] == f"ticket not found: {records['ticket']}"
    appeal = cli("ratings", "appeal", str(records["second_rating"]), "--reason", "x", "--as", "gzop", "--json")
    assert appeal.code == 1 and appeal.json()["error"] == f"rating not found: {records['second_rating']}"
    shown = cli("sla", "availability", "--contract", CONTRACT, "--period", "2026-10", "--as", "gzop", "--json")
    assert shown.code == 1 and shown.json()["error"] == f"contract not found: {CONTRACT}"


# ---------------------------------------------------------------------------- every error in the one shape


def test_routing_errors_are_the_one_error_shape_in_the_language_asked_for(world) -> None:
    server, tokens = world
    with server.client(tokens["fin1"]) as http:
        for lang, unknown, method in (
            ("en", "no endpoint at /v1/nowhere", "/v1/contracts does not take DELETE"),
            ("zh", "不存在接口 /v1/nowhere", "/v1/contracts 不支持 DELETE 方法"),
        ):
            headers = {"Accept-Language": lang}
            missing = http.get("/v1/nowhere", headers=headers)
            assert missing.status_code == 404 and missing.json() == {"error": unknown, "problems": []}
            wrong = http.delete("/v1/contracts", headers=headers)
            assert wrong.status_code == 405 and wrong.json() == {"error": method, "problems": []}
            assert "GET" in wrong.headers["allow"]
    with server.client(**{"Accept-Language": "zh-CN"}) as anonymous:  # before any token is looked at
        assert anonymous.get("/nowhere").json()["error"] == "不存在接口 /nowhere"


@pytest.mark.parametrize(
    "path", ["/v1/ratings", "/v1/outages", "/v1/bills/run", "/v1/maintenance", "/v1/ratings/1/appeal"]
)
def test_a_body_nested_too_deeply_on_any_endpoint_is_a_422_in_the_one_shape(world, path: str) -> None:
    server, tokens = world
    deep = b"[" * 100_000
    with server.client(tokens["bureau1"]) as http:
        for lang, reason in (("en", "nested too deeply"), ("zh", "嵌套层数过深")):
            answer = http.post(
                path, content=deep, headers={"Content-Type": "application/json", "Accept-Language": lang}
            )
            assert answer.status_code == 422 and set(answer.json()) == {"error", "problems"}, answer.text
            assert answer.json()["error"].endswith(reason), answer.text
        broken = http.post(path, content=b'{"period": ', headers={"Content-Type": "application/json"})
        assert broken.status_code == 422 and set(broken.json()) == {"error", "problems"}, broken.text


def test_an_unexpected_error_is_a_500_with_an_error_id_the_server_log_holds(world, monkeypatch, caplog) -> None:
    """A fault nobody expected (injected into the service the endpoint calls): the client sees the one error
    shape with an id; the log holds that id with the traceback."""
    from tenants import service

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    server, tokens = world
    monkeypatch.setattr(service, "list_contracts", broken)
    with caplog.at_level(logging.ERROR, logger="zhengyun.api"), server.client(tokens["aud"]) as http:
        english = http.get("/v1/contracts", headers={"Accept-Language": "en"})
        chinese = http.get("/v1/contracts", headers={"Accept-Language": "zh-CN"})
        for _ in range(5):  # the connection stays open for the next request: the server did not have to end it
            assert http.get("/v1/contracts").status_code == 500
        assert http.get("/v1/tenants").status_code == 200
    assert english.status_code == chinese.status_code == 500
    assert set(english.json()) == {"error", "problems"} and english.json()["problems"] == []
    assert "disk on fire" not in english.text  # nothing of the failure leaks out
    error_id = re.fullmatch(r"internal error ([0-9a-f]{16}): the server log holds the details", english.json()["error"])
    assert error_id, english.text
    assert re.fullmatch(r"内部错误 [0-9a-f]{16}：详情见服务器日志", chinese.json()["error"]), chinese.text
    logged = [r for r in caplog.records if r.name == "zhengyun.api" and error_id[1] in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "GET /v1/contracts" in logged[0].getMessage()
    assert "disk on fire" in caplog.text and "Traceback" in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")]  # handled: the server saw an answer
