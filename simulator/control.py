"""The ``/_sim`` control plane: what a test needs that Partner Center has no API for.

Its shape is fixed by ``shared/design/simulator-contract.md`` (reset, clock, config, partners,
provider invitations, existing tenants, relationship acceptance, faults, request journal, state
dump). Errors use the Partner Center body with ``source: "Simulator"``. Extensions include
``GET``/``POST /_sim/snapshot``, the world saved and restored (``simulator.snapshot``).

LIMITATIONS:
- ``advance {"by"}`` takes fixed-length durations only (weeks, days, hours, minutes, seconds);
  years and months are refused because their length depends on the start: use ``to``.
- Partners and relationships made here are never removed except by reset.
"""

from __future__ import annotations

import dataclasses
import hmac
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import Field

from simulator import snapshot as snapshots
from simulator import webhooks
from simulator.catalog import COUNTRIES
from simulator.context import Simulator, sim_of, world_of
from simulator.errors import PartnerCenterError, sim_error
from simulator.faults import FaultSpec, make_fault
from simulator.models import Customer, Partner, PartnerLink
from simulator.wire import (
    Folded,
    Inbound,
    bind,
    duration_text,
    iso,
    no_content,
    parse_duration,
    parse_instant,
    read_json,
    respond,
)

KINDS = ("indirect_provider", "indirect_reseller", "direct")


def check_key(request: web.Request, sim: Simulator) -> None:
    """The guard in front of every ``/_sim`` path (the app's pipeline calls it first): switched
    off (``PCSIM_CONTROL=off``), the control plane is not there at all — a 404 in the very body
    an unknown Partner Center route gets, so a caller cannot even tell one exists; otherwise,
    with a control key set, ``X-Sim-Key`` must match it."""
    if not sim.settings.control:
        raise PartnerCenterError(
            1000, status=404, description=f"The resource {request.path} was not found."
        )
    if request.method in ("GET", "HEAD") and request.path.startswith("/_sim/ui"):
        from simulator.dashboard import ASSETS  # imported here: the dashboard imports this module

        if request.path in ASSETS:
            return  # the dashboard's shell holds no data; its data calls carry the key
    expected = sim.settings.control_key
    given = request.headers.get("X-Sim-Key", "").encode("utf-8", "surrogateescape")
    if expected and not hmac.compare_digest(given, expected.encode()):
        raise sim_error(401, "X-Sim-Key: this simulator's control plane needs its key")


async def _body(request: web.Request, model: type[Any]) -> Any:
    try:
        return bind(model, await read_json(request))
    except PartnerCenterError as exc:
        raise sim_error(400, exc.description.removeprefix("Invalid request input: ")) from None


# -- reset, clock, config ------------------------------------------------------------------------


async def reset(request: web.Request) -> web.Response:
    sim_of(request).reset()
    return no_content()


async def get_clock(request: web.Request) -> web.Response:
    return respond({"now": iso(world_of(request).now)})


class Advance(Inbound):
    by: str | None = None
    to: str | None = None


async def advance(request: web.Request) -> web.Response:
    world = world_of(request)
    body: Advance = await _body(request, Advance)
    if (body.by is None) == (body.to is None):
        raise sim_error(400, "give exactly one of 'by' (an ISO-8601 duration) or 'to' (an instant)")
    try:
        target = (
            world.now + parse_duration(body.by, "by")
            if body.by is not None
            else parse_instant(body.to or "", "to")
        )
    except PartnerCenterError as exc:
        raise sim_error(400, exc.description.removeprefix("Invalid request input: ")) from None
    except OverflowError:
        raise sim_error(400, f"by: {body.by} goes past the year 9999") from None
    if target < world.now:
        raise sim_error(
            400, f"the clock cannot move backwards (now {iso(world.now)}, asked {iso(target)})"
        )
    events = world.clock.advance(target)
    webhooks.clock_events(request, events)
    return respond(
        {
            "now": iso(world.now),
            "events": [
                {"type": e.type, "at": iso(e.at), "resourceUri": e.resource_uri} for e in events
            ],
        }
    )


def render_config(sim: Simulator) -> dict[str, Any]:
    config = sim.world.config
    return {
        "renewalProcessing": duration_text(config.renewal_processing),
        "orderProvisioning": duration_text(config.order_provisioning),
        "sandboxLimits": config.sandbox_limits,
        "rateLimitPerMinute": config.rate_limit_per_minute,
        "cancellationWindow": duration_text(config.cancellation_window),
        "transferExpiry": duration_text(config.transfer_expiry),
        "cartExpiry": duration_text(config.cart_expiry),
        "maxUpdates": config.max_updates,
        "maxSubscriptionsPerCustomer": config.max_subscriptions_per_customer,
    }


