"""Probes against real servers on 127.0.0.1 that the tests stop and start (docs/reference.md#sla, #the-network)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from sla import inputs, probing
from sla.models import Outage, ProbeCheck
from sla.probes import check_http, check_tcp, is_reserved_host, network_prober
from tests.sla.conftest import ADMIN, DG_OPS, GZ_OPS, Clock, closed_port, write_probe_contract
from zhengyun import scheduler as jobs

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 10, 5, 9, 0, tzinfo=SH)


@pytest.fixture
def local_contract(loaded, tmp_path, http_server, tcp_server):
    """LOCAL-2026 probing the local HTTP server (confirm 2) and the TCP listener (confirm 1)."""
    path = write_probe_contract(
        tmp_path / "local.yaml",
        [
            f'{{name: portal, kind: http, url: "{http_server.url}", expect_status: 200, timeout_s: 2, confirm: 2}}',
            f"{{name: api, kind: tcp, host: 127.0.0.1, port: {tcp_server.port}, timeout_s: 2, confirm: 1}}",
        ],
    )
    assert loaded("contracts", "import", path).code == 0
    return "LOCAL-2026"


def _round(call, clock: Clock, **kwargs) -> probing.ProbeRun:
    run = call(probing.run_probes, actor=ADMIN, vantage="v1", now=clock, **kwargs)
    clock.advance(60)
    return run


def _outages(session, probe: str) -> list[Outage]:
    return list(session.exec(select(Outage).where(Outage.probe == probe).order_by(Outage.start)))


def test_http_and_tcp_checks_see_the_local_servers_go_down_and_come_back(http_server, tcp_server) -> None:
    assert check_http(http_server.url, expect_status=200, timeout_s=2).ok
    wrong = check_http(http_server.url, expect_status=204, timeout_s=2)
    assert (wrong.ok, wrong.status) == (False, 200)
    assert check_tcp("127.0.0.1", tcp_server.port, timeout_s=2).ok
    http_server.stop()
    tcp_server.stop()
    down = check_http(http_server.url, expect_status=200, timeout_s=2)
    assert not down.ok and down.status is None and down.error
    assert not check_tcp("127.0.0.1", tcp_server.port, timeout_s=2).ok
    http_server.start()
    tcp_server.start()
    assert check_http(http_server.url, expect_status=200, timeout_s=2).ok
    assert check_tcp("127.0.0.1", tcp_server.port, timeout_s=2).ok


def test_an_outage_opens_after_confirm_failures_starts_at_the_first_and_ends_at_the_first_success(
    local_contract, call, db, http_server
) -> None:
    clock = Clock(T0)
    first = _round(call, clock)
    assert [(c.probe, c.ok) for c in sorted(first.checks, key=lambda c: c.probe)] == [("api", True), ("portal", True)]
    http_server.stop()
    failed_at = clock.now
    one = _round(call, clock)
    assert one.opened == []  # one failure is not yet an outage (confirm: 2)
    two = _round(call, clock)
    assert [(o.probe, o.start) for o in two.opened] == [("portal", failed_at)]
    assert _round(call, clock).opened == []  # still the same outage
    http_server.start()
    back_at = clock.now
    closing = _round(call, clock)
    assert [(o.probe, o.start, o.end) for o in closing.closed] == [("portal", failed_at, back_at)]
    from core.db import session_scope

    with session_scope(engine=db) as s:
        outages = _outages(s, "portal")
        assert [(o.start, o.end, o.source) for o in outages] == [(failed_at, back_at, "probe")]
        assert len(s.exec(select(ProbeCheck).where(ProbeCheck.contract_id == local_contract)).all()) == 10
        result = inputs.availability_for(s, local_contract, "2026-10", now=lambda: clock.now)
    assert result.down_seconds == 180
    assert result.coverage is not None and result.coverage < Decimal("0.9") and result.insufficient


def test_a_tcp_listener_that_stops_opens_an_outage_at_once_with_confirm_1(local_contract, call, db, tcp_server) -> None:
    clock = Clock(T0)
    _round(call, clock)
    tcp_server.stop()
    down = _round(call, clock)
    assert [o.probe for o in down.opened] == ["api"]
    tcp_server.start()
    up = _round(call, clock)
    assert [(o.probe, o.end) for o in up.closed] == [("api", T0 + timedelta(seconds=120))]


def test_a_majority_of_vantage_points_must_fail_to_open_an_outage(local_contract, call, db, http_server) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/health"

    def broken_path(probe):  # this vantage point cannot reach the service: a real refused connection
        return network_prober(probe.model_copy(update={"url": dead}) if probe.kind == "http" else probe)

    clock = Clock(T0)
    for _ in range(4):  # v1 fails every check, v2 and v3 succeed: one of three is no majority
        call(probing.run_probes, actor=ADMIN, vantage="v1", prober=broken_path, now=clock, contract_id=local_contract)
        call(probing.run_probes, actor=ADMIN, vantage="v2", now=clock, contract_id=local_contract)
        call(probing.run_probes, actor=ADMIN, vantage="v3", now=clock, contract_id=local_contract)
        clock.advance(60)
    from core.db import session_scope

    with session_scope(engine=db) as s:
        assert _outages(s, "portal") == []
    start = clock.now
    for _ in range(2):  # now v1 and v2 fail twice: a majority
        call(probing.run_probes, actor=ADMIN, vantage="v1", prober=broken_path, now=clock, contract_id=local_contract)
        call(probing.run_probes, actor=ADMIN, vantage="v2", prober=broken_path, now=clock, contract_id=local_contract)
        call(probing.run_probes, actor=ADMIN, vantage="v3", now=clock, contract_id=local_contract)
        clock.advance(60)
    with session_scope(engine=db) as s:
        assert [(o.start, o.end) for o in _outages(s, "portal")] == [(start, None)]
    call(probing.run_probes, actor=ADMIN, vantage="v1", prober=broken_path, now=clock, contract_id=local_contract)
    closing = call(probing.run_probes, actor=ADMIN, vantage="v2", now=clock, contract_id=local_contract)
    assert [(o.start, o.end) for o in closing.closed] == [(start, clock.now)]


def test_an_open_outage_counts_until_now_and_the_period_end(local_contract, call, db, http_server) -> None:
    clock = Clock(datetime(2026, 10, 31, 23, 50, tzinfo=SH))
    http_server.stop()
    _round(call, clock)
    _round(call, clock)  # opened at 23:50
    from core.db import session_scope

    with session_scope(engine=db) as s:
        so_far = inputs.availability_for(s, local_contract, "2026-10", now=lambda: clock.now)
        assert so_far.down_seconds == 120
        later = inputs.availability_for(s, local_contract, "2026-10", now=lambda: datetime(2026, 11, 2, tzinfo=SH))
        assert later.down_seconds == 600  # clipped at the end of October


def test_an_operator_runs_only_its_own_contracts_probes(local_contract, call) -> None:
    clock = Clock(T0)
    assert len(call(probing.run_probes, actor=DG_OPS, vantage="v1", now=clock).checks) == 2
    assert call(probing.run_probes, actor=GZ_OPS, vantage="v1", now=clock).checks == []


def test_probes_of_reserved_example_hosts_are_skipped_never_contacted(loaded, call, tmp_path) -> None:
    path = write_probe_contract(
        tmp_path / "example.yaml",
        [
            '{name: portal, kind: http, url: "https://iaas.gd.example/health"}',
            "{name: api, kind: tcp, host: api.example.com, port: 443}",
        ],
        contract="EXAMPLE-2026",
    )
    assert loaded("contracts", "import", path).code == 0

    def must_not_run(probe):
        raise AssertionError(f"contacted {probe}")

    run = call(probing.run_probes, actor=ADMIN, vantage="v1", prober=must_not_run, now=Clock(T0))
    assert run.checks == []
    assert sorted(s["probe"] for s in run.skipped) == ["api", "portal"]
    assert is_reserved_host("x.example") and is_reserved_host("example.org") and not is_reserved_host("127.0.0.1")


def test_sla_probe_once_runs_every_probe_and_stores_each_check(local_contract, loaded) -> None:
    result = loaded("sla", "probe", "--once", "--vantage", "cli-host", "--json")
    assert result.code == 0, result
    checks = result.json()["checks"]
    assert sorted((c["contract"], c["probe"], c["ok"], c["vantage"]) for c in checks) == [
        ("LOCAL-2026", "api", True, "cli-host"),
        ("LOCAL-2026", "portal", True, "cli-host"),
    ]
    assert loaded("sla", "probe").code == 2  # only --once here; the scheduler runs it every interval


def test_the_scheduler_entry_point_runs_the_probes_in_its_own_transaction(local_contract, db) -> None:
    run = jobs.run_probes_once(engine=db, vantage="sched", now=Clock(T0))
    assert {c.probe for c in run.checks} == {"portal", "api"}
    from core.db import session_scope

    with session_scope(engine=db) as s:
        assert {c.vantage for c in s.exec(select(ProbeCheck))} == {"sched"}


def test_an_open_outage_of_a_probe_removed_from_the_contract_is_closed(
    local_contract, loaded, call, tmp_path, http_server, tcp_server
) -> None:
    clock = Clock(T0)
    http_server.stop()
    _round(call, clock)
    assert [o.probe for o in _round(call, clock).opened] == ["portal"]
    path = write_probe_contract(
        tmp_path / "tcp-only.yaml",
        [f"{{name: api, kind: tcp, host: 127.0.0.1, port: {tcp_server.port}, timeout_s: 2, confirm: 1}}"],
    )
    assert loaded("contracts", "import", path).code == 0
    removed_at = clock.now
    closed = _round(call, clock).closed
    assert [(o.probe, o.end) for o in closed] == [("portal", removed_at)]


def test_the_scheduler_runs_a_probe_only_when_its_interval_has_passed(local_contract, db) -> None:
    clock = Clock(T0)
    first = jobs.run_probes_once(engine=db, vantage="sched", now=clock, due_only=True)
    assert {c.probe for c in first.checks} == {"portal", "api"}
    clock.advance(30)  # the probes' interval is 60 s
    assert jobs.run_probes_once(engine=db, vantage="sched", now=clock, due_only=True).checks == []
    assert {c.probe for c in jobs.run_probes_once(engine=db, vantage="other", now=clock, due_only=True).checks} == {
        "portal",
        "api",
    }  # due is per vantage point
    clock.advance(30)
    assert {c.probe for c in jobs.run_probes_once(engine=db, vantage="sched", now=clock, due_only=True).checks} == {
        "portal",
        "api",
    }


def test_recorded_checks_open_and_close_the_outages_they_imply_and_cover_their_interval(local_contract, call) -> None:
    """A replayed history: checks every 15 minutes, four failing in a row from 10:00 — one outage
    [10:00, 11:00), and the checks cover the whole day they span."""
    start = datetime(2026, 10, 5, 0, 0, tzinfo=SH)
    step = timedelta(minutes=15)
    checks = [
        probing.RecordedCheck(
            "LOCAL-2026", "portal", start + i * step, ok=not (40 <= i < 44), status=200, interval_s=900
        )
        for i in range(96)
    ]
    run = call(probing.record_checks, actor=ADMIN, vantage="history", checks=checks)
    assert [(o.probe, o.start, o.end) for o in run.opened] == [("portal", start + 40 * step, None)]
    assert [(o.probe, o.start, o.end) for o in run.closed] == [("portal", start + 40 * step, start + 44 * step)]
    result = call(inputs.get_availability, actor=ADMIN, contract_id="LOCAL-2026", period="2026-10")
    assert result["down_seconds"] == 3600
    # the day's checks cover one day of the month's 31
    assert Decimal(result["coverage"]).quantize(Decimal("0.0001")) == (Decimal(1) / 31).quantize(Decimal("0.0001"))


@pytest.mark.parametrize("earlier", [False, True], ids=["first-batch", "after-a-stored-success"])
def test_a_batch_that_starts_failing_then_recovers_records_one_outage(local_contract, call, earlier) -> None:
    """Failing from the batch's first check (or right after a success stored by an earlier batch):
    the outage opens at the first failure and closes at the first success, even though no window
    of the batch holds both outcomes before that success."""
    start = datetime(2026, 10, 5, 0, 0, tzinfo=SH)
    step = timedelta(minutes=15)
    if earlier:
        before = [probing.RecordedCheck("LOCAL-2026", "portal", start - step, ok=True, interval_s=900)]
        assert call(probing.record_checks, actor=ADMIN, vantage="history", checks=before).opened == []
    checks = [
        probing.RecordedCheck("LOCAL-2026", "portal", start + i * step, ok=i >= 5, interval_s=900) for i in range(12)
    ]
    run = call(probing.record_checks, actor=ADMIN, vantage="history", checks=checks)
    assert [(o.probe, o.start, o.end) for o in run.opened] == [("portal", start, None)]
    assert [(o.probe, o.start, o.end) for o in run.closed] == [("portal", start, start + 5 * step)]
    stored = call(lambda session, **_: [(o.start, o.end) for o in _outages(session, "portal")])
    assert [(s.astimezone(SH), e.astimezone(SH)) for s, e in stored] == [(start, start + 5 * step)]


def test_recording_checks_of_another_operators_contract_or_an_undeclared_probe_is_refused(local_contract, call) -> None:
    from core.errors import InvalidInput, NotFound

    with pytest.raises(InvalidInput, match="not declared"):
        call(
            probing.record_checks,
            actor=ADMIN,
            vantage="h",
            checks=[probing.RecordedCheck("LOCAL-2026", "nope", T0, ok=True)],
        )
    with pytest.raises(NotFound, match="contract not found: LOCAL-2026"):  # another operator's: as if missing
        call(
            probing.record_checks,
            actor=GZ_OPS,
            vantage="h",
            checks=[probing.RecordedCheck("LOCAL-2026", "portal", T0, ok=True)],
        )
    stored = call(
        probing.record_checks,
        actor=DG_OPS,
        vantage="h",
        checks=[probing.RecordedCheck("LOCAL-2026", "portal", T0, ok=True)],
    )
    assert stored.opened == [] and stored.closed == []
