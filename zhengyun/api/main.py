"""The HTTP API (docs/reference.md#http-api): FastAPI with every domain's router, `/healthz`, `/metrics`, OpenAPI at `/docs`.

Each router is a face over the services (parse, call one service through `zhengyun.api.support`,
respond); this module only mounts them. `zhengyun serve` runs it on uvicorn.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, text

from core.db import get_engine, make_server_engine, session_scope
from tenants import users
from zhengyun.api import (
    bills,
    contracts,
    maintenance,
    outages,
    ratings,
    sla,
    tenants,
    tickets,
    usage,
)
from zhengyun.api import support as api_support
from zhengyun.app import database_errors
from zhengyun.wiring import wire

DESCRIPTION = """政云 zhengyun — the province's 1+N+M government cloud: registry, usage, SLA, evaluation, bills.

Every request carries a bearer token (`Authorization: Bearer <token>`) issued by `zhengyun users add`
or `zhengyun users token`; the same roles and scopes as the command line apply. `/metrics` takes a
token whose role holds `metrics.read` (bureau, auditor, or a `monitor` user for the scraper);
`/healthz` answers anyone, with only ok or not. Errors are
`{"error": ..., "problems": [...]}`, with a 4xx status (500, with an error id the server log holds,
for anything unexpected). Messages are Chinese by default;
`Accept-Language: en` or `?lang=en` switches to English."""

log = logging.getLogger("zhengyun.api")

#: One router per resource, mounted in this order (the order of the OpenAPI document's paths).
ROUTERS = (tenants, contracts, usage, sla, outages, maintenance, ratings, tickets, bills)


def create_served_app() -> FastAPI:
    """What `zhengyun serve` runs in each worker: the API and the scheduler (its jobs run in one process)."""
    from metering import fastcsv

    fastcsv.preload()  # the vectorised ingest's pyarrow, before the first request rather than in it
    return create_app(make_server_engine(), scheduler=True)


def create_app(engine: Engine | None = None, *, scheduler: bool = False) -> FastAPI:
    """The API on `engine` (the settings' database by default); with `scheduler`, this process also
    competes for the scheduler lease and runs the jobs while it holds it."""
    wire()
    # docs assets are served by this process: no CDN, which a government network may not reach
    api = FastAPIOffline(
        title="zhengyun 政云",
        version="1",
        description=DESCRIPTION,
        lifespan=_with_scheduler(engine) if scheduler else None,
    )
    api.state.engine = engine
    api_support.install(api)
    for resource in ROUTERS:
        api.include_router(resource.router)

    @api.get("/healthz", tags=["health"], summary="Whether the service and its database answer / 健康检查")
    def healthz() -> JSONResponse:
        # anyone may ask, so the answer says only ok or not; the reason goes to the server log
        db = engine or get_engine()
        try:
            with database_errors(db), db.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means "not healthy"
            log.warning("health check failed: %s", exc)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @api.get(
        "/metrics", tags=["health"], summary="Prometheus metrics (metrics.read) / 监控指标", include_in_schema=True
    )
    def metrics(caller: api_support.CallerDep) -> Response:
        api_support.call(users.metrics_reader, caller)
        return Response(_metrics_text(engine), media_type=CONTENT_TYPE_LATEST)

    return api


def _with_scheduler(engine: Engine | None) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_api: FastAPI) -> AsyncIterator[None]:
        from zhengyun.scheduler import Leadership

        leadership = Leadership(engine)
        leadership.start()
        try:
            yield
        finally:
            leadership.stop()

    return lifespan


def _metrics_text(engine: Engine | None) -> bytes:
    """The process's counters and the SLO gauges, the latter read from the database at scrape time."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

    from billing.metrics import BillCollector
    from sla.metrics import SlaCollector
    from zhengyun import scheduler  # noqa: F401  (its job and leader metrics are exported, zero until it runs)

    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(SlaCollector(lambda: session_scope(engine=engine or get_engine())))
    gauges.register(BillCollector(lambda: session_scope(engine=engine or get_engine())))
    return generate_latest(REGISTRY) + generate_latest(gauges)
