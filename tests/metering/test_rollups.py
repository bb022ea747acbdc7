"""Usage rollups: answers read from them equal the answers of scanning the events, on random data with
re-imports (duplicates, conflicts) and late events; the migration fills them from stored events."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from alembic import command
from sqlalchemy import text

from core.db import make_engine, session_scope
from core.periods import Period
from core.types import micro_total
from metering import rollup, service
from metering.service import import_files, ingest_events
from tenants.permissions import SYSTEM, Actor
from tests.metering.conftest import event, write_csv
from zhengyun.database import alembic_config

PLACEMENT = [("gd-edu", "gd-prov"), ("gd-hr", "gd-prov"), ("sw-gaj", "gd-prov"), ("gz-gaj", "gz")]
METERS = ["vcpu_hours", "memory_gib_hours", "storage_gib_hours", "egress_gib"]
PERIODS = [Period(2026, 9), Period(2026, 10), Period(2026, 11)]
ACTORS = [
    SYSTEM,
    Actor("edu", "department", department_id="gd-edu"),
    Actor("gz-ops", "operator", operator_id="gzops"),
    Actor("dg-ops", "operator", operator_id="dgcloud"),
]
GROUPS = [(), ("cloud",), ("department",), ("department", "cloud")]
START = datetime(2026, 9, 29, 10, tzinfo=UTC)  # around the ends of September, October and November 1st


def _random_events(rng: random.Random, prefix: str, count: int) -> list[dict]:
    out = []
    for i in range(count):
        department, cloud = rng.choice(PLACEMENT)
        # times on the hour, a second before, and anywhere: local midnights are 16:00Z
        moment = START + timedelta(hours=rng.randrange(0, 24 * 36), seconds=rng.choice([0, -1, rng.randrange(3600)]))
        offset = rng.choice(["+08:00", "Z", "-03:30"])
        zone = {"+08:00": timedelta(hours=8), "Z": timedelta(0), "-03:30": -timedelta(hours=3, minutes=30)}[offset]
        when = (moment + zone).replace(tzinfo=None).isoformat() + offset
        quantity = rng.choice(
            ["999999999999.999999", f"{rng.randrange(10**12)}.{rng.randrange(10**6):06d}", str(rng.randrange(5))]
        )
        out.append(
            event(
                f"{prefix}{i}",
                time=when,
                department=department,
                cloud=cloud,
                meter=rng.choice(METERS),
                quantity=quantity,
            )
        )
    return out


def _import(url: str, path: Path, events: list[dict], **kwargs) -> None:
    engine = make_engine(url)
    try:
        import_files(engine, actor=SYSTEM, paths=[write_csv(path, events)], batch_size=37, **kwargs)
    finally:
        engine.dispose()


def _answers(rollups: bool) -> dict:
    """Every read the dashboards make, for every role and period, one way or the other."""
    out: dict = {}
    with session_scope() as session:
        for who in ACTORS:
            scope = service._scope(session, who, department=None, cloud=None, meter=None)
            for p in PERIODS:
                start, end = p.bounds(ZoneInfo("Asia/Shanghai"))
                for groups in GROUPS:
                    out[(who.name, str(p), groups)] = service._sums(session, scope, start, end, groups, rollups=rollups)
                for groups in [("meter",), ("department",), ("cloud",)]:
                    out[(who.name, str(p), "day", groups)] = service._series(
                        session, scope, start, end, "day", groups, rollups=rollups
                    )
            for lo, hi in [
                (START, START + timedelta(days=3)),
                (START + timedelta(hours=30), START + timedelta(hours=31)),
            ]:
                out[(who.name, lo, "hour")] = service._series(
                    session, scope, lo, hi, "hour", ("meter",), rollups=rollups
                )
    return out


def _rollup_tables(url: str) -> dict[str, set[tuple]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            # a key's quantity may be split into its parts differently (batch sums vs one sum): compare totals
            # (and the latest arrival of each cloud's hour)
            out = {}
            for table, keys in rollup.TABLES.items():
                latest = "last_received" if table == "usage_cloud_hourly" else "NULL"
                query = f"SELECT {latest}, events, q_hi, q_mid, q_lo, {', '.join(keys)} FROM {table}"
                out[table] = {
                    (str(row[0]), int(row[1]), micro_total(row[2:5]), *(str(v) for v in row[5:]))
                    for row in conn.execute(text(query))
                }
            return out
    finally:
        engine.dispose()


def test_rollup_answers_equal_event_scans_after_reimports_conflicts_and_late_events(province, use_db, tmp_path) -> None:
    rng = random.Random(14)
    first = _random_events(rng, "a", 400)
    _import(use_db, tmp_path / "first.csv", first)
    # a re-import: the same events again (duplicates), some with other quantities (conflicts), new ones
    again = first[:150] + [{**e, "quantity": "7"} for e in first[150:200]] + _random_events(rng, "b", 150)
    rng.shuffle(again)
    _import(use_db, tmp_path / "again.csv", again)
    # late events of earlier months, received through the API path, a week later
    later = datetime.now(UTC) + timedelta(days=7)
    with session_scope() as session:
        report = ingest_events(
            session, actor=SYSTEM, events=_random_events(rng, "late", 120) + first[:10], source="api", now=lambda: later
        )
    assert report.accepted == 120 and report.duplicates == 10

    by_rollups = _answers(rollups=True)
    by_events = _answers(rollups=False)
    assert by_rollups == by_events
    assert sum(len(v) for v in by_rollups.values()) > 500  # the comparison is not over empty answers

    # and both are the truth, computed here from the stored events
    truth: dict[str, Decimal] = defaultdict(Decimal)
    with session_scope() as session:
        for moment, micro in session.connection().execute(text("SELECT time, quantity FROM usage_event")):
            if not isinstance(moment, datetime):  # SQLite: UTC text
                moment = datetime.fromisoformat(str(moment)).replace(tzinfo=UTC)
            truth[str(Period.of(moment.astimezone(ZoneInfo("Asia/Shanghai")).date()))] += Decimal(micro) / 10**6
    for p in PERIODS:
        assert sum((r.quantity for r in by_rollups[(SYSTEM.name, str(p), ())]), Decimal(0)) == truth[str(p)]
    assert max(truth.values()) > Decimal(2**63) / 10**6  # sums past SQLite's 64-bit integers

    # the tables kept batch by batch are exactly what a rebuild from the events gives
    kept = _rollup_tables(use_db)
    engine = make_engine(use_db)
    try:
        with engine.begin() as conn:
            rollup.rebuild(conn)
    finally:
        engine.dispose()
    assert _rollup_tables(use_db) == kept


def test_public_reads_use_the_rollups_and_agree_with_the_events(province, use_db, tmp_path) -> None:
    _import(use_db, tmp_path / "u.csv", _random_events(random.Random(3), "p", 200))
    with session_scope() as session:
        for p in PERIODS:
            scope = service._scope(session, SYSTEM, department=None, cloud=None, meter=None)
            start, end = p.bounds(ZoneInfo("Asia/Shanghai"))
            assert service.usage_by(session, actor=SYSTEM, period=p) == service._sums(
                session, scope, start, end, service.GROUPS, rollups=False
            )
            assert service.daily_series(session, actor=SYSTEM, period=p) == service._series(
                session, scope, start, end, "day", ("meter",), rollups=False
            )
            uses = service.quota_use(session, actor=SYSTEM, period=p)
            scanned = {
                (r.department, r.meter): r.quantity
                for r in service._sums(session, scope, start, end, ("department",), rollups=False)
            }
            assert [u.used for u in uses] == [scanned.get((u.department, u.meter), Decimal(0)) for u in uses]


def test_reads_fall_back_to_events_where_hours_do_not_align() -> None:
    shanghai, kolkata = ZoneInfo("Asia/Shanghai"), ZoneInfo("Asia/Kolkata")
    oct_sh = Period(2026, 10).bounds(shanghai)
    oct_in = Period(2026, 10).bounds(kolkata)
    assert rollup.covers(*oct_sh) and rollup.covers_buckets(shanghai, *oct_sh)
    assert not rollup.covers(*oct_in)  # a month of +05:30 starts at 18:30Z
    assert not rollup.covers_buckets(kolkata, datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
    # a zone whose offset changes on the hour (Berlin's DST) is served by the rollups
    berlin = ZoneInfo("Europe/Berlin")
    assert rollup.covers_buckets(berlin, *Period(2026, 10).bounds(berlin))
    assert rollup.whole_days(*oct_sh) == (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC))


def test_the_migration_fills_the_rollups_from_stored_events(province, use_db, tmp_path) -> None:
    _import(use_db, tmp_path / "u.csv", _random_events(random.Random(8), "m", 150))
    kept = _rollup_tables(use_db)
    assert all(kept.values())
    engine = make_engine(use_db)
    try:
        for revision, action in (("0007", command.downgrade), ("heads", command.upgrade)):
            with engine.begin() as connection:
                cfg = alembic_config()
                cfg.attributes["connection"] = connection
                action(cfg, revision)
    finally:
        engine.dispose()
    assert _rollup_tables(use_db) == kept
    assert _answers(rollups=True) == _answers(rollups=False)