class ConfigPatch(Inbound):
    renewal_processing: str | None = None
    order_provisioning: str | None = None
    sandbox_limits: bool | None = None
    rate_limit_per_minute: int | None = Field(default=None, ge=0)
    cancellation_window: str | None = None
    transfer_expiry: str | None = None
    cart_expiry: str | None = None
    max_updates: int | None = Field(default=None, ge=1)
    max_subscriptions_per_customer: int | None = Field(default=None, ge=1)


async def get_config(request: web.Request) -> web.Response:
    return respond(render_config(sim_of(request)))


async def put_config(request: web.Request) -> web.Response:
    sim = sim_of(request)
    raw = await read_json(request)
    patch: ConfigPatch = await _validate(raw, ConfigPatch)
    known = set(ConfigPatch.model_fields) | {f.replace("_", "") for f in ConfigPatch.model_fields}
    sent = raw.sent if isinstance(raw, Folded) else {}
    unknown = [sent.get(k, k) for k in (raw or {}) if k not in known]
    if unknown:
        raise sim_error(
            400,
            f"unknown config key(s): {', '.join(unknown)}; known: {', '.join(render_config(sim))}",
        )
    changes: dict[str, Any] = {}
    for name, value in patch.model_dump(exclude_none=True).items():
        if isinstance(value, str):
            try:
                value = parse_duration(value, _camel(name))
            except PartnerCenterError as exc:
                raise sim_error(
                    400, exc.description.removeprefix("Invalid request input: ")
                ) from None
            if value < timedelta(0):
                raise sim_error(400, f"{_camel(name)} must not be negative")
        changes[name] = value
    sim.world.config = dataclasses.replace(sim.world.config, **changes)
    return respond(render_config(sim))


async def _validate(raw: Any, model: type[Any]) -> Any:
    try:
        return bind(model, raw)
    except PartnerCenterError as exc:
        raise sim_error(400, exc.description.removeprefix("Invalid request input: ")) from None


# -- partners, tenants, relationships -----------------------------------------------------------


class NewPartner(Inbound):
    name: str = Field(min_length=1, max_length=256)
    kind: str
    country: str = Field(pattern=r"^[A-Za-z]{2}$")
    mpn_id: str | None = Field(default=None, pattern=r"^\d{1,10}$")
    domain: str | None = None
    mpa_signed: bool = True


def render_partner(partner: Partner, *, secret: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tenantId": partner.tenant_id,
        "mpnId": partner.mpn_id,
        "name": partner.name,
        "kind": partner.kind,
        "country": partner.country,
        "domain": partner.domain,
        "mpaSigned": partner.mpa_signed,
        "clientId": partner.client_id,
    }
    if secret:
        out["clientSecret"] = partner.client_secret
    out["acceptedProviders"] = sorted(partner.accepted_providers)
    return out


async def create_partner(request: web.Request) -> web.Response:
    world = world_of(request)
    body: NewPartner = await _body(request, NewPartner)
    if body.kind not in KINDS:
        raise sim_error(400, f"kind must be one of {', '.join(KINDS)}, got {body.kind!r}")
    mpn_id = body.mpn_id or world.digits(7)
    if mpn_id in world.partners_by_mpn:
        raise sim_error(
            409, f"mpnId {mpn_id} already belongs to {world.partners_by_mpn[mpn_id].name}"
        )
    tenant_id = world.guid()
    domain = (body.domain or f"partner{tenant_id[:8]}.onmicrosoft.com").lower()
    if domain in world.customers_by_domain or any(
        p.domain == domain for p in world.partners.values()
    ):
        raise sim_error(409, f"domain {domain} is already in use")
    partner = Partner(
        tenant_id=tenant_id,
        mpn_id=mpn_id,
        name=body.name,
        kind=body.kind,
        country=body.country.upper(),
        domain=domain,
        client_id=world.guid(),
        client_secret=world.secret(24),
        mpa_signed=body.mpa_signed,
    )
    world.add_partner(partner)
    return respond(render_partner(partner), status=201)


class ProviderInvitation(Inbound):
    provider_tenant_id: str


