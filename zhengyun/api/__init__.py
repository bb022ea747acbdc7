"""The HTTP API: `main.py` builds the application, one router per resource (`tenants.py`, `usage.py`,
`ratings.py`, `bills.py`, …) and `support.py`, the way every request goes through."""
