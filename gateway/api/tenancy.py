"""The handlers' ownership checks (``gateway.tenancy`` has the rules): whatever the caller may
not see answers as if it did not exist."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from gateway.api.auth import ACCESS, caller
from gateway.api.errors import ApiError
from gateway.tenancy import OwnerStore


def _store(request: web.Request) -> OwnerStore | None:
    """``None`` when nothing is checked (auth off)."""
    access = request.app[ACCESS]
    if access.mode == "off":
        return None
    if access.store is None:
        raise RuntimeError("the gateway's resources are not open (the app has not started)")
    return access.store


async def require_customer(request: web.Request, customer_id: str) -> None:
    store = _store(request)
    if store is not None and not await store.owns_customer(caller(request), customer_id.lower()):
        raise ApiError(404, "not_found", f"customer {customer_id} does not exist")


async def require_subscription(
    request: web.Request, customer_id: str, subscription_id: str, *, field: str | None = None
) -> None:
    """The caller's customer, and a subscription that is the caller's or nobody's."""
    store = _store(request)
    if store is None:
        return
    me = caller(request)
    owners = await store.subscription_owners([subscription_id.lower()])
    if (
        not await store.owns_customer(me, customer_id.lower())
        or owners.get(subscription_id.lower(), me) != me
    ):
        raise ApiError(404, "not_found",
                       f"subscription {subscription_id} of customer {customer_id} does not exist",
                       field)  # fmt: skip


async def others(request: web.Request, subscription_ids: Iterable[str]) -> set[str]:
    """Those of ``subscription_ids`` (lower-cased) that another marketplace owns, to leave out
    of a listing of a customer the caller owns."""
    store = _store(request)
    if store is None:
        return set()
    me = caller(request)
    owners = await store.subscription_owners(s.lower() for s in subscription_ids)
    return {s for s, owner in owners.items() if owner != me}
