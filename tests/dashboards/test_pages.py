"""Every page for every role through Streamlit's AppTest: it renders, shows only what the role may see,
speaks Chinese by default, and shows a service's refusal as an error, never a traceback."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.i18n import translations
from dashboards.app import PAGES, pages_for
from tests.dashboards.conftest import APP, MONTH, text_of

ROLES = {"admin": "admin", "fin1": "finance", "aud": "auditor", "ops": "operator", "gat": "department"}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("user", sorted(ROLES))
def test_every_page_of_every_role_renders(page: Any, user: str, lang: str) -> None:
    keys = pages_for(ROLES[user])
    assert "overview" in keys and "bills" in keys
    for key in keys:
        at = page(user, key, lang=lang)
        assert not at.error, (user, key, [e.value for e in at.error])
        title = PAGES[key][0]
        assert (translations()[title] if lang == "zh" else title) in text_of(at)


def test_menus_follow_roles() -> None:
    assert "tenants" not in pages_for("department") and "audit" not in pages_for("department")
    assert "audit" not in pages_for("operator") and "audit" in pages_for("finance")
    assert "tenants" in pages_for("bureau")


def test_chinese_by_default_and_money_format(page: Any) -> None:
    at = page("fin1", "bills", lang="zh")
    at.button(key="run").click().run()
    shown = text_of(at)
    assert "账单" in shown and "应付金额" in shown
    assert "¥" in shown and "," in shown


def test_login_by_token_and_wrong_password(world: Any) -> None:
    token = world("users", "add", "bur", "--role", "bureau", "--json").json()["token"]
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["lang"] = "en"
    at.run()
    at.text_input(key="login-name").input("fin1")
    at.text_input(key="login-password").input("wrong")
    at.button[0].click().run()
    assert at.error and not at.exception
    at.text_input(key="login-name").input("")
    at.text_input(key="login-token").input(token)
    at.button[0].click().run()
    assert not at.exception
    assert "Signed in as bur (bureau)" in text_of(at)
    assert "Topology" in text_of(at)


def test_department_sees_only_its_own(page: Any) -> None:
    for key in ("usage", "ratings", "overview"):
        shown = text_of(page("gat", key))
        assert "gd-gat" in shown or key == "overview"
        for other in ("gd-edu", "sw-gaj", "gz-gaj"):
            assert other not in shown, (key, other)


def test_operator_sees_only_its_own(world: Any, page: Any) -> None:
    page("fin1", "bills").button(key="run").click().run()
    ops = text_of(page("ops", "bills"))
    gz = text_of(page("gzop", "bills"))
    assert "WORKED-IAAS-2026" in ops and "GZ-PAYG-2026" not in ops
    assert "GZ-PAYG-2026" in gz and "WORKED-IAAS-2026" not in gz
    for key in ("sla", "ratings", "usage", "overview"):
        assert "GZ-PAYG-2026" not in text_of(page("ops", key)), key
    ops_usage, gz_usage = text_of(page("ops", "usage")), text_of(page("gzop", "usage"))
    assert "gd-edu" in ops_usage and "gz-gaj" not in ops_usage
    assert "gz-gaj" in gz_usage and "gd-edu" not in gz_usage


def test_department_sees_its_share_of_a_bill(page: Any) -> None:
    page("fin1", "bills").button(key="run").click().run()
    at = page("gat", "bills")
    shown = text_of(at)
    assert "WORKED-IAAS-2026@" + MONTH in shown
    assert "gd-edu" not in shown and "gz-gaj" not in shown
    assert "your share" in shown
    listed = page("fin1", "bills").dataframe[0].value
    payable = listed.loc[listed["id"] == "WORKED-IAAS-2026@" + MONTH, "payable"].iloc[0]
    assert payable.startswith("¥") and payable not in shown  # the bill's total is not the department's
    assert payable not in text_of(page("gat", "overview"))


def test_four_eyes_error_in_page_then_second_user_approves(page: Any) -> None:
    at = page("fin1", "bills")
    at.button(key="run").click().run()
    at.selectbox(key="bill").set_value("WORKED-IAAS-2026@" + MONTH).run()
    at.button(key="approve").click().run()
    assert at.error and not at.exception  # the runner cannot approve its own run
    other = page("fin2", "bills")
    other.selectbox(key="bill").set_value("WORKED-IAAS-2026@" + MONTH).run()
    other.text_input(key="override").input("checked by hand").run()
    other.button(key="approve").click().run()
    assert not other.exception
    assert "approved" in text_of(other) or other.error  # a flagged bill explains why in the page


def test_paying_takes_the_reference_and_date_and_the_bill_shows_them(page: Any, world: Any) -> None:
    bill = "WORKED-IAAS-2026@" + MONTH
    page("fin1", "bills").button(key="run").click().run()
    approved = world("bills", "approve", bill, "--as", "fin2", "--override", "checked by hand", "--json")
    assert approved.code == 0, approved
    approver = page("fin2", "bills")
    approver.selectbox(key="bill").set_value(bill).run()
    approver.text_input(key="payment_reference").input("FZ-2026-1105-001").run()
    approver.text_input(key="payment_date").input("2026-11-05").run()
    approver.button(key="pay").click().run()
    assert not approver.exception and "four eyes: fin2 approved bill" in " ".join(e.value for e in approver.error)
    at = page("fin3", "bills", lang="zh")
    at.selectbox(key="bill").set_value(bill).run()
    assert {"付款凭证号", "付款日期"} <= {t.label for t in at.text_input}
    at.button(key="pay").click().run()  # nothing entered: refused, naming the field
    assert not at.exception and "付款凭证号为必填项" in text_of(at), text_of(at)
    at.text_input(key="payment_reference").input("FZ-2026-1105-001").run()
    at.text_input(key="payment_date").input("2026-11-05").run()
    at.button(key="pay").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = page("fin3", "bills", lang="zh")
    shown.selectbox(key="bill").set_value(bill).run()
    text = text_of(shown)
    assert "已支付：付款凭证号 FZ-2026-1105-001，付款日期 2026-11-05" in text, text
    listed = shown.dataframe[0].value
    row = listed.loc[listed["id"] == bill].iloc[0]
    assert (row["付款凭证号"], row["付款日期"]) == ("FZ-2026-1105-001", "2026-11-05")


def test_audit_verify_button(page: Any) -> None:
    at = page("aud", "audit")
    assert "users.add" in text_of(at) or "user" in text_of(at)
    at.button[0].click().run()
    assert "audit log intact" in text_of(at)


def test_forbidden_action_is_an_error_not_a_traceback(page: Any) -> None:
    at = page("ops", "audit")  # not in the operator's menu: the radio falls back, nothing leaks
    assert not at.exception


def test_excel_has_one_sheet_per_bill_with_allocations(page: Any) -> None:
    import io

    from openpyxl import load_workbook

    from billing.views import show_bills
    from dashboards.bills import excel
    from tests.dashboards.conftest import USERS
    from zhengyun import app

    page("fin1", "bills").button(key="run").click().run()
    bills = app.run(lambda s, a: show_bills(s, actor=a, period=MONTH), actor=USERS["fin1"])
    data = excel(bills)
    assert data is not None
    book = load_workbook(io.BytesIO(data))
    assert len(book.sheetnames) == len(bills)
    rows = list(book[bills[0].id.replace("@", " ")].iter_rows(values_only=True))
    assert rows[0][1] == bills[0].id and any(r[1] == "allocation" for r in rows)
    assert sum(r[5] for r in rows[2:] if r[1] != "allocation") == bills[0].payable


def test_formats_are_exact() -> None:
    from decimal import Decimal

    from dashboards.bills import unit_price
    from dashboards.common import money, number, percent, ratio

    assert money(Decimal("1234.56")) == "¥1,234.56" and money(Decimal("-0.5")) == "-¥0.50"
    assert money(None) == "—" and unit_price(Decimal("0.0125")) == "¥0.0125"
    assert number(Decimal("1500.000")) == "1,500" and number(Decimal("45000.50")) == "45,000.5"
    assert percent(Decimal("99.950000")) == "99.95%" and ratio(Decimal("0.333333")) == "33.333%"
    assert ratio(Decimal("Infinity")) == "∞"


def test_tenants_page_shows_each_clouds_block_and_the_departments_ranges(world: Any, page: Any) -> None:
    import yaml

    registry = yaml.safe_load(world("tenants", "export").stdout)
    block = next(c for c in registry["clouds"] if c["id"] == "gd-prov")["networks"][0]
    ranges = {d["id"]: d["network"] for d in registry["departments"]}
    for lang, heading in (("en", "Network ranges"), ("zh", "网络地址段")):
        at = page("admin", "tenants", lang=lang)
        shown = text_of(at)
        assert heading in shown and block in shown
        # the provincial cloud's departments, hosted Shanwei's among them, with their /22s
        assert at.selectbox(key="ranges-cloud").value == "gd-prov"
        for dept in ("gd-gat", "gd-edu", "sw-gaj"):
            assert dept in shown and ranges[dept] in shown, dept
        assert ranges["gz-gaj"] not in shown
        at.selectbox(key="ranges-cloud").set_value("gz").run()
        assert ranges["gz-gaj"] in text_of(at) and ranges["gd-gat"] not in text_of(at)


@pytest.mark.parametrize(
    ("lang", "status", "flag", "words"),
    [
        ("zh", "草稿", "含未定价用量", ["按量费用", "文件导入", "省级", "自建", "托管", "当前用户：fin1（财务）"]),
        # English shows an identifier in plain words: only a translated one differs from it (`unpriced_usage`)
        ("en", "draft", "unpriced usage", ["Signed in as fin1 (finance)"]),
    ],
)
def test_statuses_kinds_and_sources_are_shown_in_the_pages_language(
    page: Any, lang: str, status: str, flag: str, words: list[str]
) -> None:
    run = page("fin1", "bills", lang=lang)
    run.button(key="run").click().run()
    bills = page("fin1", "bills", lang=lang)  # the first bill drilled into: its lines' kinds
    listed = bills.dataframe[0].value
    assert set(listed[listed.columns[2]]) == {status}
    assert set(listed[listed.columns[3]]) == {"", flag}  # one bill holds unpriced usage
    shown = text_of(bills) + text_of(page("fin1", "sla", lang=lang)) + text_of(page("admin", "tenants", lang=lang))
    shown += "\n".join(str(c.value) for c in page("fin1", "overview", lang=lang).sidebar.caption)
    for word in words:
        assert word in shown, word
    untranslated = ("draft", "annual", "needs_review", "autonomous") if lang == "zh" else ("unpriced_usage",)
    for raw in untranslated:
        assert raw not in shown and raw not in set(listed[listed.columns[3]]), raw


#: the worked example's totals (docs/billing.md) and what they less gd-gat's own shares leave: none may
#: reach a department's pages (docs/reference.md#roles)
TOTALS = ["¥100,462.11", "¥118,190.72", "¥11,819.07", "¥5,909.54", "¥15,500.08", "¥772.84", "135,000.75", "90,000.25"]


@pytest.mark.parametrize(
    ("lang", "share", "payable"), [("en", "your share", "payable"), ("zh", "本部门分摊", "应付金额")]
)
def test_a_department_sees_its_share_labelled_as_its_share_and_no_total(
    page: Any, lang: str, share: str, payable: str
) -> None:
    page("fin1", "bills").button(key="run").click().run()
    for key in ("bills", "overview"):
        at = page("gat", key, lang=lang)
        shown = text_of(at)
        assert share in shown and "¥5,339.56" in shown, (key, shown)  # 172.84 + 5,166.72, its own
        assert payable not in shown, (key, shown)
        assert [x for x in TOTALS if x in shown] == [], key
    bills = page("gat", "bills", lang=lang)
    bills.toggle(key="downloads").set_value(True).run()  # a department may download its shares too
    assert not bills.exception and not bills.error


def test_a_departments_excel_holds_its_shares_and_no_total(page: Any) -> None:
    import io

    from openpyxl import load_workbook

    from billing.views import show_bills
    from dashboards.bills import excel
    from tests.dashboards.conftest import USERS
    from zhengyun import app

    page("fin1", "bills").button(key="run").click().run()
    bills = app.run(lambda s, a: show_bills(s, actor=a, period=MONTH), actor=USERS["gat"])
    data = excel(bills)
    assert data is not None
    book = load_workbook(io.BytesIO(data))
    rows = list(book[book.sheetnames[0]].iter_rows(values_only=True))
    assert rows[0][4] == "share" and str(rows[0][5]) == "5339.56"
    assert [r[5] for r in rows[2:]] == ["gd-gat", "gd-gat"]
    assert sum(Decimal(str(r[6])) for r in rows[2:]) == Decimal("5339.56")
    cells = {str(c) for r in rows for c in r if c is not None}
    assert not cells & {"payable", "100462.11", "118190.72", "15500.08", "135000.75", "gd-edu", "sw-gaj"}


@pytest.mark.parametrize("month", ["２０２６-１１", "٢٠٢٦-١١", "9999-12", "0001-01"])
def test_the_month_box_takes_the_one_period_rule(page: Any, month: str) -> None:
    """The sidebar's month is `Period.parse`'s (docs/reference.md#periods-and-times): full-width or
    Arabic-Indic digits are not November, years outside 2000–2099 are refused — said, never a traceback."""
    at = page("fin1", "bills")
    at.session_state["period"] = month
    at.run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and "a year from 2000 to 2099" in errors[0], errors
    assert "2026-11" not in text_of(at)  # not read as November
    at.session_state["period"] = MONTH
    at.run()
    assert not at.sidebar.error
