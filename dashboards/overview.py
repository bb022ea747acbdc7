"""Overview, Tenants and Usage pages."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import streamlit as st
from sqlmodel import Session

from billing.views import list_bills, show_bills
from core.errors import DomainError
from core.i18n import register
from dashboards.common import MAX_ROWS, actor, call, money, number, percent, period, ratio, table, tr
from metering.service import daily_series, over_quota, quota_use, usage_by
from sla.inputs import get_availability
from tenants.permissions import Actor, can, department_scope
from tenants.service import list_contracts
from tenants.tenancy import import_tenancy, summarise_tenancy

register(
    {
        "Overview": "总览",
        "Topology: 1 provincial + N industry + M city clouds": "拓扑：1 个省级云 + N 个行业云 + M 个市级云",
        "Usage in {period}": "{period} 用量",
        "Spend in {period}": "{period} 费用",
        "SLA status per contract": "各合同服务水平状况",
        "contract": "合同",
        "operator": "运营商",
        "service": "服务",
        "availability": "可用性",
        "target": "目标",
        "status": "状态",
        "payable": "应付金额",
        "meets target": "达标",
        "below target": "未达标",
        "insufficient data": "数据不足",
        "Tenants": "租户",
        "Clouds": "云平台",
        "Quotas and their use in {period}": "{period} 配额及使用",
        "department": "部门",
        "quota": "配额",
        "limit": "上限",
        "used": "已用",
        "share": "占比",
        "Usage": "用量",
        "Usage by day": "按日用量",
        "By meter": "按计量项",
        "By cloud": "按云平台",
        "Top consumers": "用量最大的部门",
        "Over quota": "超配额部门",
        "meter": "计量项",
        "cloud": "云平台",
        "quantity": "数量",
        "events": "事件数",
        "kind": "类型",
        "tier": "级别",
        "host": "承载云",
        "departments": "部门数",
        "name": "名称",
        "Province: {name} ({tz})": "省份：{name}（{tz}）",
        "no quota exceeded": "没有部门超出配额",
        "Registry import": "登记信息导入",
        "Tenancy file (YAML)": "租户登记文件（YAML）",
        "Difference if applied (dry run):": "应用后的差异（试运行）：",
        "Apply the import": "应用导入",
        "applied {count} changes": "已应用 {count} 项变更",
        "fields": "字段",
    }
)


def _dot(summary: Any) -> str:
    """The registry as a Graphviz graph: the province, its clouds by kind and tier, hosts, operators."""
    colours = {"provincial": "#c0392b", "industry": "#2874a6", "city": "#1e8449"}
    lines = [
        "digraph G {",
        "rankdir=LR; bgcolor=transparent;",
        'node [shape=box, style="rounded,filled", fontname="Noto Sans CJK SC", fontcolor=white];',
        f'province [label="{summary.province["name"]}", fillcolor="#7d3c98"];',
    ]
    operators: set[str] = set()
    for c in summary.clouds:
        label = c["name"] + (f"\\n{c['tier']}" if c["tier"] else "")
        lines.append(f'"{c["id"]}" [label="{label}", fillcolor="{colours.get(c["kind"], "#555")}"];')
        parent = c["host"] or "province"
        lines.append(f'"{parent}" -> "{c["id"]}";')
        if c["operator"]:
            operators.add(c["operator"])
            lines.append(f'"op:{c["operator"]}" -> "{c["id"]}" [style=dashed, color="#999999", arrowhead=none];')
    for op in sorted(operators):
        lines.append(f'"op:{op}" [label="{op}", shape=ellipse, fillcolor="#f5b041", fontcolor=black];')
    lines.append("}")
    return "\n".join(lines)


def _sla_rows(session: Session, who: Actor, month: str) -> list[dict[str, Any]]:
    rows = []
    for c in list_contracts(session, actor=who):
        target = c.sla.availability_target if c.sla else None
        try:
            a = get_availability(session, actor=who, contract_id=c.id, period=month)
        except DomainError:  # e.g. a contract not active in the month
            a = None
        value = a["availability"] if a else None
        if a is None or a["insufficient"] or value is None:
            state = tr("insufficient data")
        elif target is None or Decimal(value) >= Decimal(target):
            state = tr("meets target")
        else:
            state = tr("below target")
        rows.append(
            {
                tr("contract"): c.id,
                tr("operator"): c.operator,
                tr("service"): c.service,
                tr("availability"): percent(value),
                tr("target"): percent(target),
                tr("status"): state,
            }
        )
    return rows


def _spend(session: Session, who: Actor, month: str) -> list[tuple[str, str, Decimal]]:
    """(contract, status, amount) per visible bill: a department's own share, else the bill's payable."""
    if department_scope(who) is None:
        return [(b.contract, b.status, b.payable) for b in list_bills(session, actor=who, period=month)]
    return [
        (b.contract, b.status, sum((a.amount for ln in b.lines for a in ln.allocations or ()), Decimal(0)))
        for b in show_bills(session, actor=who, period=month)
    ]


def overview_page() -> None:
    st.header(tr("Overview"))
    p = period()
    month = str(p)

    def load(session: Session, who: Actor) -> dict[str, Any]:
        return {
            "summary": summarise_tenancy(session, actor=who),
            "usage": usage_by(session, actor=who, period=p, group_by=()),
            "bills": _spend(session, who, month),
            "sla": _sla_rows(session, who, month),
        }

    data = call(load)
    if data is None:
        return
    summary = data["summary"]
    st.caption(tr("Province: {name} ({tz})", name=summary.province["name"], tz=summary.province["timezone"]))
    st.subheader(tr("Topology: 1 provincial + N industry + M city clouds"))
    st.graphviz_chart(_dot(summary))
    left, right = st.columns(2)
    with left:
        st.subheader(tr("Usage in {period}", period=month))
        table([{tr("meter"): u.meter, tr("quantity"): number(u.quantity)} for u in data["usage"]])
    with right:
        st.subheader(tr("Spend in {period}", period=month))
        total = sum((amount for _c, _s, amount in data["bills"]), Decimal(0))
        st.metric(tr("payable"), money(total))
        table(
            [
                {tr("contract"): contract, tr("status"): status, tr("payable"): money(amount)}
                for contract, status, amount in data["bills"]
            ]
        )
    st.subheader(tr("SLA status per contract"))
    table(data["sla"])


def tenants_page() -> None:
    st.header(tr("Tenants"))
    p = period()

    def load(session: Session, who: Actor) -> dict[str, Any]:
        return {"summary": summarise_tenancy(session, actor=who), "quota": quota_use(session, actor=who, period=p)}

    data = call(load)
    if data is None:
        return
    st.subheader(tr("Clouds"))
    table(
        [
            {
                "id": c["id"],
                tr("name"): c["name"],
                tr("kind"): c["kind"],
                tr("tier"): c["tier"] or "",
                tr("operator"): c["operator"] or "",
                tr("host"): c["host"] or "",
                tr("departments"): c["departments"],
            }
            for c in data["summary"].clouds
        ]
    )
    st.subheader(tr("Quotas and their use in {period}", period=str(p)))
    table(_quota_rows(data["quota"][:MAX_ROWS]), total=len(data["quota"]))  # format only what is shown
    who = actor()
    if who is not None and can(who, "registry.write"):
        _registry_import()


def _registry_import() -> None:
    """Upload a tenancy file: its difference is shown first (a dry run); applying it is a second step."""
    st.subheader(tr("Registry import"))
    upload = st.file_uploader(tr("Tenancy file (YAML)"), type=["yaml", "yml"], key="tenancy")
    if upload is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(upload.name).name or "tenancy.yaml")
        path.write_bytes(upload.getvalue())
        diff = call(lambda s, w: import_tenancy(s, actor=w, path=path, dry_run=True))
        if diff is None:
            return
        st.caption(tr("Difference if applied (dry run):"))
        table([{tr("action"): c.action, tr("entity"): c.entity, tr("fields"): str(c.fields)} for c in diff.changes])
        if diff.changes and st.button(tr("Apply the import"), key="apply-tenancy"):
            done = call(lambda s, w: import_tenancy(s, actor=w, path=path))
            if done is not None:
                st.success(tr("applied {count} changes", count=len(done.changes)))


def _quota_rows(uses: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            tr("department"): q.department,
            tr("quota"): q.quota,
            tr("limit"): number(q.limit),
            tr("used"): number(q.used),
            tr("share"): ratio(q.share),
        }
        for q in uses
    ]


def usage_page() -> None:
    st.header(tr("Usage"))
    p = period()

    def load(session: Session, who: Actor) -> dict[str, Any]:
        return {
            "daily": daily_series(session, actor=who, period=p),
            "by_dept": usage_by(session, actor=who, period=p, group_by=("department",)),
            "by_cloud": usage_by(session, actor=who, period=p, group_by=("cloud",)),
            "quota": quota_use(session, actor=who, period=p),
        }

    data = call(load)
    if data is None:
        return
    st.subheader(tr("Usage by day"))
    series: dict[str, dict[str, float]] = defaultdict(dict)
    for point in data["daily"]:
        series[point.meter][point.bucket] = float(point.quantity)  # a chart only: the tables stay exact
    if series:
        import pandas as pd  # type: ignore[import-untyped]

        st.bar_chart(pd.DataFrame(series).sort_index().fillna(0))
    else:
        table([])
    left, right = st.columns(2)
    with left:
        st.subheader(tr("By meter") + " · " + tr("By cloud"))
        table(
            [
                {tr("cloud"): u.cloud, tr("meter"): u.meter, tr("quantity"): number(u.quantity), tr("events"): u.events}
                for u in data["by_cloud"]
            ]
        )
    with right:
        st.subheader(tr("Top consumers"))
        top = sorted(data["by_dept"], key=lambda u: u.quantity, reverse=True)[:10]
        table([{tr("department"): u.department, tr("meter"): u.meter, tr("quantity"): number(u.quantity)} for u in top])
    st.subheader(tr("Over quota"))
    over = over_quota(data["quota"])
    if over:
        table(_quota_rows(over[:MAX_ROWS]), total=len(over))
    else:
        st.success(tr("no quota exceeded"))