async def accept_provider_invitation(request: web.Request) -> web.Response:
    world = world_of(request)
    reseller = world.partners.get(request.match_info["reseller"].lower())
    if reseller is None:
        raise sim_error(404, f"reseller {request.match_info['reseller']} does not exist")
    if reseller.kind != "indirect_reseller":
        raise sim_error(
            400, f"partner {reseller.tenant_id} is a {reseller.kind}, not an indirect_reseller"
        )
    body: ProviderInvitation = await _body(request, ProviderInvitation)
    provider = world.partners.get(body.provider_tenant_id.lower())
    if provider is None or provider.kind != "indirect_provider":
        raise sim_error(
            400, f"providerTenantId {body.provider_tenant_id} is not an indirect_provider"
        )
    reseller.accepted_providers.setdefault(provider.tenant_id, world.now)
    return respond(render_partner(reseller, secret=False))


class NewTenant(Inbound):
    domain: str
    company_name: str = Field(min_length=1, max_length=256)
    country: str = Field(pattern=r"^[A-Za-z]{2}$")


async def create_tenant(request: web.Request) -> web.Response:
    from simulator.customers import DOMAIN, domain_taken

    world = world_of(request)
    body: NewTenant = await _body(request, NewTenant)
    domain = body.domain.strip().lower()
    if not DOMAIN.match(domain):
        raise sim_error(400, f"domain {body.domain!r} must be a full name.onmicrosoft.com domain")
    if domain_taken(world, domain):
        raise sim_error(409, f"domain {domain} is already in use")
    country = body.country.upper()
    if country not in COUNTRIES:
        raise sim_error(
            400, f"country {country} is not served; use one of {', '.join(sorted(COUNTRIES))}"
        )
    customer = Customer(
        tenant_id=world.guid(),
        commerce_id=world.guid(),
        domain=domain,
        company_name=body.company_name,
        country=country,
        created_at=world.now,
        billing_profile={
            "email": f"admin@{domain}",
            "culture": "en-US",
            "language": "en",
            "company_name": body.company_name,
            "default_address": {"country": country},
        },
    )
    world.add_customer(customer)
    return respond({"tenantId": customer.tenant_id, "domain": customer.domain}, status=201)


class AcceptRelationship(Inbound):
    partner_tenant_id: str
    indirect_reseller_tenant_id: str | None = None


async def accept_relationship(request: web.Request) -> web.Response:
    world = world_of(request)
    customer = world.customers.get(request.match_info["tenant"].lower())
    if customer is None:
        raise sim_error(404, f"tenant {request.match_info['tenant']} does not exist")
    body: AcceptRelationship = await _body(request, AcceptRelationship)
    partner = world.partners.get(body.partner_tenant_id.lower())
    if partner is None:
        raise sim_error(400, f"partnerTenantId {body.partner_tenant_id} is not a partner")
    reseller_id = None
    if body.indirect_reseller_tenant_id:
        reseller = world.partners.get(body.indirect_reseller_tenant_id.lower())
        if reseller is None or reseller.kind != "indirect_reseller":
            raise sim_error(
                400,
                f"indirectResellerTenantId {body.indirect_reseller_tenant_id} is not an indirect_reseller",
            )
        reseller_id = reseller.tenant_id
    current = customer.partners.get(partner.tenant_id)
    if current is None:
        customer.partners[partner.tenant_id] = PartnerLink(world.now, reseller_id)
    elif reseller_id:
        current.indirect_reseller_id = reseller_id
    webhooks.relationship_accepted(request, partner.tenant_id, customer.tenant_id, reseller_id)
    return respond(
        {
            "tenantId": customer.tenant_id,
            "domain": customer.domain,
            "partners": sorted(customer.partners),
        }
    )


# -- faults, requests, state ---------------------------------------------------------------------


async def add_fault(request: web.Request) -> web.Response:
    world = world_of(request)
    spec: FaultSpec = await _body(request, FaultSpec)
    if (
        spec.status is None
        and not spec.latency_ms
        and not spec.reset
        and not spec.reset_after
        and spec.body is None
    ):
        raise sim_error(
            400, "a fault needs at least one of status, latencyMs, reset, resetAfter or body"
        )
    if spec.reset and spec.reset_after:
        raise sim_error(400, "reset drops the call before it is served, resetAfter after: not both")
    world.faults_added += 1
    fault = make_fault(f"fault-{world.faults_added}", spec)
    world.faults.append(fault)
    return respond({"id": fault.id, **fault.render()}, status=201)


