"""The simulator dashboard at ``/_sim/ui``: a static page (HTML, one vanilla JS file, one
stylesheet; no build step) over one read-only control endpoint, ``GET /_sim/ui/data``.

Why a data endpoint of its own rather than ``/_sim/state``: the dump holds every record in full
(and partners' client secrets), while the page needs a bounded, newest-first slice with what the
contract leaves for a client to work out — whether each window is open and how much *simulated*
time it has left, and where a subscription's renewal stands. The contract's endpoints stay as
they are; the page moves the clock with the contract's own ``POST /_sim/clock/advance``.

The page's shell holds no data, so it is served without ``X-Sim-Key`` (``control.check_key``
lets exactly these paths through); every data call the page makes carries the key the user
typed (or gave as ``?key=``). With the control plane off, the shell is 404 like the rest of
``/_sim``.

LIMITATIONS:
- Lists are the newest ``limit`` records of each kind (default 100, at most 1,000); the totals
  say how many there are. There is no search or paging.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from aiohttp import web

from simulator import legacy, lifecycle
from simulator.context import Simulator, sim_of
from simulator.control import render_config, render_partner
from simulator.errors import sim_error
from simulator.models import Subscription, Transfer
from simulator.wire import day, iso, respond
from simulator.world import World

STATIC = Path(__file__).parent / "static"
#: URL path -> (file under ``static``, Content-Type).
ASSETS = {
    "/_sim/ui": ("dashboard.html", "text/html"),
    "/_sim/ui/dashboard.js": ("dashboard.js", "text/javascript"),
    "/_sim/ui/dashboard.css": ("dashboard.css", "text/css"),
    "/_sim/ui/favicon.svg": ("favicon.svg", "image/svg+xml"),
}
#: Scripts and styles from this origin only, no inline code: whatever a record holds is shown
#: as text and could not run even if it slipped into markup.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


def _left(until: datetime | None, now: datetime) -> int:
    """Whole simulated seconds until ``until`` (0 once it has passed)."""
    if until is None or until < now:
        return 0
    return int((until - now).total_seconds())


def renewal(sub: Subscription, world: World) -> dict[str, Any]:
    """Where the subscription's term is going, as ``lifecycle`` will take it there: ``state``
    is ``renewing`` (in progress), ``renews``, ``converts`` (a trial), ``expires`` (auto-renew
    off, or a commercial legacy subscription), ``ended`` or ``none`` (perpetual)."""
    now = world.now
    if sub.status in ("expired", "disabled", "deleted"):
        return {"state": "ended"}
    if sub.renewing_since is not None:
        done = sub.renewing_since + world.config.renewal_processing
        return {"state": "renewing", "at": iso(done), "secondsLeft": _left(done, now)}
    if sub.commitment_end is None:
        return {"state": "none"}
    at = lifecycle.midnight_after(sub.commitment_end)
    renews = sub.auto_renew and not (legacy.is_legacy(sub) and sub.segment == "commercial")
    state = ("converts" if sub.is_trial else "renews") if renews else "expires"
    out: dict[str, Any] = {"state": state, "at": iso(at), "secondsLeft": _left(at, now)}
    if sub.scheduled_next_term is not None and renews:
        out["scheduledChange"] = True
    return out


def subscription_row(sub: Subscription, world: World) -> dict[str, Any]:
    now = world.now
    customer = world.customers.get(sub.customer_id)
    cancel_until = sub.cancellation_until
    cancel_open = cancel_until is not None and cancel_until >= now and sub.status != "deleted"
    batches = [] if legacy.is_legacy(sub) else lifecycle.refundable(sub, now)
    reducible_until = min((b.until for b in batches), default=None)
    return {
        "id": sub.id,
        "customerId": sub.customer_id,
        "customerDomain": customer.domain if customer else None,
        "offerId": sub.catalog_item_id,
        "offerName": sub.offer_name,
        "friendlyName": sub.friendly_name,
        "status": sub.status,
        "quantity": sub.quantity,
        "billingCycle": sub.billing_cycle,
        "termDuration": sub.term_duration,
        "isTrial": sub.is_trial,
        "autoRenew": sub.auto_renew,
        "createdAt": iso(sub.created_at),
        "commitmentEndDate": day(sub.commitment_end) if sub.commitment_end else None,
        "cancellation": {
            "open": cancel_open,
            "until": iso(cancel_until),
            "secondsLeft": _left(cancel_until, now) if cancel_open else 0,
        },
        "seatReduction": {
            "open": bool(batches),
            "quantity": sum(b.quantity for b in batches),
            # the first batch to lose its window: after it, fewer seats can still be removed
            "until": iso(reducible_until),
            "secondsLeft": _left(reducible_until, now),
            "batches": [{"quantity": b.quantity, "until": iso(b.until)} for b in batches],
        },
        "renewal": renewal(sub, world),
    }


def transfer_row(transfer: Transfer, now: datetime) -> dict[str, Any]:
    return {
        "id": transfer.id,
        "customerId": transfer.customer_id,
        "customerName": transfer.customer_name,
        "sourcePartnerName": transfer.source_partner_name,
        "targetPartnerName": transfer.target_partner_name,
        "status": transfer.status,
        "createdAt": iso(transfer.created_at),
        "expiresAt": iso(transfer.expires_at),
        "secondsLeft": _left(transfer.expires_at, now) if transfer.status == "Pending" else 0,
        "lines": len(transfer.lines),
    }


def _newest(values: Any, limit: int) -> list[Any]:
    """The last ``limit`` records inserted, newest first (the world's dicts keep insertion
    order; reversing one costs nothing up front)."""
    return list(islice(reversed(values), limit))


def snapshot(sim: Simulator, limit: int) -> dict[str, Any]:
    """Everything the page shows, in one read (the world does not change during it)."""
    world = sim.world
    now = world.now
    customers = [
        {
            "tenantId": c.tenant_id,
            "domain": c.domain,
            "companyName": c.company_name,
            "country": c.country,
            "createdAt": iso(c.created_at),
            "partners": sorted(
                world.partners[p].name if p in world.partners else p for p in c.partners
            ),
            "subscriptions": len(world.subscriptions_by_customer.get(c.tenant_id, ())),
            "mcaAccepted": bool(c.agreements),
        }
        for c in _newest(world.customers.values(), limit)
    ]
    requests = [
        {"method": r.method, "path": r.path, "status": r.status, "at": iso(r.at),
         "msRequestId": r.ms_request_id}
        for r in _newest(world.requests, limit)
    ]  # fmt: skip
    return {
        "now": iso(now),
        "pendingEvents": world.clock.pending,
        "config": render_config(sim),
        "totals": {
            "partners": len(world.partners),
            "customers": len(world.customers),
            "subscriptions": len(world.subscriptions),
            "transfers": len(world.transfers),
            "orders": len(world.orders),
            "requests": len(world.requests),
        },
        "limit": limit,
        "partners": [
            render_partner(p, secret=False) for p in _newest(world.partners.values(), limit)
        ],
        "customers": customers,
        "subscriptions": [
            subscription_row(s, world) for s in _newest(world.subscriptions.values(), limit)
        ],
        "transfers": [transfer_row(t, now) for t in _newest(world.transfers.values(), limit)],
        "faults": [f.render() for f in world.faults],
        "requests": requests,
    }


async def data(request: web.Request) -> web.Response:
    text = request.query.get("limit", str(DEFAULT_LIMIT))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise sim_error(400, f"limit must be an integer from 1 to {MAX_LIMIT}, got {text[:40]!r}")
    response = respond(snapshot(sim_of(request), int(text)))
    response.headers["Cache-Control"] = "no-store"
    return response


def _asset_handler(
    body: bytes, content_type: str
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        response = web.Response(body=body, content_type=content_type, charset="utf-8")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response

    return serve


def add_routes(router: web.UrlDispatcher) -> None:
    """Reads the page's files once, here, so a request never touches the disk."""
    for path, (name, content_type) in ASSETS.items():
        router.add_get(path, _asset_handler((STATIC / name).read_bytes(), content_type))
    router.add_get("/_sim/ui/data", data)
