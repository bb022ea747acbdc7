"""`zhengyun demo`: a living province built through the services, then its dashboards on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import Cli


def test_demo_builds_a_living_month(use_db: str) -> None:
    result = Cli()("demo", "--json")
    assert result.code == 0, result
    living = json.loads(result.stdout)["living"]
    assert living["events"] > 1000 and living["ratings"] >= 10 and living["bills"] >= 3


def test_demo_serves_the_dashboards_within_a_minute(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ZHENGYUN_DATA_DIR": str(tmp_path), "ZHENGYUN_LANG": "en"}
    env.pop("ZHENGYUN_DATABASE_URL", None)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "zhengyun.cli", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "login gat-user" in line:
                break
        elapsed = time.monotonic() - started
        shown = "".join(lines)
        assert f"dashboards: http://127.0.0.1:{port}" in shown, shown
        assert "login finance1 / zhengyun-demo (finance)" in shown
        assert elapsed < 60, elapsed
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).read() == b"ok"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
