"""Cross-domain wiring: the one place where a domain's hook is registered in another.

A lower layer cannot import a higher one, so the registry learns about approved bills through a
hook: before a contract's terms change, it asks every registered guard which approved periods the
contract has. Registering that hook used to be a side effect of importing `billing.models`; a
process that never imported billing (an API worker, a dashboard) would then have let terms change
under approved bills. Every entry point calls `wire()` explicitly instead (the application layer
`zhengyun.app` does it for every command, request, page action and job).
"""

from __future__ import annotations


def wire() -> None:
    """Register every cross-domain hook; calling it again changes nothing."""
    from billing.models import locked_periods
    from tenants.service import register_contract_term_guard

    register_contract_term_guard(locked_periods)
