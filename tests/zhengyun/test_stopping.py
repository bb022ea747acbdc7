"""Ctrl-C and SIGTERM stop `zhengyun demo`, `zhengyun serve` and `zhengyun dashboard` within 5 s, whatever
they were doing, on a loaded machine too (docs/reference.md#command-line).

Each command runs as a real process. While it stops, a CPU burner runs on every core, and — for the two
that hold the database — this test holds SQLite's write lock, so that a request, the probes and the
scheduler's lease are all stuck waiting for it: what a stop meets on a busy day."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import Cli, free_port, start_demo

#: the bound asked for: from the signal to the process's exit
STOP_WITHIN_S = 5.0
#: a burner spins at most this long, whatever happens to the test
BURN_S = 30

SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]

_BURN = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


@contextmanager
def loaded_cores() -> Iterator[None]:
    """A CPU burner on every core (bounded in time), stopped at the end of the block."""
    burners = [subprocess.Popen([sys.executable, "-c", _BURN, str(BURN_S)]) for _ in range(os.cpu_count() or 2)]
    try:
        time.sleep(0.3)  # the burners are spinning before the signal
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """SQLite's write lock on `path`, held by this test: every writer of the process under test waits."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def _local(url: str, *, data: bytes | None = None, token: str | None = None, timeout: float = 5) -> bytes:
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return bytes(opener.open(urllib.request.Request(url, data=data, headers=headers), timeout=timeout).read())


def _wait_until_answers(url: str, proc: subprocess.Popen[str], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the process ended with {proc.returncode} before it answered"
        try:
            _local(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def _stuck_push(api: str, token: str) -> threading.Thread:
    """A `POST /v1/usage/events` in flight, waiting for the write lock the test holds."""

    def push() -> None:
        try:
            _local(f"{api}/v1/usage/events", data=b"[]", token=token, timeout=60)
        except (OSError, urllib.error.HTTPError):
            pass  # the server went away under it: what a stop does to a request it cannot finish

    thread = threading.Thread(target=push, daemon=True)
    thread.start()
    time.sleep(0.5)  # it reached the server and waits for the lock
    return thread


def _stop(proc: subprocess.Popen[str], sig: signal.Signals) -> float:
    """Send `sig` and wait (generously) for the process to end; the seconds it took."""
    started = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    return time.monotonic() - started


def _answers(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _end(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=20)


@pytest.mark.parametrize("sig", SIGNALS)
def test_the_demo_stops_within_5_s_of_a_signal_on_a_loaded_machine(tmp_path: Path, sig: signal.Signals) -> None:
    port, api_port = free_port(), free_port()
    proc = start_demo(tmp_path, port, api_port, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        shown = "".join(lines)
        token = shown.split("login dgcloud-ops", 1)[1].split("API token: ", 1)[1].split()[0]
        api = f"http://127.0.0.1:{api_port}"
        with write_lock(tmp_path / "demo.db"):
            pushing = _stuck_push(api, token)
            with loaded_cores():
                took = _stop(proc, sig)
        pushing.join(timeout=20)
        assert proc.returncode is not None, "the demo did not stop within 20 s"
        assert took <= STOP_WITHIN_S, f"the demo took {took:.1f} s to stop"
        assert not _answers(port) and not _answers(api_port), "a server outlived the demo"
    finally:
        _end(proc)


@pytest.mark.parametrize("sig", SIGNALS)
def test_serve_stops_within_5_s_of_a_signal_on_a_loaded_machine(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: signal.Signals
) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("ZHENGYUN_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ZHENGYUN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    added = Cli()("users", "add", "pusher", "--role", "bureau", "--json")
    get_settings.cache_clear()
    assert added.code == 0, added
    token = str(added.json()["token"])  # type: ignore[index]
    port = free_port()
    env = {**os.environ, "ZHENGYUN_LANG": "en"}
    command = [sys.executable, "-m", "zhengyun.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        api = f"http://127.0.0.1:{port}"
        _wait_until_answers(f"{api}/healthz", proc)
        assert json.loads(_local(f"{api}/healthz"))["status"] == "ok"
        with write_lock(Path(sqlite_url.removeprefix("sqlite:///"))):
            pushing = _stuck_push(api, token)
            with loaded_cores():
                took = _stop(proc, sig)
        pushing.join(timeout=20)
        assert proc.returncode is not None, "serve did not stop within 20 s"
        assert took <= STOP_WITHIN_S, f"serve took {took:.1f} s to stop"
        assert not _answers(port), "the API outlived serve"
    finally:
        _end(proc)


@pytest.mark.parametrize("sig", SIGNALS)
def test_the_dashboards_stop_within_5_s_of_a_signal_on_a_loaded_machine(
    sqlite_url: str, tmp_path: Path, sig: signal.Signals
) -> None:
    port = free_port()
    env = {**os.environ, "ZHENGYUN_DATABASE_URL": sqlite_url, "ZHENGYUN_DATA_DIR": str(tmp_path), "ZHENGYUN_LANG": "en"}
    command = [sys.executable, "-m", "zhengyun.cli", "dashboard", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_answers(f"http://127.0.0.1:{port}/_stcore/health", proc)
        _local(f"http://127.0.0.1:{port}/")  # a browser's first request
        with loaded_cores():
            took = _stop(proc, sig)
        assert proc.returncode is not None, "the dashboards did not stop within 20 s"
        assert took <= STOP_WITHIN_S, f"the dashboards took {took:.1f} s to stop"
        assert not _answers(port), "Streamlit outlived `zhengyun dashboard`"
    finally:
        _end(proc)
