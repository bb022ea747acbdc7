"""Dashboard fixtures: the billing worked example with users, and an AppTest signed in as one of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tenants.permissions import Actor
from tests.billing.conftest import world  # noqa: F401 - the fixture, re-exported

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"
MONTH = "2026-10"

#: the worked example's users (tests/billing/conftest.py) as the dashboards know them
USERS = {
    "admin": Actor("admin", "admin"),
    "fin1": Actor("fin1", "finance"),
    "fin2": Actor("fin2", "finance"),
    "fin3": Actor("fin3", "finance"),
    "aud": Actor("aud", "auditor"),
    "ops": Actor("ops", "operator", operator_id="dgcloud"),
    "gzop": Actor("gzop", "operator", operator_id="gzops"),
    "gat": Actor("gat", "department", department_id="gd-gat"),
}


def text_of(at: AppTest) -> str:
    """Everything an AppTest page shows as text: markdown, headers, tables, metrics, messages."""
    parts: list[str] = []
    for kind in ("markdown", "header", "subheader", "caption", "title", "error", "success", "warning", "info"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [e.value.to_csv() for e in at.dataframe]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


@pytest.fixture
def page(world: Any) -> Callable[..., AppTest]:  # noqa: F811 - the fixture above
    """`page(user, key, lang="en")`: the app signed in as a worked-example user, on one page."""

    def open_(user: str, key: str, lang: str = "en") -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.session_state["actor"] = USERS[user]
        at.session_state["lang"] = lang
        at.session_state["period"] = MONTH
        at.session_state["page"] = key
        at.run()
        assert not at.exception, at.exception
        return at

    return open_
