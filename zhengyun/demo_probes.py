"""The demo's probe targets and probe history.

Each demo contract with probes gets a small HTTP server on 127.0.0.1 (an ephemeral port) standing in
for its service; the contracts' probes are pointed at those servers before the contracts are imported.
A month of history — checks every 15 minutes with a few outages and one monitoring gap — is recorded
through `sla.probing.record_checks`; while the demo serves, `LiveProbing` runs the probes every few
seconds through the scheduler's job, and a control server switches a target down or up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine
from sqlmodel import Session

from core.periods import Period
from sla.probing import RecordedCheck, record_checks
from tenants.permissions import SYSTEM, Actor
from tenants.service import list_contracts, province_zone
from zhengyun import app
from zhengyun.cli.support import log_error
from zhengyun.scheduler import run_probes_once
from zhengyun.stopping import GRACE_SECONDS, Part, thread_part

log = logging.getLogger("zhengyun.demo_probes")

#: the vantage point of the demo's checks, recorded and live
VANTAGE = "demo-monitor"
#: the history's cadence; live probes run every LIVE_INTERVAL seconds
HISTORY_STEP = timedelta(minutes=15)
LIVE_INTERVAL = 30

#: (contract, day of the month (0-based), local hour, minutes down, probes down (None: all)) in the billed month
OUTAGES: list[tuple[str, int, int, int, tuple[str, ...] | None]] = [
    ("GD-PROV-IAAS-2026", 8, 14, 45, None),
    ("GD-PROV-AI-2026H2", 14, 3, 180, None),
    ("SZ-IAAS-2026", 21, 20, 75, ("api-tcp",)),
    ("GZ-IAAS-2026", 26, 10, 60, None),
]
#: a monitoring gap: (contract, first day, days without checks) — its coverage falls under 90 %
GAPS = [("GD-EMERGENCY-2026", 10, 4)]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        body = b'{"status":"ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silent: no request log on the console
        return


class Target:
    """A stand-in service on 127.0.0.1: up, it answers every GET with 200; down, nothing listens on its port."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self._lock = threading.Lock()
        self.up()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def up(self) -> None:
        """Listen again (on the same port once it has one)."""
        with self._lock:
            if self._server is not None:
                return
            server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
            server.daemon_threads = True
            self.port = int(server.server_address[1])
            # a short poll: stopping the demo shuts every target down in turn
            serve = threading.Thread(target=server.serve_forever, args=(0.05,), name=f"target-{self.name}", daemon=True)
            serve.start()
            self._server = server

    def down(self) -> None:
        """Stop listening: HTTP and TCP probes fail."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


@dataclass
class Targets:
    """One target per demo contract with probes, and the control server that switches them."""

    targets: dict[str, Target]
    control: ThreadingHTTPServer | None = None

    @property
    def control_url(self) -> str:
        assert self.control is not None
        return f"http://127.0.0.1:{self.control.server_address[1]}"

    def point(self, contracts: Path, into: Path) -> Path:
        """A copy of the contracts file whose probes aim at the targets (every LIVE_INTERVAL seconds)."""
        data = yaml.safe_load(contracts.read_text(encoding="utf-8"))
        for contract in data.get("contracts", []):
            target = self.targets.get(contract["id"])
            for probe in contract.get("probes") or ():
                assert target is not None, f"no demo target for {contract['id']}"
                if probe["kind"] == "http":
                    probe["url"] = f"http://127.0.0.1:{target.port}/health"
                else:
                    probe["host"], probe["port"] = "127.0.0.1", target.port
                probe["interval_s"], probe["timeout_s"] = LIVE_INTERVAL, 2
        out = into / contracts.name
        out.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return out

    def serve_control(self) -> None:
        """`POST /<contract>/down` or `/<contract>/up` switches a target; `GET /` lists them."""
        targets = self.targets

        class Control(BaseHTTPRequestHandler):
            def _answer(self, status: int, text: str) -> None:
                body = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                lines = [f"{k} {'up' if t.is_up else 'down'} 127.0.0.1:{t.port}" for k, t in sorted(targets.items())]
                self._answer(200, "\n".join(lines) + "\n")

            def do_POST(self) -> None:  # noqa: N802
                parts = self.path.strip("/").split("/")
                if len(parts) != 2 or parts[0] not in targets or parts[1] not in ("up", "down"):
                    self._answer(404, "POST /<contract>/up or /<contract>/down\n")
                    return
                target = targets[parts[0]]
                target.up() if parts[1] == "up" else target.down()
                self._answer(200, f"{target.name} {parts[1]}\n")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
        self.control.daemon_threads = True
        threading.Thread(target=self.control.serve_forever, args=(0.05,), name="target-control", daemon=True).start()

    def close(self) -> None:
        for target in self.targets.values():
            target.down()
        if self.control is not None:
            self.control.shutdown()
            self.control.server_close()


@contextmanager
def targets_for(contracts: Path) -> Iterator[Targets]:
    """A running target for each contract of the file that declares probes; all stopped at the end."""
    data = yaml.safe_load(contracts.read_text(encoding="utf-8"))
    names = [c["id"] for c in data.get("contracts", []) if c.get("probes")]
    found = Targets({name: Target(name) for name in names})
    try:
        yield found
    finally:
        found.close()


def _history(session: Session, period: Period, until: datetime) -> list[RecordedCheck]:
    """Checks every HISTORY_STEP from the period's start until `until`, failing during OUTAGES, none in GAPS."""
    tz = province_zone(session)
    start, _ = period.bounds(tz)
    down: dict[tuple[str, str | None], list[tuple[datetime, datetime]]] = {}
    for contract, day, hour, minutes, names in OUTAGES:
        lo = start + timedelta(days=day, hours=hour)
        for name in names or (None,):
            down.setdefault((contract, name), []).append((lo, lo + timedelta(minutes=minutes)))
    gaps = {c: (start + timedelta(days=d), start + timedelta(days=d + n)) for c, d, n in GAPS}
    step = int(HISTORY_STEP.total_seconds())
    checks: list[RecordedCheck] = []
    for spec in list_contracts(session, actor=SYSTEM):
        for probe in spec.probes:
            spans = down.get((spec.id, None), []) + down.get((spec.id, probe.name), [])
            moment = start
            while moment < until:
                gap = gaps.get(spec.id)
                if gap is None or not gap[0] <= moment < gap[1]:
                    failed = any(lo <= moment < hi for lo, hi in spans)
                    checks.append(
                        RecordedCheck(
                            contract=spec.id,
                            probe=probe.name,
                            time=moment,
                            ok=not failed,
                            status=(200 if not failed else None) if probe.kind == "http" else None,
                            duration_ms=3 if not failed else 2000,
                            error="ConnectError: [Errno 111] Connection refused" if failed else None,
                            interval_s=step,
                        )
                    )
                moment += HISTORY_STEP
    return checks


