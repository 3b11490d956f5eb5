"""Marketplace operations as step lists, one module per family, run by
``engine.run_operation``. ``plan_for`` picks an operation's steps from its kind.

- ``purchase.py``: a purchase (reseller checks, customer, MCA, cart, checkout, provisioning)
- ``subscription.py``: seats, cancel, suspend, resume, auto-renew, partner of record
- ``transfer.py``: partner-to-partner transfers, as target and as source
- ``legacy.py``: legacy CSP to NCE moves (buy the NCE subscription, then end the legacy one)
- ``migration.py``: the same move by Microsoft's migration API
- ``upgrade.py``: upgrades and trial conversions (NCE transitions)
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.journal import Operation
from gateway.workflows import legacy, migration, purchase, subscription, transfer, upgrade
from gateway.workflows.engine import Plan

PLANNERS: dict[str, Callable[[Operation], Plan]] = {
    **dict.fromkeys(purchase.KINDS, purchase.plan),
    **dict.fromkeys(subscription.KINDS, subscription.plan),
    **dict.fromkeys(transfer.KINDS, transfer.plan),
    **dict.fromkeys(legacy.KINDS, legacy.plan),
    **dict.fromkeys(migration.KINDS, migration.plan),
    **dict.fromkeys(upgrade.KINDS, upgrade.plan),
}
KINDS = tuple(PLANNERS)


def plan_for(op: Operation) -> Plan:
    planner = PLANNERS.get(op.kind)
    if planner is None:
        raise ValueError(f"no workflow for operation kind {op.kind!r}")
    return planner(op)
