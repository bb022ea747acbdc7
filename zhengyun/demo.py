"""`zhengyun demo`: a demo province on its own fresh SQLite database, then a summary."""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

import typer
from sqlmodel import Session

from core.db import make_engine
from core.i18n import register, t
from core.output import dumps
from core.settings import get_settings
from metering.service import fold_usage
from tenants import service, tenancy
from tenants.cli import render_summary
from tenants.contracts import ContractSpec
from tenants.permissions import SYSTEM, Actor
from zhengyun import app, living
from zhengyun.dashboard import start, wait
from zhengyun.database import upgrade

DEMO_DIR = Path(__file__).resolve().parent.parent / "tenants" / "demo"

register(
    {
        "demo database: {path}": "演示数据库：{path}",
        "loaded {contracts} contracts with {meters} meters": "已载入 {contracts} 份合同，{meters} 个计量项",
        "simulated {period}: {events} usage events, {ratings} ratings, {bills} bills": (
            "已模拟 {period}：{events} 条用量事件，{ratings} 条评价，{bills} 张账单"
        ),
        "dashboards: {address}": "运营看板：{address}",
        "  login {name} / {password} ({role})": "  登录 {name} / {password}（{role}）",
        "try: ZHENGYUN_DATABASE_URL={url} zhengyun tenants list": "试试：ZHENGYUN_DATABASE_URL={url} zhengyun tenants list",
    }
)


def demo_files() -> tuple[Path, Path]:
    """The demo tenancy and contracts files shipped with the registry."""
    return DEMO_DIR / "guangdong.yaml", DEMO_DIR / "contracts.yaml"


def run_demo(*, json_out: bool = False, serve: bool = True, port: int = 8501) -> None:
    """Build the demo province from scratch in `<data dir>/demo.db` — a living month of usage, SLA,
    ratings and bills — then (unless `--json` or `--no-serve`) serve the dashboards on 127.0.0.1."""
    path = get_settings().data_dir / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        upgrade(engine=engine)
        tenancy_file, contracts = demo_files()

        def load(session: Session, actor: Actor) -> tuple[tenancy.TenancySummary, list[ContractSpec], int]:
            tenancy.import_tenancy(session, actor=actor, path=tenancy_file)
            service.import_contracts(session, actor=actor, path=contracts)
            summary = tenancy.summarise_tenancy(session, actor=actor)
            return summary, service.list_contracts(session, actor=actor), len(service.list_meters(session))

        summary, listed, meters = app.run(load, actor=SYSTEM, engine=engine)
        built = living.build(engine, today=living.as_of(), tenancy=tenancy_file)
        # the month's usage into the rollups now (`serve`'s scheduler would within the minute)
        app.run(lambda s, a: fold_usage(s, actor=a), actor=SYSTEM, engine=engine)
    finally:
        engine.dispose()
    if json_out:
        typer.echo(dumps({"database": url, "summary": summary, "contracts": [c.id for c in listed], "living": built}))
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
    typer.echo(t("try: ZHENGYUN_DATABASE_URL={url} zhengyun tenants list", url=url))
    if serve:
        serve_demo(url, built.period, port)


def serve_demo(url: str, period: str, port: int) -> None:
    """Serve the dashboards on the demo database and print the address and a login per role."""
    env = {**os.environ, "ZHENGYUN_DATABASE_URL": url, "ZHENGYUN_DASHBOARD_MONTH": period}
    proc = start(port=port, env=env)
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(f"{address}/_stcore/health", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    typer.echo(t("dashboards: {address}", address=address))
    for name, (role, _op, _dept) in living.USERS.items():
        typer.echo(t("  login {name} / {password} ({role})", name=name, password=living.PASSWORD, role=role))
    wait(proc)
