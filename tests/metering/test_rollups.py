"""Usage rollups: answers read from them (rollup rows + the tail of events not yet folded) equal the
answers of scanning the events, on random data with re-imports (duplicates, conflicts) and late events,
whether nothing, part or all of it is folded; folds are idempotent and add up to a fold of everything;
the migration fills them from stored events; a fold beside a concurrent ingest loses and double-counts
nothing; the scheduler's job folds."""

from __future__ import annotations

import random
import threading
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
from zhengyun import scheduler
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


def _fold(url: str, now=None) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine=engine) as session:
            return rollup.fold(session) if now is None else rollup.fold(session, now=now)
    finally:
        engine.dispose()


def _tail(url: str) -> int:
    """How many events are beyond the mark."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            beyond = (
                "received_at >= (SELECT folded_before FROM usage_rollup_mark)"
                if engine.dialect.name == "postgresql"
                else "rowid > (SELECT folded_rowid FROM usage_rollup_mark)"
            )
            return int(conn.execute(text(f"SELECT count(*) FROM usage_event WHERE {beyond}")).scalar_one())
    finally:
        engine.dispose()


def _rebuilt(url: str, now=None) -> dict[str, set[tuple]]:
    """The rollup tables a fold of everything from an empty mark gives (the tables are left so)."""
    engine = make_engine(url)
    try:
        with session_scope(engine=engine) as session:
            rollup.rebuild(session) if now is None else rollup.rebuild(session, now=now)
    finally:
        engine.dispose()
    return _rollup_tables(url)


def test_answers_equal_event_scans_whatever_is_folded(province, use_db, tmp_path) -> None:
    rng = random.Random(14)
    first = _random_events(rng, "a", 400)
    # a re-import: the same events again (duplicates), some with other quantities (conflicts), new ones
    again = first[:150] + [{**e, "quantity": "7"} for e in first[150:200]] + _random_events(rng, "b", 150)
    rng.shuffle(again)
    # imports in random pieces, each followed by a fold or not: answers are compared with nothing, part
    # and all of the events folded
    pieces = [first[:120], first[120:], again[:90], again[90:]]
    checked = set()
    for n, piece in enumerate(pieces):
        _import(use_db, tmp_path / f"{n}.csv", piece)
        if n == 0:
            assert _tail(use_db) == 120  # nothing folded: every answer comes from the tail
        elif rng.random() < 0.6:
            _fold(use_db)
        tail = _tail(use_db)
        state = "none" if tail and not _rollup_tables(use_db)["usage_hourly"] else ("part" if tail else "all")
        checked.add(state)
        assert _answers(rollups=True) == _answers(rollups=False), (n, state)
    # late events of earlier months, received through the API path, a week later
    later = datetime.now(UTC) + timedelta(days=7)
    with session_scope() as session:
        report = ingest_events(
            session, actor=SYSTEM, events=_random_events(rng, "late", 120) + first[:10], source="api", now=lambda: later
        )
    assert report.accepted == 120 and report.duplicates == 10
    assert _tail(use_db) >= 120
    assert _answers(rollups=True) == _answers(rollups=False)
    _fold(use_db, now=lambda: later + timedelta(seconds=1))  # the clock that received them
    assert _tail(use_db) == 0
    checked.add("all")
    assert {"none", "all"} <= checked

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

    # folds are idempotent, and the folds made piece by piece add up to one fold of everything
    kept = _rollup_tables(use_db)
    assert _fold(use_db, now=lambda: later + timedelta(seconds=2)) == 0
    assert _rollup_tables(use_db) == kept
    assert _rebuilt(use_db, now=lambda: later + timedelta(seconds=3)) == kept


def test_answers_stay_exact_through_random_interleavings_of_ingest_and_fold(province, use_db, tmp_path) -> None:
    rng = random.Random(5)
    for step in range(8):
        events = _random_events(rng, f"s{step}-", rng.randrange(1, 60))
        with session_scope() as session:
            ingest_events(session, actor=SYSTEM, events=events, source="api")
        if rng.random() < 0.5:
            _fold(use_db)
        assert _answers(rollups=True) == _answers(rollups=False), step
    _fold(use_db)
    assert _tail(use_db) == 0
    assert _answers(rollups=True) == _answers(rollups=False)


def test_a_fold_beside_a_concurrent_ingest_loses_and_double_counts_nothing(province, use_db, tmp_path) -> None:
    """Two real connections: one thread ingests batch after batch while another folds again and again."""
    if not use_db.startswith("postgresql"):
        import pytest

        pytest.skip("SQLite has one writer: a fold and a batch never overlap")
    rng = random.Random(21)
    batches = [_random_events(rng, f"c{i}-", 40) for i in range(40)]
    engine = make_engine(use_db)
    done = threading.Event()
    folded: list[int] = []
    errors: list[BaseException] = []

    def ingest() -> None:
        try:
            for batch in batches:
                with session_scope(engine=engine) as session:
                    ingest_events(session, actor=SYSTEM, events=batch, source="api")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    def fold() -> None:
        try:
            while not done.is_set():
                with session_scope(engine=engine) as session:
                    folded.append(rollup.fold(session))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ingest), threading.Thread(target=fold)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert len([n for n in folded if n]) >= 2  # folds really ran while events arrived
        with session_scope(engine=engine) as session:
            folded.append(rollup.fold(session))
    finally:
        engine.dispose()
    assert sum(folded) == 40 * 40  # every event folded exactly once
    assert _tail(use_db) == 0
    kept = _rollup_tables(use_db)
    assert sum(row[1] for row in kept["usage_hourly"]) == 40 * 40
    assert _rebuilt(use_db) == kept
    assert _answers(rollups=True) == _answers(rollups=False)


def test_the_scheduler_job_folds(province, use_db, tmp_path, monkeypatch) -> None:
    _import(use_db, tmp_path / "j.csv", _random_events(random.Random(2), "j", 50))
    assert _tail(use_db) == 50
    before = _answers(rollups=True)
    engine = make_engine(use_db)
    monkeypatch.setattr(scheduler, "_engine_override", engine)
    try:
        runs = scheduler.JOB_SECONDS.labels(job="usage-fold")._sum.get()
        failures = scheduler.JOB_FAILURES.labels(job="usage-fold")._value.get()
        scheduler.run_job("usage-fold")
        scheduler.run_job("usage-fold")  # again: nothing left, nothing changes
        assert scheduler.JOB_SECONDS.labels(job="usage-fold")._sum.get() > runs
        assert scheduler.JOB_FAILURES.labels(job="usage-fold")._value.get() == failures
    finally:
        engine.dispose()
    assert _tail(use_db) == 0
    assert sum(row[1] for row in _rollup_tables(use_db)["usage_hourly"]) == 50
    assert _answers(rollups=True) == before


def test_usage_fold_command_and_import_fold(province, use_db, tmp_path) -> None:
    cli = province
    result = cli("usage", "import", write_csv(tmp_path / "c.csv", _random_events(random.Random(4), "c", 30)))
    assert result.code == 0, result
    assert "folded 30 event(s) into the usage rollups" in result.stdout
    assert _tail(use_db) == 0
    with session_scope() as session:
        ingest_events(session, actor=SYSTEM, events=_random_events(random.Random(6), "d", 7), source="api")
    assert _tail(use_db) == 7
    result = cli("usage", "fold")
    assert result.code == 0, result
    assert "folded 7 event(s) into the usage rollups" in result.stdout
    assert _tail(use_db) == 0
    result = cli("usage", "fold", "--json")
    assert result.code == 0, result
    assert result.json() == {"folded": 0}


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
    _fold(use_db)
    kept = _rollup_tables(use_db)
    assert all(kept.values())
    _import(use_db, tmp_path / "v.csv", _random_events(random.Random(9), "v", 40))  # a tail, unfolded
    engine = make_engine(use_db)
    try:
        for revision, action in (("0007", command.downgrade), ("heads", command.upgrade)):
            with engine.begin() as connection:
                cfg = alembic_config()
                cfg.attributes["connection"] = connection
                action(cfg, revision)
    finally:
        engine.dispose()
    # the upgrade folded every stored event, the tail too, and set the mark past them
    assert _tail(use_db) == 0
    assert sum(row[1] for row in _rollup_tables(use_db)["usage_hourly"]) == 190
    assert _rollup_tables(use_db) == _rebuilt(use_db)
    assert _answers(rollups=True) == _answers(rollups=False)


def test_a_read_that_meets_a_large_tail_folds_it_first(province, use_db, tmp_path, monkeypatch) -> None:
    """Reading a tail costs every statement that reads it (listing bills: one per draft), folding it
    costs once: a read meeting more than FOLD_BEFORE_READ unfolded events folds them first, in its own
    unit of work, and answers exactly; a smaller tail is read as it is."""
    from billing.usage import counts_by_cloud
    from zhengyun import app

    monkeypatch.setattr(rollup, "FOLD_BEFORE_READ", 100)
    engine = make_engine(use_db)
    october = Period(2026, 10)
    lo, hi = october.bounds(ZoneInfo("Asia/Shanghai"))

    def push(prefix: str, count: int) -> None:
        events = [
            event(f"{prefix}{i}", time=f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:00:00+08:00") for i in range(count)
        ]
        app.run(lambda s, a: ingest_events(s, actor=a, events=events, source="api"), actor=SYSTEM, engine=engine)

    def read_usage() -> int:
        rows = app.run(
            lambda s, a: service.usage_by(s, actor=a, period=october, group_by=()), actor=SYSTEM, engine=engine
        )
        return sum(r.events for r in rows)

    try:
        push("small", 100)  # at the limit: read with its tail, not folded
        assert read_usage() == 100 and _tail(use_db) == 100
        push("large", 50)  # past it: the read folds first
        assert read_usage() == 150 and _tail(use_db) == 0
        push("bills", 101)  # the bill listing's counts fold too
        assert app.run(lambda s, _a: counts_by_cloud(s, lo, hi), actor=SYSTEM, engine=engine) == {"gd-prov": 251}
        assert _tail(use_db) == 0
        assert _answers(rollups=True) == _answers(rollups=False)
    finally:
        engine.dispose()
