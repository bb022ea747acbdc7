"""HTTP ingest benchmark (SPEC 6): `POST /v1/usage/events` on one `zhengyun serve` worker, same run.

On a synthetic province (`tenants.synthetic`: 25 clouds, 2,000 departments) on SQLite it starts one
`zhengyun serve` worker on 127.0.0.1 and `--clients` concurrent clients (default 8) that post the
`--events` events of last month in batches of `--batch` (default 1,000) as JSON arrays, each body
serialised before the clock starts. It prints events/s against the target of 20,000, then checks
that every acknowledged event is stored exactly once: the accepted counts add up to the events
sent, the table holds exactly those, and re-posting a batch stores nothing.

    python bench/api.py                       # 200,000 events, 8 clients, batches of 1,000
    python bench/api.py --events 1000000 --clients 16
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import write_events  # noqa: E402
from tenants.formats import parse_tenancy  # noqa: E402
from tenants.synthetic import write_registry  # noqa: E402

TARGET = 20_000  # events/s on one worker (SPEC 6)


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--departments", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        database = work / "api.db"
        env = dict(os.environ, ZHENGYUN_DATABASE_URL=f"sqlite:///{database}", ZHENGYUN_DATA_DIR=str(work))
        tenancy, _ = write_registry(work, departments=args.departments)
        _cli(env, "db", "upgrade")
        _cli(env, "tenants", "import", str(tenancy))
        token = json.loads(_cli(env, "users", "add", "pusher", "--role", "bureau", "--json"))["token"]
        spec, _ = parse_tenancy(tenancy)
        assert spec is not None
        events = work / "events.csv"
        write_events(events, args.events, [(d.id, d.cloud) for d in spec.departments])
        bodies = batches(events, args.batch)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "zhengyun.cli", "serve", "--port", str(port), "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(work / "server.log", "w"),  # noqa: SIM115 - closed with the directory
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit("the server did not start")
                time.sleep(0.2)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            clients = [httpx.Client(base_url=base, headers=headers, timeout=300) for _ in range(args.clients)]

            def post(i: int) -> dict[str, int]:
                response = clients[i % len(clients)].post("/v1/usage/events", content=bodies[i])
                response.raise_for_status()
                result = response.json()
                return {"accepted": result["accepted"], "duplicates": result["duplicates"]}

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                results = list(pool.map(post, range(len(bodies))))
            elapsed = time.perf_counter() - started
            accepted = sum(r["accepted"] for r in results)
            again = post(0)
            for client in clients:
                client.close()
        except Exception:
            print((work / "server.log").read_text()[-6000:], file=sys.stderr)
            raise
        finally:
            server.terminate()
            server.wait(30)
        with sqlite3.connect(database) as conn:
            stored = conn.execute("SELECT count(*) FROM usage_event").fetchone()[0]
        rate = args.events / elapsed
        print(
            f"HTTP ingest, 1 worker, {args.clients} clients, batches of {args.batch:,}: "
            f"{args.events:,} events in {elapsed:.2f} s = {rate:,.0f} events/s "
            f"({rate / TARGET:.2f}× the target of {TARGET:,})"
        )
        exact = accepted == args.events == stored and again == {"accepted": 0, "duplicates": len(json.loads(bodies[0]))}
        print(
            f"exactly once: accepted {accepted:,}, stored {stored:,}, a repeated batch stored {again['accepted']} "
            f"({'ok' if exact else 'FAILED'})"
        )
        if not exact:
            sys.exit(1)


if __name__ == "__main__":
    main()
