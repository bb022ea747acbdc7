"""HTTP ingest benchmark (docs/reference.md#performance-targets): `POST /v1/usage/events` on `zhengyun serve`, against a bare server, same run.

On a synthetic province (`bench/synthetic.py`: 25 clouds, 2,000 departments) on SQLite (or on a fresh
PostgreSQL database, `--database-url`) it starts `zhengyun serve --workers N` (default 1) on 127.0.0.1
and `--clients` concurrent clients (default 8) that post the `--events` events of last month in batches
of `--batch` (default 1,000) as JSON arrays, each body serialised before the clock starts. It prints
events/s against the target of 20,000, then checks that every acknowledged event is stored exactly
once: the accepted counts add up to the events sent, the table holds exactly those, and re-posting a
batch stores nothing.

The bare baseline, in the same run with the same clients and bodies: a plain ASGI app on uvicorn with
as many workers (no framework, no authentication, no validation) that parses each body with `json`
and inserts its rows as they are in one `executemany` (SQLite, `INSERT … ON CONFLICT DO NOTHING`) or
one `COPY` (PostgreSQL) into a table with the same unique index, and answers the count. On a shared
machine single runs vary a lot: the runs alternate (`--repeat`, default 3) and the medians are printed.

    python bench/api.py                       # 200,000 events, 8 clients, batches of 1,000
    python bench/api.py --events 1000000 --clients 16
    python bench/api.py --workers 2 --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import write_events  # noqa: E402
from bench.synthetic import write_registry  # noqa: E402
from tenants.formats import parse_tenancy  # noqa: E402

TARGET = 20_000  # events/s on one worker (docs/reference.md#performance-targets)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "zhengyun.cli", "--lang", "en", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"zhengyun {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


def batches(path: Path, size: int) -> list[bytes]:
    """The CSV file's events as JSON array bodies of `size` events."""
    import csv

    bodies, current = [], []
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            current.append(row)
            if len(current) == size:
                bodies.append(json.dumps(current).encode())
                current = []
    if current:
        bodies.append(json.dumps(current).encode())
    return bodies


BARE_TABLE = (
    "CREATE TABLE IF NOT EXISTS bare_event (cloud_id VARCHAR(40) NOT NULL, event_id VARCHAR(200) NOT NULL, "
    "time VARCHAR(40) NOT NULL, department_id VARCHAR(40) NOT NULL, meter VARCHAR(40) NOT NULL, "
    "quantity VARCHAR(40) NOT NULL, resource_id VARCHAR(200), CONSTRAINT uq_bare UNIQUE (cloud_id, event_id))"
)
_BARE_COLUMNS = "cloud_id, event_id, time, department_id, meter, quantity, resource_id"


