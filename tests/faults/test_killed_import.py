"""`zhengyun usage import` killed with SIGKILL at several moments — before its first commit, part-way,
near the end, and its reader process — then run again: exactly one clean run's events are stored, each
once, with exact totals, and every stored event is counted in the audit entry of its transaction."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from sqlalchemy import text

from core.db import make_engine
from tests.faults.conftest import kill_when, micro, write_lines

pytestmark = pytest.mark.faults

EVENTS = 50_000


def test_an_import_killed_at_any_moment_then_run_again_stores_exactly_one_clean_runs_events(zhengyun, tmp_path):
    numbers = list(range(EVENTS))
    path = write_lines(tmp_path / "usage.csv", numbers + numbers[:5_000])  # a pusher's retry at the end
    expected = (EVENTS, sum(micro(n) for n in numbers))
    killed_at = []
    # committing every batch, so that there are moments between commits to be killed at
    for more in (0, 10_000, 10_000):  # before its first commit, after its first, and part-way on
        before = zhengyun.count()
        proc = zhengyun.start("usage", "import", str(path), "--json", "--commit-every", "0")
        time.sleep(0.3)  # it has started (and stored nothing yet)
        reached = lambda more=more, before=before: more == 0 or zhengyun.count() >= before + more  # noqa: E731
        assert kill_when(proc, reached), "killed part-way"
        killed_at.append(zhengyun.count())
    assert killed_at[0] < killed_at[1] < killed_at[2] < EVENTS, killed_at
    rerun = zhengyun.run("usage", "import", str(path), "--json")
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["accepted"] == EVENTS - killed_at[-1] and report["duplicates"] == 5_000 + killed_at[-1]
    assert zhengyun.events() == expected
    # every stored event is in the audit entry of the transaction that stored it, and only there
    engine = make_engine(zhengyun.url)
    try:
        with engine.connect() as conn:
            payloads = conn.execute(text("SELECT payload FROM audit_log WHERE action = 'usage.import'")).scalars()
            audited = [json.loads(p)["accepted"] for p in payloads]
    finally:
        engine.dispose()
    assert sum(audited) == EVENTS and len(audited) >= 3, audited
    assert zhengyun.cli("audit", "verify").code == 0


def test_an_import_whose_reader_process_is_killed_reports_it_and_a_rerun_stores_the_rest(zhengyun, tmp_path):
    total = 25_000
    first = write_lines(tmp_path / "first.csv", list(range(total)))  # > 1 MiB: read by a second process
    second = write_lines(tmp_path / "second.csv", list(range(total, total + 1_000)))
    proc = zhengyun.start("usage", "import", str(first), str(second), "--json", "--commit-every", "0")
    readers: list[int] = []
    deadline = time.monotonic() + 120
    while not readers:
        assert proc.poll() is None and time.monotonic() < deadline, "no reader process"
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children", encoding="ascii") as f:
                readers = [int(pid) for pid in f.read().split()]
        except OSError:
            pass
        time.sleep(0.01)
    os.kill(readers[0], signal.SIGSTOP)  # caught before it could read the whole file
    time.sleep(0.5)  # the importer stores what the reader sent so far, if anything
    os.kill(readers[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in err, err
    report = json.loads(out)
    [rejection] = report["rejected"]
    assert rejection["file"] == str(first) and "ended unexpectedly" in rejection["reason"]
    assert report["accepted"] == zhengyun.count() < total
    assert {f"ev-{n:07d}" for n in range(total, total + 1_000)} <= zhengyun.ids()  # the next file was read
    rerun = zhengyun.run("usage", "import", str(first), str(second), "--json")
    assert rerun.returncode == 0, rerun.stderr
    assert zhengyun.events() == (total + 1_000, sum(micro(n) for n in range(total + 1_000)))
    assert zhengyun.cli("audit", "verify").code == 0
