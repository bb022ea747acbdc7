"""Bill run benchmark (docs/reference.md#performance-targets): a synthetic province, one month of usage, on SQLite and PostgreSQL.

Builds the province of `bench/synthetic.py` (25 clouds, 2,000 departments, 40 contracts by default),
loads `--events` usage events of 2026-10 straight into the metering table (bulk insert on SQLite,
COPY on PostgreSQL: the bench measures the bill run, not ingest), then in the same run times

* the bare SQL aggregation the bill run needs: one `GROUP BY cloud, meter, department` over the
  month's events, through the driver, best of two;
* `run_bills` for 2026-10, the whole transaction including the commit;

and prints both and their ratio (target ≤ 2).

    python bench/billrun.py --events 10000000 --backend both --pg-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.synthetic import CORE_METERS, generate_registry, write_registry  # noqa: E402
from billing.service import run_bills  # noqa: E402
from core.db import make_engine, normalise_url, session_scope  # noqa: E402
from core.periods import Period  # noqa: E402
from tenants import service as registry  # noqa: E402
from tenants import tenancy as registry_tenancy  # noqa: E402
from tenants.permissions import SYSTEM  # noqa: E402

PERIOD = Period(2026, 10)
CHUNK = 200_000
AGGREGATION = (
    "SELECT cloud_id, meter, department_id, SUM(quantity), COUNT(*) FROM usage_event "
    "WHERE time >= :lo AND time < :hi GROUP BY cloud_id, meter, department_id"
)


def _events(count: int, departments: list[tuple[str, str]], seed: int):  # type: ignore[no-untyped-def]
    """(event_id, time UTC, department, cloud, meter, micro-quantity, received_at) rows of 2026-10."""
    rng = random.Random(seed)
    lo, hi = PERIOD.bounds("Asia/Shanghai")
    lo_utc = lo.astimezone(UTC)
    span = int((hi - lo).total_seconds())
    received = datetime(2026, 11, 2, tzinfo=UTC)
    meters = list(CORE_METERS)
    for i in range(count):
        dept, cloud = departments[rng.randrange(len(departments))]
        yield (
            f"e{i}",
            lo_utc + timedelta(seconds=rng.randrange(span)),
            dept,
            cloud,
            meters[i % len(meters)],
            rng.randrange(1, 50_000_000),
            received,
        )


def _setup(url: str, workdir: Path) -> None:
    from zhengyun.database import upgrade

    engine = make_engine(url)
    upgrade(engine=engine)
    tenancy, contracts = write_registry(workdir, clouds=25, departments=2000, contracts=40, seed=0)
    with session_scope(engine=engine) as s:
        registry_tenancy.import_tenancy(s, actor=SYSTEM, path=tenancy)
        registry.import_contracts(s, actor=SYSTEM, path=contracts)
    engine.dispose()


def _departments() -> list[tuple[str, str]]:
    tenancy, _ = generate_registry(clouds=25, departments=2000, contracts=40, seed=0)
    return [(d["id"], d["cloud"]) for d in tenancy["departments"]]


NAMES = ("event_id", "time", "department_id", "cloud_id", "meter", "quantity", "received_at")


def _series(departments: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    return [(cloud, dept, meter) for dept, cloud in departments for meter in CORE_METERS]


def _load_sqlite(path: str, rows, departments: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    con = sqlite3.connect(path)
    con.executemany("INSERT INTO usage_series (cloud_id, department_id, meter) VALUES (?, ?, ?)", _series(departments))
    sql = f"INSERT INTO usage_event ({', '.join(NAMES)}) VALUES ({', '.join('?' * len(NAMES))})"
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    batch = []
    for r in rows:
        batch.append((r[0], r[1].strftime(fmt), r[2], r[3], r[4], r[5], r[6].strftime(fmt)))
        if len(batch) >= CHUNK:
            con.executemany(sql, batch)
            batch.clear()
    if batch:
        con.executemany(sql, batch)
    con.commit()
    con.execute("ANALYZE")
    con.close()


def _load_postgres(url: str, rows, departments: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as con:
        with con.cursor() as cur:
            cur.executemany(
                "INSERT INTO usage_series (cloud_id, department_id, meter) VALUES (%s, %s, %s)", _series(departments)
            )
            with cur.copy(f"COPY usage_event ({', '.join(NAMES)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        con.commit()
        con.execute("ANALYZE usage_event")


def _time_aggregation(url: str) -> tuple[float, int]:
    engine = make_engine(url)
    lo, hi = PERIOD.bounds("Asia/Shanghai")
    best, groups = float("inf"), 0
    for _ in range(2):
        with engine.connect() as conn:
            params = {"lo": lo.astimezone(UTC), "hi": hi.astimezone(UTC)}
            if engine.dialect.name == "sqlite":
                fmt = "%Y-%m-%d %H:%M:%S.%f"
                params = {k: v.replace(tzinfo=None).strftime(fmt) for k, v in params.items()}
            start = time.perf_counter()
            groups = len(conn.execute(text(AGGREGATION), params).all())
            best = min(best, time.perf_counter() - start)
    engine.dispose()
    return best, groups


def _time_bill_run(url: str) -> tuple[float, int]:
    engine = make_engine(url)
    finance = SYSTEM
    after = datetime(2026, 11, 23, tzinfo=UTC)
    start = time.perf_counter()
    with session_scope(engine=engine) as s:
        result = run_bills(s, actor=finance, period=PERIOD, now=lambda: after)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed, len(result.bills)


def bench(backend: str, url: str, events: int, seed: int) -> dict[str, float]:
    """Set up, load, time; returns the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        t0 = time.perf_counter()
        _setup(url, workdir)
        departments = _departments()
        rows = _events(events, departments, seed)
        if backend == "sqlite":
            _load_sqlite(make_url(url).database or "", rows, departments)
        else:
            _load_postgres(url, rows, departments)
        load = time.perf_counter() - t0
        agg, groups = _time_aggregation(url)
        run, bills = _time_bill_run(url)
        agg2, _ = _time_aggregation(url)
        agg = min(agg, agg2)
    print(
        f"{backend:10} events={events:,} load+setup={load:.1f}s aggregation={agg:.2f}s ({groups:,} groups) "
        f"bill_run={run:.2f}s ({bills} bills) ratio={run / agg:.2f} (target <= 2)"
    )
    return {"aggregation": agg, "bill_run": run, "ratio": run / agg}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server where the user may create databases",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            bench("sqlite", f"sqlite:///{tmp}/bench.db", args.events, args.seed)
    if args.backend in ("postgresql", "both"):
        admin = create_engine(normalise_url(args.pg_url), isolation_level="AUTOCOMMIT")
        name = f"zy_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(normalise_url(args.pg_url)).set(database=name).render_as_string(hide_password=False)
            bench("postgresql", url, args.events, args.seed)
        finally:
            from core.db import dispose_engines

            dispose_engines()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
