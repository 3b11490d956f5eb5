"""Rule-based, seeded fault injection for ``/v1`` calls (``POST /_sim/faults``).

A rule matches on method and a regex *searched* in the path (with ``/v1``, without the query),
fires with its ``probability`` drawn from its own seeded generator, ``times`` times (absent: until
deleted), and acts before any state changes: wait ``latencyMs``, then drop the connection
(``reset``) or answer ``status`` with a Partner Center body (a 429 carries ``Retry-After`` and
Microsoft's throttling body). A rule with only ``latencyMs`` slows calls and lets them through.

Extensions beyond the contract, for the faults a gateway must survive that no status shows:

- ``resetAfter``: the call is served (its change applied, its answer kept for a repeat of its
  ``MS-RequestId``), then the connection is dropped before the answer is written: the client
  cannot tell whether Partner Center applied it. The request log keeps it, with its status.
- ``body`` (``bodyRepeat`` times, default once): answer ``status`` (default 200) with exactly
  these bytes as ``application/json``, before any state changes: a malformed or oversized
  answer from upstream.

LIMITATIONS: only ``/v1`` calls can be faulted (not sign-in, not ``/_sim``); the first matching
rule wins, in the order rules were added.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, field_validator

from simulator.wire import Inbound


class FaultSpec(Inbound):
    method: str | None = None
    path: str | None = None
    status: int | None = Field(default=None, ge=400, le=599)
    code: int | None = None
    description: str | None = None
    times: int | None = Field(default=None, ge=1)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    seed: int | None = None
    retry_after: int | None = Field(default=None, ge=0)
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    reset: bool = False
    reset_after: bool = False
    body: str | None = Field(default=None, max_length=1_000_000)
    body_repeat: int = Field(default=1, ge=1, le=64 * 1024 * 1024)

    @field_validator("path")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"path is not a valid regular expression: {exc}") from None
        return value


@dataclass(slots=True)
class Fault:
    id: str
    spec: FaultSpec
    pattern: re.Pattern[str] | None
    rng: random.Random
    remaining: int | None
    fired: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        spec = self.spec
        if spec.method is not None and spec.method.upper() != method:
            return False
        if self.pattern is not None and self.pattern.search(path) is None:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        return spec.probability >= 1.0 or self.rng.random() < spec.probability

    def consume(self) -> None:
        self.fired += 1
        if self.remaining is not None:
            self.remaining -= 1

    def render(self) -> dict[str, Any]:
        spec = self.spec
        out: dict[str, Any] = {
            "id": self.id,
            "method": spec.method,
            "path": spec.path,
            "status": spec.status,
            "code": spec.code,
            "description": spec.description,
            "times": spec.times,
            "remaining": self.remaining,
            "probability": spec.probability,
            "seed": spec.seed,
            "retryAfter": spec.retry_after,
            "latencyMs": spec.latency_ms,
            "reset": spec.reset,
            "resetAfter": spec.reset_after,
            "body": spec.body,
            "bodyRepeat": spec.body_repeat,
            "fired": self.fired,
        }
        return out


def make_fault(fault_id: str, spec: FaultSpec) -> Fault:
    return Fault(
        id=fault_id,
        spec=spec,
        pattern=re.compile(spec.path) if spec.path else None,
        rng=random.Random(spec.seed),
        remaining=spec.times,
    )


def first_match(faults: list[Fault], method: str, path: str) -> Fault | None:
    for fault in faults:
        if fault.matches(method, path):
            fault.consume()
            return fault
    return None
