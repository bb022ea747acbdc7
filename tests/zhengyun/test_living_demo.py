"""`zhengyun demo`: a living province built through the services, then its dashboards on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine

from billing.views import list_bills
from sla.inputs import get_availability
from sla.outages import list_outages
from tenants import service, tenancy
from tenants.permissions import SYSTEM
from tests.conftest import Cli, free_port, start_demo
from zhengyun import app, living
from zhengyun.demo import demo_files
from zhengyun.demo_probes import targets_for


def test_demo_builds_a_living_month(use_db: str) -> None:
    result = Cli()("demo", "--json")
    assert result.code == 0, result
    living = json.loads(result.stdout)["living"]
    assert living["events"] > 1000 and living["ratings"] >= 10 and living["bills"] >= 3


def test_the_demos_probe_history_gives_availability_with_coverage_and_outages(engine: Engine, tmp_path: Path) -> None:
    """The demo builder on either database (without the moto part): October's probe history, recorded
    against local targets, yields availability with full coverage, probe outages, and one contract whose
    monitoring gap leaves its availability insufficient (its bill needs review)."""
    tenancy_file, contracts_file = demo_files()
    with targets_for(contracts_file) as targets:
        pointed = targets.point(contracts_file, tmp_path)

        def load(session, actor):  # type: ignore[no-untyped-def]
            tenancy.import_tenancy(session, actor=actor, path=tenancy_file)
            service.import_contracts(session, actor=actor, path=pointed)

        app.run(load, actor=SYSTEM, engine=engine)
        built = living.build(engine, today=date(2026, 11, 15), probes_until=datetime(2026, 11, 1, tzinfo=UTC))
    assert built.period == "2026-10" and built.checks > 20_000

    def read(session, actor):  # type: ignore[no-untyped-def]
        def one(contract: str) -> dict:  # type: ignore[type-arg]
            return get_availability(session, actor=actor, contract_id=contract, period="2026-10")

        return (
            one("GD-PROV-IAAS-2026"),
            one("GD-EMERGENCY-2026"),
            list_outages(session, actor=actor, contract_id="GD-PROV-AI-2026H2", period="2026-10"),
            {b.contract: b.flags for b in list_bills(session, actor=actor, period="2026-10")},
        )

    iaas, emergency, ai_outages, flags = app.run(read, actor=SYSTEM, engine=engine)
    assert Decimal(iaas["coverage"]) == 1 and not iaas["insufficient"]
    assert Decimal(iaas["availability"]) < Decimal("99.95")  # two manual outages and one seen by the probes
    assert {o["start"].strftime("%d %H:%M") for o in iaas["outages"]} >= {"09 14:00"}
    assert [(o.source, o.probe, (o.end - o.start).total_seconds()) for o in ai_outages] == [
        ("probe", "gpu-api", 3 * 3600.0)
    ]
    assert Decimal(emergency["coverage"]) < Decimal("0.9") and emergency["insufficient"]
    assert "needs_review" in flags["GD-EMERGENCY-2026"] and "needs_review" not in flags["GD-PROV-IAAS-2026"]


def test_demo_serves_the_dashboards_and_the_api_within_a_minute(tmp_path: Path) -> None:
    port, api_port = free_port(), free_port()
    started = time.monotonic()
    proc = start_demo(tmp_path, port, api_port, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        elapsed = time.monotonic() - started
        shown = "".join(lines)
        assert f"dashboards: http://127.0.0.1:{port}" in shown, shown
        assert f"HTTP API: http://127.0.0.1:{api_port}/docs" in shown, shown
        assert "login finance1 / zhengyun-demo (finance)" in shown
        assert elapsed < 60, elapsed
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).read() == b"ok"
        api = f"http://127.0.0.1:{api_port}"
        assert json.loads(urllib.request.urlopen(f"{api}/healthz", timeout=5).read())["status"] == "ok"
        # the token printed under finance1's login reads the billed month's bills
        after = shown.split("login finance1", 1)[1]
        token = after.split("API token: ", 1)[1].split()[0]
        period = shown.split("/v1/bills?period=", 1)[1].split()[0]
        request = urllib.request.Request(
            f"{api}/v1/bills?period={period}", headers={"Authorization": f"Bearer {token}"}
        )
        bills = json.loads(urllib.request.urlopen(request, timeout=10).read())["bills"]
        assert len(bills) >= 3 and all(b["period"] == period for b in bills)
        unauthenticated = urllib.request.Request(f"{api}/v1/bills?period={period}")
        try:
            urllib.request.urlopen(unauthenticated, timeout=10)
            raise AssertionError("a request without a token was answered")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        proc.send_signal(signal.SIGINT)  # Ctrl-C stops the dashboards, the API and the probe targets
        code = proc.wait(timeout=30)
        assert code == 0, code  # `wait` stops the dashboards on Ctrl-C and the demo ends normally
        for p in (port, api_port):
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", p)) != 0, f"port {p} still answers"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)


def test_a_demo_probe_target_is_switched_down_and_up_through_its_control_server(tmp_path: Path) -> None:
    import yaml

    from sla.probes import check_http, check_tcp

    _, contracts_file = demo_files()
    with targets_for(contracts_file) as targets:
        targets.serve_control()
        pointed = yaml.safe_load(targets.point(contracts_file, tmp_path).read_text(encoding="utf-8"))
        iaas = next(c for c in pointed["contracts"] if c["id"] == "GD-PROV-IAAS-2026")
        portal, tcp = iaas["probes"]
        assert portal["url"].startswith("http://127.0.0.1:") and tcp["host"] == "127.0.0.1"
        assert check_http(portal["url"], expect_status=200, timeout_s=2).ok
        down = urllib.request.Request(f"{targets.control_url}/GD-PROV-IAAS-2026/down", method="POST")
        assert urllib.request.urlopen(down, timeout=5).read() == b"GD-PROV-IAAS-2026 down\n"
        assert not check_http(portal["url"], expect_status=200, timeout_s=2).ok
        assert not check_tcp("127.0.0.1", tcp["port"], timeout_s=2).ok
        listed = urllib.request.urlopen(targets.control_url, timeout=5).read().decode()
        assert "GD-PROV-IAAS-2026 down" in listed and "GD-PROV-AI-2026H2 up" in listed
        up = urllib.request.Request(f"{targets.control_url}/GD-PROV-IAAS-2026/up", method="POST")
        urllib.request.urlopen(up, timeout=5).read()
        assert check_http(portal["url"], expect_status=200, timeout_s=2).ok  # the same port again
        assert check_tcp("127.0.0.1", tcp["port"], timeout_s=2).ok


def _answers(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_taken_api_port_is_said_and_stops_the_dashboards_too(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        api_port = taken.getsockname()[1]
        proc = start_demo(tmp_path, port, api_port, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 1, (out, err)
    assert f"the HTTP API cannot listen on 127.0.0.1:{api_port}; choose another with --api-port" in out + err
    assert "API token" not in out  # no logins announced for servers that are not there
    assert not _answers(port), "the dashboards outlived the demo"


def test_stopping_the_demo_while_it_builds_leaves_no_server_behind(tmp_path: Path) -> None:
    port, api_port = free_port(), free_port()
    proc = start_demo(tmp_path, port, api_port, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _answers(port) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)  # the dashboards start first, while the province is built
        assert _answers(port), "the dashboards did not start"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not _answers(port) and not _answers(api_port), "a server outlived the demo"


def test_live_probing_logs_the_first_error_of_each_kind_and_keeps_running(
    use_db: str, engine: Engine, monkeypatch, caplog
) -> None:
    """A round that keeps failing is logged once per kind of error (its traceback in the error log, a
    warning naming it), and the loop goes on trying."""
    import logging
    import threading

    from core.settings import get_settings
    from zhengyun import demo_probes
    from zhengyun.cli.support import ERROR_LOG

    rounds = threading.Semaphore(0)
    calls: list[int] = []

    def failing(**_: object) -> None:
        calls.append(1)
        rounds.release()
        raise RuntimeError("database is locked") if len(calls) % 2 else ValueError("no such probe")

    monkeypatch.setattr(demo_probes, "run_probes_once", failing)
    probing = demo_probes.LiveProbing(engine, every=0.01)
    with caplog.at_level(logging.WARNING, logger="zhengyun.demo_probes"):
        probing.start()
        for _ in range(10):
            assert rounds.acquire(timeout=10)
        assert probing._thread.is_alive()
        probing.stop()
    assert set(probing.errors) == {"builtins.RuntimeError", "builtins.ValueError"}
    assert sum(probing.errors.values()) >= 10
    warnings = [r.getMessage() for r in caplog.records if r.name == "zhengyun.demo_probes"]
    assert len(warnings) == 2 and all("live probing failed" in w for w in warnings), warnings
    logged = (get_settings().data_dir / ERROR_LOG).read_text(encoding="utf-8")
    assert logged.count("zhengyun demo: live probing") == 2
    assert "RuntimeError: database is locked" in logged and "ValueError: no such probe" in logged


def test_the_demo_folds_the_usage_pushed_to_its_api_within_its_fold_interval(tmp_path: Path) -> None:
    """The demo runs `zhengyun serve`'s fold job: events pushed through its API are folded into the
    rollups (the mark advances past them) within `--fold-every` seconds, not left as a growing tail."""
    import sqlite3

    port, api_port = free_port(), free_port()
    proc = start_demo(
        tmp_path, port, api_port, args=("--fold-every", "1"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        shown = "".join(lines)
        token = shown.split("login bureau", 1)[1].split("API token: ", 1)[1].split()[0]
        db = sqlite3.connect(tmp_path / "demo.db", timeout=30)
        dept, cloud, meter, time_ = db.execute(
            "SELECT department_id, cloud_id, meter, time FROM usage_event"
        ).fetchone()
        events = [
            {"event_id": f"pushed-{i}", "time": time_.replace(" ", "T") + "+00:00", "department": dept,
             "cloud": cloud, "meter": meter, "quantity": "1"}
            for i in range(500)
        ]  # fmt: skip
        request = urllib.request.Request(
            f"http://127.0.0.1:{api_port}/v1/usage/events",
            data=json.dumps(events).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert json.loads(urllib.request.urlopen(request, timeout=30).read())["accepted"] == 500
        pushed = db.execute("SELECT max(rowid) FROM usage_event").fetchone()[0]
        deadline = time.monotonic() + 20
        folded = db.execute("SELECT folded_rowid FROM usage_rollup_mark").fetchone()[0]
        while folded < pushed and time.monotonic() < deadline:
            time.sleep(0.2)
            folded = db.execute("SELECT folded_rowid FROM usage_rollup_mark").fetchone()[0]
        assert folded >= pushed, (folded, pushed)
        rolled = db.execute(
            "SELECT sum(events) FROM usage_hourly WHERE department_id = ? AND cloud_id = ? AND meter = ?",
            (dept, cloud, meter),
        ).fetchone()[0]
        stored = db.execute(
            "SELECT count(*) FROM usage_event WHERE department_id = ? AND cloud_id = ? AND meter = ?",
            (dept, cloud, meter),
        ).fetchone()[0]
        assert rolled == stored  # the pushed events are in the rollups
        db.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
