"""The gateway's one settings object, read from ``PCGW_*`` environment variables."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from gateway.throttle import check_burst


class GatewaySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8080
    #: SQLite file by default; ``postgresql://…`` for the scaled-out shape.
    database_url: str = "sqlite:///pcgw.db"

    pc_base_url: str = "https://api.partnercenter.microsoft.com"
    pc_login_url: str = "https://login.microsoftonline.com"
    pc_tenant_id: str = ""
    pc_client_id: str = ""
    pc_client_secret: SecretStr = SecretStr("")
    pc_resource: str = "https://api.partnercenter.microsoft.com"
    #: Seconds for one upstream call (connect + answer).
    pc_timeout: float = 60.0

    #: Concurrent operations one gateway process runs.
    workers: int = Field(default=16, ge=1, le=2048)
    #: A worker's hold on an operation; another worker may take it once this runs out.
    lease_seconds: float = 60.0
    #: Microsoft asks to resubmit two minutes after a 409 during renewal.
    renewal_retry_seconds: float = 120.0
    #: Polling back-off for orders still provisioning: first wait, cap.
    order_poll_seconds: float = 2.0
    order_poll_max_seconds: float = 60.0
    #: How often to look whether a reseller or a customer accepted an invitation.
    invitation_poll_seconds: float = 60.0
    #: An invitation nobody accepts fails the operation after this long.
    invitation_expiry_days: float = 30.0
    #: Times an operation may find Partner Center unreachable before it fails, and the first
    #: wait between those times (doubling each time, at most five minutes).
    max_unavailable_attempts: int = 12
    unavailable_backoff_seconds: float = 2.0
    #: Retries inside one Partner Center call (429, 5xx, no answer), all with one MS-RequestId:
    #: attempts, back-off base and jitter without Retry-After, and the longest Retry-After slept
    #: on in place (a longer one reschedules the step instead of holding a worker).
    pc_retry_attempts: int = Field(default=6, ge=1)
    pc_retry_backoff_seconds: float = 0.5
    pc_retry_jitter_seconds: float = 1.0
    pc_max_retry_after_seconds: float = 60.0
    #: Catalog answers and positive reseller checks are cached this long (negative: never).
    catalog_ttl_seconds: float = 3600.0
    reseller_ttl_seconds: float = 600.0
    #: The catalog country used to resolve plan codes.
    catalog_country: str = "US"

    # -- scale-out (issue 8) --
    #: Redis for the throttle shared by replicas (``redis://127.0.0.1:6379/0``); without it each
    #: process keeps its own in-memory limiter with the same interface.
    redis_url: str | None = None
    #: Calls per minute to spend of each partner tenant's (and partner + customer pair's) budget:
    #: a little under Microsoft's 500, because the two windows count a call at different moments
    #: (we when it leaves, Partner Center when it arrives), so calls near a window's edge count
    #: in different minutes on the two sides. 0 turns the budget off.
    pc_rate_limit_per_minute: int = Field(default=480, ge=0)
    #: Calls a quiet key may send at once before the rest are paced ``60 / limit`` seconds apart
    #: (``gateway.throttle`` says why); unset: a tenth of the limit. At most half the limit.
    throttle_burst: int | None = Field(default=None, ge=1)
    #: Claims of one operation after which it is dead-lettered for an operator to look at.
    max_operation_attempts: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _burst_fits_the_limit(self) -> GatewaySettings:
        if self.throttle_burst is not None:
            try:
                check_burst(self.pc_rate_limit_per_minute, self.throttle_burst)
            except ValueError as exc:
                raise ValueError(f"throttle_burst (for pc_rate_limit_per_minute): {exc}") from exc
        return self

    @classmethod
    def from_env(cls, **overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            env = os.environ.get(f"PCGW_{name.upper()}")
            if env is not None:
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
