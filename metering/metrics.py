"""Prometheus metrics of the metering domain (exposed by `zhengyun serve`)."""

from __future__ import annotations

from prometheus_client import Counter

EVENTS = Counter("zhengyun_metering_events_total", "Usage events offered to ingest, by result", ["result"])
for _result in ("accepted", "duplicate", "rejected"):
    EVENTS.labels(result=_result)  # export zeros from the start


def count(*, accepted: int = 0, duplicate: int = 0, rejected: int = 0) -> None:
    """Add ingest outcomes to `zhengyun_metering_events_total{result}`."""
    for result, n in (("accepted", accepted), ("duplicate", duplicate), ("rejected", rejected)):
        if n:
            EVENTS.labels(result=result).inc(n)
