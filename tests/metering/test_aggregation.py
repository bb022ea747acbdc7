"""Aggregation: usage per department, cloud and meter in local time, series, quotas, bill-run totals."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.db import make_engine, session_scope
from core.errors import Forbidden, InvalidInput
from core.periods import Period
from metering import service
from metering.service import import_files
from tenants import service as registry
from tenants.permissions import SYSTEM, Actor
from tests.metering.conftest import DATA, event, write_csv

OCT = Period(2026, 10)
EDGES = [  # (time, in October in Asia/Shanghai?)
    ("2026-09-30T23:30:00+08:00", False),  # 15:30Z on 30 Sep
    ("2026-09-30T16:30:00Z", True),  # 00:30 on 1 Oct local
    ("2026-10-31T23:59:59+08:00", True),
    ("2026-10-31T16:00:00Z", False),  # 00:00 on 1 Nov local
]


def _import(url: str, directory: Path, events: list[dict], name: str = "u.csv", now=None) -> None:
    engine = make_engine(url)
    try:
        report = import_files(
            engine, actor=SYSTEM, paths=[write_csv(directory / name, events)], **({"now": now} if now else {})
        )
    finally:
        engine.dispose()
    assert report.rejected_count == 0, report.rejected


def test_period_usage_counts_events_by_the_provinces_local_time(province, use_db, tmp_path) -> None:
    events = [event(f"e{i}", time=when, quantity="1.5") for i, (when, _) in enumerate(EDGES)]
    events += [
        event("hr", department="gd-hr", meter="egress_gib", quantity="0.25"),
        event("gz", department="gz-gaj", cloud="gz", quantity="7"),
    ]
    _import(use_db, tmp_path, events)
    with session_scope() as session:
        rows = service.usage_by(session, actor=SYSTEM, period=OCT)
        by_cloud = service.usage_by(session, actor=SYSTEM, period=OCT, group_by=("cloud",))
    inside = sum(1 for _, ok in EDGES if ok)
    assert [(r.department, r.cloud, r.meter, r.quantity, r.events) for r in rows] == [
        ("gd-edu", "gd-prov", "vcpu_hours", Decimal("1.5") * inside, inside),
        ("gd-hr", "gd-prov", "egress_gib", Decimal("0.25"), 1),
        ("gz-gaj", "gz", "vcpu_hours", Decimal(7), 1),
    ]
    assert [(r.department, r.cloud, r.meter, r.quantity) for r in by_cloud] == [
        (None, "gd-prov", "egress_gib", Decimal("0.25")),
        (None, "gd-prov", "vcpu_hours", Decimal(3)),
        (None, "gz", "vcpu_hours", Decimal(7)),
    ]


def test_sums_are_exact_decimals_over_many_events(province, use_db, tmp_path) -> None:
    rng = random.Random(3)
    quantities = [Decimal(rng.randrange(0, 10**12)) / 10**6 for _ in range(3000)]
    _import(use_db, tmp_path, [event(f"q{i}", quantity=str(q)) for i, q in enumerate(quantities)])
    with session_scope() as session:
        [row] = service.usage_by(session, actor=SYSTEM, period=OCT)
    assert row.quantity == sum(quantities) and row.events == 3000


def test_daily_and_hourly_series_bucket_by_local_day_and_hour(province, use_db, tmp_path) -> None:
    events = [
        event("a", time="2026-09-30T16:30:00Z", quantity="1"),  # 10-01 00:30 local
        event("b", time="2026-10-01T15:59:59Z", quantity="2"),  # 10-01 23:59 local
        event("c", time="2026-10-01T16:00:00Z", quantity="4"),  # 10-02 00:00 local
        event("d", time="2026-10-02T00:15:00+08:00", meter="egress_gib", quantity="8"),
    ]
    _import(use_db, tmp_path, events)
    with session_scope() as session:
        daily = service.daily_series(session, actor=SYSTEM, period=OCT)
        hourly = service.hourly_series(
            session,
            actor=SYSTEM,
            start=datetime(2026, 10, 1, 23, tzinfo=ZoneInfo("Asia/Shanghai")),
            end=datetime(2026, 10, 2, 1, tzinfo=ZoneInfo("Asia/Shanghai")),
            group_by=("meter", "department"),
        )
    assert [(p.bucket, p.meter, p.quantity) for p in daily] == [
        ("2026-10-01", "vcpu_hours", Decimal(3)),
        ("2026-10-02", "egress_gib", Decimal(8)),
        ("2026-10-02", "vcpu_hours", Decimal(4)),
    ]
    assert [(p.bucket, p.meter, p.department, p.quantity) for p in hourly] == [
        ("2026-10-01T23:00", "vcpu_hours", "gd-edu", Decimal(2)),
        ("2026-10-02T00:00", "egress_gib", "gd-edu", Decimal(8)),
        ("2026-10-02T00:00", "vcpu_hours", "gd-edu", Decimal(4)),
    ]


@pytest.mark.parametrize(
    "zone, period",
    [("America/New_York", Period(2026, 11)), ("Asia/Kolkata", Period(2026, 10)), ("Europe/Berlin", Period(2026, 10))],
)
def test_series_follow_a_timezone_with_daylight_saving_or_half_hour_offsets(
    cli, use_db, tmp_path, zone, period
) -> None:
    tenancy = tmp_path / "tenancy.yaml"
    tenancy.write_text(
        (DATA / "tenancy.yaml").read_text(encoding="utf-8").replace("Asia/Shanghai", zone), encoding="utf-8"
    )
    assert cli("tenants", "import", tenancy).code == 0
    tz = ZoneInfo(zone)
    start, end = period.bounds(tz)
    rng = random.Random(5)
    span = int((end - start).total_seconds())
    moments = [start.astimezone(UTC) + timedelta(seconds=rng.randrange(-7200, span + 7200)) for _ in range(400)]
    _import(
        use_db,
        tmp_path,
        [event(f"z{i}", time=m.isoformat(), quantity=str(i)) for i, m in enumerate(moments)],
        now=lambda: datetime(2027, 1, 1, tzinfo=UTC),
    )
    days: dict[str, Decimal] = defaultdict(Decimal)
    hours: dict[str, Decimal] = defaultdict(Decimal)
    for i, m in enumerate(moments):
        if start <= m < end:
            local = m.astimezone(tz)
            days[local.strftime("%Y-%m-%d")] += i
            hours[local.strftime("%Y-%m-%dT%H:00")] += i
    with session_scope() as session:
        daily = service.daily_series(session, actor=SYSTEM, period=period)
        hourly = service.hourly_series(session, actor=SYSTEM, start=start, end=end)
    assert {p.bucket: p.quantity for p in daily} == dict(days)
    assert {p.bucket: p.quantity for p in hourly} == dict(hours)


def test_quota_use_compares_meter_hours_with_quota_times_hours_and_lists_over_quota(province, use_db, tmp_path) -> None:
    _import(
        use_db,
        tmp_path,
        [
            event("v1", quantity="1000"),
            event("v2", quantity="500.5"),
            event("m", meter="memory_gib_hours", quantity="10"),
            event("h", department="gd-hr", quantity="99"),
        ],
    )
    with session_scope() as session:
        uses = service.quota_use(session, actor=SYSTEM, period=OCT)
    hours = 31 * 24
    assert [(u.department, u.quota, u.limit, u.used, u.over) for u in uses] == [
        ("gd-edu", "vcpu", Decimal(2 * hours), Decimal("1500.5"), True),
        ("gd-edu", "memory_gib", Decimal(8 * hours), Decimal(10), False),
        ("gd-edu", "storage_gib", Decimal(100 * hours), Decimal(0), False),
        ("gd-hr", "vcpu", Decimal(1000 * hours), Decimal(99), False),
    ]
    assert [(u.department, u.quota) for u in service.over_quota(uses)] == [("gd-edu", "vcpu")]
    assert uses[0].share == Decimal("1500.5") / (2 * hours)
    # a page that has the month's sums per department passes them in: the same answer, summed once
    with session_scope() as session:
        by_department = service.usage_by(session, actor=SYSTEM, period=OCT, group_by=("department",))
        assert service.quota_use(session, actor=SYSTEM, period=OCT, usage=by_department) == uses


def test_usage_totals_for_bill_runs_split_by_when_events_were_received(province, use_db, tmp_path) -> None:
    _import(
        use_db,
        tmp_path,
        [event("a", quantity="1"), event("g", department="gz-gaj", cloud="gz", quantity="5")],
        "first.csv",
    )
    with session_scope() as session:
        service.ingest_barrier(session)
        computed_at = datetime.now(UTC)
    _import(use_db, tmp_path, [event("b", quantity="2"), event("c", department="gd-hr", quantity="3")], "late.csv")
    start, end = OCT.bounds("Asia/Shanghai")
    with session_scope() as session:
        everything = service.usage_totals(session, actor=SYSTEM, start=start, end=end)
        before = service.usage_totals(session, actor=SYSTEM, start=start, end=end, received_before=computed_at)
        late = service.usage_totals(
            session, actor=SYSTEM, start=start, end=end, clouds=["gd-prov"], received_after=computed_at
        )
    assert everything.by_cloud_meter == {("gd-prov", "vcpu_hours"): Decimal(6), ("gz", "vcpu_hours"): Decimal(5)}
    assert everything.by_department == {
        ("gd-edu", "gd-prov", "vcpu_hours"): Decimal(3),
        ("gd-hr", "gd-prov", "vcpu_hours"): Decimal(3),
        ("gz-gaj", "gz", "vcpu_hours"): Decimal(5),
    }
    assert before.by_cloud_meter == {("gd-prov", "vcpu_hours"): Decimal(1), ("gz", "vcpu_hours"): Decimal(5)}
    assert late.by_department == {
        ("gd-edu", "gd-prov", "vcpu_hours"): Decimal(2),
        ("gd-hr", "gd-prov", "vcpu_hours"): Decimal(3),
    }


LARGEST = Decimal("999999999999.999999")  # the largest valid quantity (docs/reference.md#usage-events-file)


def test_sums_of_events_at_the_quantity_limit_are_exact_everywhere(province, use_db, tmp_path) -> None:
    # 30 events of just below 10^12 add up to 3 x 10^19 millionths: past a 64-bit integer
    events = [event(f"max{i}", quantity=str(LARGEST), time=f"2026-10-0{1 + i % 2}T13:00:00+08:00") for i in range(30)]
    events += [event("tiny", quantity="0.000001", meter="memory_gib_hours")]
    events += [event(f"gz{i}", department="gz-gaj", cloud="gz", quantity=str(LARGEST)) for i in range(12)]
    _import(use_db, tmp_path, events)
    start, end = OCT.bounds("Asia/Shanghai")
    with session_scope() as session:
        rows = service.usage_by(session, actor=SYSTEM, period=OCT)
        daily = service.daily_series(session, actor=SYSTEM, period=OCT)
        hourly = service.hourly_series(session, actor=SYSTEM, start=start, end=end)
        uses = service.quota_use(session, actor=SYSTEM, period=OCT)
        totals = service.usage_totals(session, actor=SYSTEM, start=start, end=end)
    assert [(r.department, r.meter, r.quantity, r.events) for r in rows] == [
        ("gd-edu", "memory_gib_hours", Decimal("0.000001"), 1),
        ("gd-edu", "vcpu_hours", LARGEST * 30, 30),
        ("gz-gaj", "vcpu_hours", LARGEST * 12, 12),
    ]
    assert {(p.bucket, p.meter): p.quantity for p in daily} == {
        ("2026-10-01", "memory_gib_hours"): Decimal("0.000001"),
        ("2026-10-01", "vcpu_hours"): LARGEST * 27,  # 15 of gd-edu and 12 of gz-gaj
        ("2026-10-02", "vcpu_hours"): LARGEST * 15,
    }
    assert sum(p.quantity for p in hourly) == LARGEST * 42 + Decimal("0.000001")
    assert [(u.quota, u.used, u.over) for u in uses if u.department == "gd-edu"][:2] == [
        ("vcpu", LARGEST * 30, True),
        ("memory_gib", Decimal("0.000001"), False),
    ]
    assert totals.by_cloud_meter[("gd-prov", "vcpu_hours")] == LARGEST * 30
    assert totals.by_department[("gz-gaj", "gz", "vcpu_hours")] == LARGEST * 12
    shown = province("usage", "show", "--period", "2026-10", "--json")
    assert shown.code == 0, shown
    assert sorted(Decimal(u["quantity"]) for u in shown.json()["usage"]) == [
        Decimal("0.000001"),
        LARGEST * 12,
        LARGEST * 30,
    ]


# ---------------------------------------------------------------------------- permissions


def _loaded(use_db: str, tmp_path: Path) -> None:
    _import(
        use_db,
        tmp_path,
        [
            event("a"),
            event("h", department="gd-hr", quantity="2"),
            event("g", department="gz-gaj", cloud="gz", quantity="3"),
        ],
    )


def test_department_users_see_only_their_own_department(province, use_db, tmp_path) -> None:
    _loaded(use_db, tmp_path)
    me = Actor("edu", "department", department_id="gd-edu")
    with session_scope() as session:
        assert {r.department for r in service.usage_by(session, actor=me, period=OCT)} == {"gd-edu"}
        assert {u.department for u in service.quota_use(session, actor=me, period=OCT)} == {"gd-edu"}
        with pytest.raises(Forbidden):
            service.usage_by(session, actor=me, period=OCT, department="gd-hr")


def test_operators_see_only_their_clouds(province, use_db, tmp_path) -> None:
    _loaded(use_db, tmp_path)
    gz = Actor("gz-ops", "operator", operator_id="gzops")
    with session_scope() as session:
        assert {r.cloud for r in service.usage_by(session, actor=gz, period=OCT)} == {"gz"}
        assert service.usage_totals(
            session, actor=gz, start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2027, 1, 1, tzinfo=UTC)
        ).by_cloud_meter == {("gz", "vcpu_hours"): Decimal(3)}
        with pytest.raises(Forbidden):
            service.daily_series(session, actor=gz, period=OCT, cloud="gd-prov")


def test_unknown_filters_and_groups_are_refused(province, use_db) -> None:
    with session_scope() as session:
        with pytest.raises(InvalidInput):
            service.usage_by(session, actor=SYSTEM, period=OCT, group_by=("colour",))
        with pytest.raises(Exception, match="not found"):
            service.usage_by(session, actor=SYSTEM, period=OCT, department="gd-nope")


def test_usage_show_prints_usage_and_quota_use_as_text_and_json(province, use_db, tmp_path) -> None:
    _import(use_db, tmp_path, [event("v", quantity="1500"), event("g", department="gz-gaj", cloud="gz")])
    text = province("usage", "show", "--period", "2026-10")
    assert text.code == 0, text
    assert "gd-edu" in text.stdout and "1500" in text.stdout and "Over quota: gd-edu (vcpu)" in text.stdout
    data = province("usage", "show", "--period", "2026-10", "--json").json()
    assert data["timezone"] == "Asia/Shanghai"
    assert {(u["department"], u["quantity"], u["unit"]) for u in data["usage"]} == {
        ("gd-edu", "1500", "vCPU·h"),
        ("gz-gaj", "1", "vCPU·h"),
    }
    assert [(q["department"], q["quota"], q["over"]) for q in data["over_quota"]] == [("gd-edu", "vcpu", True)]
    assert province("users", "add", "edu", "--role", "department", "--department", "gd-edu").code == 0
    mine = province("usage", "show", "--period", "2026-10", "--json", "--as", "edu").json()
    assert {u["department"] for u in mine["usage"]} == {"gd-edu"}
    refused = province("usage", "show", "--period", "2026-10", "--department", "gz-gaj", "--as", "edu")
    assert refused.code == 1 and "permission denied" in refused.stderr
    assert province("usage", "show", "--period", "2026-13").code == 1


def test_local_day_bounds_are_one_day_in_the_provinces_timezone(province, use_db) -> None:
    with session_scope() as session:
        assert registry.get_province(session).timezone == "Asia/Shanghai"
        start, end = service.local_day_bounds(session, OCT.first_day)
    assert end - start == timedelta(days=1) and start.utcoffset() == timedelta(hours=8)
