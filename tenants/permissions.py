"""Who may do what (docs/reference.md#roles). Every service that reads scoped data or changes state calls `require`.

The table below is the one rule set for the command line, the HTTP API and the dashboards. Scoped
roles (operator, department) are further narrowed by `operator_scope` / `department_scope`.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import Forbidden
from core.i18n import register, t

ADMIN = "admin"

#: capability -> roles that hold it. `admin` is the built-in local administrator: everything the
#: bureau, operators and finance may do, except approving and paying bills (four eyes, docs/reference.md#command-line).
CAPABILITIES: dict[str, frozenset[str]] = {
    "registry.read": frozenset({"admin", "bureau", "operator", "finance", "department", "auditor"}),
    "registry.write": frozenset({"admin", "bureau"}),
    "users.read": frozenset({"admin", "bureau", "auditor"}),
    "users.manage": frozenset({"admin", "bureau"}),
    "contracts.read": frozenset({"admin", "bureau", "operator", "finance", "department", "auditor"}),
    "audit.verify": frozenset({"admin", "bureau", "finance", "auditor"}),
    "usage.read": frozenset({"admin", "bureau", "operator", "finance", "department", "auditor"}),
    "usage.write": frozenset({"admin", "bureau", "operator"}),
    "sla.read": frozenset({"admin", "bureau", "operator", "finance", "department", "auditor"}),
    "outages.write": frozenset({"admin", "bureau", "operator"}),
    "maintenance.request": frozenset({"admin", "bureau", "operator"}),
    "maintenance.approve": frozenset({"admin", "bureau"}),
    "maintenance.import": frozenset({"admin", "bureau"}),
    "probes.run": frozenset({"admin", "bureau", "operator"}),
    "ratings.read": frozenset({"admin", "bureau", "operator", "finance", "department", "auditor"}),
    "ratings.write": frozenset({"admin", "bureau", "department"}),
    "ratings.appeal": frozenset({"admin", "operator"}),
    "ratings.decide": frozenset({"admin", "bureau"}),
    "tickets.read": frozenset({"admin", "bureau", "operator", "department", "auditor"}),
    "tickets.answer": frozenset({"admin", "operator"}),
    "bills.read": frozenset({"admin", "bureau", "operator", "finance", "department", "auditor"}),
    "bills.run": frozenset({"admin", "finance"}),
    "bills.approve": frozenset({"finance"}),
    "bills.pay": frozenset({"finance"}),
    "infra.preview": frozenset({"admin", "bureau", "operator", "auditor"}),
    "infra.run": frozenset({"admin", "bureau", "operator"}),
    # the `monitor` role (a Prometheus scraper) holds this one capability only
    "metrics.read": frozenset({"admin", "bureau", "auditor", "monitor"}),
}

register(
    {
        "read the registry": "查看登记信息",
        "change the registry": "修改登记信息",
        "see users": "查看用户",
        "manage users": "管理用户",
        "see contracts": "查看合同",
        "verify the audit log": "校验审计日志",
        "see usage": "查看用量",
        "record usage": "记录用量",
        "see SLA data": "查看服务水平数据",
        "record outages": "记录故障",
        "request maintenance": "申请维护窗口",
        "approve maintenance": "批准维护窗口",
        "import maintenance windows": "导入维护窗口",
        "run probes": "运行探测",
        "see ratings": "查看评价",
        "rate services": "评价服务",
        "appeal ratings": "对评价提出申诉",
        "decide appeals": "裁决申诉",
        "see tickets": "查看整改工单",
        "answer tickets": "答复整改工单",
        "see bills": "查看账单",
        "run bills": "运行账单计算",
        "approve bills": "审批账单",
        "pay bills": "标记账单已支付",
        "preview infrastructure changes": "预览基础设施变更",
        "change infrastructure": "变更基础设施",
        "read the metrics": "读取监控指标",
        "act outside its own scope": "越权访问其他单位的数据",
    }
)

_VERBS = {
    "registry.read": "read the registry",
    "registry.write": "change the registry",
    "users.read": "see users",
    "users.manage": "manage users",
    "contracts.read": "see contracts",
    "audit.verify": "verify the audit log",
    "usage.read": "see usage",
    "usage.write": "record usage",
    "sla.read": "see SLA data",
    "outages.write": "record outages",
    "maintenance.request": "request maintenance",
    "maintenance.approve": "approve maintenance",
    "maintenance.import": "import maintenance windows",
    "probes.run": "run probes",
    "ratings.read": "see ratings",
    "ratings.write": "rate services",
    "ratings.appeal": "appeal ratings",
    "ratings.decide": "decide appeals",
    "tickets.read": "see tickets",
    "tickets.answer": "answer tickets",
    "bills.read": "see bills",
    "bills.run": "run bills",
    "bills.approve": "approve bills",
    "bills.pay": "pay bills",
    "infra.preview": "preview infrastructure changes",
    "infra.run": "change infrastructure",
    "metrics.read": "read the metrics",
}


@dataclass(frozen=True)
class Actor:
    """The acting user: name, role, and the operator or department it is bound to."""

    name: str
    role: str
    operator_id: str | None = None
    department_id: str | None = None


#: The acting user of internal jobs started by the platform itself (scheduler, demo set-up).
SYSTEM = Actor(name="admin", role=ADMIN)


def can(actor: Actor, capability: str) -> bool:
    """Whether the actor's role holds the capability."""
    return actor.role in CAPABILITIES[capability]


def require(actor: Actor, capability: str) -> None:
    """Raise Forbidden unless the actor's role holds the capability."""
    if not can(actor, capability):
        raise _denied(actor, _VERBS.get(capability, capability))


def operator_scope(actor: Actor) -> str | None:
    """The operator an operator user is limited to; None means unrestricted."""
    return actor.operator_id if actor.role == "operator" else None


def department_scope(actor: Actor) -> str | None:
    """The department a department user is limited to; None means unrestricted."""
    return actor.department_id if actor.role == "department" else None


def require_operator(actor: Actor, operator_id: str | None) -> None:
    """Forbidden when an operator user acts on another operator's data."""
    scope = operator_scope(actor)
    if scope is not None and scope != operator_id:
        raise _denied(actor, "act outside its own scope")


def require_department(actor: Actor, department_id: str | None) -> None:
    """Forbidden when a department user acts on another department's data."""
    scope = department_scope(actor)
    if scope is not None and scope != department_id:
        raise _denied(actor, "act outside its own scope")


def _denied(actor: Actor, verb: str) -> Forbidden:
    return Forbidden(
        "permission denied: {actor} ({role}) may not {action}", actor=actor.name, role=actor.role, action=t(verb)
    )
