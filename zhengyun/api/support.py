"""What every HTTP endpoint shares: the bearer-token caller, the one way in, error responses (docs/reference.md#http-api).

An endpoint parses its request, calls one service function through `call` (which wraps
`zhengyun.app.run`, authenticating the bearer token inside the same unit of work) and returns the
result as JSON. Every error is the JSON error shape of docs/reference.md#command-line,
`{"error": ..., "problems": [...]}` (docs/reference.md#http-api): a `DomainError` with its HTTP status, a malformed
request (a body that does not parse, or nested too deeply, included) 422, an unknown path 404, a method a path does
not take 405, and anything unexpected 500 with an error id the server log holds, with the traceback.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, replace
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as FastPath
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import Counter, Histogram
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import DomainError, TooLarge, Unauthenticated
from core.i18n import language, register, t
from core.output import to_jsonable
from core.periods import PERIOD_FORMAT, PERIOD_PATTERN
from tenants.permissions import Actor
from tenants.users import authenticate_token
from zhengyun import app

T = TypeVar("T")
log = logging.getLogger("zhengyun.api")

register(
    {
        "a bearer token is required (Authorization: Bearer <token>)": "需要持有者令牌（Authorization: Bearer <令牌>）",
        "invalid request: {count} problem(s)": "请求无效：{count} 个问题",
        "the request body is not valid JSON: nested too deeply": "请求体不是有效的 JSON：嵌套层数过深",
        "the request body could not be read": "无法读取请求体",
        "the body is larger than {limit} bytes": "请求体超过 {limit} 字节",
        "no endpoint at {path}": "不存在接口 {path}",
        "{path} does not take {method}": "{path} 不支持 {method} 方法",
        "internal error {error_id}: the server log holds the details": "内部错误 {error_id}：详情见服务器日志",
    }
)

_bearer = HTTPBearer(auto_error=False, description="A token from `zhengyun users add` or `zhengyun users token`")


@dataclass(frozen=True)
class Caller:
    """The bearer token of a request; the user it stands for is authenticated in the unit of work."""

    token: str
    engine: Engine | None = None
    #: the user, once authenticated (`authenticated`): not looked up again
    known: Actor | None = None

    def actor(self, session: Session) -> Actor:
        """The user holding the token (refused when unknown or disabled)."""
        return authenticate_token(session, self.token)

    @property
    def who(self) -> Actor | Callable[[Session], Actor]:
        """What `zhengyun.app.run` takes as the actor: the known user, or how to authenticate it."""
        return self.known or self.actor


def caller(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    """The request's bearer token; 401 without one."""
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    return Caller(credentials.credentials, getattr(request.app.state, "engine", None))


CallerDep = Annotated[Caller, Depends(caller)]
#: A stored row's id in a path: what a database integer key can hold.
RowId = Annotated[int, FastPath(ge=1, le=2**63 - 1, description="id")]
#: A required `period` query parameter.
PeriodQuery = Annotated[str, Query(pattern=PERIOD_PATTERN, description=PERIOD_FORMAT)]
#: An optional `period` query parameter (a filter).
PeriodFilter = Annotated[str | None, Query(pattern=PERIOD_PATTERN)]


async def authenticated(who: Caller) -> Caller:
    """The caller with its user authenticated, in a unit of work of its own: for an endpoint that refuses a
    request without a valid token before it reads the body (docs/reference.md#http-api)."""
    actor = await run_in_threadpool(app.run, lambda _session, actor: actor, actor=who.actor, engine=who.engine)
    return replace(who, known=actor)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed `limit` bytes: by its declared
    length, else while it streams, never held whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge("the body is larger than {limit} bytes", limit=limit)
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise TooLarge("the body is larger than {limit} bytes", limit=limit)
        parts.append(part)
    return b"".join(parts)


def call(service: Callable[..., T], who: Caller, /, **arguments: Any) -> T:
    """`service(session, actor=…, **arguments)` as the token's user, in one unit of work."""
    return app.run(lambda session, actor: service(session, actor=actor, **arguments), actor=who.who, engine=who.engine)


