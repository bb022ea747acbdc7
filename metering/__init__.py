"""Metering: usage events stored exactly once, collectors, aggregation and quotas (docs/reference.md#usage-and-meters, #usage-events-file)."""
