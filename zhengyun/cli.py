"""The `zhengyun` command: wires every domain's sub-commands (docs/reference.md#command-line)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Literal

import typer

from billing.cli import bills_app
from core.db import get_engine
from core.errors import DomainError
from core.i18n import register, set_language, t
from core.output import dumps
from core.settings import get_settings
from infra.cli import infra_app
from metering.cli import usage_app
from sla.cli import ratings_app, sla_app, tickets_app
from tenants.cli import audit_app, contracts_app, tenants_app, users_app
from zhengyun.cli_support import AsOpt, JsonOpt, fail, run_app

register(
    {
        "database upgraded: {url}": "数据库已升级：{url}",
        "serving the dashboards on http://{host}:{port}": "运营看板地址 http://{host}:{port}",
        "serving the API on http://{host}:{port} (OpenAPI: /docs)": "API 服务地址 http://{host}:{port}（OpenAPI：/docs）",
    }
)

app = typer.Typer(
    name="zhengyun",
    help="政云 zhengyun — the province's 1+N+M government cloud: registry, metering, SLA, billing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    lang: Annotated[Literal["zh", "en"] | None, typer.Option("--lang", help="zh (default) or en / 界面语言")] = None,
) -> None:
    if lang:
        set_language(lang)


db_app = typer.Typer(help="Database schema / 数据库", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Create or migrate the schema; add the built-in admin and meters / 创建或升级数据库"""
    from zhengyun.app import database_errors, database_url
    from zhengyun.database import upgrade

    engine = get_engine(get_settings().database_url)
    shown = database_url(engine)
    try:
        with database_errors(engine):
            upgrade(engine=engine)
    except DomainError as exc:
        fail(exc, json_)
    typer.echo(dumps({"database": shown, "upgraded": True}) if json_ else t("database upgraded: {url}", url=shown))


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on / 监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port / 端口")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes / 工作进程数")] = 1,
) -> None:
    """The HTTP API with OpenAPI at /docs, /healthz and /metrics / 启动 HTTP API 服务"""
    import uvicorn

    typer.echo(t("serving the API on http://{host}:{port} (OpenAPI: /docs)", host=host, port=port), err=True)
    uvicorn.run(
        "zhengyun.http:create_served_app", factory=True, host=host, port=port, workers=workers, log_level="info"
    )


@app.command("dashboard")
def dashboard(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port / 端口")] = 8501,
    host: Annotated[str, typer.Option("--host", help="Address to listen on / 监听地址")] = "127.0.0.1",
) -> None:
    """The dashboards (Streamlit) on http://127.0.0.1:8501 / 启动运营看板"""
    from zhengyun.dashboard import serve_dashboards

    typer.echo(t("serving the dashboards on http://{host}:{port}", host=host, port=port), err=True)
    raise typer.Exit(serve_dashboards(host=host, port=port))


@app.command("demo")
def demo(
    json_: JsonOpt = False,
    as_: AsOpt = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the dashboards / 启动运营看板")] = True,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Dashboards port / 看板端口")] = 8501,
    api_port: Annotated[int, typer.Option("--api-port", min=1, max=65535, help="HTTP API port / API 端口")] = 8000,
) -> None:
    """A living demo province on a fresh SQLite database, then its dashboards and HTTP API / 演示：示范省份、运营看板及 API"""
    from zhengyun.demo import run_demo

    run_demo(json_out=json_, serve=serve and not json_, port=port, api_port=api_port)


app.add_typer(db_app, name="db")
app.add_typer(tenants_app, name="tenants")
app.add_typer(contracts_app, name="contracts")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(usage_app, name="usage")
app.add_typer(sla_app, name="sla")
app.add_typer(ratings_app, name="ratings")
app.add_typer(tickets_app, name="tickets")
app.add_typer(bills_app, name="bills")
app.add_typer(infra_app, name="infra")


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry point: the exit code of the command line (never a traceback, docs/reference.md#command-line)."""
    return run_app(app, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
