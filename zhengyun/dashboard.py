"""Start the Streamlit dashboards as a child process, bound to one address, with no telemetry."""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

from zhengyun import stopping

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


def stop(proc: subprocess.Popen[bytes], grace: float = stopping.GRACE_SECONDS) -> int:
    """Ask the dashboards to stop; ones that have not within `grace` seconds are killed. Their exit code."""
    stopping.stop_together([stopping.process_part("dashboards", proc)], grace)
    return proc.wait()


def wait(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the dashboards to end; on Ctrl-C or SIGTERM stop them too, within the bound of
    `zhengyun.stopping` (no orphaned server)."""
    stopping.adopt_process(proc)
    with stopping.interrupts():
        try:
            return proc.wait()
        except KeyboardInterrupt:
            return stop(proc)


def serve_dashboards(*, host: str = "127.0.0.1", port: int = 8501) -> int:
    """Serve until interrupted; the exit code of Streamlit."""
    return wait(start(host=host, port=port))
