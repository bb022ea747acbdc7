"""The fault-injection suite: real `zhengyun` processes killed, run at once, and fed files written to
break them, each followed by an exact check of what is stored. Every module is marked `faults`
(`pytest -m faults` runs the suite alone, `make faults` too).

Runs on SQLite and, with ZHENGYUN_TEST_POSTGRES, PostgreSQL; sized to finish in a minute or two on
two cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.db import make_engine
from tests.conftest import REPO

ZHENGYUN = str(Path(sys.executable).with_name("zhengyun"))
DATA = REPO / "tests" / "billing" / "data"
#: (department, cloud) of the worked example's province
PLACES = [("gd-edu", "gd-prov"), ("gd-gat", "gd-prov"), ("sw-gaj", "gd-prov"), ("gz-gaj", "gz")]
METERS = ["vcpu_hours", "storage_gib_hours", "egress_gib"]
HEADER = "event_id,time,department,cloud,meter,quantity,resource_id"


def line(n: int, prefix: str = "ev") -> str:
    """A valid usage event of October 2026, the same for the same `n`."""
    dept, cloud = PLACES[n % len(PLACES)]
    when = f"2026-10-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:{n % 59:02d}+08:00"
    return f"{prefix}-{n:07d},{when},{dept},{cloud},{METERS[n % len(METERS)]},{n % 1000}.{n % 997:03d},vm-{n % 97}"


def micro(n: int) -> int:
    """The quantity of `line(n)` in millionths."""
    return (n % 1000) * 1_000_000 + (n % 997) * 1_000


def write_lines(path: Path, numbers: list[int], prefix: str = "ev") -> Path:
    path.write_text("\n".join([HEADER, *(line(n, prefix) for n in numbers)]) + "\n", encoding="utf-8")
    return path


def environment(url: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ, ZHENGYUN_DATABASE_URL=url, ZHENGYUN_LANG="en", PYTHONPATH=str(REPO))
    env["ZHENGYUN_DATA_DIR"] = str(data_dir)
    env.pop("ZHENGYUN_ACTOR", None)
    return env


class Zhengyun:
    """Real `zhengyun` processes on one database (and `cli`, the command line in this process, to look)."""

    def __init__(self, url: str, data_dir: Path, cli: Any):
        self.url, self.env, self.cli = url, environment(url, data_dir), cli
        self._probe = make_engine(url)

    def count(self) -> int:
        """How many events are stored (cheap enough to poll)."""
        with self._probe.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM usage_event")).scalar_one())

    def close(self) -> None:
        self._probe.dispose()

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([ZHENGYUN, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        assert "Traceback" not in done.stderr + done.stdout, done.stderr
        return done

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [ZHENGYUN, *args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def scalar(self, sql: str) -> Any:
        engine = make_engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql)).scalar()
        finally:
            engine.dispose()

    def events(self) -> tuple[int, int]:
        """How many events are stored, and the sum of their quantities in millionths (exact, in Python)."""
        engine = make_engine(self.url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT quantity FROM usage_event")).scalars().all()
        finally:
            engine.dispose()
        return len(rows), sum(int(q) for q in rows)

    def ids(self) -> set[str]:
        engine = make_engine(self.url)
        try:
            with engine.connect() as conn:
                return set(conn.execute(text("SELECT event_id FROM usage_event")).scalars().all())
        finally:
            engine.dispose()


def kill_when(proc: subprocess.Popen[str], ready: Callable[[], bool], *, within: float = 120) -> bool:
    """SIGKILL `proc` as soon as `ready()`; whether it was still running then."""
    deadline = time.monotonic() + within
    while not ready():
        if proc.poll() is not None:
            break
        assert time.monotonic() < deadline, "the process did not get there"
        time.sleep(0.02)
    running = proc.poll() is None
    if running:
        proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return running


@pytest.fixture
def zhengyun(cli: Any, use_db: str, tmp_path: Path) -> Iterator[Zhengyun]:
    """The worked example's province and contracts (no usage yet), and real processes on its database."""
    assert cli("tenants", "import", str(DATA / "worked_tenancy.yaml")).code == 0
    assert cli("contracts", "import", str(DATA / "worked_contracts.yaml")).code == 0
    for name in ("fin1", "fin2", "fin3"):
        assert cli("users", "add", name, "--role", "finance").code == 0
    processes = Zhengyun(use_db, tmp_path / "data", cli)
    yield processes
    processes.close()
