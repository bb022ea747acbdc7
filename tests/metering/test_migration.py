"""Migration 0005 (events keyed by (cloud, event_id), no fingerprint) keeps stored events both ways."""

from __future__ import annotations

from sqlalchemy import text

from core.db import make_engine
from tests.conftest import migrate
from tests.metering.conftest import stored

OLD_EVENT = (
    "INSERT INTO usage_event (cloud_id, event_id, department_id, meter, time, quantity, resource_id, "
    "attributes, fingerprint, received_at) VALUES ('gd-prov', 'old-1', 'gd-edu', 'vcpu_hours', "
    "'2026-10-01 05:00:00.000000', 1500000, 'vm-1', :attributes, 'f', '2026-10-02 00:00:00.000000')"
)


def _execute(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement), {"attributes": '{"a":1}'} if ":attributes" in statement else {})
    finally:
        engine.dispose()


def test_events_stored_before_0005_survive_it_and_its_downgrade(province, db_url) -> None:
    migrate(db_url, "0004", down=True)
    _execute(db_url, "INSERT INTO usage_series VALUES ('gd-prov', 'gd-edu', 'vcpu_hours')", OLD_EVENT)
    expected = {
        ("gd-prov", "old-1", "gd-edu", "vcpu_hours", "2026-10-01 05:00:00.000000", 1_500_000, "vm-1", '{"a":1}')
    }
    migrate(db_url, "heads")
    assert stored(db_url) == expected
    migrate(db_url, "0004", down=True)
    assert stored(db_url) == expected
    migrate(db_url, "heads")
    assert stored(db_url) == expected
    assert province("audit", "verify").code == 0
