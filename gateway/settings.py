"""The gateway's one settings object, read from ``PCGW_*`` environment variables.

Every variable may instead name a file: ``PCGW_PC_CLIENT_SECRET_FILE=/run/secrets/pc`` reads the
secret from there (a trailing newline dropped), as Docker and Kubernetes mount secrets. Secrets
never come from the command line, where the process list shows them to every user.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from gateway.throttle import check_burst


class GatewaySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8080
    #: Who may call the northbound API. ``keys``: an API key per marketplace (``pcgw keys``),
    #: each seeing only its own operations, customers and subscriptions. ``off``: no key, one
    #: implicit marketplace ``default`` that sees everything (``pcgw up``'s loopback sandbox).
    auth: Literal["keys", "off"] = "keys"
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
    #: The largest Partner Center answer read; a bigger one fails its call (status kept) instead
    #: of filling memory. Microsoft's pages are far smaller.
    pc_max_response_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    #: The largest northbound request body; a bigger one is a 413 naming this limit.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)

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
    #: On SIGTERM no new step starts; the steps running may finish for this long (and open
    #: requests as long again). A step still running then is cancelled and its operation handed
    #: back at once, to go on (same ``MS-RequestId``) in the next process or another replica.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=600)

    # -- webhooks (issue 10) --
    #: Partner Center's events at ``POST /v1/partner-center/events`` are taken only when signed
    #: with this key (the simulator's ``PCSIM_WEBHOOK_SECRET``); unset, that route answers 404
    #: and waiting operations only poll.
    pc_webhook_secret: SecretStr | None = None
    #: With ``auth=off``: where the one marketplace ``default`` gets its operation events, and the
    #: key they are signed with (keyed marketplaces use ``pcgw webhooks set``). Both or neither.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    #: Attempts to deliver one operation event before it is marked failed, the wait before the
    #: second (doubling each time) and the longest wait, the time a receiver has to answer.
    webhook_max_attempts: int = Field(default=12, ge=1, le=100)
    webhook_retry_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    #: Delivered and failed events are deleted this many days after they finished.
    webhook_retention_days: float = Field(default=7.0, gt=0)

    @model_validator(mode="after")
    def _burst_fits_the_limit(self) -> GatewaySettings:
        if self.throttle_burst is not None:
            try:
                check_burst(self.pc_rate_limit_per_minute, self.throttle_burst)
            except ValueError as exc:
                raise ValueError(f"throttle_burst (for pc_rate_limit_per_minute): {exc}") from exc
        return self

    @model_validator(mode="after")
    def _webhook_for_default(self) -> GatewaySettings:
        if (self.webhook_url is None) != (self.webhook_secret is None):
            raise ValueError("webhook_url and webhook_secret (PCGW_WEBHOOK_URL and "
                             "PCGW_WEBHOOK_SECRET or _FILE) go together: set both or neither")  # fmt: skip
        if self.webhook_url is None or self.webhook_secret is None:
            return self
        if self.auth != "off":
            raise ValueError("webhook_url (PCGW_WEBHOOK_URL) is the endpoint of the one "
                             "marketplace 'default' of PCGW_AUTH=off; with API keys run `pcgw "
                             "webhooks set <marketplace> <url>` instead")  # fmt: skip
        from gateway.webhooks.endpoints import check_secret, check_url

        check_url(self.webhook_url, "webhook_url (PCGW_WEBHOOK_URL)")
        check_secret(self.webhook_secret.get_secret_value(), "webhook_secret (PCGW_WEBHOOK_SECRET)")
        return self

    @classmethod
    def from_env(cls, **overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            env = secret_from_env(f"PCGW_{name.upper()}")
            if env is not None:
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)


class SettingsError(ValueError):
    """A setting that cannot be read; the message names the variable and what is wrong."""


def secret_from_env(name: str) -> str | None:
    """``$NAME``, or the content of the file ``$NAME_FILE`` names (one trailing newline
    dropped); None when neither is set. Both set, a missing or unreadable file, or an empty
    one is an error: a secret silently empty would fail later, far from its cause."""
    value, path = os.environ.get(name), os.environ.get(f"{name}_FILE")
    if path is None:
        return value
    if value is not None:
        raise SettingsError(f"{name} and {name}_FILE are both set; set one")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{name}_FILE: no file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{name}_FILE: cannot read {path} ({exc.__class__.__name__})") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise SettingsError(f"{name}_FILE: {path} is empty")
    return text
