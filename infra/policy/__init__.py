"""The zhengyun policy pack: `policies.py` holds the validators, `__main__.py` serves them to the Pulumi CLI."""
