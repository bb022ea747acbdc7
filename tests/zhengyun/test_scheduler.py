"""The scheduler: one leader by lease, guarded jobs, and a real second `serve` process taking over."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.db import make_engine
from zhengyun import scheduler

REPO = Path(__file__).resolve().parents[2]


def test_the_lease_has_one_holder_until_it_expires(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        t0 = 1_800_000_000_000
        assert scheduler.try_lease(engine, "a", 30, now_ms=t0)
        assert not scheduler.try_lease(engine, "b", 30, now_ms=t0 + 1_000)
        assert scheduler.try_lease(engine, "a", 30, now_ms=t0 + 20_000)  # renewed: now until t0 + 50 s
        assert not scheduler.try_lease(engine, "b", 30, now_ms=t0 + 40_000)
        assert scheduler.try_lease(engine, "b", 30, now_ms=t0 + 50_001)  # expired: taken over
        assert not scheduler.try_lease(engine, "a", 30, now_ms=t0 + 50_002)
        scheduler.release_lease(engine, "b")
        assert scheduler.try_lease(engine, "a", 30, now_ms=t0 + 50_003)  # released: free at once
    finally:
        engine.dispose()


def test_a_failing_job_is_logged_counted_and_never_raised(monkeypatch, caplog) -> None:
    def broken() -> None:
        raise RuntimeError("the endpoint is down")

    monkeypatch.setitem(scheduler.JOBS, "probes", broken)
    before = scheduler.JOB_FAILURES.labels(job="probes")._value.get()
    with caplog.at_level(logging.ERROR, logger="zhengyun.scheduler"):
        scheduler.run_job("probes")
    assert scheduler.JOB_FAILURES.labels(job="probes")._value.get() == before + 1
    assert "job probes failed (attempt 1 of 5); retrying in 30 s" in caplog.text
    assert "the endpoint is down" in caplog.text


def test_the_jobs_are_kept_in_the_database(db_url: str) -> None:
    from zoneinfo import ZoneInfo

    engine = make_engine(db_url)
    try:
        jobs = scheduler.new_scheduler(engine, ZoneInfo("Asia/Shanghai"))
        jobs.start(paused=True)
        try:
            assert {j.id for j in jobs.get_jobs()} == {
                "probes",
                "collectors",
                "overdue-tickets",
                "monthly-bills",
                "usage-fold",
            }
            fold = jobs.get_job("usage-fold")
            assert fold.trigger.interval.total_seconds() == 60
            bills = jobs.get_job("monthly-bills")
            first = bills.trigger.get_next_fire_time(None, bills.next_run_time.replace(day=1, hour=0))
            assert (first.day, first.hour, first.minute, str(first.tzinfo)) == (1, 2, 0, "Asia/Shanghai")
        finally:
            jobs.shutdown(wait=False)
        with engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT id FROM scheduler_job ORDER BY id").scalars().all()
        assert stored == ["collectors", "monthly-bills", "overdue-tickets", "probes", "usage-fold"]
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _leading(port: int, token: str) -> float | None:
    try:
        text = httpx.get(
            f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5
        ).text
    except httpx.HTTPError:
        return None
    for family in text_string_to_metric_families(text):
        if family.name == "zhengyun_scheduler_leader":
            return family.samples[0].value
    return None


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.mark.postgres
def test_two_serve_processes_one_runs_the_jobs_and_the_other_takes_over_when_it_is_killed(
    tmp_path: Path, pg_template: str
) -> None:
    from tests.conftest import _fresh_db

    class _Request:  # _fresh_db wants the fixture machinery only to reach pg_template
        def getfixturevalue(self, name: str) -> str:
            return pg_template

    databases = _fresh_db("postgresql", _Request(), tmp_path)  # type: ignore[arg-type]
    url = next(databases)
    env = dict(os.environ, ZHENGYUN_DATABASE_URL=url, ZHENGYUN_DATA_DIR=str(tmp_path), ZHENGYUN_LANG="en")
    env["ZHENGYUN_SCHEDULER_LEASE_SECONDS"] = "2"
    scraper = subprocess.run(
        [sys.executable, "-m", "zhengyun.cli", "users", "add", "prometheus", "--role", "monitor", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = json.loads(scraper.stdout)["token"]  # /metrics takes a token with metrics.read
    ports = [_free_port(), _free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "zhengyun.cli", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        _wait(lambda: None not in [_leading(p, token) for p in ports], 60, "both servers answer")
        _wait(lambda: sorted(_leading(p, token) for p in ports) == [0.0, 1.0], 20, "exactly one leads")
        leader = next(i for i, p in enumerate(ports) if _leading(p, token) == 1.0)
        other = 1 - leader
        time.sleep(3)  # past a lease period: still exactly one leader, the same
        assert (_leading(ports[leader], token), _leading(ports[other], token)) == (1.0, 0.0)
        processes[leader].send_signal(signal.SIGKILL)
        processes[leader].wait(10)
        _wait(lambda: _leading(ports[other], token) == 1.0, 20, "the other process takes the lease over")
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
        try:
            next(databases)
        except StopIteration:
            pass
