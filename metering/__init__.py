"""Metering: usage events stored exactly once, collectors, aggregation and quotas (SPEC 2.2, 3.3)."""