async def list_faults(request: web.Request) -> web.Response:
    return respond({"items": [f.render() for f in world_of(request).faults]})


async def clear_faults(request: web.Request) -> web.Response:
    world_of(request).faults.clear()
    return no_content()


async def delete_fault(request: web.Request) -> web.Response:
    world = world_of(request)
    before = len(world.faults)
    world.faults[:] = [f for f in world.faults if f.id != request.match_info["fault"]]
    if len(world.faults) == before:
        raise sim_error(404, f"fault {request.match_info['fault']} does not exist")
    return no_content()


async def list_requests(request: web.Request) -> web.Response:
    world = world_of(request)
    text = request.query.get("limit", "100")
    if not text.isdigit():
        raise sim_error(400, f"limit must be a non-negative integer, got {text!r}")
    limit = int(text)
    newest = list(world.requests)[-limit:] if limit else []
    newest.reverse()
    return respond(
        {
            "items": [
                {
                    "method": r.method,
                    "path": r.path,
                    "status": r.status,
                    "msRequestId": r.ms_request_id,
                    "msCorrelationId": r.ms_correlation_id,
                    "at": iso(r.at),
                }
                for r in newest
            ]
        }
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _plain(value: Any) -> Any:
    """A dataclass record as camelCase JSON, for the state dump."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            _camel(f.name): _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "admin_password"
        }
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return duration_text(value)
    return value


async def state(request: web.Request) -> web.Response:
    sim = sim_of(request)
    world = sim.world
    return respond(
        {
            "now": iso(world.now),
            "config": render_config(sim),
            "partners": [render_partner(p) for p in world.partners.values()],
            "customers": [_plain(c) for c in world.customers.values()],
            "carts": [_plain(c) for c in world.carts.values()],
            "orders": [_plain(o) for o in world.orders.values()],
            "subscriptions": [_plain(s) for s in world.subscriptions.values()],
            "transfers": [_plain(t) for t in world.transfers.values()],
            "transitions": [_plain(t) for t in world.transitions],
            "migrations": [_plain(m) for m in world.migrations.values()],
            "faults": [f.render() for f in world.faults],
            "pendingEvents": world.clock.pending,
        }
    )


# -- snapshots (an extension: simulator.snapshot) -------------------------------------------------

#: The largest snapshot ``POST /_sim/snapshot`` reads (the app's 4 MiB body limit is for the API;
#: a world of 10,000 subscriptions saves to about 20 MB).
MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024


async def get_snapshot(request: web.Request) -> web.Response:
    return web.Response(
        body=snapshots.dumps(snapshots.save(world_of(request))), content_type="application/json"
    )


async def post_snapshot(request: web.Request) -> web.Response:
    """Replace the world with the posted snapshot, all or nothing: a document that does not
    read back whole leaves the running world untouched (400 naming the problem)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(1 << 20):
        size += len(chunk)
        if size > MAX_SNAPSHOT_BYTES:
            raise sim_error(413, f"a snapshot may be at most {MAX_SNAPSHOT_BYTES} bytes")
        chunks.append(chunk)
    try:
        world = snapshots.loads(b"".join(chunks))
    except snapshots.SnapshotError as exc:
        raise sim_error(400, str(exc)) from None
    snapshots.install(sim_of(request), world)
    return no_content()


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/_sim/reset", reset)
    router.add_get("/_sim/clock", get_clock)
    router.add_post("/_sim/clock/advance", advance)
    router.add_get("/_sim/config", get_config)
    router.add_put("/_sim/config", put_config)
    router.add_post("/_sim/partners", create_partner)
    router.add_post(
        "/_sim/partners/{reseller}/accept-provider-invitation", accept_provider_invitation
    )
    router.add_post("/_sim/tenants", create_tenant)
    router.add_post("/_sim/tenants/{tenant}/accept-relationship", accept_relationship)
    router.add_post("/_sim/faults", add_fault)
    router.add_get("/_sim/faults", list_faults)
    router.add_delete("/_sim/faults", clear_faults)
    router.add_delete("/_sim/faults/{fault}", delete_fault)
    router.add_get("/_sim/requests", list_requests)
    router.add_get("/_sim/state", state)
    router.add_get("/_sim/snapshot", get_snapshot)
    router.add_post("/_sim/snapshot", post_snapshot)
