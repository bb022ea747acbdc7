"""Bill runs under faults: killed with SIGKILL at several moments (a bill run is one transaction: all of
it or nothing), and several at once, alone or beside an import (each waits for the other, none fails
with "database is locked")."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from metering.store import INGEST_LOCK
from tests.faults.conftest import Zhengyun, kill_when, micro, write_lines

pytestmark = pytest.mark.faults

RUN = ("bills", "run", "--period", "2026-10", "--as", "fin1", "--json")
SHOW = ("bills", "show", "--period", "2026-10", "--format", "json")


def _load(zhengyun: Zhengyun, tmp_path, count: int) -> None:
    done = zhengyun.run("usage", "import", str(write_lines(tmp_path / "usage.csv", list(range(count)))), "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["accepted"] == count, done.stderr


class BillRunWatch:
    """Whether a bill run holds the ingest barrier: it is inside its transaction, computing or writing."""

    def __init__(self, url: str):
        self.postgres = url.startswith("postgresql")
        if self.postgres:
            import psycopg

            self.conn = psycopg.connect(url.replace("postgresql+psycopg:", "postgresql:", 1), autocommit=True)
        else:
            self.conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)

    def __call__(self) -> bool:
        if self.postgres:
            return bool(
                self.conn.execute(
                    "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' "
                    "AND granted AND objid = %s",
                    (INGEST_LOCK,),
                ).fetchone()[0]
            )
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:  # the write lock is held
            return True

    def close(self) -> None:
        self.conn.close()


def _runs(zhengyun: Zhengyun) -> int:
    return zhengyun.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'bills.run'")


def test_a_bill_run_killed_at_any_moment_leaves_all_or_nothing_and_a_rerun_bills_exactly(zhengyun, tmp_path):
    _load(zhengyun, tmp_path, 60_000)
    assert zhengyun.cli(*SHOW).stdout == '{\n  "bills": []\n}'
    proc = zhengyun.start(*RUN)
    time.sleep(0.2)
    proc.kill()  # SIGKILL while it starts up
    proc.communicate()
    assert zhengyun.cli(*SHOW).stdout == '{\n  "bills": []\n}' and _runs(zhengyun) == 0  # killed starting up
    first = zhengyun.run(*RUN)
    assert first.returncode == 0, first.stderr
    billed = zhengyun.cli(*SHOW).stdout
    assert json.loads(billed)["bills"] and _runs(zhengyun) == 1
    mid_run, runs, last = 0, 1, "fin1"
    computing = BillRunWatch(zhengyun.url)
    try:
        # after it took the barrier: computing, then replacing the drafts (or, at times, just committed)
        for delay, user in ((0.0, "fin2"), (0.05, "fin3"), (0.15, "fin2")):
            proc = zhengyun.start("bills", "run", "--period", "2026-10", "--as", user, "--json")
            kill_when(proc, lambda d=delay: computing() and (time.sleep(d) or True))
            if _runs(zhengyun) == runs:
                mid_run += 1  # killed inside its transaction: nothing of it may be left
            else:
                runs, last = runs + 1, user  # it committed before the signal: all of it is there
            assert zhengyun.cli(*SHOW).stdout == billed  # the same bills, whole: nothing half-written
            listed = zhengyun.cli("bills", "list", "--period", "2026-10", "--json").json()["bills"]
            assert {b["run_by"] for b in listed} == {last}
    finally:
        computing.close()
    assert mid_run >= 1, "no kill landed inside a bill run's transaction"
    again = zhengyun.run(*RUN)
    assert again.returncode == 0, again.stderr
    assert zhengyun.cli(*SHOW).stdout == billed and _runs(zhengyun) == runs + 1
    assert zhengyun.cli("audit", "verify").code == 0


def test_bill_runs_at_once_wait_for_each_other_and_all_bill_the_same(zhengyun, tmp_path):
    _load(zhengyun, tmp_path, 50_000)
    solo = zhengyun.run(*RUN)
    assert solo.returncode == 0, solo.stderr
    billed = zhengyun.cli(*SHOW).stdout
    procs = [
        zhengyun.start("bills", "run", "--period", "2026-10", "--as", name, "--json")
        for name in ("fin1", "fin2", "fin3")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "Traceback" not in err, err  # never "database is locked"
        assert [b["status"] for b in json.loads(out)["bills"]] == ["draft", "draft"]
    assert zhengyun.cli(*SHOW).stdout == billed and _runs(zhengyun) == 4
    assert zhengyun.cli("audit", "verify").code == 0


def test_a_bill_run_beside_an_import_waits_for_it_and_both_finish(zhengyun, tmp_path):
    _load(zhengyun, tmp_path, 10_000)
    late = write_lines(tmp_path / "late.csv", list(range(10_000, 40_000)))
    importer = zhengyun.start("usage", "import", str(late), "--json")
    while zhengyun.count() == 10_000 and importer.poll() is None:
        time.sleep(0.02)
    runs = [zhengyun.start(*RUN), zhengyun.start("bills", "run", "--period", "2026-10", "--as", "fin2", "--json")]
    for proc in [importer, *runs]:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "Traceback" not in err, err
    assert zhengyun.events() == (40_000, sum(micro(n) for n in range(40_000)))
    final = zhengyun.run(*RUN)
    assert final.returncode == 0
    listed = zhengyun.cli("bills", "list", "--period", "2026-10", "--json").json()["bills"]
    assert [b["stale"] for b in listed] == [False, False]
    assert zhengyun.cli("audit", "verify").code == 0
