"""Scheduled entry points of the SLA domain (the scheduler calls them every interval)."""

from __future__ import annotations

from sqlalchemy import Engine

from core.clock import Clock, utcnow
from sla.probes import Prober, network_prober
from sla.probing import ProbeRun, run_probes
from tenants.permissions import SYSTEM, Actor
from zhengyun import app


def run_probes_once(
    *,
    engine: Engine | None = None,
    vantage: str | None = None,
    prober: Prober = network_prober,
    actor: Actor = SYSTEM,
    now: Clock = utcnow,
    due_only: bool = False,
) -> ProbeRun:
    """Run every probe once (with `due_only`: those whose interval has passed) in its own unit of work:
    store the checks, open and close probe outages."""
    return app.run(
        lambda session, who: run_probes(session, actor=who, vantage=vantage, prober=prober, now=now, due_only=due_only),
        actor=actor,
        engine=engine,
    )
