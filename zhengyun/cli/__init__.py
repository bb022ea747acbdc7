"""The `zhengyun` command line: `main.py` is the command itself, one module per command word
(`tenants.py`, `usage.py`, `bills.py`, …) and `support.py`, the way every command goes through."""
