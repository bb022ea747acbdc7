"""Start the Streamlit dashboards as a child process, bound to one address, with no telemetry."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import dashboards

APP = Path(dashboards.__file__).resolve().parent / "app.py"


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


def wait(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the dashboards to end; on Ctrl-C or SIGTERM stop them too (no orphaned server)."""

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a server that does not stop when asked is stopped
            proc.kill()
            return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve_dashboards(*, host: str = "127.0.0.1", port: int = 8501) -> int:
    """Serve until interrupted; the exit code of Streamlit."""
    return wait(start(host=host, port=port))
