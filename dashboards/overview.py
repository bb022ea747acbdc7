"""Overview, Tenants and Usage pages."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import streamlit as st
from sqlmodel import Session

from billing.models import ShareSummary
from billing.views import list_bills
from core.errors import DomainError
from core.i18n import register
from dashboards.common import MAX_ROWS, actor, call, label, money, number, percent, period, ratio, table, tr
from metering.service import daily_series, over_quota, quota_use, usage_by
from sla.inputs import get_availability
from tenants.permissions import Actor, can, department_scope
from tenants.service import list_contracts
from tenants.tenancy import NetworkRange, import_tenancy, list_network_ranges, summarise_tenancy

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
        "your share": "本部门分摊",
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
        "Over quota": "超出配额",
        "meter": "计量项",
        "cloud": "云",
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
        "Network ranges": "网络地址段",
        "Supernet {supernet}: each cloud with its own infrastructure a /16 block, each department a /22 in its cloud's": (
            "总地址池 {supernet}：每个自有基础设施的云分配一个 /16 地址块，每个部门在其所在云的地址块中分配一个 /22"
        ),
        "network block": "地址块",
        "department ranges": "部门地址段数",
        "retired": "已停用",
        "Department ranges of a cloud": "云平台的部门地址段",
        "range": "地址段",
        "provincial cloud (1)": "省级政务云（1）",
        "industry clouds (N = {count})": "行业云（N = {count}）",
        "city clouds (M = {count})": "市级云（M = {count}）",
        "external clouds": "外部云",
        "hosted city clouds ({count})": "托管的市级云（{count} 个）",
    }
)


def _quote(text: str) -> str:
    """A Graphviz quoted string: quotes escaped, line breaks as Graphviz's."""
    return '"' + str(text).replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot(summary: Any, columns: int = 3) -> str:
    """The registry as a compact Graphviz graph: the province on top, then one box per kind of cloud
    side by side — the provincial cloud with the cities it hosts grouped in one node, the industry
    clouds and the city clouds with their own infrastructure laid out in rows of `columns` — each
    cloud labelled with its operator and tier."""
    colours = {"provincial": "#c0392b", "industry": "#2874a6", "city": "#1e8449", "external": "#555555"}
    lines = [
        "digraph G {",
        "rankdir=TB; bgcolor=transparent; nodesep=0.2; ranksep=0.3; compound=true; newrank=true;",
        'node [shape=box, style="rounded,filled", fontname="Noto Sans CJK SC", fontsize=11, fontcolor=white,'
        ' margin="0.1,0.04"];',
        'edge [color="#888888", arrowsize=0.6];',
        'graph [fontname="Noto Sans CJK SC", fontsize=12, labeljust=l, style="rounded", color="#bbbbbb"];',
        f'province [label={_quote(summary.province["name"])}, fillcolor="#7d3c98"];',
    ]
    hosted: dict[str, list[dict[str, Any]]] = {}
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in summary.clouds:
        if c["host"]:
            hosted.setdefault(c["host"], []).append(c)
        else:
            groups.setdefault(c["kind"], []).append(c)

    def node(c: dict[str, Any]) -> str:
        detail = " · ".join(x for x in (c["operator"] or "", label(c["tier"])) if x)
        text = c["name"] + (f"\n{detail}" if detail else "")
        return f'{_quote(c["id"])} [label={_quote(text)}, fillcolor="{colours.get(c["kind"], "#555555")}"];'

    titles = {
        "provincial": tr("provincial cloud (1)"),
        "industry": tr("industry clouds (N = {count})", count=len(groups.get("industry", []))),
        "city": tr("city clouds (M = {count})", count=sum(1 for c in summary.clouds if c["kind"] == "city")),
        "external": tr("external clouds"),
    }
    for kind in ("provincial", "industry", "city", "external"):
        members = groups.get(kind, [])
        if not members:
            continue
        lines.append(f"subgraph cluster_{kind} {{ label={_quote(titles[kind])};")
        ids = [c["id"] for c in members]
        for c in members:
            lines.append(node(c))
        for host in ids:
            guests = hosted.get(host, [])
            if guests:
                names = [g["name"].removesuffix("政务云") for g in guests]
                rows = ["  ".join(names[i : i + 4]) for i in range(0, len(names), 4)]
                text = tr("hosted city clouds ({count})", count=len(guests)) + "\n" + "\n".join(rows)
                lines.append(
                    f'{_quote("hosted:" + host)} [label={_quote(text)}, fillcolor="#52be80", margin="0.2,0.08"];'
                )
                lines.append(f"{_quote(host)} -> {_quote('hosted:' + host)};")
        # a grid: rows of `columns` nodes, each row under the one before (invisible edges)
        for i in range(0, len(ids), columns):
            row = ids[i : i + columns]
            lines.append("{ rank=same; " + " ".join(_quote(x) for x in row) + " }")
            if i + columns < len(ids):
                lines.append(f"{_quote(row[0])} -> {_quote(ids[i + columns])} [style=invis];")
        lines.append("}")
        lines.append(f"province -> {_quote(ids[0])} [lhead=cluster_{kind}];")
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
    return [
        (b.contract, b.status, b.share if isinstance(b, ShareSummary) else b.payable)
        for b in list_bills(session, actor=who, period=month)
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
            "department": department_scope(who) is not None,
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
        # a department's figure is its own share, labelled so — never a bill's payable (docs/reference.md#a-departments-bill)
        caption = tr("your share") if data["department"] else tr("payable")
        st.metric(caption, money(total))
        table(
            [
                {tr("contract"): contract, tr("status"): label(status), caption: money(amount)}
                for contract, status, amount in data["bills"]
            ]
        )
    st.subheader(tr("SLA status per contract"))
    table(data["sla"])


def tenants_page() -> None:
    st.header(tr("Tenants"))
    p = period()

    def load(session: Session, who: Actor) -> dict[str, Any]:
        return {
            "summary": summarise_tenancy(session, actor=who),
            "quota": quota_use(session, actor=who, period=p),
            "ranges": list_network_ranges(session, actor=who),
        }

    data = call(load)
    if data is None:
        return
    st.subheader(tr("Clouds"))
    table(
        [
            {
                "id": c["id"],
                tr("name"): c["name"],
                tr("kind"): label(c["kind"]),
                tr("tier"): label(c["tier"]),
                tr("operator"): c["operator"] or "",
                tr("host"): c["host"] or "",
                tr("departments"): c["departments"],
            }
            for c in data["summary"].clouds
        ]
    )
    _network_ranges(data["summary"], data["ranges"])
    st.subheader(tr("Quotas and their use in {period}", period=str(p)))
    table(_quota_rows(data["quota"][:MAX_ROWS]), total=len(data["quota"]))  # format only what is shown
    who = actor()
    if who is not None and can(who, "registry.write"):
        _registry_import()


def _network_ranges(summary: Any, ranges: list[NetworkRange]) -> None:
    """Each cloud's blocks with how many department ranges they hold, then the departments' ranges of a
    chosen cloud (hosted cities' departments sit in the provincial cloud's blocks)."""
    st.subheader(tr("Network ranges"))
    st.caption(
        tr(
            "Supernet {supernet}: each cloud with its own infrastructure a /16 block, each department a /22 in its cloud's",
            supernet=summary.province["supernet"],
        )
    )
    names = {c["id"]: c["name"] for c in summary.clouds}
    blocks = [r for r in ranges if r.department is None]
    departments = [r for r in ranges if r.department is not None]
    table(
        [
            {
                tr("cloud"): b.cloud,
                tr("name"): names.get(b.cloud, ""),
                tr("network block"): b.cidr,
                tr("department ranges"): sum(1 for r in departments if r.cloud == b.cloud and _inside(r.cidr, b.cidr)),
                tr("retired"): "✓" if b.retired else "",
            }
            for b in blocks
        ]
    )
    clouds = sorted({r.cloud for r in departments})
    if not clouds:
        return
    chosen = st.selectbox(
        tr("Department ranges of a cloud"),
        clouds,
        format_func=lambda c: f"{c} {names.get(c, '')}",
        key="ranges-cloud",
    )
    table(
        [
            {
                tr("range"): r.cidr,
                tr("department"): r.department,
                tr("name"): r.department_name or "",
                tr("retired"): "✓" if r.retired else "",
            }
            for r in departments
            if r.cloud == chosen
        ]
    )


def _inside(cidr: str, block: str) -> bool:
    import ipaddress

    return ipaddress.ip_network(cidr).subnet_of(ipaddress.ip_network(block))  # type: ignore[arg-type]


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
        by_dept = usage_by(session, actor=who, period=p, group_by=("department",))
        return {
            "daily": daily_series(session, actor=who, period=p),
            "by_dept": by_dept,
            "by_cloud": usage_by(session, actor=who, period=p, group_by=("cloud",)),
            "quota": quota_use(session, actor=who, period=p, usage=by_dept),  # the month summed once
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