def record_history(engine: Engine, operator: Actor, period: Period, until: datetime) -> int:
    """Record the probe history of `period` until `until` (the demo's start) as the monitoring system did;
    the checks recorded."""

    def work(session: Session, actor: Actor) -> int:
        checks = _history(session, period, until)
        record_checks(session, actor=actor, vantage=VANTAGE, checks=checks)
        return len(checks)

    return app.run(work, actor=operator, engine=engine)


class Repeating:
    """A round of work every few seconds in a thread of the demo, until stopped; a round that fails is
    tried again at the next (the first error of each kind is logged)."""

    #: what the rounds do, as the log names it
    label = "a repeating job"

    def __init__(self, engine: Engine, every: float) -> None:
        self.engine, self.every = engine, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"demo-{self.label}", daemon=True)
        #: the errors of each kind (module.Class) the rounds have failed with; the first is logged
        self.errors: dict[str, int] = {}

    def start(self) -> None:
        self._thread.start()

    def part(self) -> Part:
        """The loop as a part to stop (`zhengyun.stopping`): asked, it ends after the round it is in."""
        return thread_part(self.label, self._thread, self._stop.set)

    def stop(self, timeout: float = GRACE_SECONDS) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout)

    def round(self) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.round()
            except Exception as exc:  # a busy database this round: the next round tries again
                self._failed(exc)
            self._stop.wait(self.every)

    def _failed(self, exc: Exception) -> None:
        """Log the first error of each kind (with its traceback, to the error log, as a failing command's)
        so that a failure that persists is seen; later ones of that kind are only counted."""
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if self.errors[kind] > 1:
            return
        written, reasons = log_error(f"zhengyun demo: {self.label}", exc)
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        where = f"details in {written}" if written is not None else "not logged: " + "; ".join(reasons)
        log.warning("%s failed (%s: %s); it keeps trying every %s s; %s", self.label, kind, first, self.every, where)


class LiveProbing(Repeating):
    """Runs the probes that are due every few seconds while the demo serves (the scheduler's probe job)."""

    label = "live probing"

    def __init__(self, engine: Engine, every: float = 5.0) -> None:
        super().__init__(engine, every)

    def round(self) -> None:
        run_probes_once(engine=self.engine, vantage=VANTAGE, due_only=True)
