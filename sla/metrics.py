"""Prometheus gauges read from the database at scrape time: availability so far, error budget remaining
for the period, and burn rates over 5 m / 1 h / 6 h, per contract with an availability target; and each
probe's latest check (up, latency) per vantage point.

The HTTP service registers `SlaCollector(session_factory)` on its registry. Prometheus samples are
floats by protocol: the exact decimals are converted only here, at the exposition boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from decimal import Decimal

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from core.clock import Clock, utcnow
from sla.inputs import BURN_WINDOWS, slo_status
from sla.models import ProbeCheck

SessionFactory = Callable[[], AbstractContextManager[Session]]


def _families() -> dict[str, GaugeMetricFamily]:
    return {
        "availability": GaugeMetricFamily(
            "zhengyun_sla_availability_percent",
            "Availability of the current period so far (docs/reference.md#availability)",
            labels=["contract"],
        ),
        "target": GaugeMetricFamily(
            "zhengyun_sla_availability_target_percent", "The contract's availability target", labels=["contract"]
        ),
        "remaining_seconds": GaugeMetricFamily(
            "zhengyun_sla_error_budget_remaining_seconds",
            "Downtime the target still allows in the current period (negative when overspent)",
            labels=["contract"],
        ),
        "remaining_ratio": GaugeMetricFamily(
            "zhengyun_sla_error_budget_remaining_ratio",
            "Share of the current period's error budget left (1 = untouched, below 0 = overspent)",
            labels=["contract"],
        ),
        "probe_up": GaugeMetricFamily(
            "zhengyun_sla_probe_up",
            "1 when the probe's latest check from this vantage point succeeded, else 0",
            labels=["contract", "probe", "vantage"],
        ),
        "probe_latency": GaugeMetricFamily(
            "zhengyun_sla_probe_latency_seconds",
            "Duration of the probe's latest check from this vantage point",
            labels=["contract", "probe", "vantage"],
        ),
        "burn_rate": GaugeMetricFamily(
            "zhengyun_sla_burn_rate_ratio",
            "Error rate over the window divided by the rate the target allows (1 = on budget)",
            labels=["contract", "window"],
        ),
    }


def latest_checks(session: Session) -> list[ProbeCheck]:
    """The latest stored check of every probe from every vantage point."""
    latest = (
        select(ProbeCheck.contract_id, ProbeCheck.probe, ProbeCheck.vantage, func.max(ProbeCheck.time).label("time"))
        .group_by(col(ProbeCheck.contract_id), col(ProbeCheck.probe), col(ProbeCheck.vantage))
        .subquery()
    )
    query = select(ProbeCheck).join(
        latest,
        and_(
            col(ProbeCheck.contract_id) == latest.c.contract_id,
            col(ProbeCheck.probe) == latest.c.probe,
            col(ProbeCheck.vantage) == latest.c.vantage,
            col(ProbeCheck.time) == latest.c.time,
        ),
    )
    return list(session.exec(query.order_by(col(ProbeCheck.contract_id), col(ProbeCheck.probe))))


def _float(value: Decimal) -> float:
    return float(value)


class SlaCollector:
    """A `prometheus_client` collector computing the SLO gauges from the database on every scrape."""

    def __init__(self, session_factory: SessionFactory, *, now: Clock = utcnow) -> None:
        self.session_factory = session_factory
        self.now = now

    def describe(self) -> Iterable[Metric]:
        """The metric families without samples (registering the collector does not touch the database)."""
        return list(_families().values())

    def _has_province(self) -> bool:
        from tenants.models import Province

        with self.session_factory() as session:
            return session.exec(select(Province.code)).first() is not None

    def collect(self) -> Iterable[Metric]:
        """One sample per contract in force with an availability target (and per window for burn rates)."""
        families = _families()
        if not self._has_province():
            return list(families.values())  # nothing is registered yet: the families, without samples
        with self.session_factory() as session:
            statuses = slo_status(session, now=self.now)
            for check in latest_checks(session):
                labels = [check.contract_id, check.probe, check.vantage]
                families["probe_up"].add_metric(labels, 1.0 if check.ok else 0.0)
                if check.duration_ms is not None:
                    families["probe_latency"].add_metric(labels, check.duration_ms / 1000)
        for s in statuses:
            families["availability"].add_metric([s.contract], _float(s.availability.availability))
            families["target"].add_metric([s.contract], _float(s.target))
            families["remaining_seconds"].add_metric([s.contract], _float(s.budget.remaining_seconds))
            if s.budget.remaining_ratio is not None:
                families["remaining_ratio"].add_metric([s.contract], _float(s.budget.remaining_ratio))
            for label in BURN_WINDOWS:
                rate = s.burn_rates.get(label)
                if rate is not None:
                    families["burn_rate"].add_metric([s.contract, label], _float(rate))
        return list(families.values())
