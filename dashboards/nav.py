"""The pages and which roles see them (the menu; each page still calls services that check)."""

from __future__ import annotations

from collections.abc import Callable

from dashboards.bills import bills_page
from dashboards.overview import overview_page, tenants_page, usage_page
from dashboards.quality import audit_page, ratings_page, sla_page

#: page key -> (English title, page function, roles that see it; None: every role)
PAGES: dict[str, tuple[str, Callable[[], None], frozenset[str] | None]] = {
    "overview": ("Overview", overview_page, None),
    "tenants": ("Tenants", tenants_page, frozenset({"admin", "bureau", "auditor"})),
    "usage": ("Usage", usage_page, None),
    "sla": ("SLA", sla_page, None),
    "ratings": ("Ratings", ratings_page, None),
    "bills": ("Bills", bills_page, None),
    "audit": ("Audit", audit_page, frozenset({"admin", "bureau", "finance", "auditor"})),
}


def pages_for(role: str) -> list[str]:
    """The page keys a role may open, in menu order."""
    return [key for key, (_t, _f, roles) in PAGES.items() if roles is None or role in roles]
