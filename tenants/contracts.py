"""The contracts file (docs/reference.md#contracts-file): schema and every rule of its terms.

The registry validates the terms; `billing/` and `sla/` interpret them. `validate_contracts` is
pure: the registry state it checks references against is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.errors import Problem
from core.i18n import register
from core.periods import Period, overlap_days
from core.validation import validate_list
from core.yamlfile import YamlDocument
from tenants.formats import Id, check_unique_id

CONTRACT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
METER_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
ContractId = Annotated[str, StringConstraints(pattern=CONTRACT_ID_PATTERN)]
MeterCode = Annotated[str, StringConstraints(pattern=METER_PATTERN)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
Amount = Annotated[Decimal, Field(ge=0)]
Share = Annotated[Decimal, Field(ge=0, le=1)]
Percent = Annotated[Decimal, Field(ge=0, le=100)]

#: FOCUS 1.2 ServiceCategory values
SERVICE_CATEGORIES = (
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)

#: FOCUS 1.2 ServiceSubcategory values by ServiceCategory (each category's own `Other (…)` last).
SERVICE_SUBCATEGORIES: dict[str, tuple[str, ...]] = {
    "AI and Machine Learning": (
        "AI Platforms",
        "Bots",
        "Generative AI",
        "Machine Learning",
        "Natural Language Processing",
    ),
    "Analytics": ("Analytics Platforms", "Business Intelligence", "Data Processing", "Search", "Streaming Analytics"),
    "Business Applications": ("Productivity and Collaboration",),
    "Compute": ("Containers", "End User Computing", "Quantum Compute", "Serverless Compute", "Virtual Machines"),
    "Databases": (
        "Caching",
        "Data Warehouses",
        "Ledger Databases",
        "NoSQL Databases",
        "Relational Databases",
        "Time Series Databases",
    ),
    "Developer Tools": (
        "Developer Platforms",
        "Continuous Integration and Deployment",
        "Development Environments",
        "Source Code Management",
        "Quality Assurance",
    ),
    "Identity": ("Identity and Access Management",),
    "Integration": ("API Management", "Messaging", "Workflow Orchestration"),
    "Internet of Things": ("IoT Analytics", "IoT Platforms"),
    "Management and Governance": (
        "Architecture",
        "Compliance",
        "Cost Management",
        "Data Governance",
        "Disaster Recovery",
        "Endpoint Management",
        "Observability",
        "Support",
    ),
    "Media": ("Content Creation", "Gaming", "Media Streaming", "Mixed Reality"),
    "Migration": ("Data Migration", "Resource Migration"),
    "Mobile": (),
    "Multicloud": ("Multicloud Integration",),
    "Networking": (
        "Application Networking",
        "Content Delivery",
        "Network Connectivity",
        "Network Infrastructure",
        "Network Routing",
        "Network Security",
    ),
    "Security": ("Secret Management", "Security Posture Management", "Threat Detection and Response"),
    "Storage": ("Backup Storage", "Block Storage", "File Storage", "Object Storage", "Storage Platforms"),
    "Web": ("Application Platforms",),
    "Other": (),
}
SERVICE_SUBCATEGORIES = {k: (*v, f"Other ({k})") for k, v in SERVICE_SUBCATEGORIES.items()}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeterSpec(_Strict):
    """An item of `meters:`"""

    code: MeterCode
    unit: Label
    description: Annotated[str, StringConstraints(max_length=200)] = ""


class Tier(_Strict):
    """A price tier: up to `up_to` (None: no upper bound) at `unit_price`."""

    up_to: Annotated[Decimal, Field(gt=0)] | None
    unit_price: Amount


class Price(_Strict):
    """The price of one meter: flat, graduated or volume."""

    meter: MeterCode
    model: Literal["flat", "graduated", "volume"]
    unit_price: Amount | None = None
    tiers: list[Tier] | None = None


class CreditTier(_Strict):
    """SLA credit `credit` (share of base) when availability is strictly below `below` percent."""

    below: Percent
    credit: Share


#: Hours a maintenance window must be announced ahead to count, unless the contract says otherwise (docs/reference.md#sla).
DEFAULT_NOTICE_HOURS = 24


class SlaTerms(_Strict):
    """`sla:`"""

    availability_target: Percent | None = None
    notice_hours: Annotated[int, Field(ge=0, le=8760)] = DEFAULT_NOTICE_HOURS
    credits: list[CreditTier] = Field(default_factory=list)


class PayoutRow(_Strict):
    """Evaluation payout: `pays` when the score is at least `min_score`."""

    min_score: Percent
    pays: Share


class EvaluationTerms(_Strict):
    """`evaluation:`"""

    at_risk: Share
    payout: list[PayoutRow]
    min_ratings: Annotated[int, Field(ge=0)] = 1


class Probe(_Strict):
    """A probe of the contract's service: an HTTP(S) check or a TCP connect."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    kind: Literal["http", "tcp"]
    url: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    expect_status: Annotated[int, Field(ge=100, le=599)] = 200
    host: Annotated[str, StringConstraints(min_length=1, max_length=253)] | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    timeout_s: Annotated[Decimal, Field(gt=0, le=300)] = Decimal(5)
    interval_s: Annotated[int, Field(ge=1, le=86400)] = 60
    confirm: Annotated[int, Field(ge=1, le=100)] = 2