def call_writing(service: Callable[..., T], who: Caller, /, **arguments: Any) -> T:
    """`call` for a service that writes (nearly) every time: on SQLite the unit of work takes the write lock
    first (`zhengyun.app.run(writes=True)`)."""
    return app.run(
        lambda session, actor: service(session, actor=actor, **arguments),
        actor=who.who,
        engine=who.engine,
        writes=True,
    )


def respond(result: Any, *, key: str | None = None, status_code: int = 200) -> JSONResponse:
    """A result as JSON (decimals as strings, times in ISO 8601), under `key` when given."""
    return JSONResponse(to_jsonable({key: result} if key else result), status_code=status_code)


def install(api: FastAPI) -> None:
    """Error handlers and the per-request language (`Accept-Language: en` or `?lang=en`; default zh)."""

    @api.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=headers)

    @api.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {
                "file": None,
                "line": None,
                "path": ".".join(str(p) for p in e.get("loc", ())),
                "message": str(e.get("msg", "")),
            }
            for e in exc.errors()
        ]
        body = {"error": t("invalid request: {count} problem(s)", count=len(problems)), "problems": problems}
        return JSONResponse(body, status_code=422)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # what FastAPI and Starlette raise themselves: routing, and a body that does not parse
        status, headers = exc.status_code, getattr(exc, "headers", None)
        if status == 404:
            message = t("no endpoint at {path}", path=request.url.path)
        elif status == 405:
            message = t("{path} does not take {method}", path=request.url.path, method=request.method)
        elif status == 400 and isinstance(exc.__cause__, RecursionError):
            status, message = 422, t("the request body is not valid JSON: nested too deeply")
        elif status == 400:
            status, message = 422, t("the request body could not be read")
        else:
            message = str(exc.detail)
        return JSONResponse({"error": message, "problems": []}, status_code=status, headers=headers)

    api.add_middleware(_Unexpected)  # innermost: its 500 is rendered in the request's language and counted
    api.add_middleware(_Language)
    api.add_middleware(_Measured)


REQUESTS = Counter(
    "zhengyun_http_requests_total", "HTTP requests by method, route and status", ["method", "route", "status"]
)
REQUEST_SECONDS = Histogram(
    "zhengyun_http_request_duration_seconds", "Duration of HTTP requests by method and route", ["method", "route"]
)


class _HttpMiddleware:
    """An ASGI middleware that acts on HTTP requests (`http`) and passes everything else through."""

    def __init__(self, inner: Callable[..., Awaitable[None]]) -> None:
        self.inner = inner

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        raise NotImplementedError


class _Measured(_HttpMiddleware):
    """Count and time every request by its route template (never the raw path: ids would explode labels)."""

    async def http(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        started, status = time.perf_counter(), [500]

        async def sending(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.inner(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            REQUESTS.labels(scope["method"], route, str(status[0])).inc()
            REQUEST_SECONDS.labels(scope["method"], route).observe(time.perf_counter() - started)


class _Unexpected(_HttpMiddleware):
    """Answer an error no handler expected as 500 in the one error shape, with an id the log holds with the
    traceback (docs/reference.md#http-api). Caught here, not left to the server, so that the connection stays
    open and the answer carries nothing of the failure."""

    async def http(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        started = [False]

        async def sending(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started[0] = True
            await send(message)

        try:
            await self.inner(scope, receive, sending)
        except Exception as exc:
            error_id = secrets.token_hex(8)
            log.error("error %s: %s %s failed", error_id, scope["method"], scope.get("path", ""), exc_info=exc)
            if started[0]:  # part of the answer is out: only the server can end it (it closes the connection)
                raise
            message = t("internal error {error_id}: the server log holds the details", error_id=error_id)
            await JSONResponse({"error": message, "problems": []}, status_code=500)(scope, receive, send)


class _Language(_HttpMiddleware):
    """Render messages of one request in the language it asks for."""

    async def http(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        with language(_language_of(scope)):
            await self.inner(scope, receive, send)


def _language_of(scope: MutableMapping[str, Any]) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    for part in query.split("&"):
        if part in ("lang=en", "lang=zh"):
            return part[5:]
    for name, value in scope.get("headers", []):
        if name == b"accept-language":
            first = value.decode("latin-1").split(",")[0].strip().lower()
            return "en" if first.startswith("en") else "zh"
    from core.i18n import current_language

    return current_language()
