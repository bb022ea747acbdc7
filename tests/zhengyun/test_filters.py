"""docs/reference.md#roles, #http-api: over a real server, a department's or an operator's filters never widen
its scope — a filter naming another's contract, department or cloud returns nothing of theirs (or 403/404),
never more than the unfiltered list. One case per list endpoint; and a department's bill over HTTP is its
own share, never a total."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.zhengyun.test_http import CONTRACT, DATA, Server
from tests.zhengyun.test_http import world as http_world  # noqa: F401 - the fixture, re-exported

GZ = "GZ-PAYG-2026"
PERIOD = "2026-10"
#: what is not the user's: other departments and the contracts not on its clouds
FOREIGN = {
    "gat": ["gd-edu", "sw-gaj", "gz-gaj", GZ],
    "gzop": ["gd-edu", "gd-gat", "sw-gaj", CONTRACT],
    "ops": ["gz-gaj", GZ],
}


@pytest.fixture
def province(http_world: tuple[Server, dict[str, str]], cli: Any, tmp_path: Path) -> Iterator[Any]:  # noqa: F811
    """The worked example with SLA records, ratings and tickets on both operators' contracts, billed."""
    server, tokens = http_world
    assert cli("usage", "import", str(DATA / "worked_usage.csv"), "--json").json()["accepted"] == 10
    outages = tmp_path / "outages.csv"
    outages.write_text(
        (DATA / "worked_outages.csv").read_text(encoding="utf-8")
        + f"{GZ},2026-10-07T10:00:00+08:00,2026-10-07T10:30:00+08:00,import,gz router\n",
        encoding="utf-8",
    )
    maintenance = tmp_path / "maintenance.csv"
    maintenance.write_text(
        (DATA / "worked_maintenance.csv").read_text(encoding="utf-8")
        + f"{GZ},2026-10-08T02:00:00+08:00,2026-10-08T03:00:00+08:00,2026-10-01T09:00:00+08:00,true\n",
        encoding="utf-8",
    )
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(
        (DATA / "worked_ratings.csv").read_text(encoding="utf-8")
        + f"gz-gaj,{GZ},2026-10-28T10:00:00+08:00,1,gz too slow\n",  # a bad review: a ticket for gzops
        encoding="utf-8",
    )
    for command in (("sla", "outages"), ("sla", "maintenance"), ("ratings",)):
        path = {"outages": outages, "maintenance": maintenance, "ratings": ratings}[command[-1]]
        result = cli(*command, "import", str(path), "--json")
        assert result.code == 0, result
    assert cli("bills", "run", "--period", PERIOD, "--as", "fin1").code == 0
    yield server, tokens


def _lines(response: httpx.Response) -> list[str]:
    """A response as comparable items: the entries of its JSON lists, or its text lines."""
    if "json" not in response.headers.get("content-type", ""):
        return response.text.splitlines()
    data = response.json()
    if isinstance(data, dict) and any(isinstance(v, list) for v in data.values()):
        return [json.dumps(x, sort_keys=True) for v in data.values() if isinstance(v, list) for x in v]
    return [json.dumps(data, sort_keys=True)]


