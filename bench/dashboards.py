"""Dashboard benchmark (docs/reference.md#performance-targets): every page renders in under 2 s on a province of 2,000 departments and
10 million events.

Builds the synthetic province of `bench/billrun.py` (25 clouds, 2,000 departments, 40 contracts; SQLite
by default, `--database-url` for PostgreSQL) with `--events` usage events of 2026-10 bulk-inserted
straight into `usage_event` (the bench measures the pages, not ingest), then folds them into the rollups
with `metering.rollup.fold` — what the scheduler's job does every minute — and adds what the other pages
show: a rating of every department for a contract on its cloud (bad reviews open tickets), outages,
and the month's bills. The database is cached under `var/bench/`, keyed by its
parameters, so a second run only renders.

Then each page is rendered for each role that sees it with Streamlit's AppTest, in the same process, as
`tests/dashboards` drive them; printed per page: the median of `--runs` renders against the 2 s target,
and the bare baseline, AppTest rendering a one-line page in the same run.

    python bench/dashboards.py                      # 10M events on SQLite (first build: several minutes)
    python bench/dashboards.py --events 200000 --runs 3
    python bench/dashboards.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import billrun  # noqa: E402  (the synthetic province and its bulk load)
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from core.db import make_engine, normalise_url, session_scope  # noqa: E402

MONTH = "2026-10"
TARGET = 2.0
#: bump when what the build writes changes, so cached databases are rebuilt
BUILD_VERSION = 3  # 3: usage_rollup_mark, rollups folded
TRIVIAL = "import streamlit as st\nst.write('hello')\n"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- the province


def _records(url: str, workdir: Path, seed: int) -> None:
    """Ratings, outages and the month's bills, through the services."""
    from billing.service import run_bills
    from sla.evaluation import import_ratings
    from sla.outages import import_outages
    from tenants.permissions import SYSTEM
    from tenants.service import list_contracts

    rng = random.Random(seed)
    engine = make_engine(url)
    with session_scope(engine=engine) as s:
        contracts = list_contracts(s, actor=SYSTEM)
    by_cloud: dict[str, list[str]] = {}
    for c in contracts:
        for cloud in c.clouds:
            by_cloud.setdefault(cloud, []).append(c.id)
    lo = datetime(2026, 10, 1, tzinfo=UTC)
    ratings = workdir / "ratings.csv"
    with open(ratings, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["department", "contract", "time", "level", "comment"])
        for dept, cloud in billrun._departments():
            for contract in by_cloud.get(cloud, [])[:1]:
                level = rng.choice([5, 5, 5, 4, 4, 3, 2, 1])
                moment = lo + timedelta(days=rng.randrange(2, 28), minutes=rng.randrange(1440))
                w.writerow([dept, contract, moment.isoformat(), level, "响应太慢" if level <= 2 else ""])
    outages = workdir / "outages.csv"
    with open(outages, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["contract", "start", "end", "source", "note"])
        for c in contracts:
            for _ in range(3):
                start = lo + timedelta(days=rng.randrange(28), seconds=rng.randrange(86400))
                w.writerow(
                    [
                        c.id,
                        start.isoformat(),
                        (start + timedelta(minutes=rng.randrange(1, 90))).isoformat(),
                        "import",
                        "synthetic",
                    ]
                )
    now = lambda: datetime(2026, 11, 2, tzinfo=UTC)  # noqa: E731 - a fixed clock after the month
    with session_scope(engine=engine) as s:
        import_ratings(s, actor=SYSTEM, path=ratings, now=now)
    with session_scope(engine=engine) as s:
        import_outages(s, actor=SYSTEM, path=outages, now=now)
    with session_scope(engine=engine) as s:
        run_bills(s, actor=SYSTEM, period=MONTH, now=now)
    engine.dispose()


def build(url: str, events: int, seed: int) -> None:
    """The province with its month of usage, rollups, ratings, outages and bills."""
    from metering.rollup import fold

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        billrun._setup(url, Path(tmp))
        departments = billrun._departments()
        rows = billrun._events(events, departments, seed)
        if make_url(url).get_backend_name() == "sqlite":
            billrun._load_sqlite(make_url(url).database or "", rows, departments)
        else:
            billrun._load_postgres(url, rows, departments)
        _log(f"  {events:,} events loaded in {time.perf_counter() - t0:.0f} s")
        t1 = time.perf_counter()
        engine = make_engine(url)
        with session_scope(engine=engine) as session:
            fold(session)
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        engine.dispose()
        _log(f"  events folded into the rollups in {time.perf_counter() - t1:.0f} s")
        t2 = time.perf_counter()
        _records(url, Path(tmp), seed)
        _log(f"  ratings, outages and bills in {time.perf_counter() - t2:.0f} s")


