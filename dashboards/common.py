"""What every page shares: the acting user, the one way in to the services, language, formats.

Pages read and act only through service functions, each call wrapped by `call`, which runs it in
one unit of work through `zhengyun.app.run` as the logged-in user and turns a `DomainError` into an
`st.error` with the service's message (never a traceback).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import streamlit as st
from sqlmodel import Session

import billing.models  # noqa: F401  (the labels of bill statuses, flags and line kinds)
import sla.models  # noqa: F401  (the labels of outage sources, ticket and appeal statuses)
from core.errors import DomainError
from core.i18n import register, set_language, t
from core.periods import Period
from tenants.permissions import Actor
from tenants.users import authenticate_password, authenticate_token
from zhengyun import app

T = TypeVar("T")

ACTOR = "actor"
LANG = "lang"
PERIOD = "period"

register(
    {
        "Sign in": "登录",
        "User name": "用户名",
        "Password": "密码",
        "or a token": "或使用令牌",
        "Token": "令牌",
        "Sign out": "退出登录",
        "Signed in as {name} ({role})": "当前用户：{name}（{role}）",
        "Month": "月份",
        "{refusal}; showing {month}": "{refusal}；显示 {month}",
        "Language": "语言",
        "Page": "页面",
        "a month is YYYY-MM": "月份格式为 YYYY-MM",
        "nothing to show": "暂无数据",
        "showing the first {shown} of {total}": "仅显示前 {shown} 条，共 {total} 条",
        "政云 zhengyun dashboards": "政云 运营看板",
    }
)


# Values that pages show from the services (statuses, kinds, sources, flags, roles): the services speak
# their stable identifiers, the pages show their labels, registered with the enums in the domains'
# models (`core.i18n.register_labels`). English shows the identifier in plain words.


def lang() -> str:
    """The page language chosen by the user: Chinese unless switched."""
    value = st.session_state.get(LANG, "zh")
    return value if value in ("zh", "en") else "zh"


def tr(template: str, /, **params: Any) -> str:
    """`core.i18n.t` in the page's language."""
    set_language(lang())
    return t(template, **params)


def label(value: str | None) -> str:
    """A status, kind, source, flag or role from a service, in the page's language (``needs_review`` →
    需复核 / needs review); unknown values as they are."""
    if not value:
        return ""
    shown = tr(value)
    return shown.replace("_", " ") if lang() == "en" else shown


def money(amount: Decimal | None, currency: str = "CNY") -> str:
    """¥1,234.56 — exact, two decimals, grouped (a negative amount as -¥1,234.56)."""
    if amount is None:
        return "—"
    symbol = "¥" if currency == "CNY" else f"{currency} "
    q = Decimal(amount).quantize(Decimal("0.01"))
    return f"-{symbol}{-q:,.2f}" if q < 0 else f"{symbol}{q:,.2f}"


def number(value: Decimal | None) -> str:
    """An exact quantity with thousands grouped, trailing zeros dropped."""
    if value is None:
        return "—"
    d = Decimal(value).normalize()
    if d == d.to_integral():
        d = d.quantize(Decimal(1))
    return f"{d:,f}"


def percent(value: Decimal | None) -> str:
    """A value already in percent (availability, its target) with up to 3 decimals: 99.95%."""
    if value is None:
        return "—"
    return f"{Decimal(value).quantize(Decimal('0.001')).normalize():f}%"


def ratio(value: Decimal | None) -> str:
    """A fraction (0.25) as a percentage: 25%; an infinite share (a zero limit used) as ∞."""
    if value is None:
        return "—"
    if Decimal(value).is_infinite():
        return "∞"
    return percent(Decimal(value) * 100)


def when(moment: datetime | None, tz: ZoneInfo | None = None) -> str:
    """A time in the province's time zone, to the minute (with its offset)."""
    if moment is None:
        return "—"
    local = moment.astimezone(tz) if tz is not None else moment
    return local.strftime("%Y-%m-%d %H:%M %z")


def actor() -> Actor | None:
    """The logged-in user, if any."""
    value = st.session_state.get(ACTOR)
    return value if isinstance(value, Actor) else None


def period() -> Period:
    """The month chosen in the sidebar (this month by default, and while the box holds a refused month)."""
    value = st.session_state.get(PERIOD) or os.environ.get("ZHENGYUN_DASHBOARD_MONTH")
    try:
        return Period.parse(str(value)) if value else Period.of(date.today())
    except (ValueError, DomainError):
        return Period.of(date.today())


def period_refusal() -> str | None:
    """Why the sidebar's month is refused, in the page's language — by the one rule, `Period.parse`
    (ASCII `YYYY-MM`, a year 2000–2099: docs/reference.md#periods-and-times) — or None when it is taken."""
    value = st.session_state.get(PERIOD)
    if not value:
        return None
    try:
        Period.parse(str(value))
    except DomainError as exc:
        return tr("{refusal}; showing {month}", refusal=tr(exc.template, **exc.params), month=str(period()))
    return None


def call(work: Callable[[Session, Actor], T], *, quiet: bool = False) -> T | None:
    """Run `work(session, actor)` as the logged-in user in one unit of work; a `DomainError` is shown
    with `st.error` (unless `quiet`) and None returned."""
    who = actor()
    if who is None:
        return None
    set_language(lang())
    try:
        return app.run(work, actor=who)
    except DomainError as exc:
        if not quiet:
            st.error(exc.message)
        return None


def login(name: str, password: str, token: str) -> Actor | None:
    """Authenticate by token (when given) or by name and password; show the error otherwise."""
    set_language(lang())

    def who(session: Session) -> Actor:
        if token.strip():
            return authenticate_token(session, token.strip())
        return authenticate_password(session, name.strip(), password)

    try:
        found = app.run(lambda _s, a: a, actor=who)
    except DomainError as exc:
        st.error(exc.message)
        return None
    st.session_state[ACTOR] = found
    return found


#: The most rows a page lists in one table: a province has thousands of departments, ratings, quotas.
MAX_ROWS = 500


def table(rows: list[dict[str, Any]], *, limit: int | None = MAX_ROWS, total: int | None = None) -> None:
    """A read-only table of at most `limit` rows, saying so when there are more (`total`: how many there
    are, when the caller already cut the list), or a note that there is nothing to show."""
    count = len(rows) if total is None else total
    if limit is not None:
        rows = rows[:limit]
    if count > len(rows):
        st.caption(tr("showing the first {shown} of {total}", shown=len(rows), total=count))
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    else:
        st.caption(tr("nothing to show"))