class ContractSpec(_Strict):
    """An item of `contracts:` — the whole validated contract."""

    id: ContractId
    operator: Id
    clouds: Annotated[list[Id], Field(min_length=1)]
    service: Label
    service_category: Literal[SERVICE_CATEGORIES] = "Other"  # type: ignore[valid-type]
    service_subcategory: Label | None = None  # FOCUS ServiceSubcategory (default `Other (<category>)`)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    start: date
    end: date
    annual_fee: Amount | None = None
    prices: list[Price] = Field(default_factory=list)
    sla: SlaTerms | None = None
    evaluation: EvaluationTerms | None = None
    max_deduction: Share | None = None
    probes: list[Probe] = Field(default_factory=list)

    def price_for(self, meter: str) -> Price | None:
        """The price of a meter under this contract, if any."""
        return next((p for p in self.prices if p.meter == meter), None)

    def term_bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The term `[start 00:00, day after end 00:00)` in local time (docs/reference.md#usage-charges)."""
        return (
            datetime.combine(self.start, time(0), tzinfo=tz),
            datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=tz),
        )

    def term_window(self, tz: ZoneInfo, lo: datetime, hi: datetime) -> tuple[datetime, datetime]:
        """The part of `[lo, hi)` inside the term, in local days; empty (start == end) when none."""
        term_lo, term_hi = self.term_bounds(tz)
        start = max(lo, term_lo)
        return start, max(start, min(hi, term_hi))

    @property
    def focus_subcategory(self) -> str:
        """The FOCUS ServiceSubcategory: the one declared, else `Other (<category>)`."""
        return self.service_subcategory or f"Other ({self.service_category})"

    @property
    def notice_hours(self) -> int:
        """How long ahead maintenance must be announced to count: `sla.notice_hours`, default 24 (docs/reference.md#sla)."""
        return self.sla.notice_hours if self.sla is not None else DEFAULT_NOTICE_HOURS

    def active_on(self, day: date) -> bool:
        """Whether `day` is inside the term."""
        return self.start <= day <= self.end


@dataclass(frozen=True)
class CloudRef:
    """What contract validation needs to know of a registered cloud."""

    kind: str
    tier: str | None
    operator: str | None


@dataclass
class ContractsFile:
    """A validated contracts document."""

    meters: list[MeterSpec] = field(default_factory=list)
    contracts: list[ContractSpec] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)