def _database(args: argparse.Namespace) -> str:
    """The URL of the cached benchmark database, built first if missing; the pages' settings point at it."""
    key = f"dashboards-e{args.events}-s{args.seed}-v{BUILD_VERSION}"
    if not args.database_url:
        cache = ROOT / "var" / "bench"
        cache.mkdir(parents=True, exist_ok=True)
        path = cache / f"{key}.db"
        url = f"sqlite:///{path}"
        os.environ["ZHENGYUN_DATABASE_URL"] = url  # read once by the settings the pages' unit of work uses
        if not path.exists():
            _log(f"building {path} (cached for later runs)")
            partial = path.with_suffix(".partial")
            for p in cache.glob(partial.name + "*"):
                p.unlink()
            build(f"sqlite:///{partial}", args.events, args.seed)
            partial.rename(path)
        return url
    name = key.replace("-", "_")
    admin = create_engine(normalise_url(args.database_url), isolation_level="AUTOCOMMIT")
    url = make_url(normalise_url(args.database_url)).set(database=name).render_as_string(hide_password=False)
    os.environ["ZHENGYUN_DATABASE_URL"] = url
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        done = (
            exists and conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name + "_ok"}).first()
        )
        if not done:
            _log(f"building PostgreSQL database {name} (cached for later runs)")
            if exists:
                conn.execute(text(f'DROP DATABASE "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            build(url, args.events, args.seed)
            conn.execute(text(f'CREATE DATABASE "{name}_ok"'))  # the marker of a finished build
    admin.dispose()
    return url


# ---------------------------------------------------------------------------- rendering


def _roles() -> dict[str, object]:
    from tenants.permissions import Actor

    tenancy, _ = billrun.generate_registry(clouds=25, departments=2000, contracts=40, seed=0)
    operator = next(c["operator"] for c in tenancy["clouds"] if c.get("operator"))
    department = tenancy["departments"][0]["id"]
    return {
        "bureau": Actor("bench-bureau", "bureau"),
        "finance": Actor("bench-finance", "finance"),
        "auditor": Actor("bench-auditor", "auditor"),
        "operator": Actor("bench-operator", "operator", operator_id=operator),
        "department": Actor("bench-department", "department", department_id=department),
    }


def _quiet() -> None:
    """AppTest outside a Streamlit server warns about a missing ScriptRunContext on every page (and
    Streamlit resets its loggers' levels on each run): drop warnings, keep errors."""
    import logging

    logging.disable(logging.WARNING)


def _render(actor: object, page: str) -> tuple[float, object]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboards" / "app.py"), default_timeout=600)
    at.session_state["actor"] = actor
    at.session_state["lang"] = "en"
    at.session_state["period"] = MONTH
    at.session_state["page"] = page
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    return elapsed, at


def _baseline() -> float:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(TRIVIAL, default_timeout=60)
    start = time.perf_counter()
    at.run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--database-url", help="a PostgreSQL server where the user may create databases")
    parser.add_argument("--runs", type=int, default=5, help="renders per page (the median is reported)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    url = _database(args)
    from dashboards.nav import PAGES, pages_for

    _quiet()

    backend = make_url(url).get_backend_name()
    print(f"dashboards on {backend}, {args.events:,} events, 2,000 departments; median of {args.runs} renders")
    _render(_roles()["bureau"], "overview")  # warm up: imports, the engine, the page cache
    baseline = statistics.median(_baseline() for _ in range(args.runs))
    print(f"{'baseline (a one-line page)':38} {baseline:6.2f} s")
    worst = 0.0
    for role, actor in _roles().items():
        for page in pages_for(role):
            times = []
            for _ in range(args.runs):
                elapsed, at = _render(actor, page)
                if at.exception or at.error:  # type: ignore[attr-defined]
                    problems = [e.value for e in (at.exception or at.error)]  # type: ignore[attr-defined]
                    raise SystemExit(f"{role} {page}: {problems}")
                times.append(elapsed)
            median = statistics.median(times)
            worst = max(worst, median)
            verdict = "ok" if median < TARGET else "SLOW"
            print(
                f"{role + ' / ' + PAGES[page][0]:38} {median:6.2f} s  ({median / baseline:5.1f} × baseline)  {verdict}"
            )
    print(f"slowest page {worst:.2f} s (target < {TARGET:.0f} s)")


if __name__ == "__main__":
    main()
