"""The one look-up of the province's timezone (`tenants.service.province_zone`)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from core.db import make_engine
from core.errors import NotFound
from tenants.models import DEFAULT_TIMEZONE, Province
from tenants.service import province_zone


def test_before_any_import_the_zone_is_the_default_given_or_not_found(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        assert province_zone(session, before_import=DEFAULT_TIMEZONE) == ZoneInfo("Asia/Shanghai")
        with pytest.raises(NotFound):
            province_zone(session)
        session.add(Province(code="p", name="P", timezone="Asia/Urumqi"))
        session.flush()
        assert province_zone(session) == ZoneInfo("Asia/Urumqi")
        assert province_zone(session, before_import=DEFAULT_TIMEZONE) == ZoneInfo("Asia/Urumqi")
    engine.dispose()
