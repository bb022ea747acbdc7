"""`zhengyun demo`: a demo province on its own fresh SQLite database, a summary, then its dashboards and
HTTP API on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import typer
from sqlalchemy import Engine
from sqlmodel import Session

from core.db import make_engine
from core.errors import Unavailable
from core.i18n import register, t
from core.output import dumps
from core.settings import get_settings
from metering.service import fold_usage
from tenants import service, tenancy
from tenants.contracts import ContractSpec
from tenants.permissions import SYSTEM, Actor
from zhengyun import app, living
from zhengyun.cli.tenants import render_summary
from zhengyun.dashboard import start, stop
from zhengyun.database import upgrade
from zhengyun.demo_probes import LIVE_INTERVAL, LiveProbing, Repeating, Targets, targets_for
from zhengyun.scheduler import fold_usage as fold_job
from zhengyun.stopping import Part, adopt_process, interrupts, process_part, stop_together, thread_part

#: the demo folds the usage rollups as often as `zhengyun serve`'s scheduler (docs/metering.md)
FOLD_EVERY = 60.0

DEMO_DIR = Path(__file__).resolve().parent.parent / "tenants" / "demo"

register(
    {
        "demo database: {path}": "演示数据库：{path}",
        "the dashboards cannot listen on 127.0.0.1:{port}; choose another with --port": (
            "运营看板无法监听 127.0.0.1:{port}；请用 --port 换一个端口"
        ),
        "the HTTP API cannot listen on 127.0.0.1:{port}; choose another with --api-port": (
            "HTTP API 无法监听 127.0.0.1:{port}；请用 --api-port 换一个端口"
        ),
        "loaded {contracts} contracts with {meters} meters": "已载入 {contracts} 份合同，{meters} 个计量项",
        "simulated {period}: {events} usage events, {ratings} ratings, {bills} bills": (
            "已模拟 {period}：{events} 条用量事件，{ratings} 条评价，{bills} 张账单"
        ),
        "recorded {checks} probe checks; probes run every {seconds} s against local targets": (
            "已记录 {checks} 次探测；探测每 {seconds} 秒访问一次本机目标服务"
        ),
        "dashboards: {address}": "运营看板：{address}",
        "HTTP API: {address}/docs (OpenAPI)": "HTTP API：{address}/docs（OpenAPI）",
        "  login {name} / {password} ({role})": "  登录 {name} / {password}（{role}）",
        "      API token: {token}": "      API 令牌：{token}",
        "  curl -H 'Authorization: Bearer <token>' {address}/v1/bills?period={period}": (
            "  curl -H 'Authorization: Bearer <令牌>' {address}/v1/bills?period={period}"
        ),
        "probe targets: curl {control} (switch one: curl -X POST {control}/GD-PROV-IAAS-2026/down, …/up)": (
            "探测目标：curl {control}（切换：curl -X POST {control}/GD-PROV-IAAS-2026/down，…/up）"
        ),
        "Ctrl-C stops the demo": "按 Ctrl-C 停止演示",
        "try: ZHENGYUN_DATABASE_URL={url} zhengyun tenants list": "试试：ZHENGYUN_DATABASE_URL={url} zhengyun tenants list",
    }
)


def demo_files() -> tuple[Path, Path]:
    """The demo tenancy and contracts files shipped with the registry."""
    return DEMO_DIR / "guangdong.yaml", DEMO_DIR / "contracts.yaml"


def run_demo(
    *,
    json_out: bool = False,
    serve: bool = True,
    port: int = 8501,
    api_port: int = 8000,
    fold_every: float = FOLD_EVERY,
) -> None:
    """Build the demo province from scratch in `<data dir>/demo.db` — a living month of usage, SLA with
    probe history, ratings and bills — then (unless `--json` or `--no-serve`) serve the dashboards and
    the HTTP API on 127.0.0.1, probing local targets live and folding the usage pushed to the API into
    the rollups every `fold_every` seconds."""
    path = get_settings().data_dir / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    tenancy_file, contracts_file = demo_files()
    # SIGTERM as Ctrl-C from the start: whenever the demo is stopped, the servers it started stop with it,
    # within the bound of `zhengyun.stopping`
    with interrupts(), targets_for(contracts_file) as targets, tempfile.TemporaryDirectory() as tmp:
        # the dashboards start while the province is built: the first page is ready by the time it is
        dashboards = start(port=port, env=_dashboard_env(url, living.previous_month(living.as_of()))) if serve else None
        if dashboards is not None:
            adopt_process(dashboards)
        try:
            engine = make_engine(url)
            try:
                built, summary, listed, meters = _build(engine, tenancy_file, targets.point(contracts_file, Path(tmp)))
            finally:
                engine.dispose()
            if json_out:
                typer.echo(
                    dumps(
                        {
                            "database": url,
                            "summary": summary,
                            "contracts": [c.id for c in listed],
                            # the API tokens are printed for people, never into logs of JSON output
                            "living": {k: v for k, v in asdict(built).items() if k != "tokens"},
                        }
                    )
                )
                return
            typer.echo(t("demo database: {path}", path=path))
            typer.echo(render_summary(summary))
            typer.echo(t("loaded {contracts} contracts with {meters} meters", contracts=len(listed), meters=meters))
            typer.echo(
                t(
                    "simulated {period}: {events} usage events, {ratings} ratings, {bills} bills",
                    period=built.period,
                    events=built.events,
                    ratings=built.ratings,
                    bills=built.bills,
                )
            )
            typer.echo(
                t(
                    "recorded {checks} probe checks; probes run every {seconds} s against local targets",
                    checks=built.checks,
                    seconds=LIVE_INTERVAL,
                )
            )
            typer.echo(t("try: ZHENGYUN_DATABASE_URL={url} zhengyun tenants list", url=url))
            if dashboards is not None:
                serve_demo(url, built, port, api_port, targets, dashboards, fold_every=fold_every)
                dashboards = None
        finally:
            if dashboards is not None:  # not served after all (an error, an interrupt or --json)
                stop(dashboards)


def _dashboard_env(url: str, period: object) -> dict[str, str]:
    return {**os.environ, "ZHENGYUN_DATABASE_URL": url, "ZHENGYUN_DASHBOARD_MONTH": str(period)}


def _build(
    engine: Engine, tenancy_file: Path, contracts: Path
) -> tuple[living.Living, tenancy.TenancySummary, list[ContractSpec], int]:
    """Schema, registry and contracts, then the living month with its probe history until now."""
    upgrade(engine=engine)

    def load(session: Session, actor: Actor) -> tuple[tenancy.TenancySummary, list[ContractSpec], int]:
        tenancy.import_tenancy(session, actor=actor, path=tenancy_file)
        service.import_contracts(session, actor=actor, path=contracts)
        summary = tenancy.summarise_tenancy(session, actor=actor)
        return summary, service.list_contracts(session, actor=actor), len(service.list_meters(session))

    summary, listed, meters = app.run(load, actor=SYSTEM, engine=engine)
    built = living.build(engine, today=living.as_of(), tenancy=tenancy_file, probes_until=datetime.now(UTC))
    # the month's usage into the rollups now (`serve`'s scheduler would within the minute)
    app.run(lambda s, a: fold_usage(s, actor=a), actor=SYSTEM, engine=engine)
    # the build's write-ahead log into the database file now: left to the last connection's close, copying
    # it back takes seconds — at the end of the demo, whose stop must be quick (`zhengyun.stopping`)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return built, summary, listed, meters


class ApiServer:
    """`zhengyun serve`'s API on the demo database, on 127.0.0.1:`port`, in a thread of this process."""

    def __init__(self, engine: Engine, port: int) -> None:
        import uvicorn

        from zhengyun.api.main import create_app

        self.port = port
        # requests in flight at a stop get a second to finish, then are cancelled (`zhengyun.stopping`)
        config = uvicorn.Config(
            create_app(engine), host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="demo-api", daemon=True)

    def start(self) -> str:
        """Listen; the address. Unavailable when it cannot (the port is taken)."""
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.server.started:  # e.g. the port is taken: uvicorn's thread ends without listening
            self.part().ask()
            raise Unavailable(
                "the HTTP API cannot listen on 127.0.0.1:{port}; choose another with --api-port", port=self.port
            )
        return f"http://127.0.0.1:{self.port}"

    def part(self) -> Part:
        def ask() -> None:
            self.server.should_exit = True

        return thread_part("HTTP API", self.thread, ask)


