"""Customers: domain availability, creation (also for an indirect reseller), reads, seek paging,
the reseller-relationship link, relationship removal, and a customer's indirect resellers.

LIMITATIONS:
- The organization registration number is required for Microsoft's listed countries (600049)
  but its format is not checked (600050); a phone number is never required (600051) and a
  registration number is never refused as unsupported (600002).
- ``defaultAddress.country`` may be any two letters; the catalog serves only the US and the
  EU/EFTA, so customer-scoped catalog routes refuse a customer elsewhere.
- A domain already in use answers 400 / 800002 naming the domain (Microsoft's code for it is not
  published).
- ``relationshipToPartner`` is ``none`` in the create answer (as Microsoft's sample shows) and
  ``reseller`` on later reads.
- Relationship removal needs every subscription of that partner for the customer to be
  suspended, expired, disabled or deleted; otherwise 400 / 800002 names the rule.
- ``GET /v1/customers/{id}/relationships`` lists only the caller's resellers for the customer
  (the one named at creation or acceptance, and the resellers of record on the caller's
  subscriptions), never another partner's.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from aiohttp import web
from pydantic import Field

from simulator import webhooks
from simulator.context import customer_of, partner_of, world_of
from simulator.errors import PartnerCenterError, invalid_input
from simulator.models import Customer, Partner, PartnerLink
from simulator.partners import render_relationship
from simulator.wire import Inbound, body_as, collection, link, query_one, respond
from simulator.world import World

DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.onmicrosoft\.com$")
#: Countries where Microsoft requires companyProfile.organizationRegistrationNumber (600049).
REGISTRATION_REQUIRED = frozenset(
    ["AM", "AZ", "BY", "HU", "KZ", "KG", "MD", "RU", "TJ", "UZ", "UA"]
)
PAGE_DEFAULT = 500


class Address(Inbound):
    first_name: str = Field(min_length=1, max_length=50)
    last_name: str = Field(min_length=1, max_length=50)
    address_line1: str = Field(min_length=1, max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    address_line3: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str | None = Field(default=None, max_length=50)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str = Field(pattern=r"^[A-Za-z]{2}$")
    phone_number: str | None = Field(default=None, max_length=40)
    region: str | None = None


class BillingProfile(Inbound):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    culture: str = Field(min_length=2, max_length=20)
    language: str = Field(min_length=2, max_length=20)
    company_name: str = Field(min_length=1, max_length=256)
    default_address: Address
    first_name: str | None = None
    last_name: str | None = None


class CompanyProfile(Inbound):
    domain: str = Field(min_length=1)
    organization_registration_number: str | None = None


class NewCustomer(Inbound):
    company_profile: CompanyProfile
    billing_profile: BillingProfile
    associated_partner_id: str | None = None
    enable_gdap_by_default: bool | None = None


class CustomerPatch(Inbound):
    relationship_to_partner: str | None = None


def domain_taken(world: World, domain: str) -> bool:
    lowered = domain.lower()
    return lowered in world.customers_by_domain or any(
        p.domain.lower() == lowered for p in world.partners.values()
    )


def create_customer(world: World, partner_id: str, body: NewCustomer) -> Customer:
    """Every check first, then the one change: a new tenant related to ``partner_id``."""
    domain = body.company_profile.domain.strip().lower()
    if not DOMAIN.match(domain):
        raise invalid_input(
            f"companyProfile.domain {body.company_profile.domain!r} must be a full "
            "name.onmicrosoft.com domain (letters, digits and hyphens before .onmicrosoft.com)"
        )
    if domain_taken(world, domain):
        raise invalid_input(f"companyProfile.domain {domain} is already in use")
    address = body.billing_profile.default_address
    country = address.country.upper()
    registration = body.company_profile.organization_registration_number
    if country in REGISTRATION_REQUIRED and not registration:
        raise PartnerCenterError(600049, country)
    reseller_id = None
    if body.associated_partner_id:
        reseller_id = body.associated_partner_id.lower()
        reseller = world.partners.get(reseller_id)
        if (
            reseller is None
            or reseller.kind != "indirect_reseller"
            or partner_id not in reseller.accepted_providers
        ):
            raise PartnerCenterError(
                800016,
                body.associated_partner_id,
                description=f"associatedPartnerId {body.associated_partner_id} isn't an indirect "
                "reseller related to this partner",
            )
    if world.config.sandbox_limits:
        owned = sum(1 for c in world.customers.values() if partner_id in c.partners)
        if owned >= 75:
            raise PartnerCenterError(800018, "75 customers per partner")
    profile = body.billing_profile.model_dump(by_alias=False, exclude_none=True)
    profile["default_address"]["country"] = country
    customer = Customer(
        tenant_id=world.guid(),
        commerce_id=world.guid(),
        domain=domain,
        company_name=body.billing_profile.company_name,
        country=country,
        created_at=world.now,
        billing_profile=profile,
        organization_registration_number=registration,
        admin_password=world.secret(),
        partners={partner_id: PartnerLink(world.now, reseller_id)},
    )
    world.add_customer(customer)
    return customer


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _camel_dict(value: dict[str, Any]) -> dict[str, Any]:
    return {_camel(k): _camel_dict(v) if isinstance(v, dict) else v for k, v in value.items()}


def render_customer(
    customer: Customer, partner_id: str, *, created: bool = False
) -> dict[str, Any]:
    uri = f"/customers/{customer.tenant_id}"
    billing = _camel_dict(customer.billing_profile)
    billing = {"id": customer.commerce_id, **billing}
    billing["links"] = {"self": link(f"{uri}/profiles/billing")}
    billing["attributes"] = {"objectType": "CustomerBillingProfile"}
    company: dict[str, Any] = {
        "tenantId": customer.tenant_id,
        "domain": customer.domain,
        "companyName": customer.company_name,
    }
    if customer.organization_registration_number:
        company["organizationRegistrationNumber"] = customer.organization_registration_number
    company["links"] = {"self": link(f"{uri}/profiles/company")}
    company["attributes"] = {"objectType": "CustomerCompanyProfile"}
    body: dict[str, Any] = {
        "id": customer.tenant_id,
        "commerceId": customer.commerce_id,
        "companyProfile": company,
        "billingProfile": billing,
        "relationshipToPartner": "none" if created else "reseller",
        "allowDelegatedAccess": True,
    }
    link_ = customer.partners.get(partner_id)
    if link_ is not None and link_.indirect_reseller_id:
        body["associatedPartnerId"] = link_.indirect_reseller_id
    if created:
        body["userCredentials"] = {"userName": "admin", "password": customer.admin_password}
    body["links"] = {"self": link(uri)}
    body["attributes"] = {"objectType": "Customer"}
    return body


# -- handlers ----------------------------------------------------------------------------------


async def head_domain(request: web.Request) -> web.Response:
    """200 (empty) when the domain exists and is taken; 404 when it is free."""
    taken = domain_taken(world_of(request), request.match_info["domain"])
    return web.Response(status=200 if taken else 404)


async def post_customer(request: web.Request) -> web.Response:
    body = await body_as(request, NewCustomer)
    partner = partner_of(request)
    customer = create_customer(world_of(request), partner.tenant_id, body)
    webhooks.customer_created(request, partner.tenant_id, customer.tenant_id)
    return respond(render_customer(customer, partner.tenant_id, created=True), status=201)


async def get_customer(request: web.Request) -> web.Response:
    customer = customer_of(request)
    return respond(render_customer(customer, partner_of(request).tenant_id))


def _token(partner_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"customers:{partner_id}:{offset}".encode()).decode()


def _offset(partner_id: str, token: str) -> int:
    invalid = PartnerCenterError(2000, status=400, description="The continuation token is invalid.")
    try:
        kind, owner, offset = base64.urlsafe_b64decode(token.encode()).decode().split(":")
    except (ValueError, UnicodeDecodeError):
        raise invalid from None
    if kind != "customers" or owner != partner_id or not offset.isdigit():
        raise invalid
    return int(offset)


async def list_customers(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    size_text = query_one(request, "size")
    size = PAGE_DEFAULT
    if size_text is not None:
        if not size_text.isdigit() or int(size_text) < 1:
            raise invalid_input(f"size must be a positive integer, got {size_text!r}")
        size = int(size_text)
    visible = [c for c in world.customers.values() if partner.tenant_id in c.partners]
    wanted = _filter(query_one(request, "filter"))
    if wanted is not None:
        field, prefix = wanted
        visible = [
            c
            for c in visible
            if (c.domain if field == "domain" else c.company_name).lower().startswith(prefix)
        ]
    offset = 0
    token = request.headers.get("MS-ContinuationToken")
    if (query_one(request, "seekOperation") or "").lower() == "next" or token:
        if not token:
            raise invalid_input("seekOperation=next needs the MS-ContinuationToken header")
        offset = _offset(partner.tenant_id, token)
        if offset >= len(visible):
            raise PartnerCenterError(
                2000, status=400, description="There are no more items to return."
            )
    page = visible[offset : offset + size]
    items = [render_customer(c, partner.tenant_id) for c in page]
    next_token = _token(partner.tenant_id, offset + size) if len(page) == size else None
    body = collection(
        items,
        f"/customers?size={size}",
        continuation_token=next_token,
        next_uri=f"/customers?size={size}&seekOperation=next",
    )
    return respond(body)


def _filter(text: str | None) -> tuple[str, str] | None:
    """Microsoft's customer search: ``filter={"Field": "Domain"|"CompanyName", "Value": …,
    "Operator": "starts_with"}``, matched case-insensitively."""
    if text is None:
        return None
    rule = 'filter must be JSON like {"Field": "Domain", "Value": "contoso", "Operator": "starts_with"}'
    try:
        parsed = json.loads(text)
    except ValueError:
        raise invalid_input(rule) from None
    if not isinstance(parsed, dict):
        raise invalid_input(rule)
    folded = {str(k).lower(): v for k, v in parsed.items()}
    field = str(folded.get("field", "")).lower()
    if field not in ("domain", "companyname"):
        raise invalid_input("filter.Field must be Domain or CompanyName")
    if str(folded.get("operator", "")).lower() != "starts_with":
        raise invalid_input("filter.Operator must be starts_with")
    value = folded.get("value")
    if not isinstance(value, str) or not value:
        raise invalid_input("filter.Value must be a non-empty string")
    return field, value.lower()


async def relationship_request(request: web.Request) -> web.Response:
    partner = partner_of(request)
    url = (
        "https://admin.microsoft.com/Adminportal/Home?invType=ResellerRelationship"
        f"&partnerId={partner.tenant_id}&msppId=0&DAP=false#/BillingAccounts/partner-invitation"
    )
    return respond({"url": url, "attributes": {"objectType": "RelationshipRequest"}})


async def patch_customer(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    body = await body_as(request, CustomerPatch)
    if (body.relationship_to_partner or "").lower() != "none":
        raise invalid_input(
            "relationshipToPartner: only 'none' (remove the relationship) is allowed"
        )
    live = [
        s.id
        for s in world.subscriptions_by_customer.get(customer.tenant_id, [])
        if s.partner_tenant_id == partner.tenant_id and s.status == "active"
    ]
    if live:
        raise invalid_input(
            "relationshipToPartner: suspend every subscription before removing the relationship "
            f"(still active: {', '.join(live)})"
        )
    rendered = render_customer(customer, partner.tenant_id)
    del customer.partners[partner.tenant_id]
    rendered["relationshipToPartner"] = "none"
    return respond(rendered)


def resellers_of_customer(world: World, partner_id: str, customer: Customer) -> list[Partner]:
    """The indirect resellers this partner sells to the customer through: the reseller named when
    the customer was created or accepted, and the resellers of record on this partner's
    subscriptions. Another partner's resellers stay private to that partner."""
    found: dict[str, Partner] = {}
    link_ = customer.partners.get(partner_id)
    reseller = world.partners.get(link_.indirect_reseller_id or "") if link_ else None
    if reseller is not None:
        found[reseller.tenant_id] = reseller
    for sub in world.subscriptions_by_customer.get(customer.tenant_id, []):
        if sub.partner_tenant_id != partner_id:
            continue
        for mpn in (sub.partner_id_on_record, *sub.additional_partner_ids):
            reseller = world.partners_by_mpn.get(mpn) if mpn else None
            if reseller is not None:
                found.setdefault(reseller.tenant_id, reseller)
    return list(found.values())


async def customer_relationships(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    items = [
        render_relationship(r, "is_indirect_reseller_of")
        for r in resellers_of_customer(world, partner.tenant_id, customer)
    ]
    return respond(collection(items, request.path.removeprefix("/v1")))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_route("HEAD", "/v1/domains/{domain}", head_domain)
    router.add_get("/v1/customers", list_customers)
    router.add_post("/v1/customers", post_customer)
    router.add_get("/v1/customers/relationshiprequests", relationship_request)
    router.add_get("/v1/customers/{customer}", get_customer)
    router.add_patch("/v1/customers/{customer}", patch_customer)
    router.add_get("/v1/customers/{customer}/relationships", customer_relationships)
