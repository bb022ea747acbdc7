"""Shared foundations: settings, database, exact decimals, periods, errors, audit log."""
