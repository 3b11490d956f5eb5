"""Who is calling: the northbound API key, sent as ``Authorization: Bearer <key>`` (or
``X-Api-Key: <key>``), names the marketplace, and that name is the journal ``owner`` of what the
request submits or reads (``gateway.keys`` makes the keys, ``gateway.tenancy`` draws the lines).

Every route needs a key except the public ones (the OpenAPI document). A request without a
valid key is refused with 401 and ``WWW-Authenticate: Bearer`` before its handler runs, in the
same error shape as every other refusal. The key is checked against the database on every
request — no cache — so a revoked or rotated key stops working at once, on every replica. No
"last used" time is written: that would be a write per request on the journal's database.

With ``PCGW_AUTH=off`` no key is asked for and every caller is the one marketplace
``default`` (the loopback sandbox of ``pcgw up``; operations made so belong to a key named
``default`` if one is made later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.api.errors import CORRELATION, ApiError, problem
from gateway.api.ui import ASSETS as UI_ASSETS
from gateway.clock import Clock
from gateway.keys import KeyStore, hash_key, looks_like_a_key
from gateway.tenancy import OwnerStore

#: The marketplace of every request when auth is off.
IMPLICIT_OWNER = "default"
#: The OpenAPI document and the operations page's files (which hold no data); Partner Center's
#: webhook events, which prove their sender by their signature (``gateway.webhooks.inbound``);
#: the Prometheus metrics (aggregate numbers only, no tenant's data: ``gateway.metrics``).
PUBLIC = frozenset({"/openapi.json", *UI_ASSETS, "/v1/partner-center/events", "/metrics"})
OWNER = web.RequestKey("owner", str)
CHALLENGE = 'Bearer realm="pcgw"'


class AccessStore(KeyStore, OwnerStore, Protocol):
    """Keys and ownership, on the journal's database."""


@dataclass(slots=True)
class Access:
    """The app's auth mode, and its store once the app's resources are open."""

    mode: str
    clock: Clock
    store: AccessStore | None = None


ACCESS = web.AppKey("access", Access)


def caller(request: web.Request) -> str:
    """The marketplace making the request (``default`` with auth off)."""
    return request[OWNER]


def presented_key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Refused("the Authorization header must be `Bearer <API key>`", "Authorization")
        return token.strip()
    return request.headers.get("X-Api-Key", "").strip() or None


class _Refused(Exception):
    def __init__(self, message: str, field: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        self.message, self.field, self.invalid = message, field, invalid


async def _owner(request: web.Request, access: Access) -> str:
    store = access.store
    if store is None:
        raise RuntimeError("the gateway's resources are not open (the app has not started)")
    key = presented_key(request)
    if key is None:
        if not await store.any_keys():
            raise _Refused("this gateway requires an API key and none has been made yet: run "
                           "`pcgw keys create <marketplace>` against its database and send the key "
                           "as `Authorization: Bearer <key>`", "Authorization")  # fmt: skip
        raise _Refused("an API key is required: send `Authorization: Bearer <key>` (or "
                       "`X-Api-Key: <key>`); `pcgw keys create <marketplace>` makes one",
                       "Authorization")  # fmt: skip
    field = "Authorization" if "Authorization" in request.headers else "X-Api-Key"
    owner = None
    if looks_like_a_key(key):
        owner = await store.key_owner(hash_key(key), access.clock())
    if owner is None:
        raise _Refused("the API key is not valid: unknown, rotated or revoked", field, invalid=True)
    return owner


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Inside the error middleware (which gave the request its correlation id), outside every
    handler."""
    access = request.app[ACCESS]
    if access.mode == "off" or request.path in PUBLIC:
        request[OWNER] = IMPLICIT_OWNER
        return await handler(request)
    try:
        owner = await _owner(request, access)
    except _Refused as refused:
        response = problem(
            ApiError(401, "unauthorized", refused.message, refused.field), request[CORRELATION]
        )
        response.headers["WWW-Authenticate"] = (
            f'{CHALLENGE}, error="invalid_token"' if refused.invalid else CHALLENGE
        )
        return response
    request[OWNER] = owner
    structlog.contextvars.bind_contextvars(marketplace=owner)
    return await handler(request)
