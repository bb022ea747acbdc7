"""Usage ingest benchmark (docs/reference.md#performance-targets): `usage import` against the bare insert of the same rows, same run.

On a synthetic province (`bench/synthetic.py`: 25 clouds, 2,000 departments) it writes a CSV of
`--events` usage events of last month and times

* SQLite: `metering.service.import_files` (read, validate, exactly-once insert in batches committed
  about once a second, each commit with its audit entry — every guarantee on) against a bare `sqlite3.executemany` of the same
  rows (already parsed, in memory) in one transaction into a table with the same unique index
  `(cloud_id, event_id)`, same pragmas; target ratio ≥ 0.6;
* PostgreSQL (`--postgres URL`, a server where the user may create databases): the same import against
  one bare `COPY` of the same rows into a table with the same unique index; target ratio ≥ 0.4;
* memory: `usage import` of a `--big-lines` file (default 10 million) in a child process into SQLite,
  printing the peak memory of the importer and its reader process together (PSS, sampled every 50 ms;
  target < 300 MB) and each one's resident high-water mark.
  `--big-lines 0` skips it.

Each file format (`--formats`, default CSV and JSON Lines of the same events) is imported `--repeat`
times (default 5), each import followed by a bare run; the ratio printed is the median of the ratios of
these pairs (each import against the bare run next to it), so one lucky or unlucky run moves nothing: on
a shared machine single runs vary by ±20 %. The median rates and every run's time are printed too.

    python bench/ingest.py                                  # 1M events on SQLite (CSV, JSONL), then the 10M memory run
    python bench/ingest.py --events 200000 --big-lines 0 --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.synthetic import write_registry  # noqa: E402
from core.clock import utcnow  # noqa: E402
from core.db import make_engine, normalise_url, session_scope  # noqa: E402
from core.periods import Period  # noqa: E402
from metering.events import utc_text  # noqa: E402
from metering.service import import_files  # noqa: E402
from tenants import tenancy as registry_tenancy  # noqa: E402
from tenants.models import BUILTIN_METERS  # noqa: E402
from tenants.permissions import SYSTEM  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
HEADER = ["event_id", "time", "department", "cloud", "meter", "quantity", "resource_id"]
BARE_TABLE = (
    "CREATE TABLE bare_event (id {pk}, event_id VARCHAR(200) NOT NULL, time {ts} NOT NULL, "
    "department_id VARCHAR(40) NOT NULL, cloud_id VARCHAR(40) NOT NULL, meter VARCHAR(40) NOT NULL, "
    "quantity BIGINT NOT NULL, resource_id VARCHAR(200), CONSTRAINT uq_bare UNIQUE (cloud_id, event_id))"
)


def write_events(path: Path, count: int, departments: list[tuple[str, str]], seed: int = 0) -> None:
    """`count` valid events of last month, in time order, as CSV."""
    rng = random.Random(seed)
    period = Period.of(utcnow(), TZ).previous()
    lo, hi = period.bounds(TZ)
    span = int((hi - lo).total_seconds())
    meters = [m[0] for m in BUILTIN_METERS]
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(HEADER)
        for i in range(count):
            dept, cloud = departments[rng.randrange(len(departments))]
            moment = lo + timedelta(seconds=span * i // max(count, 1))
            quantity = f"{rng.randrange(1, 10_000_000) / 1000:.3f}".rstrip("0").rstrip(".")
            out.writerow(
                [
                    f"ev-{seed}-{i:010d}",
                    moment.isoformat(),
                    dept,
                    cloud,
                    meters[i % len(meters)],
                    quantity,
                    f"vm-{dept}-{i % 7}",
                ]
            )


def parsed_rows(path: Path) -> list[tuple]:
    """The file's events as the bare baselines insert them: UTC time text, quantity in millionths."""
    from decimal import Decimal

    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for event_id, when, dept, cloud, meter, quantity, res in reader:
            rows.append(
                (
                    event_id,
                    utc_text(datetime.fromisoformat(when)),
                    dept,
                    cloud,
                    meter,
                    int(Decimal(quantity).scaleb(6)),
                    res,
                )
            )
    return rows


def setup_database(url: str, tenancy: Path) -> None:
    """Migrate a fresh database and import the province."""
    from zhengyun.database import upgrade

    engine = make_engine(url)
    upgrade(engine=engine)
    with session_scope(engine=engine) as session:
        registry_tenancy.import_tenancy(session, actor=SYSTEM, path=tenancy)
    engine.dispose()


def time_import(url: str, path: Path, batch_size: int) -> tuple[float, int]:
    """Seconds `import_files` takes, and how many events it accepted."""
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        report = import_files(engine, actor=SYSTEM, paths=[path], batch_size=batch_size)
        elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
    if report.rejected_count:
        raise SystemExit(f"unexpected rejections: {report.rejected[:3]}")
    return elapsed, report.accepted