#: (user, the unfiltered request, the same with a filter naming what is not the user's)
CASES = [
    # bills: the list takes no contract filter (ignored), a bill of another's contract is not found
    ("gat", f"/v1/bills?period={PERIOD}", f"/v1/bills?period={PERIOD}&contract={GZ}&department=gd-edu"),
    ("gat", f"/v1/bills/{PERIOD}", f"/v1/bills/{PERIOD}?contract={GZ}"),
    ("gzop", f"/v1/bills/{PERIOD}", f"/v1/bills/{PERIOD}?contract={CONTRACT}"),
    ("gzop", f"/v1/bills/{PERIOD}/export?format=csv", f"/v1/bills/{PERIOD}/export?format=csv&contract={CONTRACT}"),
    # usage
    ("gat", f"/v1/usage?period={PERIOD}", f"/v1/usage?period={PERIOD}&department=gd-edu"),
    ("gat", f"/v1/usage?period={PERIOD}", f"/v1/usage?period={PERIOD}&cloud=gz"),
    ("gzop", f"/v1/usage?period={PERIOD}", f"/v1/usage?period={PERIOD}&department=gd-gat"),
    ("gzop", f"/v1/usage?period={PERIOD}", f"/v1/usage?period={PERIOD}&cloud=gd-prov"),
    # ratings
    ("gat", "/v1/ratings", "/v1/ratings?department=sw-gaj"),
    ("gat", "/v1/ratings", f"/v1/ratings?contract={GZ}"),
    ("gzop", "/v1/ratings", f"/v1/ratings?contract={CONTRACT}"),
    ("ops", "/v1/ratings", "/v1/ratings?department=gz-gaj"),
    # outages
    ("gat", f"/v1/outages?contract={CONTRACT}&period={PERIOD}", f"/v1/outages?contract={GZ}&period={PERIOD}"),
    ("gzop", f"/v1/outages?contract={GZ}&period={PERIOD}", f"/v1/outages?contract={CONTRACT}&period={PERIOD}"),
    # maintenance
    ("gat", "/v1/maintenance", f"/v1/maintenance?contract={GZ}"),
    ("gzop", "/v1/maintenance", f"/v1/maintenance?contract={CONTRACT}"),
    # tickets: sw-gaj's bad review of the contract gd-gat also uses is not gd-gat's
    ("gat", "/v1/tickets", f"/v1/tickets?contract={CONTRACT}"),
    ("gat", "/v1/tickets", f"/v1/tickets?contract={GZ}"),
    ("ops", "/v1/tickets", f"/v1/tickets?contract={GZ}"),
    # contracts and tenants take no filters: one given is ignored, never obeyed
    ("gat", "/v1/contracts", f"/v1/contracts?operator=gzops&contract={GZ}"),
    ("gzop", "/v1/contracts", "/v1/contracts?operator=dgcloud&cloud=gd-prov"),
    ("gat", "/v1/tenants", "/v1/tenants?department=gd-edu&cloud=gz"),
    ("gat", "/v1/tenants/export", "/v1/tenants/export?department=gd-edu&cloud=gz"),
    ("gzop", "/v1/tenants/export", "/v1/tenants/export?operator=dgcloud&cloud=gd-prov"),
]


@pytest.mark.parametrize(("user", "plain", "filtered"), CASES, ids=[f"{u} {f}" for u, _p, f in CASES])
def test_a_filter_naming_anothers_records_never_widens_the_scope(
    province: tuple[Server, dict[str, str]], user: str, plain: str, filtered: str
) -> None:
    server, tokens = province
    with server.client(tokens[user], **{"Accept-Language": "en"}) as http:
        base, narrowed = http.get(plain), http.get(filtered)
    assert base.status_code == 200, (plain, base.text)
    assert narrowed.status_code in (200, 403, 404), (filtered, narrowed.status_code, narrowed.text)
    if narrowed.status_code == 200:  # a refusal may echo the name asked for, nothing else
        assert [x for x in FOREIGN[user] if x in narrowed.text] == [], (filtered, narrowed.text[:2000])
        extra = [x for x in _lines(narrowed) if x not in _lines(base)]
        assert extra == [], (filtered, extra[:5])


def test_a_department_reads_its_share_over_http_never_a_total(province: tuple[Server, dict[str, str]]) -> None:
    server, tokens = province
    with server.client(tokens["gat"]) as http:
        (listed,) = http.get("/v1/bills", params={"period": PERIOD}).json()["bills"]
        shown = http.get(f"/v1/bills/{PERIOD}", params={"contract": CONTRACT})
        exported = http.get(f"/v1/bills/{PERIOD}/export", params={"format": "csv"})
        focus = http.get(f"/v1/bills/{PERIOD}/export", params={"format": "focus"})
    assert listed["share"] == "5339.56" and "payable" not in listed and "stale" not in listed
    (bill,) = shown.json()["bills"]
    assert bill["share"] == "5339.56" and not {"base", "payable", "sla_credit", "corrections", "lines"} & set(bill)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["row"] for r in rows} == {"share"} and {r["department"] for r in rows} == {"gd-gat"}
    assert sorted(r["BilledCost"] for r in csv.DictReader(io.StringIO(focus.text))) == ["172.84", "5166.72"]
    for text in (shown.text, exported.text, focus.text, json.dumps(listed)):
        for total in ("100462.11", "118190.72", "15500.08", "135000.75", "90000.25", "772.84"):
            assert total not in text, (total, text[:2000])
