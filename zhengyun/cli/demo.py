"""`zhengyun demo`: a living demo province, its dashboards and its HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer

from zhengyun.cli.support import AsOpt, JsonOpt


def demo(
    json_: JsonOpt = False,
    as_: AsOpt = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the dashboards / 启动运营看板")] = True,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Dashboards port / 看板端口")] = 8501,
    api_port: Annotated[int, typer.Option("--api-port", min=1, max=65535, help="HTTP API port / API 端口")] = 8000,
    fold_every: Annotated[
        float,
        typer.Option("--fold-every", min=0.1, help="Seconds between usage rollup folds / 用量汇总折叠间隔（秒）"),
    ] = 60.0,
) -> None:
    """A living demo province on a fresh SQLite database, then its dashboards and HTTP API / 演示：示范省份、运营看板及 API"""
    from zhengyun.demo import run_demo

    run_demo(json_out=json_, serve=serve and not json_, port=port, api_port=api_port, fold_every=fold_every)
