"""Marketplace operations as step lists (``purchase.py``, ``subscription.py``), run by
``engine.run_operation``. ``plan_for`` picks an operation's steps from its kind."""

from __future__ import annotations

from gateway.journal import Operation
from gateway.workflows import purchase, subscription
from gateway.workflows.engine import Plan

KINDS = ("purchase", *subscription.KINDS)


def plan_for(op: Operation) -> Plan:
    if op.kind == "purchase":
        return purchase.plan(op)
    return subscription.plan(op)
