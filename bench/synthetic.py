"""Deterministic synthetic registries of province scale, for tests and benchmarks.

`generate_registry` builds a tenancy document (docs/reference.md#tenancy-file) and a contracts document (docs/reference.md#contracts-file) as
plain Python data, shaped exactly like what `yaml.safe_load` returns for the files: money, prices
and shares are strings, dates are `datetime.date`. The same arguments always give the same
documents (a `random.Random(seed)` drives every choice).

The registry respects the rules the importers enforce:

* one provincial cloud, some industry clouds and city clouds of every tier; hosted cities have no
  operator and name the provincial cloud as `host`;
* departments are placed where they may be: provincial ones on the provincial or an industry
  cloud, city and county ones on their city's cloud (the provincial cloud for a hosted city); no
  cloud holds more than `MAX_DEPARTMENTS_PER_CLOUD`, and the /22 per department fits the supernet;
* every cloud with its own infrastructure is covered by a contract of its operator; no two
  contracts price the same cloud and meter on overlapping days (each pricing contract owns a
  disjoint set of clouds for the core meters, and add-on contracts price one extra meter each);
* annual fees, usage prices and evaluation (the three pay models) all appear.

Run `python bench/synthetic.py DIR [--clouds N] [--departments N] [--contracts N] [--seed N]` to
write `DIR/tenancy.yaml` and `DIR/contracts.yaml`.
"""

from __future__ import annotations

import argparse
import math
import random
from datetime import date
from pathlib import Path
from typing import Any

import yaml

YEAR = 2026
MAX_DEPARTMENTS_PER_CLOUD = 4000
SUPERNET = "10.0.0.0/8"
# The first /16 of the /8 supernet is the platform's; every cloud with infrastructure needs at
# least one /16, and a /16 holds 64 department /22s.
_FREE_BLOCKS = 255
_DEPARTMENTS_PER_BLOCK = 64

PROVINCE = {
    "code": "sim",
    "name": "示范省",
    "timezone": "Asia/Shanghai",
    "currency": "CNY",
    "supernet": SUPERNET,
}

CORE_METERS = ("vcpu_hours", "memory_gib_hours", "storage_gib_hours", "egress_gib")
EXTRA_METERS = [{"code": "backup_gib_hours", "unit": "GiB·h", "description": "备份存储"}]

_INDUSTRIES = [
    ("health", "卫生健康"),
    ("public-security", "公安"),
    ("transport", "交通运输"),
    ("ecology", "生态环境"),
    ("emergency", "应急管理"),
    ("education", "教育"),
    ("water", "水利"),
    ("agriculture", "农业农村"),
    ("market", "市场监管"),
    ("social-security", "人力资源和社会保障"),
]

_CARRIERS = [
    ("op-ct", "中国电信股份有限公司{p}分公司"),
    ("op-cm", "中国移动通信集团{p}有限公司"),
    ("op-cu", "中国联合网络通信有限公司{p}分公司"),
]

# Characters for synthetic place names (cities: two characters + 市; counties: + 县 or 区).
_NAME_HEAD = "东西南北清安永长平龙阳兴广怀丰和华德宁新江云海金宝临瑞泰嘉乐昌汉福明"
_NAME_TAIL = "江山城海源川宁平丰安水林河阳湖州门溪岭阜庆远浦定化兴德"