class LiveFolding(Repeating):
    """Folds the usage pushed to the demo's API into the rollups every `every` seconds (`zhengyun serve`'s
    `usage-fold` job, docs/metering.md)."""

    label = "usage folding"

    def round(self) -> None:
        fold_job(self.engine)


def _wait_for(url: str, alive: object) -> None:
    """Until `url` on 127.0.0.1 answers (at most 30 s, or until `alive()` is false); never through a proxy."""
    local = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and alive():  # type: ignore[operator]
        try:
            local.open(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)


def serve_demo(
    url: str,
    built: living.Living,
    port: int,
    api_port: int,
    targets: Targets,
    proc: subprocess.Popen[bytes],
    *,
    fold_every: float = FOLD_EVERY,
) -> None:
    """Serve the dashboards and the API on the demo database, probe the targets live, fold the usage
    rollups, and print the addresses, a login and an API token per role. Ctrl-C (or SIGTERM) stops
    everything at once: the dashboards, the API, the probes, the folds and the targets are asked to stop
    together and waited for together (`zhengyun.stopping`)."""
    engine = make_engine(url)
    probing, folding = LiveProbing(engine), LiveFolding(engine, every=fold_every)
    parts = [process_part("dashboards", proc)]
    targets.serve_control()
    try:
        api_server = ApiServer(engine, api_port)
        parts.append(api_server.part())
        api = api_server.start()
        for loop in (probing, folding):
            loop.start()
            parts.append(loop.part())
        address = f"http://127.0.0.1:{port}"
        _wait_for(f"{address}/_stcore/health", lambda: proc.poll() is None)
        if proc.poll() is not None:  # Streamlit ended: most likely the port is taken
            raise Unavailable("the dashboards cannot listen on 127.0.0.1:{port}; choose another with --port", port=port)
        typer.echo(t("HTTP API: {address}/docs (OpenAPI)", address=api))
        typer.echo(
            t(
                "  curl -H 'Authorization: Bearer <token>' {address}/v1/bills?period={period}",
                address=api,
                period=built.period,
            )
        )
        typer.echo(
            t(
                "probe targets: curl {control} (switch one: curl -X POST {control}/GD-PROV-IAAS-2026/down, …/up)",
                control=targets.control_url,
            )
        )
        typer.echo(t("dashboards: {address}", address=address))
        for name, (role, _op, _dept) in living.USERS.items():
            typer.echo(t("  login {name} / {password} ({role})", name=name, password=living.PASSWORD, role=t(role)))
            typer.echo(t("      API token: {token}", token=built.tokens.get(name, "—")))
        typer.echo(t("Ctrl-C stops the demo"))
        try:
            proc.wait()
        except KeyboardInterrupt:
            pass  # Ctrl-C or SIGTERM: everything stops below, and the demo ends normally
    finally:
        stop_together(parts)
        engine.dispose()