class BareApp:
    """The bare baseline: parse a JSON array, insert its rows as they are, answer the count (ASGI)."""

    def __init__(self) -> None:
        self.url = os.environ["BENCH_BARE_URL"]
        self.conn: Any = None

    def _connect(self) -> Any:
        if self.conn is None:
            if self.url.startswith("sqlite:"):
                self.conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None, timeout=60)
                for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=60000"):
                    self.conn.execute(f"PRAGMA {pragma}")
            else:
                import psycopg

                self.conn = psycopg.connect(self.url)
        return self.conn

    def insert(self, body: bytes) -> int:
        rows = [
            (e["cloud"], e["event_id"], e["time"], e["department"], e["meter"], e["quantity"], e.get("resource_id"))
            for e in json.loads(body)
        ]
        conn = self._connect()
        if isinstance(conn, sqlite3.Connection):
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.executemany(
                f"INSERT INTO bare_event ({_BARE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows
            )
            conn.execute("COMMIT")
            return int(cur.rowcount)
        with conn.cursor() as cur, cur.copy(f"COPY bare_event ({_BARE_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return len(rows)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, answer = 200, b'{"status": "ok"}'
        if scope["path"] == "/v1/usage/events":
            accepted = self.insert(body)
            answer = json.dumps({"accepted": accepted, "duplicates": 0}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def bare_app() -> BareApp:
    """The bare baseline's ASGI app (a uvicorn factory)."""
    return BareApp()


def _wait_until_up(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the server did not start: {log.read_text()[-3000:]}")
        time.sleep(0.2)


def post_all(base: str, token: str, bodies: list[bytes], clients: int) -> tuple[float, list[dict[str, int]], Any]:
    """Seconds for `clients` concurrent clients to post every body, the answers, and a function to post one."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    pool = [httpx.Client(base_url=base, headers=headers, timeout=300) for _ in range(clients)]

    def post(i: int) -> dict[str, int]:
        response = pool[i % len(pool)].post("/v1/usage/events", content=bodies[i])
        response.raise_for_status()
        result = response.json()
        return {"accepted": result["accepted"], "duplicates": result["duplicates"]}

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as executor:
        results = list(executor.map(post, range(len(bodies))))
    elapsed = time.perf_counter() - started
    return elapsed, results, post


def serve(command: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start a server on a free port of 127.0.0.1; its process and base URL."""
    port = _free_port()
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),  # noqa: SIM115 - closed with the directory
    )
    base = f"http://127.0.0.1:{port}"
    _wait_until_up(base, server, log)
    return server, base


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(60)


def fresh_database(admin_url: str | None, work: Path, name: str) -> tuple[str, Any]:
    """A new database: a SQLite file in `work`, or a PostgreSQL database on `admin_url`'s server (and
    what drops it)."""
    if admin_url is None:
        return f"sqlite:///{work / (name + '.db')}", lambda: None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from core.db import normalise_url

    db = f"zy_api_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()

    url = make_url(admin_url).set(database=db).render_as_string(hide_password=False)
    return url, drop


def count_rows(url: str, table: str) -> int:
    from sqlalchemy import text

    from core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def run_product(args: argparse.Namespace, work: Path, tenancy: Path, bodies: list[bytes], n: int) -> float:
    """One run of `zhengyun serve` on a fresh database: events/s, after checking exactly once."""
    url, drop = fresh_database(args.database_url, work, f"product{n}")
    try:
        env = dict(os.environ, ZHENGYUN_DATABASE_URL=url, ZHENGYUN_DATA_DIR=str(work / f"data{n}"))
        _cli(env, "db", "upgrade")
        _cli(env, "tenants", "import", str(tenancy))
        token = json.loads(_cli(env, "users", "add", "pusher", "--role", "bureau", "--json"))["token"]
        log = work / f"server{n}.log"
        command = [sys.executable, "-m", "zhengyun.cli", "serve", "--workers", str(args.workers)]
        server, base = serve(command, env, log)
        try:
            elapsed, results, post = post_all(base, token, bodies, args.clients)
            again = post(0)
        except Exception:
            print(log.read_text()[-6000:], file=sys.stderr)
            raise
        finally:
            stop(server)
        accepted = sum(r["accepted"] for r in results)
        stored = count_rows(url, "usage_event")
    finally:
        drop()
    sent = sum(len(json.loads(b)) for b in bodies)
    exact = accepted == sent == stored and again == {"accepted": 0, "duplicates": len(json.loads(bodies[0]))}
    print(
        f"  zhengyun serve: {sent / elapsed:,.0f} events/s ({elapsed:.2f} s); exactly once: accepted {accepted:,}, "
        f"stored {stored:,}, a repeated batch stored {again['accepted']} ({'ok' if exact else 'FAILED'})",
        flush=True,
    )
    if not exact:
        sys.exit(1)
    return sent / elapsed


def run_bare(args: argparse.Namespace, work: Path, bodies: list[bytes], n: int) -> float:
    """One run of the bare baseline on a fresh database: rows/s."""
    url, drop = fresh_database(args.database_url, work, f"bare{n}")
    try:
        if url.startswith("sqlite:"):
            with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(BARE_TABLE)
        else:
            import psycopg

            with psycopg.connect(url) as conn:
                conn.execute(BARE_TABLE)
        env = dict(os.environ, BENCH_BARE_URL=url)
        command = [
            *(sys.executable, "-m", "uvicorn", "bench.api:bare_app", "--factory", "--host", "127.0.0.1"),
            *("--workers", str(args.workers), "--log-level", "warning"),
        ]
        server, base = serve(command, env, work / f"bare{n}.log")
        try:
            elapsed, results, _ = post_all(base, "-", bodies, args.clients)
        finally:
            stop(server)
        stored = count_rows(url, "bare_event")
    finally:
        drop()
    sent = sum(len(json.loads(b)) for b in bodies)
    assert sum(r["accepted"] for r in results) == sent == stored, (sent, stored)
    print(f"  bare baseline: {sent / elapsed:,.0f} rows/s ({elapsed:.2f} s)", flush=True)
    return sent / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=1, help="serve worker processes (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each; the medians count")
    parser.add_argument(
        "--database-url", help="PostgreSQL server where the user may create databases (default: SQLite files)"
    )
    parser.add_argument("--departments", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tenancy, _ = write_registry(work, departments=args.departments)
        spec, _ = parse_tenancy(tenancy)
        assert spec is not None
        events = work / "events.csv"
        write_events(events, args.events, [(d.id, d.cloud) for d in spec.departments])
        bodies = batches(events, args.batch)
        backend = "SQLite" if args.database_url is None else "PostgreSQL"
        print(
            f"HTTP ingest on {backend}, {args.workers} worker(s), {args.clients} clients, batches of "
            f"{args.batch:,}, {args.events:,} events, {os.cpu_count()} cores",
            flush=True,
        )
        ours, bare = [], []
        for n in range(args.repeat):  # alternating, so a slow spell of the machine hits both
            ours.append(run_product(args, work, tenancy, bodies, n))
            bare.append(run_bare(args, work, bodies, n))
        rate, base = statistics.median(ours), statistics.median(bare)
        print(
            f"median of {args.repeat}: zhengyun serve {rate:,.0f} events/s ({rate / TARGET:.2f}× the target of "
            f"{TARGET:,}), bare baseline {base:,.0f} rows/s, ratio {rate / base:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