# (id suffix, name template, kind); `{s}` is the province, city or county name.
_PROVINCIAL_BUREAUS = [
    ("swbgt", "中共{s}委办公厅", "party"),
    ("swzzb", "中共{s}委组织部", "party"),
    ("swxcb", "中共{s}委宣传部", "party"),
    ("rdbgt", "{s}人大常委会办公厅", "congress"),
    ("zxbgt", "政协{s}委员会办公厅", "cppcc"),
    ("zfbgt", "{s}人民政府办公厅", None),
    ("fgw", "{s}发展和改革委员会", None),
    ("jyt", "{s}教育厅", None),
    ("kjt", "{s}科学技术厅", None),
    ("gxt", "{s}工业和信息化厅", None),
    ("gat", "{s}公安厅", None),
    ("mzt", "{s}民政厅", None),
    ("sft", "{s}司法厅", None),
    ("czt", "{s}财政厅", None),
    ("rst", "{s}人力资源和社会保障厅", None),
    ("zrzyt", "{s}自然资源厅", None),
    ("sthjt", "{s}生态环境厅", None),
    ("zjt", "{s}住房和城乡建设厅", None),
    ("jtt", "{s}交通运输厅", None),
    ("slt", "{s}水利厅", None),
    ("nynct", "{s}农业农村厅", None),
    ("swt", "{s}商务厅", None),
    ("whlyt", "{s}文化和旅游厅", None),
    ("wjw", "{s}卫生健康委员会", None),
    ("tyjrt", "{s}退役军人事务厅", None),
    ("yjglt", "{s}应急管理厅", None),
    ("sjt", "{s}审计厅", None),
    ("scjgj", "{s}市场监督管理局", None),
    ("tjj", "{s}统计局", None),
    ("ybj", "{s}医疗保障局", None),
    ("zsj", "{s}政务服务和数据管理局", None),
    ("lyj", "{s}林业局", None),
    ("yjj", "{s}药品监督管理局", None),
    ("xfj", "{s}信访局", None),
]

_CITY_BUREAUS = [
    ("swbgs", "中共{s}委办公室", "party"),
    ("rdbgs", "{s}人大常委会办公室", "congress"),
    ("zxbgs", "政协{s}委员会办公室", "cppcc"),
    ("zfbgs", "{s}人民政府办公室", None),
    ("gaj", "{s}公安局", None),
    ("jyj", "{s}教育局", None),
    ("wjj", "{s}卫生健康局", None),
    ("jtj", "{s}交通运输局", None),
    ("zsj", "{s}政务服务和数据管理局", None),
    ("czj", "{s}财政局", None),
    ("rsj", "{s}人力资源和社会保障局", None),
    ("sthjj", "{s}生态环境局", None),
    ("zjj", "{s}住房和城乡建设局", None),
    ("scjgj", "{s}市场监督管理局", None),
    ("yjglj", "{s}应急管理局", None),
    ("mzj", "{s}民政局", None),
    ("zrzyj", "{s}自然资源局", None),
    ("nyncj", "{s}农业农村局", None),
    ("slj", "{s}水务局", None),
    ("swj", "{s}商务局", None),
    ("wglj", "{s}文化广电旅游体育局", None),
    ("sjj", "{s}审计局", None),
    ("tjj", "{s}统计局", None),
    ("ybj", "{s}医疗保障局", None),
    ("sfj", "{s}司法局", None),
    ("fgj", "{s}发展和改革局", None),
    ("gxj", "{s}工业和信息化局", None),
    ("tyjrj", "{s}退役军人事务局", None),
]

_COUNTY_BUREAUS: list[tuple[str, str, str | None]] = [
    ("zfbgs", "{s}人民政府办公室", None),
    ("gaj", "{s}公安局", None),
    ("jyj", "{s}教育局", None),
    ("wjj", "{s}卫生健康局", None),
    ("zsj", "{s}政务服务数据管理局", None),
    ("czj", "{s}财政局", None),
    ("rsj", "{s}人力资源和社会保障局", None),
    ("scjgj", "{s}市场监督管理局", None),
    ("yjglj", "{s}应急管理局", None),
    ("mzj", "{s}民政局", None),
    ("nyncj", "{s}农业农村局", None),
    ("zjj", "{s}住房和城乡建设局", None),
]

# Subordinate units, used once a scope has more departments than bureaus.
_UNITS = [
    ("", ""),
    ("xxzx", "信息中心"),
    ("sjzx", "数据中心"),
    ("zhzx", "指挥中心"),
    ("fwzx", "政务服务中心"),
    ("jczx", "监测中心"),
    ("zfzd", "执法支队"),
    ("dazx", "档案中心"),
    ("jsdd", "技术大队"),
    ("kfzx", "热线服务中心"),
]

