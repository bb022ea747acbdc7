"""SLA and evaluation: probes, outages, maintenance, availability, ratings, tickets, appeals (docs/reference.md#sla, #evaluation)."""