def bare_sqlite(path: Path, rows: list[tuple]) -> float:
    """Seconds for one `executemany` of the rows into a table with the same unique index, same pragmas."""
    import sqlite3

    con = sqlite3.connect(path, isolation_level=None)
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):
        con.execute(f"PRAGMA {pragma}")
    con.execute(BARE_TABLE.format(pk="INTEGER PRIMARY KEY", ts="DATETIME"))
    started = time.perf_counter()
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO bare_event (event_id, time, department_id, cloud_id, meter, quantity, resource_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    con.execute("COMMIT")
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def bare_copy(url: str, rows: list[tuple]) -> float:
    """Seconds for one `COPY` of the rows into a table with the same unique index."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as con:
        con.execute(BARE_TABLE.format(pk="BIGSERIAL PRIMARY KEY", ts="TIMESTAMPTZ"))
        con.commit()
        started = time.perf_counter()
        with (
            con.cursor() as cur,
            cur.copy(
                "COPY bare_event (event_id, time, department_id, cloud_id, meter, quantity, resource_id) FROM STDIN"
            ) as copy,
        ):
            for r in rows:
                copy.write_row((r[0], r[1] + "+00", r[2], r[3], r[4], r[5], r[6]))
        con.commit()
        return time.perf_counter() - started


def report(label: str, count: int, ours: list[float], bare: list[float], target: float) -> None:
    """The median of the pairs' ratios (each import against the bare run next to it), and the median rates."""
    ratio = statistics.median(b / o for o, b in zip(ours, bare, strict=True))
    mine, base = statistics.median(ours), statistics.median(bare)
    print(
        f"{label}: median ratio {ratio:.2f} (target ≥ {target}) of {len(ours)} pairs; median import "
        f"{count / mine:,.0f} events/s ({mine:.1f} s), median bare {count / base:,.0f} rows/s ({base:.1f} s); "
        f"import runs {', '.join(f'{x:.1f}' for x in ours)} s, bare runs {', '.join(f'{x:.1f}' for x in bare)} s",
        flush=True,
    )


def write_jsonl(csv_path: Path, path: Path) -> None:
    """The CSV file's events as JSON Lines (quantities as strings, as pushers send them)."""
    with open(csv_path, encoding="utf-8", newline="") as f, open(path, "w", encoding="utf-8") as out:
        for row in csv.DictReader(f):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def run_sqlite(
    work: Path, tenancy: Path, files: dict[str, Path], rows: list[tuple], batch_size: int, repeat: int
) -> None:
    ours: dict[str, list[float]] = {kind: [] for kind in files}
    bare: dict[str, list[float]] = {kind: [] for kind in files}
    for _ in range(repeat):  # alternating, so a slow spell of the machine hits both
        for kind, events in files.items():
            url = f"sqlite:///{work / 'ingest.db'}"
            setup_database(url, tenancy)
            elapsed, accepted = time_import(url, events, batch_size)
            assert accepted == len(rows), (accepted, len(rows))
            ours[kind].append(elapsed)
            bare[kind].append(bare_sqlite(work / "bare.db", rows))
            _remove(work / "ingest.db")
            _remove(work / "bare.db")
    for kind in files:
        report(f"SQLite, {kind.upper()}", len(rows), ours[kind], bare[kind], 0.6)


def run_postgres(
    admin_url: str, tenancy: Path, files: dict[str, Path], rows: list[tuple], batch_size: int, repeat: int
) -> None:
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    ours: dict[str, list[float]] = {kind: [] for kind in files}
    bare: dict[str, list[float]] = {kind: [] for kind in files}
    try:
        for _ in range(repeat):
            for kind, events in files.items():
                names = [f"zy_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
                try:
                    with admin.connect() as conn:
                        for name in names:
                            conn.execute(text(f'CREATE DATABASE "{name}"'))
                    urls = [
                        make_url(normalise_url(admin_url)).set(database=n).render_as_string(hide_password=False)
                        for n in names
                    ]
                    setup_database(urls[0], tenancy)
                    elapsed, accepted = time_import(urls[0], events, batch_size)
                    assert accepted == len(rows), (accepted, len(rows))
                    ours[kind].append(elapsed)
                    bare[kind].append(bare_copy(urls[1], rows))
                finally:
                    with admin.connect() as conn:
                        for name in names:
                            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        for kind in files:
            report(f"PostgreSQL, {kind.upper()}", len(rows), ours[kind], bare[kind], 0.4)
    finally:
        admin.dispose()


def run_memory(work: Path, tenancy: Path, departments: list[tuple[str, str]], lines: int, batch_size: int) -> None:
    big = work / "big.csv"
    started = time.perf_counter()
    write_events(big, lines, departments, seed=1)
    print(
        f"memory: wrote {lines:,} events ({big.stat().st_size / 2**20:,.0f} MiB) in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    url = f"sqlite:///{work / 'big.db'}"
    setup_database(url, tenancy)
    # The importer reports its own high-water mark (VmHWM) and that of its reader process (the largest
    # child it waited for). Each counts the pages they share (the interpreter and modules loaded before
    # the fork) in full, so their sum overstates what the two use together; this process samples the
    # proportional set size (PSS: shared pages split between their users) of both every 50 ms, and the
    # peak of that sum is the figure against the target.
    child = (
        "import sys, resource; from pathlib import Path; from core.db import make_engine; "
        "from metering.service import import_files; from tenants.permissions import SYSTEM; "
        "r = import_files(make_engine(sys.argv[1]), actor=SYSTEM, paths=[Path(sys.argv[2])], "
        "batch_size=int(sys.argv[3])); "
        "status = Path('/proc/self/status'); "
        "hwm = [int(x.split()[1]) for x in status.read_text().splitlines() if x.startswith('VmHWM')] "
        "if status.exists() else [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]; "
        "print(r.accepted, r.duplicates, r.rejected_count, hwm[0], "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", child, url, str(big), str(batch_size)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    peak_pss = 0
    while proc.poll() is None:
        peak_pss = max(peak_pss, _pss_kib(proc.pid))
        time.sleep(0.05)
    out = proc.stdout.read().split() if proc.stdout else []
    if proc.returncode:
        raise SystemExit(f"the import failed (exit code {proc.returncode})")
    elapsed = time.perf_counter() - started
    importer, reader = int(out[3]) / 1024, int(out[4]) / 1024  # KiB
    pss = (
        f"peak memory {peak_pss / 1024:,.0f} MiB (importer and reader process together, PSS)"
        if peak_pss
        else "(no /proc here: PSS not sampled)"
    )
    print(
        f"memory: imported {int(out[0]):,} of {lines:,} events in {elapsed:.0f} s ({lines / elapsed:,.0f}/s), "
        f"{pss}; resident high-water marks: importer {importer:,.0f} MiB, reader process {reader:,.0f} MiB "
        f"(target < 300)",
        flush=True,
    )


def _pss_kib(pid: int) -> int:
    """Proportional set size of a process and its children, in KiB (0 without /proc)."""
    total = 0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for each in [pid, *map(int, children)]:
        try:
            for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events of the ratio runs (default 1M)")
    parser.add_argument("--big-lines", type=int, default=10_000_000, help="lines of the memory run (0 skips it)")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="import/bare pairs per format; the median ratio counts")
    parser.add_argument("--formats", default="csv,jsonl", help="file formats to import (default csv,jsonl)")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql", "both"),
        default=None,
        help="default: sqlite, and postgresql too when --postgres is given",
    )
    parser.add_argument("--postgres", help="PostgreSQL URL of a server where the user may create databases")
    parser.add_argument("--departments", type=int, default=2000)
    parser.add_argument("--workdir", type=Path, help="where the files go (default: a temporary directory)")
    args = parser.parse_args(argv)
    backends = (
        {"sqlite", "postgresql"}
        if args.backend == "both"
        else {args.backend}
        if args.backend
        else {"sqlite"} | ({"postgresql"} if args.postgres else set())
    )
    if "postgresql" in backends and not args.postgres:
        parser.error("--postgres URL is needed for PostgreSQL")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        tenancy, _ = write_registry(work, departments=args.departments)
        from tenants.formats import parse_tenancy

        spec, _ = parse_tenancy(tenancy)
        assert spec is not None
        departments = [(d.id, d.cloud) for d in spec.departments]
        events = work / "events.csv"
        write_events(events, args.events, departments)
        rows = parsed_rows(events)
        files = {"csv": events}
        if "jsonl" in args.formats.split(","):
            files["jsonl"] = work / "events.jsonl"
            write_jsonl(events, files["jsonl"])
        if "csv" not in args.formats.split(","):
            del files["csv"]
        print(
            f"{len(rows):,} events, {len(departments):,} departments, batch size {args.batch_size:,}, "
            f"{os.cpu_count()} cores",
            flush=True,
        )
        if "sqlite" in backends:
            run_sqlite(work, tenancy, files, rows, args.batch_size, args.repeat)
        if "postgresql" in backends:
            run_postgres(args.postgres, tenancy, files, rows, args.batch_size, args.repeat)
        del rows
        if args.big_lines:
            run_memory(work, tenancy, departments, args.big_lines, args.batch_size)


if __name__ == "__main__":
    main()