_VCPU_SIZES = {
    "provincial": [64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048],
    "city": [32, 48, 64, 96, 128, 192, 256, 384, 512],
    "county": [8, 16, 24, 32, 48, 64, 96],
}
_QUOTA_SHARE = 0.85  # share of departments that carry a quota


def generate_registry(
    *, clouds: int = 25, departments: int = 2000, contracts: int = 40, seed: int = 0
) -> tuple[dict, dict]:
    """Return (tenancy_document, contracts_document) for a synthetic province, deterministically."""
    if clouds < 1:
        raise ValueError("clouds must be at least 1 (the provincial cloud)")
    if departments < 0:
        raise ValueError("departments must not be negative")
    if contracts < 1:
        raise ValueError("contracts must be at least 1")
    rng = random.Random(seed)
    operators, cloud_list = _clouds(clouds, rng)
    _limit_operators(cloud_list, contracts)
    dept_list = _departments(cloud_list, departments, rng)
    contract_list = _contracts(cloud_list, contracts, rng)
    used_ops = {c["operator"] for c in cloud_list if "operator" in c}
    tenancy = {
        "province": dict(PROVINCE),
        "operators": [op for op in operators if op["id"] in used_ops],
        "clouds": cloud_list,
        "departments": dept_list,
    }
    return tenancy, {"meters": [dict(m) for m in EXTRA_METERS], "contracts": contract_list}


