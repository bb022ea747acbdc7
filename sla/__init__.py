"""SLA and evaluation: probes, outages, maintenance, availability, ratings, tickets, appeals (SPEC 2.3, 2.4)."""
