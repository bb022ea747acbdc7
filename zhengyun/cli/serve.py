"""`zhengyun serve`: the HTTP API on uvicorn, with the scheduler."""

from __future__ import annotations

from typing import Annotated

import typer

from core.i18n import register, t

register(
    {"serving the API on http://{host}:{port} (OpenAPI: /docs)": "API 服务地址 http://{host}:{port}（OpenAPI：/docs）"}
)


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on / 监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port / 端口")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes / 工作进程数")] = 1,
) -> None:
    """The HTTP API with OpenAPI at /docs, /healthz and /metrics / 启动 HTTP API 服务"""
    from zhengyun.served import run

    typer.echo(t("serving the API on http://{host}:{port} (OpenAPI: /docs)", host=host, port=port), err=True)
    run(host=host, port=port, workers=workers)