def write_registry(directory: Path, **kwargs: Any) -> tuple[Path, Path]:
    """Write `tenancy.yaml` and `contracts.yaml` into `directory`; return their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tenancy, contracts = generate_registry(**kwargs)
    paths = (directory / "tenancy.yaml", directory / "contracts.yaml")
    for path, doc in zip(paths, (tenancy, contracts), strict=True):
        with path.open("w", encoding="utf-8") as fh:
            yaml.safe_dump(doc, fh, allow_unicode=True, sort_keys=False)
    return paths


# --- clouds and operators -------------------------------------------------------------------


def _place_names(rng: random.Random, count: int, suffix: str, taken: set[str]) -> list[str]:
    """`count` distinct synthetic place names ending in `suffix`, none of them in `taken`."""
    combos = [h + t for h in _NAME_HEAD for t in _NAME_TAIL if h != t]
    rng.shuffle(combos)
    if count > len(combos):  # very large provinces: add three-character names
        combos = [c + t for t in _NAME_TAIL for c in combos[:count]] + combos
    names: list[str] = []
    while len(names) < count:
        name = combos.pop() + suffix
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def _clouds(count: int, rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Operators and clouds: 1 provincial, some industry, then city clouds of every tier."""
    pname = PROVINCE["name"]
    code = PROVINCE["code"]
    region = f"cn-{code}-1"
    n_industry = 0 if count < 3 else max(1, (count - 1) // 6)
    n_city = count - 1 - n_industry
    n_hosted = n_city // 4
    n_auto = min(n_city - n_hosted, max(1, n_city // 10)) if n_city else 0
    n_standard = n_city - n_hosted - n_auto

    operators = [{"id": "op-prov", "name": f"{pname}数字政府建设运营有限公司"}]
    operators += [{"id": oid, "name": tmpl.format(p=pname)} for oid, tmpl in _CARRIERS]
    carriers = [oid for oid, _ in _CARRIERS]

    clouds = [
        {
            "id": "prov",
            "kind": "provincial",
            "name": f"{pname}政务云",
            "operator": "op-prov",
            "region": region,
        }
    ]
    industry_ops = ["op-prov", *carriers]
    start = rng.randrange(len(industry_ops))
    for i in range(n_industry):
        ind, label = _INDUSTRIES[i % len(_INDUSTRIES)]
        if i >= len(_INDUSTRIES):
            ind, label = f"{ind}-{i // len(_INDUSTRIES) + 1}", f"{label}{i // len(_INDUSTRIES) + 1}"
        clouds.append(
            {
                "id": f"ind-{ind}",
                "kind": "industry",
                "industry": ind,
                "name": f"{label}行业云",
                "operator": industry_ops[(start + i) % len(industry_ops)],
                "region": region,
            }
        )

    names = _place_names(rng, n_city, "市", set())
    width = max(2, len(str(n_city)))
    start = rng.randrange(len(carriers))
    for i, name in enumerate(names):
        cid = f"c{i + 1:0{width}d}"
        cloud: dict[str, Any] = {"id": cid, "kind": "city", "city": name}
        if i < n_auto:
            op_id = f"op-{cid}"
            operators.append({"id": op_id, "name": f"{name}数字政府运营中心"})
            cloud.update(tier="autonomous", name=f"{name}政务云", operator=op_id, region=f"cn-{code}-{cid}")
        elif i < n_auto + n_standard:
            cloud.update(
                tier="standard",
                name=f"{name}政务云",
                operator=carriers[(start + i) % len(carriers)],
                region=f"cn-{code}-{cid}",
            )
        else:
            cloud.update(tier="hosted", name=f"{name}政务云", host="prov")
        clouds.append(cloud)
    return operators, clouds


def _limit_operators(clouds: list[dict], most: int) -> None:
    """Hand the clouds of surplus operators to the first `most` ones, so `most` contracts cover all."""
    order: list[str] = []
    for c in clouds:
        if "operator" in c and c["operator"] not in order:
            order.append(c["operator"])
    kept = order[:most]
    for i, c in enumerate(c for c in clouds if c.get("operator") not in (None, *kept)):
        c["operator"] = kept[i % len(kept)]


# --- departments ----------------------------------------------------------------------------


def _scope_names(
    prefix: str, place: str, bureaus: list[tuple[str, str, str | None]], count: int, rng: random.Random
) -> list[tuple[str, str, str | None]]:
    """`count` distinct (id, name, kind) departments of one scope (province, city or county)."""
    order = list(bureaus)
    # keep the party/congress/cppcc offices and the government office first, shuffle the rest
    head = [b for b in order if b[2] is not None or b[0].startswith("zfb")]
    tail = [b for b in order if b not in head]
    rng.shuffle(tail)
    order = head + tail
    out = []
    for k in range(count):
        abbr, template, kind = order[k % len(order)]
        round_ = k // len(order)
        if round_ < len(_UNITS):
            u_abbr, u_name = _UNITS[round_]
        else:
            u_abbr, u_name = f"u{round_}", f"第{round_}分中心"
        dept_id = f"{prefix}-{abbr}" + (f"-{u_abbr}" if u_abbr else "")
        name = template.format(s=place) + u_name
        out.append((dept_id, name, kind))
    return out


def _quota(level: str, rng: random.Random) -> dict[str, int] | None:
    """A realistic quota, or None for the departments that have none."""
    if rng.random() >= _QUOTA_SHARE:
        return None
    vcpu = rng.choice(_VCPU_SIZES[level])
    return {
        "vcpu": vcpu,
        "memory_gib": vcpu * rng.choice((2, 4, 4, 8)),
        "storage_gib": vcpu * rng.choice((64, 128, 200, 256, 400)),
    }


def _departments(clouds: list[dict], count: int, rng: random.Random) -> list[dict]:
    """Departments placed on the clouds they may use, grouped by province, city and county."""
    prov = clouds[0]["id"]
    industry = [c["id"] for c in clouds if c["kind"] == "industry"]
    cities = [c for c in clouds if c["kind"] == "city"]
    own_infra = [c["id"] for c in clouds if c.get("tier") != "hosted"]
    _check_capacity(own_infra, count)

    n_county = round(count * 0.15) if cities else 0
    n_prov = max(1, round(count * 0.12)) if cities else count
    n_prov = min(n_prov, count)
    n_county = min(n_county, count - n_prov)
    n_city = count - n_prov - n_county

    load = {cid: 0 for cid in own_infra}
    city_weight = {"autonomous": 6, "standard": 3, "hosted": 1}
    home = {c["id"]: (prov if c["tier"] == "hosted" else c["id"]) for c in cities}

    def pick(targets: list[str], weights: list[int], cloud_of) -> str:
        """Choose a target by weight among those whose cloud still has room."""
        open_ = [(t, w) for t, w in zip(targets, weights, strict=True) if load[cloud_of(t)] < MAX_DEPARTMENTS_PER_CLOUD]
        if not open_:
            raise ValueError(f"no room left: every eligible cloud holds {MAX_DEPARTMENTS_PER_CLOUD} departments")
        target = rng.choices([t for t, _ in open_], [w for _, w in open_])[0]
        load[cloud_of(target)] += 1
        return target

    # provincial departments: on the provincial cloud (weight 3) or an industry cloud (weight 1)
    prov_targets = [prov, *industry]
    prov_weights = [3 * max(1, len(industry))] + [1] * len(industry)
    prov_clouds = [pick(prov_targets, prov_weights, lambda t: t) for _ in range(n_prov)]

    city_ids = [c["id"] for c in cities]
    weights = [city_weight[c["tier"]] for c in cities]
    per_city = {cid: 0 for cid in city_ids}
    for _ in range(n_city):
        per_city[pick(city_ids, weights, home.__getitem__)] += 1
    counties = {cid: _place_names(rng, rng.randint(3, 8), "", set()) for cid in city_ids}
    per_county: dict[tuple[str, int], int] = {}
    for _ in range(n_county):
        cid = pick(city_ids, weights, home.__getitem__)
        key = (cid, rng.randrange(len(counties[cid])))
        per_county[key] = per_county.get(key, 0) + 1

    out: list[dict] = []
    for (dept_id, name, kind), cloud in zip(
        _scope_names("p", PROVINCE["name"], _PROVINCIAL_BUREAUS, n_prov, rng), prov_clouds, strict=True
    ):
        out.append(_department(dept_id, name, "provincial", kind, None, cloud, rng))
    for c in cities:
        cid = c["id"]
        for dept_id, name, kind in _scope_names(cid, c["city"], _CITY_BUREAUS, per_city[cid], rng):
            out.append(_department(dept_id, name, "city", kind, cid, home[cid], rng))
        for j, county in enumerate(counties[cid]):
            n = per_county.get((cid, j), 0)
            if not n:
                continue
            suffix = "区" if j % 2 else "县"
            place = c["city"] + county + suffix
            for dept_id, name, kind in _scope_names(f"{cid}-x{j + 1}", place, _COUNTY_BUREAUS, n, rng):
                out.append(_department(dept_id, name, "county", kind, cid, home[cid], rng))
    return out


def _department(
    dept_id: str, name: str, level: str, kind: str | None, city: str | None, cloud: str, rng: random.Random
) -> dict:
    """One department entry in docs/reference.md#tenancy-file key order."""
    dept: dict[str, Any] = {"id": dept_id, "name": name, "level": level}
    if kind:
        dept["kind"] = kind
    if city:
        dept["city"] = city
    dept["cloud"] = cloud
    quota = _quota(level, rng)
    if quota:
        dept["quota"] = quota
    return dept


def _check_capacity(own_infra: list[str], count: int) -> None:
    """Refuse sizes that cannot be placed or cannot get a /22 each inside the supernet."""
    if count > MAX_DEPARTMENTS_PER_CLOUD * len(own_infra):
        raise ValueError(
            f"{count} departments do not fit {len(own_infra)} clouds of at most "
            f"{MAX_DEPARTMENTS_PER_CLOUD} departments each"
        )
    blocks = len(own_infra) + max(0, math.ceil(count / _DEPARTMENTS_PER_BLOCK))
    if blocks > _FREE_BLOCKS:
        raise ValueError(
            f"{len(own_infra)} clouds and {count} departments may need up to {blocks} /16 "
            f"blocks; the supernet {SUPERNET} has {_FREE_BLOCKS}"
        )


# --- contracts ------------------------------------------------------------------------------

_FLAT_PRICES = {
    "vcpu_hours": ("0.09", "0.10", "0.11", "0.12", "0.13"),
    "memory_gib_hours": ("0.015", "0.018", "0.02", "0.022"),
    "storage_gib_hours": ("0.0004", "0.00045", "0.0005", "0.0006"),
    "egress_gib": ("0.40", "0.45", "0.50", "0.55"),
    "gpu_hours": ("9.00", "10.00", "11.00", "12.00"),
    "api_calls": ("0.00005", "0.00008", "0.0001"),
    "backup_gib_hours": ("0.0002", "0.00025", "0.0003"),
}
# add-on services: (service, meter, FOCUS ServiceCategory)
_ADDONS = [
    ("backup", "backup_gib_hours", "Storage"),
    ("ai-compute", "gpu_hours", "AI and Machine Learning"),
    ("api-gateway", "api_calls", "Other"),
]
# services paid without usage prices (annual fee and evaluation only): they never conflict
_UNPRICED_SERVICES = [
    ("security-ops", "Security"),
    ("database-ops", "Databases"),
    ("data-analytics", "Analytics"),
    ("network-ops", "Networking"),
]
_PATTERNS = ("mixed", "usage", "evaluation", "annual")


def _money(rng: random.Random, low: int, high: int) -> str:
    """A fee in whole ten-thousands of yuan, as a two-decimal string."""
    return f"{rng.randrange(low, high) * 10000}.00"


def _sla(rng: random.Random) -> dict:
    """An SLA block with three credit tiers."""
    target = rng.choice(("99.9", "99.95", "99.99"))
    return {
        "availability_target": target,
        "credits": [
            {"below": target, "credit": rng.choice(("0.05", "0.10"))},
            {"below": "99.0", "credit": rng.choice(("0.20", "0.25"))},
            {"below": "95.0", "credit": "1.00"},
        ],
    }


def _evaluation(rng: random.Random, at_risk: str) -> dict:
    """An evaluation block whose payout table ends with the mandatory min_score 0 row."""
    return {
        "at_risk": at_risk,
        "payout": [
            {"min_score": "90", "pays": "1.00"},
            {"min_score": "80", "pays": "0.80"},
            {"min_score": "60", "pays": "0.50"},
            {"min_score": "0", "pays": rng.choice(("0.00", "0.20"))},
        ],
        "min_ratings": rng.choice((3, 3, 5)),
    }


def _core_prices(rng: random.Random, pattern: str) -> list[dict]:
    """Prices for the core meters, using flat, graduated and volume models."""
    prices: list[dict] = []
    for meter in CORE_METERS:
        flat = rng.choice(_FLAT_PRICES[meter])
        if meter == "vcpu_hours" and pattern in ("mixed", "evaluation"):
            prices.append(
                {
                    "meter": meter,
                    "model": "graduated",
                    "tiers": [
                        {"up_to": "100000", "unit_price": "0.12"},
                        {"up_to": "500000", "unit_price": "0.10"},
                        {"up_to": None, "unit_price": "0.08"},
                    ],
                }
            )
        elif meter == "storage_gib_hours" and pattern == "usage":
            prices.append(
                {
                    "meter": meter,
                    "model": "volume",
                    "tiers": [
                        {"up_to": "50000000", "unit_price": "0.0006"},
                        {"up_to": None, "unit_price": "0.00045"},
                    ],
                }
            )
        else:
            prices.append({"meter": meter, "model": "flat", "unit_price": flat})
    return prices


def _contract(cid: str, operator: str, clouds: list[str], service: str, category: str, start: date, end: date) -> dict:
    """The common head of a contract, in docs/reference.md#contracts-file key order."""
    # fresh date objects, so that yaml.safe_dump writes plain dates rather than anchors and aliases
    return {
        "id": cid,
        "operator": operator,
        "clouds": list(clouds),
        "service": service,
        "service_category": category,
        "currency": PROVINCE["currency"],
        "start": date(start.year, start.month, start.day),
        "end": date(end.year, end.month, end.day),
    }


def _contracts(clouds: list[dict], count: int, rng: random.Random) -> list[dict]:
    """Contracts covering every cloud with infrastructure, never pricing a cloud+meter twice."""
    groups: dict[str, list[str]] = {}
    for c in clouds:
        if "operator" in c:
            groups.setdefault(c["operator"], []).append(c["id"])
    if count < len(groups):
        raise ValueError(
            f"at least {len(groups)} contracts are needed (one per operator) for every cloud to be covered; got {count}"
        )
    units = [(op, ids) for op, ids in groups.items()]
    while len(units) < count:  # split the largest multi-cloud unit in two
        i = max(range(len(units)), key=lambda k: len(units[k][1]))
        op, ids = units[i]
        if len(ids) < 2:
            break
        half = (len(ids) + 1) // 2
        units[i : i + 1] = [(op, ids[:half]), (op, ids[half:])]

    code = PROVINCE["code"].upper()
    year_start, year_end = date(YEAR, 1, 1), date(YEAR, 12, 31)
    out: list[dict] = []
    for i, (op, ids) in enumerate(units):
        pattern = _PATTERNS[i % len(_PATTERNS)]
        c = _contract(f"{code}-{ids[0].upper()}-IAAS-{YEAR}", op, ids, "iaas", "Compute", year_start, year_end)
        if pattern != "usage":
            c["annual_fee"] = _money(rng, 30 * len(ids), 300 * len(ids))
        c["prices"] = _core_prices(rng, pattern)
        if pattern in ("mixed", "annual"):
            c["sla"] = _sla(rng)
        if pattern == "mixed":
            c["evaluation"] = _evaluation(rng, "0.10")
            c["max_deduction"] = "0.50"
            c["probes"] = [
                {
                    "name": "portal",
                    "kind": "http",
                    "url": f"https://{ids[0]}.{code.lower()}.example/health",
                    "expect_status": 200,
                    "timeout_s": 5,
                },
                {
                    "name": "api-tcp",
                    "kind": "tcp",
                    "host": f"api.{ids[0]}.{code.lower()}.example",
                    "port": 443,
                    "timeout_s": 3,
                    "interval_s": 60,
                    "confirm": 2,
                },
            ]
        elif pattern == "evaluation":
            c["evaluation"] = _evaluation(rng, "0.30")
            c["max_deduction"] = "0.30"
        out.append(c)

    # add-on contracts: each prices one extra meter on one unit's clouds, at most once per unit
    extra = count - len(out)
    pairs = [(u, (r + u) % len(_ADDONS)) for r in range(len(_ADDONS)) for u in range(len(units))]
    for u, a in pairs[:extra]:
        op, ids = units[u]
        service, meter, category = _ADDONS[a]
        start = date(YEAR, 7, 1) if service == "ai-compute" and u % 2 else year_start
        c = _contract(f"{code}-{ids[0].upper()}-{service.upper()}-{YEAR}", op, ids, service, category, start, year_end)
        c["prices"] = [{"meter": meter, "model": "flat", "unit_price": rng.choice(_FLAT_PRICES[meter])}]
        if service == "ai-compute":
            c["evaluation"] = _evaluation(rng, "0.05")
        out.append(c)

    # beyond that, services paid per year and by evaluation, without usage prices
    for k in range(count - len(out)):
        op, ids = units[k % len(units)]
        service, category = _UNPRICED_SERVICES[(k // len(units)) % len(_UNPRICED_SERVICES)]
        round_ = k // (len(units) * len(_UNPRICED_SERVICES))
        cid = f"{code}-{ids[0].upper()}-{service.upper()}-{YEAR}" + (f"-{round_ + 1}" if round_ else "")
        c = _contract(cid, op, ids, service, category, year_start, year_end)
        c["annual_fee"] = _money(rng, 10, 100)
        c["evaluation"] = _evaluation(rng, "0.30")
        c["max_deduction"] = "0.30"
        out.append(c)
    return out


def main(argv: list[str] | None = None) -> None:
    """Write a synthetic registry to the directory given on the command line."""
    parser = argparse.ArgumentParser(description="Write a synthetic tenancy.yaml and contracts.yaml.")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--clouds", type=int, default=25)
    parser.add_argument("--departments", type=int, default=2000)
    parser.add_argument("--contracts", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in write_registry(
        args.directory,
        clouds=args.clouds,
        departments=args.departments,
        contracts=args.contracts,
        seed=args.seed,
    ):
        print(path)


if __name__ == "__main__":
    main()
