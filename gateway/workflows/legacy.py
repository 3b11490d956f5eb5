"""Legacy CSP to NCE moves as one operation (issue 5): filled in by its owner."""

from __future__ import annotations

from gateway.journal import Operation
from gateway.workflows.engine import Plan

KINDS: tuple[str, ...] = ()


def plan(op: Operation) -> Plan:
    raise ValueError(f"no legacy workflow for {op.kind!r}")
