"""Fixtures of the SLA tests: a loaded registry, a controlled clock, and real servers on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from core.db import make_engine, session_scope
from tenants.permissions import Actor

DATA = Path(__file__).parent / "data"

BUREAU = Actor(name="bureau1", role="bureau")
DG_OPS = Actor(name="ops-dg", role="operator", operator_id="dgcloud")
GZ_OPS = Actor(name="ops-gz", role="operator", operator_id="gzops")
EDU = Actor(name="edu1", role="department", department_id="gd-edu")
ADMIN = Actor(name="admin", role="admin")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def loaded(cli):
    """The command line on a database holding tests/sla/data (province, departments, contracts)."""
    assert cli("tenants", "import", DATA / "tenancy.yaml").code == 0
    assert cli("contracts", "import", DATA / "contracts.yaml").code == 0
    for args in (
        ("bureau1", "--role", "bureau"),
        ("ops-dg", "--role", "operator", "--operator", "dgcloud"),
        ("ops-gz", "--role", "operator", "--operator", "gzops"),
        ("edu1", "--role", "department", "--department", "gd-edu"),
        ("fin1", "--role", "finance"),
    ):
        assert cli("users", "add", *args).code == 0
    return cli


@pytest.fixture
def db(loaded, use_db: str) -> Iterator[Engine]:
    """An engine on the loaded database, for calling services with a controlled clock."""
    engine = make_engine(use_db)
    yield engine
    engine.dispose()


@pytest.fixture
def call(db: Engine) -> Callable[..., Any]:
    """`call(service_function, **kwargs)` in its own transaction, like one command."""

    def run(fn: Callable[..., Any], **kwargs: Any) -> Any:
        with session_scope(engine=db) as session:
            return fn(session, **kwargs)

    return run


@pytest.fixture
def session(db: Engine) -> Iterator[Session]:
    """A read session on the loaded database."""
    with session_scope(engine=db) as s:
        yield s


class LocalHttp:
    """A real HTTP server on 127.0.0.1 answering `status` on every GET; stopped and started by the test."""

    def __init__(self) -> None:
        self.port = 0
        self.status = 200
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> LocalHttp:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's naming
                body = b"ok" if owner.status == 200 else b"down"
                self.send_response(owner.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"


class LocalTcp:
    """A real TCP listener on 127.0.0.1 that accepts and closes connections; stopped and started by the test."""

    def __init__(self) -> None:
        self.port = 0
        self.sock: socket.socket | None = None

    def start(self) -> LocalTcp:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self.sock = sock

        def serve() -> None:
            while True:
                try:
                    conn, _ = sock.accept()
                except OSError:
                    return
                conn.close()

        threading.Thread(target=serve, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None


@pytest.fixture
def http_server() -> Iterator[LocalHttp]:
    server = LocalHttp().start()
    yield server
    server.stop()


@pytest.fixture
def tcp_server() -> Iterator[LocalTcp]:
    server = LocalTcp().start()
    yield server
    server.stop()


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_probe_contract(path: Path, probes: list[str], *, contract: str = "LOCAL-2026") -> Path:
    """A contracts file with one contract whose probes target local servers (never anything else)."""
    lines = [
        "contracts:",
        f"  - id: {contract}",
        "    operator: dgcloud",
        "    clouds: [gd-prov]",
        "    service: portal",
        "    start: 2026-01-01",
        "    end: 2026-12-31",
        '    sla: {availability_target: "99.9", credits: [{below: "99.9", credit: "0.10"}]}',
        "    probes:",
    ]
    lines += [f"      - {p}" for p in probes]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