register(
    {
        "the document must be a mapping with meters and contracts": "文件顶层必须是包含 meters 和 contracts 的映射",
        "duplicate meter '{code}' (also at {other})": "重复的计量项“{code}”（另见 {other}）",
        "built-in meter '{code}' cannot be redefined": "内置计量项“{code}”不能重新定义",
        "end {end} is before start {start}": "结束日期 {end} 早于开始日期 {start}",
        "a flat price needs unit_price and no tiers": "flat 定价须有 unit_price 且不能有 tiers",
        "a {model} price needs tiers and no unit_price": "{model} 定价须有 tiers 且不能有 unit_price",
        "tiers must have strictly ascending up_to": "各档 up_to 必须严格递增",
        "the last tier must be open (up_to: null)": "最后一档必须不设上限（up_to: null）",
        "only the last tier may be open (up_to: null)": "只有最后一档可以不设上限（up_to: null）",
        "meter '{code}' is priced twice in this contract (also at {other})": "计量项“{code}”在本合同中重复定价（另见 {other}）",
        "unknown meter '{code}'": "未知计量项“{code}”",
        "duplicate credit tier below {below}": "重复的赔付档位 below {below}",
        'the payout table needs a row with min_score "0"': '评价兑付表必须有一行 min_score "0"',
        "duplicate payout row min_score {score}": "重复的兑付行 min_score {score}",
        "duplicate probe name '{name}'": "重复的探测名称“{name}”",
        "an http probe needs an http(s) url": "http 探测须有 http(s) 开头的 url",
        "a tcp probe needs host and port": "tcp 探测须有 host 和 port",
        "cloud '{cloud}' is listed twice": "云“{cloud}”重复列出",
        "cloud '{cloud}' is run by operator '{actual}', not '{id}'": "云“{cloud}”由运营商“{actual}”运营，而不是“{id}”",
        "cloud '{cloud}' is a hosted city without infrastructure; its departments are on '{host}'": "云“{cloud}”是托管城市，没有自有基础设施；其部门部署在“{host}”上",
        "contract '{other}' also prices meter '{meter}' on cloud '{cloud}' between {start} and {end}": "合同“{other}”在 {start} 至 {end} 期间也对云“{cloud}”的计量项“{meter}”定价",
        "'{sub}' is not a FOCUS subcategory of '{category}' (one of: {allowed})": "“{sub}”不是 FOCUS 类别“{category}”的子类别（可选：{allowed}）",
        "service '{service}' is in category {category} on contract '{other}': a service has one category and subcategory": "服务“{service}”在合同“{other}”中属于类别 {category}：同一服务只能有一个类别和子类别",
    }
)


# ---------------------------------------------------------------------------- amendments (docs/reference.md#contracts-and-bills)

#: Terms that may change once bills are approved, since no approved bill depends on them: the probes,
#: the maintenance notice (`sla.notice_hours`), the FOCUS service (sub)category and the description of the
#: service — and `end`, within limits (`end_keeps_bills`).
AMENDABLE_TERMS = frozenset({"end", "probes", "service", "service_category", "service_subcategory"})


def _billed_terms(spec: ContractSpec) -> dict[str, Any]:
    terms = spec.model_dump(mode="json")
    if terms.get("sla") is not None:
        terms["sla"] = {k: v for k, v in terms["sla"].items() if k != "notice_hours"}
    return terms


def locked_changes(old: ContractSpec, new: ContractSpec) -> list[str]:
    """The changed terms an approved bill depends on (prices, fees, SLA and evaluation terms, the cap,
    clouds, operator, currency, start), in the order of the contract's fields (docs/reference.md#contracts-and-bills)."""
    before, after = _billed_terms(old), _billed_terms(new)
    return [k for k in before if k not in AMENDABLE_TERMS and before[k] != after[k]]


def earliest_end(periods: list[str]) -> date:
    """The earliest day a contract with approved bills of `periods` may end: the last one's last day."""
    return max(Period.parse(p).last_day for p in periods)


def end_keeps_bills(old_end: date, new_end: date, periods: list[str]) -> bool:
    """Whether moving the end leaves the term's days in every approved period as they were (docs/reference.md#contracts-and-bills):
    true for any day on or after the last approved period's end while the term reaches it."""
    for text in periods:
        p = Period.parse(text)
        before = p.first_day - timedelta(days=1)
        if min(max(old_end, before), p.last_day) != min(max(new_end, before), p.last_day):
            return False
    return True


