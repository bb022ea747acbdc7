"""Exactly once under SIGKILL and under concurrent importers, with real `zhengyun usage import` processes."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import make_engine, session_scope
from metering.ingest import Batch, Ingest
from metering.service import import_files
from metering.store import EventWriter
from tenants import tenancy
from tenants.permissions import SYSTEM
from tests.conftest import REPO
from tests.metering.conftest import DATA, event, stored, write_csv

ZHENGYUN = str(Path(sys.executable).with_name("zhengyun"))
DEPARTMENTS = [("gd-edu", "gd-prov"), ("gd-hr", "gd-prov"), ("sw-gaj", "gd-prov"), ("gz-gaj", "gz")]
METERS = ["vcpu_hours", "memory_gib_hours", "storage_gib_hours", "egress_gib"]


def _events(numbers: list[int], rng: random.Random) -> list[dict]:
    out = []
    for n in numbers:
        dept, cloud = DEPARTMENTS[n % len(DEPARTMENTS)]
        out.append(
            event(
                f"ev-{n:07d}",
                department=dept,
                cloud=cloud,
                meter=METERS[n % len(METERS)],
                time=f"2026-10-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00+08:00",
                quantity=f"{n % 1000}.{n % 7}",
                resource_id=f"vm-{n % 97}",
            )
        )
    return out


def _env(url: str) -> dict[str, str]:
    env = dict(os.environ, ZHENGYUN_DATABASE_URL=url, ZHENGYUN_LANG="en", PYTHONPATH=str(REPO))
    env.pop("ZHENGYUN_ACTOR", None)
    return env


def _count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM usage_event")).scalar_one())
    finally:
        engine.dispose()


def _clean_run(template: Path, directory: Path, files: list[Path]) -> str:
    """The events one uninterrupted import of `files` stores, in a fresh SQLite database."""
    path = directory / "clean.db"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        with session_scope(engine=engine) as session:
            tenancy.import_tenancy(session, actor=SYSTEM, path=DATA / "tenancy.yaml")
        import_files(engine, actor=SYSTEM, paths=files)
    finally:
        engine.dispose()
    return url


def test_sigkill_part_way_then_running_again_stores_exactly_one_clean_runs_events(
    province, db_url, tmp_path, sqlite_template
) -> None:
    rng = random.Random(7)
    events = _events(list(range(60_000)), rng)
    # repeats later in the file, across batches: identical ones (duplicates) and changed ones (conflicts)
    for n in rng.sample(range(50_000), 300):
        events.append({**events[n], "time": events[n]["time"].replace("T", " ")})
    for n in rng.sample(range(50_000), 300):
        events.append({**events[n], "quantity": "12345"})
    path = write_csv(tmp_path / "big.csv", events)
    expected = stored(_clean_run(sqlite_template, tmp_path, [path]))

    # (committing every batch, so that there is a part-way to kill at)
    proc = subprocess.Popen(
        [ZHENGYUN, "usage", "import", str(path), "--json", "--commit-every", "0"],
        env=_env(db_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while _count(db_url) < 20_000:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the import did not progress"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _count(db_url)
    assert 20_000 <= killed_at < len(expected), "killed part-way"

    rerun = subprocess.run(
        [ZHENGYUN, "usage", "import", str(path), "--json"],
        env=_env(db_url),
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(rerun.stdout)
    assert rerun.returncode == 1  # the conflicts are rejected again
    assert report["accepted"] == len(expected) - killed_at
    assert len(report["rejected"]) == 300 and all("different content" in r["reason"] for r in report["rejected"])
    assert stored(db_url) == expected
    assert province("audit", "verify").code == 0


def test_four_processes_importing_overlapping_files_at_once_store_each_event_once(province, db_url, tmp_path) -> None:
    rng = random.Random(11)
    files, lines = [], 0
    for k in range(4):
        numbers = list(range(k * 6_000, k * 6_000 + 12_000))  # each overlaps the next by half
        numbers += rng.sample(numbers, 500)  # and repeats some of its own
        rng.shuffle(numbers)
        files.append(write_csv(tmp_path / f"part{k}.csv", _events(numbers, rng)))
        lines += len(numbers)
    distinct = 3 * 6_000 + 12_000
    procs = [
        subprocess.Popen(
            [ZHENGYUN, "usage", "import", str(f), "--json"],
            env=_env(db_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    assert sum(r["accepted"] for r in reports) == distinct
    assert sum(r["accepted"] + r["duplicates"] for r in reports) == lines
    assert _count(db_url) == distinct == len({(e[0], e[1]) for e in stored(db_url)})
    assert province("audit", "verify").code == 0


def test_a_terminal_gets_a_progress_bar_and_a_pipe_does_not(province, db_url, tmp_path) -> None:
    import pty

    path = write_csv(tmp_path / "u.csv", _events(list(range(2000)), random.Random(1)))
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [ZHENGYUN, "usage", "import", str(path)], env=_env(db_url), stdout=follower, stderr=follower, close_fds=True
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        shown += chunk
    assert proc.wait(timeout=120) == 0
    os.close(leader)
    assert b"importing usage" in shown and b"accepted 2000" in shown
    piped = subprocess.run(
        [ZHENGYUN, "usage", "import", str(path)], env=_env(db_url), capture_output=True, text=True, timeout=120
    )
    assert "importing usage" not in piped.stdout and "duplicates 2000" in piped.stdout


# ---------------------------------------------------------------------------- PostgreSQL lock waits


def _row(event_id: str, quantity: int = 1_000_000) -> tuple:
    return ("gd-prov", event_id, "gd-edu", "vcpu_hours", "2026-10-01 05:00:00.000000", quantity, None, None)


def _batch(*event_ids: str) -> Batch:
    rows = [_row(e) for e in sorted(event_ids)]
    return Batch("test.csv", rows=rows, lines=list(range(2, 2 + len(rows))))


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_importers_waiting_for_each_other_both_finish(province, db_url) -> None:
    # A stores k1 (and its audit entry), B stores k2 and waits to append its audit entry after A's; then A
    # wants k2: a circle. A, whose transaction holds an earlier batch, gives way (commits) instead of
    # deadlocking, and writes k2 again once B is done
    engine = make_engine(db_url)
    with session_scope(engine=engine) as session:  # the series exists: only events and the audit log are waited for
        Ingest(session, actor=SYSTEM).store(_batch("seed"))
    engines = [engine, make_engine(db_url)]
    a_first, b_started = threading.Event(), threading.Event()
    reports: dict[str, object] = {}
    errors: list[BaseException] = []

    def importer(name: str, engine, batches: list[str]) -> None:
        try:
            with session_scope(engine=engine) as session:
                ingest = Ingest(session, actor=SYSTEM, commit_seconds=3600)  # commits only when it must
                session.commit()
                for n, event_id in enumerate(batches):
                    if name == "A" and n == 1:
                        b_started.wait(10)
                        time.sleep(0.5)  # B has stored k2 and waits for A's audit entry by now
                    if name == "B" and n == 0:
                        a_first.wait(10)
                        b_started.set()
                    ingest.store(_batch(event_id))
                    if name == "A" and n == 0:
                        a_first.set()
                reports[name] = ingest.finish().to_dict()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=importer, args=("A", engines[0], ["k1", "k2"])),
        threading.Thread(target=importer, args=("B", engines[1], ["k2", "k1"])),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for e in engines:
            e.dispose()
    assert errors == []
    assert reports["A"] == {"accepted": 1, "duplicates": 1, "rejected": []}
    assert reports["B"] == {"accepted": 1, "duplicates": 1, "rejected": []}
    assert {e[1] for e in stored(db_url)} == {"seed", "k1", "k2"}


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_retried_batch_has_the_staging_table_its_rollback_dropped(province, db_url, monkeypatch) -> None:
    # the slow path (some keys stored already) stages the fresh rows in a temporary table created inside
    # the batch's savepoint; a lock conflict rolls the savepoint back, and the retry must create it again
    import psycopg

    engine = make_engine(db_url)
    real = EventWriter._copy
    failures: list[str] = []

    def deadlocks_once(cur, table, rows, received):
        real(cur, table, rows, received)
        if table == "usage_stage" and not failures:
            failures.append(table)
            raise psycopg.errors.DeadlockDetected("deadlock detected (injected)")

    try:
        with session_scope(engine=engine) as session:
            writer = EventWriter(session)
            assert writer.write([_row("s1"), _row("s2")]).accepted == 2
            monkeypatch.setattr(EventWriter, "_copy", staticmethod(deadlocks_once))
            result = writer.write([_row("s1"), _row("s2", 5), _row("s3"), _row("s4")])
    finally:
        engine.dispose()
    assert failures == ["usage_stage"]
    assert (result.accepted, result.duplicates, set(result.conflicts)) == (2, {("gd-prov", "s1")}, {("gd-prov", "s2")})
    assert {e[1] for e in stored(db_url)} == {"s1", "s2", "s3", "s4"}


def test_a_batch_stores_optional_columns_as_given_whichever_are_none_in_every_row(province, db_url) -> None:
    # a column that is None in every row of a batch is written as a literal NULL instead of bound values:
    # each mix of present and absent resources and attributes must store exactly the rows given, and a
    # repeat of the batch (the slow path, same statement) finds them all duplicates
    def row(event_id: str, resource: str | None, attributes: str | None) -> tuple:
        return (*_row(event_id)[:6], resource, attributes)

    batches = [
        [row("n1", None, None), row("n2", None, None)],
        [row("r1", "vm-1", None), row("r2", "vm-2", None)],
        [row("a1", None, '{"k":1}'), row("a2", None, '{"k":2}')],
        [row("m1", "vm-3", None), row("m2", None, '{"k":3}'), row("m3", None, None), row("m4", "", "")],
    ]
    engine = make_engine(db_url)
    try:
        with session_scope(engine=engine) as session:
            writer = EventWriter(session)
            assert [writer.write(rows).accepted for rows in batches] == [2, 2, 2, 4]
            again = [writer.write(rows) for rows in batches]
    finally:
        engine.dispose()
    assert [(r.accepted, len(r.duplicates), r.conflicts) for r in again] == [
        (0, 2, {}),
        (0, 2, {}),
        (0, 2, {}),
        (0, 4, {}),
    ]
    assert stored(db_url) == {r for rows in batches for r in rows}
