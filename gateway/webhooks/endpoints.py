"""Where each marketplace gets its operation events: one URL and one signing secret per API key
name (the journal ``owner``), set by an operator with ``pcgw webhooks`` on the gateway's
database, or for ``PCGW_AUTH=off`` by ``PCGW_WEBHOOK_URL`` / ``PCGW_WEBHOOK_SECRET``.

The secret is made here (32 random bytes) and shown once, when it is made. The gateway keeps it
as it is, not hashed: it must compute the signature with it on every delivery.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from gateway.api.auth import IMPLICIT_OWNER
from gateway.keys import KeyStore, check_name
from gateway.webhooks.outbox import WebhookStore

SECRET_PREFIX = "whsec_"
MIN_SECRET = 16
MAX_URL = 2000


class EndpointRefused(Exception):
    """An operator's request that cannot be done; the message says why and what to do."""


def check_url(url: str, field: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    del port  # read only to refuse a malformed one
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{field} must be an absolute http:// or https:// URL, got {url!r}")
    if parts.username or parts.password:
        raise ValueError(f"{field} must not carry a user or password (the signature proves "
                         "who sends; credentials in a URL end up in logs)")  # fmt: skip
    if len(url) > MAX_URL:
        raise ValueError(f"{field} must be at most {MAX_URL} characters")
    return url


def check_secret(secret: str, field: str) -> str:
    if len(secret) < MIN_SECRET:
        raise ValueError(f"{field} must be at least {MIN_SECRET} characters")
    return secret


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


async def _known(keys: KeyStore, name: str) -> str:
    try:
        check_name(name)
    except Exception as exc:
        raise EndpointRefused(str(exc)) from None
    if name != IMPLICIT_OWNER and not any(k.name == name for k in await keys.list_keys()):
        raise EndpointRefused(f"no marketplace is named {name!r}: `pcgw keys list` shows them "
                              f"('{IMPLICIT_OWNER}' is the one of PCGW_AUTH=off)")  # fmt: skip
    return name


async def set_endpoint(
    store: WebhookStore, keys: KeyStore, name: str, url: str, now: datetime, *, keep_secret: bool
) -> str | None:
    """Point ``name``'s events at ``url``; returns the new secret (to be shown once), or
    ``None`` with ``keep_secret`` (the URL changes, the receiver's secret stays valid)."""
    await _known(keys, name)
    try:
        check_url(url, "URL")
    except ValueError as exc:
        raise EndpointRefused(str(exc)) from None
    if keep_secret:
        try:
            await store.set_endpoint(name, url, None, now)
        except LookupError:
            raise EndpointRefused(f"marketplace {name!r} has no webhook yet, so no secret to "
                                  "keep: leave out --keep-secret") from None  # fmt: skip
        return None
    secret = new_secret()
    await store.set_endpoint(name, url, secret, now)
    return secret


async def show(store: WebhookStore, name: str, failures: int = 10) -> dict[str, Any]:
    """The endpoint (never its secret), its events by status, and the recent ones not
    delivered: still being retried, or given up on."""
    endpoint = await store.endpoint(name)
    if endpoint is None:
        raise EndpointRefused(f"marketplace {name!r} has no webhook (`pcgw webhooks set {name} "
                              "URL` makes one)")  # fmt: skip
    counts = await store.counts(name)
    return {
        "marketplace": name,
        "url": endpoint.url,
        "createdAt": endpoint.created_at.isoformat(timespec="seconds"),
        "updatedAt": endpoint.updated_at.isoformat(timespec="seconds"),
        "events": {status: counts.get(status, 0) for status in ("pending", "delivered", "failed")},
        "undelivered": [d.view() for d in await store.recent(name, failures)],
    }


async def remove(store: WebhookStore, name: str, now: datetime) -> None:
    if not await store.remove_endpoint(name, now):
        raise EndpointRefused(f"marketplace {name!r} has no webhook")