def validate_contracts(
    doc: YamlDocument,
    *,
    operators: set[str],
    clouds: dict[str, CloudRef],
    meters: set[str],
    builtin_meters: set[str],
    existing: list[ContractSpec],
) -> tuple[ContractsFile | None, list[Problem]]:
    """Every rule of docs/reference.md#contracts-file against the given registry state; every problem with its path."""
    problems: list[Problem] = []
    data = doc.data
    if not isinstance(data, dict):
        return None, [doc.problem("", "the document must be a mapping with meters and contracts")]
    for key in data:
        if key not in ("meters", "contracts"):
            problems.append(doc.problem(str(key), "unknown section '{name}'", name=key))
    meter_items = validate_list(MeterSpec, data.get("meters"), doc, "meters", problems)
    known_meters = set(meters)
    seen_meters: dict[str, int] = {}
    for i, m in meter_items:
        if m.code in seen_meters:
            problems.append(
                doc.problem(
                    f"meters[{i}].code",
                    "duplicate meter '{code}' (also at {other})",
                    code=m.code,
                    other=f"meters[{seen_meters[m.code]}]",
                )
            )
        elif m.code in builtin_meters:
            problems.append(
                doc.problem(f"meters[{i}].code", "built-in meter '{code}' cannot be redefined", code=m.code)
            )
        seen_meters[m.code] = i
        known_meters.add(m.code)
    if "contracts" not in data:
        problems.append(doc.problem("contracts", "required field is missing"))
    items = validate_list(ContractSpec, data.get("contracts"), doc, "contracts", problems)
    seen_ids: dict[str, int] = {}
    for i, c in items:
        check_unique_id(seen_ids, c.id, "contracts", i, doc, problems)
        _check_contract(c, f"contracts[{i}]", doc, problems, operators, clouds, known_meters)
    _check_overlaps(items, existing, doc, problems)
    _check_service_categories(items, existing, doc, problems)
    if problems:
        return None, problems
    return ContractsFile(
        meters=[m for _, m in meter_items], contracts=[c for _, c in items], index={c.id: i for i, c in items}
    ), []


def _check_contract(
    c: ContractSpec,
    p: str,
    doc: YamlDocument,
    problems: list[Problem],
    operators: set[str],
    clouds: dict[str, CloudRef],
    meters: set[str],
) -> None:
    def add(path: str, template: str, **params: Any) -> None:
        problems.append(doc.problem(f"{p}.{path}", template, **params))

    if c.end < c.start:
        add("end", "end {end} is before start {start}", end=c.end, start=c.start)
    if c.operator not in operators:
        add("operator", "unknown operator '{id}'", id=c.operator)
    seen_clouds: set[str] = set()
    for j, cloud_id in enumerate(c.clouds):
        ref = clouds.get(cloud_id)
        if cloud_id in seen_clouds:
            add(f"clouds[{j}]", "cloud '{cloud}' is listed twice", cloud=cloud_id)
        seen_clouds.add(cloud_id)
        if ref is None:
            add(f"clouds[{j}]", "unknown cloud '{id}'", id=cloud_id)
        elif ref.kind == "city" and ref.tier == "hosted":
            add(
                f"clouds[{j}]",
                "cloud '{cloud}' is a hosted city without infrastructure; its departments are on '{host}'",
                cloud=cloud_id,
                host="the provincial cloud",
            )
        elif ref.operator != c.operator and c.operator in operators:
            add(
                f"clouds[{j}]",
                "cloud '{cloud}' is run by operator '{actual}', not '{id}'",
                cloud=cloud_id,
                actual=ref.operator,
                id=c.operator,
            )
    priced: dict[str, int] = {}
    for j, price in enumerate(c.prices):
        pp = f"prices[{j}]"
        if price.meter not in meters:
            add(f"{pp}.meter", "unknown meter '{code}'", code=price.meter)
        if price.meter in priced:
            add(
                f"{pp}.meter",
                "meter '{code}' is priced twice in this contract (also at {other})",
                code=price.meter,
                other=f"{p}.prices[{priced[price.meter]}]",
            )
        priced.setdefault(price.meter, j)
        if price.model == "flat":
            if price.unit_price is None or price.tiers is not None:
                add(f"{pp}.model", "a flat price needs unit_price and no tiers")
        elif price.unit_price is not None or not price.tiers:
            add(f"{pp}.tiers", "a {model} price needs tiers and no unit_price", model=price.model)
        else:
            _check_tiers(price, f"{pp}.tiers", add)
    if c.sla is not None:
        belows: set[Decimal] = set()
        for j, tier in enumerate(c.sla.credits):
            if tier.below in belows:
                add(f"sla.credits[{j}].below", "duplicate credit tier below {below}", below=tier.below)
            belows.add(tier.below)
    if c.evaluation is not None:
        scores: set[Decimal] = set()
        for j, row in enumerate(c.evaluation.payout):
            if row.min_score in scores:
                add(f"evaluation.payout[{j}].min_score", "duplicate payout row min_score {score}", score=row.min_score)
            scores.add(row.min_score)
        if Decimal(0) not in scores:
            add("evaluation.payout", 'the payout table needs a row with min_score "0"')
    allowed = SERVICE_SUBCATEGORIES.get(c.service_category, ())
    if c.service_subcategory is not None and c.service_subcategory not in allowed:
        add(
            "service_subcategory",
            "'{sub}' is not a FOCUS subcategory of '{category}' (one of: {allowed})",
            sub=c.service_subcategory,
            category=c.service_category,
            allowed=", ".join(allowed),
        )
    names: set[str] = set()
    for j, probe in enumerate(c.probes):
        if probe.name in names:
            add(f"probes[{j}].name", "duplicate probe name '{name}'", name=probe.name)
        names.add(probe.name)
        if probe.kind == "http" and not (probe.url or "").lower().startswith(("http://", "https://")):
            add(f"probes[{j}].url", "an http probe needs an http(s) url")
        if probe.kind == "tcp" and (not probe.host or probe.port is None):
            add(f"probes[{j}].{'port' if probe.host else 'host'}", "a tcp probe needs host and port")


