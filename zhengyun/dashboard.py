"""Start the Streamlit dashboards as a child process, bound to one address, with no telemetry."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path

#: The Streamlit script, found by path: the dashboards import the way in (`zhengyun.app`), so this side
#: never imports them (no two folders depend on each other).
_SPEC = find_spec("dashboards")
APP = Path(_SPEC.origin if _SPEC and _SPEC.origin else "dashboards/__init__.py").resolve().parent / "app.py"


def command(*, host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    """The `streamlit run` command line: headless, local, no usage statistics, no file watcher."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--client.showErrorDetails",
        "none",
    ]


def start(*, host: str = "127.0.0.1", port: int = 8501, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start the dashboards in the background (the demo and the browser test)."""
    return subprocess.Popen(command(host=host, port=port), cwd=APP.parent.parent, env=env)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt inside the block, so `finally` clauses stop child servers."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stop(proc: subprocess.Popen[bytes]) -> int:
    """Ask the dashboards to stop; one that does not within 10 s is killed. Its exit code."""
    proc.terminate()
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def wait(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the dashboards to end; on Ctrl-C or SIGTERM stop them too (no orphaned server)."""
    with sigterm_interrupts():
        try:
            return proc.wait()
        except KeyboardInterrupt:
            return stop(proc)


def serve_dashboards(*, host: str = "127.0.0.1", port: int = 8501) -> int:
    """Serve until interrupted; the exit code of Streamlit."""
    return wait(start(host=host, port=port))
