"""The composition root: command line, HTTP API, scheduler, demo. Wires the domains, owns no rules."""
