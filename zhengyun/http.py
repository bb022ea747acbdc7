"""The HTTP API (SPEC 5.2): FastAPI with every domain's router, `/healthz`, `/metrics`, OpenAPI at `/docs`.

Each router is a face over the services (parse, call one service through `zhengyun.api_support`,
respond); this module only mounts them. `zhengyun serve` runs it on uvicorn.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, text

from core.db import get_engine, session_scope
from zhengyun import api_support
from zhengyun.app import database_errors, database_url
from zhengyun.wiring import wire

DESCRIPTION = """政云 zhengyun — the province's 1+N+M government cloud: registry, usage, SLA, evaluation, bills.

Every request carries a bearer token (`Authorization: Bearer <token>`) issued by `zhengyun users add`
or `zhengyun users token`; the same roles and scopes as the command line apply. Errors are
`{"error": ..., "problems": [...]}` with a 4xx status. Messages are Chinese by default;
`Accept-Language: en` or `?lang=en` switches to English."""


def create_app(engine: Engine | None = None) -> FastAPI:
    """The API on `engine` (the settings' database by default)."""
    from billing.api import router as bills
    from metering.api import router as usage
    from sla.api import router as sla
    from tenants.api import router as tenants

    wire()
    # docs assets are served by this process: no CDN, which a government network may not reach
    api = FastAPIOffline(title="zhengyun 政云", version="1", description=DESCRIPTION)
    api.state.engine = engine
    api_support.install(api)
    for router in (tenants, usage, sla, bills):
        api.include_router(router)

    @api.get("/healthz", tags=["health"], summary="Whether the service and its database answer / 健康检查")
    def healthz() -> JSONResponse:
        db = engine or get_engine()
        try:
            with database_errors(db), db.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means "not healthy": say which, never a traceback
            body = {"status": "unavailable", "database": database_url(db), "error": str(exc)}
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "ok", "database": database_url(db)})

    @api.get("/metrics", tags=["health"], summary="Prometheus metrics / 监控指标", include_in_schema=True)
    def metrics() -> Response:
        return Response(_metrics_text(engine), media_type=CONTENT_TYPE_LATEST)

    return api


def _metrics_text(engine: Engine | None) -> bytes:
    """The process's counters and the SLO gauges, the latter read from the database at scrape time."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

    from sla.metrics import SlaCollector

    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(SlaCollector(lambda: session_scope(engine=engine or get_engine())))
    return generate_latest(REGISTRY) + generate_latest(gauges)
