"""Schemathesis over the OpenAPI document: generated requests to every operation are never a 5xx.

Bounded (a few examples per operation) so that it runs in every test run; a bad request must be a
4xx with a reason, whatever its shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from core.db import dispose_engines, make_engine
from core.settings import get_settings
from zhengyun.api.main import create_app

DATA = Path(__file__).resolve().parents[1] / "billing" / "data"
API = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", API)


@pytest.fixture
def bureau_token(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The API on a registry with the worked example; a bureau user's token for every request."""
    from tests.conftest import Cli

    monkeypatch.setenv("ZHENGYUN_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ZHENGYUN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    dispose_engines()
    cli = Cli()
    assert cli("tenants", "import", DATA / "worked_tenancy.yaml").code == 0
    assert cli("contracts", "import", DATA / "worked_contracts.yaml").code == 0
    token = cli("users", "add", "fuzz", "--role", "bureau", "--json").json()["token"]
    API.state.engine = make_engine(sqlite_url)
    yield token
    API.state.engine.dispose()
    API.state.engine = None
    get_settings.cache_clear()
    dispose_engines()


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_generated_request_is_a_server_error(case: Any, bureau_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {bureau_token}"}, checks=[not_a_server_error])
