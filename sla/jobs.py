"""Scheduled entry points of the SLA domain (the scheduler calls them every interval)."""

from __future__ import annotations

from sqlalchemy import Engine

from core.clock import Clock, utcnow
from core.db import session_scope
from sla.probes import Prober, network_prober
from sla.service import ProbeRun, run_probes
from tenants.permissions import SYSTEM, Actor


def run_probes_once(
    *,
    engine: Engine | None = None,
    vantage: str | None = None,
    prober: Prober = network_prober,
    actor: Actor = SYSTEM,
    now: Clock = utcnow,
) -> ProbeRun:
    """Run every probe once in its own transaction: store the checks, open and close probe outages."""
    with session_scope(engine=engine) as session:
        return run_probes(session, actor=actor, vantage=vantage, prober=prober, now=now)
