"""Probe checks (docs/reference.md#sla): an HTTP(S) request expecting a status, or a TCP connect, with a timeout.

`Prober` is the collaborator that touches the network; services take it as a parameter so tests
pass one aimed at servers they started on 127.0.0.1. Hosts of the reserved example domains
(docs/reference.md#the-network: `*.example` and friends) are never contacted.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from tenants.contracts import Probe

#: RFC 2606 / 6761 names that must never be contacted: example data, not services.
RESERVED_SUFFIXES = (".example", ".invalid", ".test", "example.com", "example.net", "example.org")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: success, the HTTP status if any, how long it took, what went wrong."""

    ok: bool
    status: int | None
    duration_ms: int
    error: str | None = None


Prober = Callable[[Probe], CheckResult]


def probe_host(probe: Probe) -> str:
    """The host a probe would contact."""
    if probe.kind == "http":
        return (urlsplit(probe.url or "").hostname or "").lower()
    return (probe.host or "").lower()


def is_reserved_host(host: str) -> bool:
    """Whether `host` belongs to a reserved example domain (never contacted)."""
    host = host.lower().rstrip(".")
    return any(host == s.lstrip(".") or host.endswith(s if s.startswith(".") else "." + s) for s in RESERVED_SUFFIXES)


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def check_http(url: str, *, expect_status: int, timeout_s: float) -> CheckResult:
    """GET `url` (no redirects followed, no proxy from the environment); ok when the status is the expected one."""
    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        return CheckResult(False, None, _elapsed_ms(started), f"{type(exc).__name__}: {exc}"[:500])
    ok = response.status_code == expect_status
    error = None if ok else f"status {response.status_code}, expected {expect_status}"
    return CheckResult(ok, response.status_code, _elapsed_ms(started), error)


def check_tcp(host: str, port: int, *, timeout_s: float) -> CheckResult:
    """Open a TCP connection to `host:port`; ok when it connects within the timeout."""
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        return CheckResult(False, None, _elapsed_ms(started), f"{type(exc).__name__}: {exc}"[:500])
    return CheckResult(True, None, _elapsed_ms(started))


def network_prober(probe: Probe) -> CheckResult:
    """The default prober: the real network, per the probe's kind."""
    timeout = float(probe.timeout_s)  # a socket timeout, not an amount: float is what the libraries take
    if probe.kind == "http":
        return check_http(probe.url or "", expect_status=probe.expect_status, timeout_s=timeout)
    return check_tcp(probe.host or "", probe.port or 0, timeout_s=timeout)
