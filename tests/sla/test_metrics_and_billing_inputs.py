"""Prometheus gauges read at scrape time, and the service entry points billing relies on."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from core.db import session_scope
from sla import evaluation, inputs, outages
from sla.metrics import SlaCollector
from tests.sla.conftest import BUREAU, DG_OPS, Clock

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 10, 11, 12, 0, tzinfo=SH)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_error_budget_and_burn_rates_are_computed_from_the_database_at_scrape_time(call, db) -> None:
    registry = CollectorRegistry()
    registry.register(SlaCollector(lambda: session_scope(engine=db), now=Clock(NOW)))
    before = _samples(registry)
    assert before[("zhengyun_sla_error_budget_remaining_ratio", (("contract", "PROV-2026"),))] == 1.0
    assert before[("zhengyun_sla_burn_rate_ratio", (("contract", "PROV-2026"), ("window", "1h")))] == 0.0

    # 30 minutes down, ending 10 minutes ago: inside the 1 h and 6 h windows, not the 5 m one
    call(
        outages.add_outage,
        actor=BUREAU,
        contract_id="PROV-2026",
        start=NOW - timedelta(minutes=40),
        end=NOW - timedelta(minutes=10),
        note="x",
        now=Clock(NOW),
    )
    after = _samples(registry)  # no re-registration: the collector reads the database on every scrape
    label = (("contract", "PROV-2026"),)
    budget = Decimal(31 * 86_400) * Decimal("0.001")  # 99.9 % of October: 2678.4 s
    assert after[("zhengyun_sla_error_budget_remaining_seconds", label)] == float(budget - 1800)
    assert after[("zhengyun_sla_error_budget_remaining_ratio", label)] == float((budget - 1800) / budget)
    burn = {
        w: after[("zhengyun_sla_burn_rate_ratio", (("contract", "PROV-2026"), ("window", w)))]
        for w in ("5m", "1h", "6h")
    }
    assert burn["5m"] == 0.0
    assert burn["1h"] == float(Decimal(1800) / 3600 / Decimal("0.001"))  # 500× the allowed rate
    assert burn["6h"] == float(Decimal(1800) / 21600 / Decimal("0.001"))
    gz = (("contract", "GZ-2026"),)
    assert after[("zhengyun_sla_error_budget_remaining_ratio", gz)] == 1.0
    assert after[("zhengyun_sla_availability_target_percent", gz)] == 99.5


def test_registering_the_collector_does_not_touch_the_database() -> None:
    def no_database():
        raise AssertionError("the database was read at registration")

    registry = CollectorRegistry()
    registry.register(SlaCollector(no_database))
    assert "zhengyun_sla_burn_rate_ratio" in registry._names_to_collectors


def test_sla_inputs_changed_at_follows_outages_maintenance_ratings_and_decisions(call, session) -> None:
    def changed() -> datetime | None:
        return call(inputs.sla_inputs_changed_at, contract_id="PROV-2026", period="2026-10")

    assert changed() is None
    t1 = datetime(2026, 11, 2, 9, tzinfo=SH)
    call(
        outages.add_outage,
        actor=BUREAU,
        contract_id="PROV-2026",
        start="2026-10-03T10:00:00+08:00",
        end="2026-10-03T10:30:00+08:00",
        now=Clock(t1),
    )
    assert changed() == t1
    call(
        outages.add_outage,
        actor=BUREAU,
        contract_id="PROV-2026",
        start="2026-09-03T10:00:00+08:00",
        end="2026-09-03T10:30:00+08:00",
        now=Clock(t1 + timedelta(hours=1)),
    )
    assert changed() == t1  # another period
    t2 = datetime(2026, 10, 20, 9, tzinfo=SH)
    window = call(
        outages.request_maintenance,
        actor=DG_OPS,
        contract_id="PROV-2026",
        start="2026-10-25T01:00:00+08:00",
        end="2026-10-25T02:00:00+08:00",
        now=Clock(t2),
    )
    assert changed() == t1
    t3 = t1 + timedelta(days=1)
    call(outages.decide_maintenance, actor=BUREAU, window_id=window.id, now=Clock(t3))
    assert changed() == t3
    t4 = t3 + timedelta(days=1)
    rating = call(
        evaluation.add_rating,
        actor=BUREAU,
        contract_id="PROV-2026",
        department_id="gd-edu",
        level=1,
        comment="slow",
        time="2026-10-30T10:00:00+08:00",
        now=Clock(t4),
    ).rating
    assert changed() == t4
    appeal = call(evaluation.appeal_rating, actor=DG_OPS, rating_id=rating.id, reason="no", now=Clock(t4))
    t5 = t4 + timedelta(hours=3)
    call(evaluation.decide_appeal, actor=BUREAU, appeal_id=appeal.id, uphold=True, now=Clock(t5))
    assert changed() == t5


def test_billing_entry_points_give_availability_and_score_without_an_acting_user(call) -> None:
    now = Clock(datetime(2026, 11, 5, tzinfo=SH))
    for department, level in (("gd-edu", 5), ("gd-fin", 5), ("sw-gaj", 4)):
        call(
            evaluation.add_rating,
            actor=BUREAU,
            contract_id="PROV-2026",
            department_id=department,
            level=level,
            time="2026-10-20T10:00:00+08:00",
            now=now,
        )
    result = call(inputs.availability_for, contract_id="PROV-2026", period="2026-10", now=now)
    assert (result.availability, result.insufficient) == (Decimal(100), False)
    score = call(evaluation.score_for, contract_id="PROV-2026", period="2026-10")
    assert (score.count, score.to_dict()["score"]) == (3, Decimal("91.666667"))
    provisional = call(inputs.availability_for, contract_id="PROV-2026", period="2026-11", now=now)
    assert provisional.eligible_seconds == 4 * 86_400  # so far: 1-4 November
