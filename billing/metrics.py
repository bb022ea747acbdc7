"""Prometheus metrics of billing: bill-run durations (observed by `run_bills`) and bills by status, read
from the database at scrape time (`BillCollector`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func
from sqlmodel import Session, col, select

from billing.models import Bill, BillStatus

RUN_SECONDS = Histogram(
    "zhengyun_billing_run_duration_seconds",
    "Duration of bill runs",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
STATUSES: tuple[str, ...] = tuple(str(status) for status in BillStatus)


class BillCollector:
    """`zhengyun_billing_bills{status}`: how many bills are drafts, approved or paid, read at scrape time."""

    def __init__(self, session_factory: Callable[[], AbstractContextManager[Session]]) -> None:
        self.session_factory = session_factory

    def describe(self) -> Iterable[Metric]:
        """The family without samples (registering does not touch the database)."""
        return [GaugeMetricFamily("zhengyun_billing_bills", "Bills by status", labels=["status"])]

    def collect(self) -> Iterable[Metric]:
        """One sample per status, zero included."""
        family = GaugeMetricFamily("zhengyun_billing_bills", "Bills by status", labels=["status"])
        with self.session_factory() as session:
            counts = dict(session.exec(select(Bill.status, func.count()).group_by(col(Bill.status))).all())
        for status in STATUSES:
            family.add_metric([status], float(counts.get(status, 0)))
        return [family]
