"""`zhengyun demo`: a demo province on its own fresh SQLite database, then a summary."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlmodel import Session

from core.db import make_engine
from core.i18n import register, t
from core.output import dumps
from core.settings import get_settings
from tenants import service, tenancy
from tenants.cli import render_summary
from tenants.contracts import ContractSpec
from tenants.permissions import SYSTEM, Actor
from zhengyun import app
from zhengyun.database import upgrade

DEMO_DIR = Path(__file__).resolve().parent.parent / "tenants" / "demo"

register(
    {
        "demo database: {path}": "演示数据库：{path}",
        "loaded {contracts} contracts with {meters} meters": "已载入 {contracts} 份合同，{meters} 个计量项",
        "try: ZHENGYUN_DATABASE_URL={url} zhengyun tenants list": "试试：ZHENGYUN_DATABASE_URL={url} zhengyun tenants list",
    }
)


def demo_files() -> tuple[Path, Path]:
    """The demo tenancy and contracts files shipped with the registry."""
    return DEMO_DIR / "guangdong.yaml", DEMO_DIR / "contracts.yaml"


def run_demo(*, json_out: bool = False) -> None:
    """Build the demo province from scratch in `<data dir>/demo.db` and print its summary."""
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
    finally:
        engine.dispose()
    if json_out:
        typer.echo(dumps({"database": url, "summary": summary, "contracts": [c.id for c in listed]}))
        return
    typer.echo(t("demo database: {path}", path=path))
    typer.echo(render_summary(summary))
    typer.echo(t("loaded {contracts} contracts with {meters} meters", contracts=len(listed), meters=meters))
    typer.echo(t("try: ZHENGYUN_DATABASE_URL={url} zhengyun tenants list", url=url))