def _check_tiers(price: Price, path: str, add: Any) -> None:
    tiers = price.tiers or []
    previous: Decimal | None = None
    for k, tier in enumerate(tiers):
        last = k == len(tiers) - 1
        if tier.up_to is None:
            if not last:
                add(f"{path}[{k}].up_to", "only the last tier may be open (up_to: null)")
            continue
        if last:
            add(f"{path}[{k}].up_to", "the last tier must be open (up_to: null)")
        if previous is not None and tier.up_to <= previous:
            add(f"{path}[{k}].up_to", "tiers must have strictly ascending up_to")
        previous = tier.up_to


def _check_overlaps(
    items: list[tuple[int, ContractSpec]], existing: list[ContractSpec], doc: YamlDocument, problems: list[Problem]
) -> None:
    """Two contracts may not price the same cloud and meter on the same day."""
    in_file = {c.id for _, c in items}
    others: list[ContractSpec] = [c for c in existing if c.id not in in_file]
    for i, c in items:
        if c.end < c.start:
            continue
        for other in others:
            if other.id == c.id:
                continue
            days = overlap_days(c.start, c.end, other.start, other.end)
            if not days:
                continue
            shared_clouds = [x for x in c.clouds if x in other.clouds]
            for j, price in enumerate(c.prices):
                if not other.price_for(price.meter):
                    continue
                for cloud in shared_clouds:
                    problems.append(
                        doc.problem(
                            f"contracts[{i}].prices[{j}].meter",
                            "contract '{other}' also prices meter '{meter}' on cloud '{cloud}' between {start} and {end}",
                            other=other.id,
                            meter=price.meter,
                            cloud=cloud,
                            start=max(c.start, other.start),
                            end=min(c.end, other.end),
                        )
                    )
        others.append(c)


def _check_service_categories(
    items: list[tuple[int, ContractSpec]], existing: list[ContractSpec], doc: YamlDocument, problems: list[Problem]
) -> None:
    """Contracts of one service share its FOCUS category and subcategory (FOCUS: each ServiceName has
    exactly one ServiceCategory and one ServiceSubcategory), across the file and the registry."""
    in_file = {c.id for _, c in items}
    first: dict[str, ContractSpec] = {}
    for c in sorted((c for c in existing if c.id not in in_file), key=lambda c: c.id):
        first.setdefault(c.service, c)
    for i, c in items:
        other = first.setdefault(c.service, c)
        if (other.service_category, other.focus_subcategory) != (c.service_category, c.focus_subcategory):
            problems.append(
                doc.problem(
                    f"contracts[{i}].service_category",
                    "service '{service}' is in category {category} on contract '{other}': a service has one "
                    "category and subcategory",
                    service=c.service,
                    category=f"{other.service_category} / {other.focus_subcategory}",
                    other=other.id,
                )
            )
