"""`zhengyun dashboard`: the Streamlit dashboards."""

from __future__ import annotations

from typing import Annotated

import typer

from core.i18n import register, t

register({"serving the dashboards on http://{host}:{port}": "运营看板地址 http://{host}:{port}"})


def dashboard(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port / 端口")] = 8501,
    host: Annotated[str, typer.Option("--host", help="Address to listen on / 监听地址")] = "127.0.0.1",
) -> None:
    """The dashboards (Streamlit) on http://127.0.0.1:8501 / 启动运营看板"""
    from zhengyun.dashboard import serve_dashboards

    typer.echo(t("serving the dashboards on http://{host}:{port}", host=host, port=port), err=True)
    raise typer.Exit(serve_dashboards(host=host, port=port))
