"""The seeded NCE catalog: products, SKUs and availabilities, read-only.

``catalogItemId`` is ``product:sku:availability``; a cart line picks its offer by that id plus
``termDuration`` and ``billingCycle``, which must be one of the availability's terms.

LIMITATIONS:
- One availability per SKU, the same id in every country; prices are list prices in the
  country's currency at a flat rate, with no promotions or price differences between countries.
- Only ``commercial`` is sold; ``education``, ``government`` and ``nonprofit`` are valid segments
  that list nothing.
- Customer-scoped catalog routes use the customer's billing country and ignore ``country``; a
  customer whose country the catalog does not serve gets 400 / 800002 there, as an unserved
  ``country`` does.
- Views other than ``OnlineServices``, ``Software`` and ``SoftwarePerpetual`` are accepted and list
  nothing; the perpetual software product is listed under ``OnlineServices`` as well, so one call
  discovers the whole default world (Microsoft lists it under the software views only).
- The SMB suites (Business Basic, Standard, Premium) are capped at 300 seats per subscription
  (``maximumQuantity``) and at 300 seats of each suite per customer across all its subscriptions
  and partners (checked at checkout, ``simulator.purchases``); the seed gives "SMB with a
  300-licence cap" without saying how the cap counts, and Microsoft's own pages cap each Business
  plan at 300 users per tenant. A combined cap across the three suites is not modelled.
- "Some offers are limited to one subscription per customer": the simulator marks the trial SKU
  (Microsoft 365 Business Basic Trial) so, one trial of an offer per customer; no wire field says
  it (only ``dynamicAttributes.hasConstraints``). A second one is refused at checkout.
- Perpetual software has no cancellation policy; the seed's returns "under rules, handled by the
  distributor's service desk" happen outside the API, so a return is not available here (a
  cancel is 400 / 900213).
- Currencies are one per country (euro-area countries in EUR, others in their own currency);
  Microsoft's actual CSP billing currency for a few non-euro countries is unverified.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from aiohttp import web

from contracts.partner_center.regions import EU_EFTA
from simulator.context import customer_of
from simulator.errors import PartnerCenterError, invalid_input
from simulator.wire import collection, link, query_one, respond

CURRENCIES = {
    "US": ("USD", "$"), "GB": ("GBP", "£"), "CA": ("CAD", "$"), "CH": ("CHF", "CHF"),
    "LI": ("CHF", "CHF"), "NO": ("NOK", "kr"), "IS": ("ISK", "kr"), "SE": ("SEK", "kr"),
    "DK": ("DKK", "kr."), "PL": ("PLN", "zł"), "CZ": ("CZK", "Kč"), "HU": ("HUF", "Ft"),
    "RO": ("RON", "lei"), "BG": ("EUR", "€"),
}  # fmt: skip
COUNTRIES = frozenset(EU_EFTA | {"US", "GB", "CA"})
TARGET_VIEWS = frozenset(
    {"OnlineServices", "Software", "Azure", "AzureReservations", "MicrosoftAzure",
     "SpecializedOffers", "MarketplaceSaaS", "AzureReservationsVM", "AzureReservationsSQL",
     "AzureReservationsCosmosDb", "SoftwareSUSELinux", "SoftwarePerpetual", "SoftwareSubscriptions"}
)  # fmt: skip
SEGMENTS = frozenset({"commercial", "education", "government", "nonprofit"})
#: Months a term or a billing period lasts, to refuse a billing cycle longer than its term.
TERM_MONTHS = {"P1M": 1, "P1Y": 12, "P3Y": 36}
CYCLE_MONTHS = {"monthly": 1, "annual": 12, "triennial": 36, "none": 0, "one_time": 0}


@dataclass(frozen=True, slots=True)
class Sku:
    product_id: str
    id: str
    title: str
    product_title: str
    product_description: str
    product_type: str
    availability_id: str
    minimum: int
    maximum: int
    list_price: float
    terms: tuple[tuple[str | None, str], ...]
    is_trial: bool
    is_addon: bool
    is_base: bool
    multi_geo_base: bool
    addon_rule: str | None
    prerequisites: tuple[str, ...]
    upgrade_targets: tuple[str, ...]
    #: Seats of this SKU one customer may hold across all its subscriptions and partners.
    seats_per_customer: int | None = None
    #: Offers Microsoft limits to one subscription per customer.
    one_per_customer: bool = False

    @property
    def catalog_item_id(self) -> str:
        return f"{self.product_id}:{self.id}:{self.availability_id}"

    @property
    def product_sku(self) -> str:
        return f"{self.product_id}:{self.id}"

    @property
    def is_perpetual(self) -> bool:
        return self.product_type == "Software"

    def offers(self, term: str | None, cycle: str) -> bool:
        return (term, cycle) in self.terms


@dataclass(frozen=True, slots=True)
class Catalog:
    products: dict[str, list[Sku]]
    by_item: dict[str, Sku]

    def find(self, catalog_item_id: str) -> Sku | None:
        return self.by_item.get(catalog_item_id.upper())


@cache
def load() -> Catalog:
    raw = json.loads(resources.files("simulator.data").joinpath("catalog.json").read_text())
    products: dict[str, list[Sku]] = {}
    for p in raw["products"]:
        products[p["id"]] = [
            Sku(
                product_id=p["id"],
                id=s["id"],
                title=s["title"],
                product_title=p["title"],
                product_description=p["description"],
                product_type=p["productType"],
                availability_id=s["availabilityId"],
                minimum=s["min"],
                maximum=s["max"],
                list_price=s["listPrice"],
                terms=tuple((t[0], t[1]) for t in s["terms"]),
                is_trial=s.get("isTrial", False),
                is_addon=s.get("isAddon", False),
                is_base=s.get("base", False),
                multi_geo_base=s.get("multiGeoBase", False),
                addon_rule=s.get("addonRule"),
                prerequisites=tuple(s.get("prerequisiteSkus", [])),
                upgrade_targets=tuple(s.get("upgradeTargetOffers", [])),
                seats_per_customer=s.get("seatsPerCustomer"),
                one_per_customer=s.get("onePerCustomer", False),
            )
            for s in p["skus"]
        ]
    by_item = {sku.catalog_item_id: sku for skus in products.values() for sku in skus}
    return Catalog(products, by_item)


def term_id(sku: Sku, term: str | None, cycle: str) -> str:
    return hashlib.sha1(f"{sku.catalog_item_id}{term}{cycle}".encode()).hexdigest()[:12]


def currency(country: str) -> tuple[str, str]:
    return CURRENCIES.get(country, ("EUR", "€"))


def unit_price(sku: Sku, cycle: str, term: str | None) -> float:
    """The price of one seat for one billing period (a monthly commitment costs 20 % more)."""
    if sku.is_perpetual:
        return sku.list_price
    monthly = sku.list_price * (1.2 if term == "P1M" else 1.0)
    return round(monthly * max(CYCLE_MONTHS[cycle], 1), 2)


# -- rendering ---------------------------------------------------------------------------------


def _views(product_type: str) -> set[str]:
    """Perpetual software is listed under the software views and, so one listing discovers the
    whole default world, under ``OnlineServices`` too."""
    if product_type == "Software":
        return {"Software", "SoftwarePerpetual", "OnlineServices"}
    return {"OnlineServices"}


def _renews_to(sku: Sku) -> str:
    """A trial converts into its paid offer (its first upgrade target); others renew as is."""
    if sku.is_trial and sku.upgrade_targets:
        return sku.upgrade_targets[0]
    return sku.product_sku


def render_product(skus: list[Sku], base: str) -> dict[str, Any]:
    first = skus[0]
    return {
        "id": first.product_id,
        "title": first.product_title,
        "description": first.product_description,
        "productType": {"id": first.product_type, "displayName": first.product_type},
        "isMicrosoftProduct": True,
        "publisherName": "Microsoft Corporation",
        "links": {
            "skus": link(f"{base}/{first.product_id}/skus"),
            "self": link(f"{base}/{first.product_id}"),
        },
        "attributes": {"objectType": "Product"},
    }


def render_sku(sku: Sku, base: str) -> dict[str, Any]:
    cycles = sorted({cycle for _, cycle in sku.terms}, key=lambda c: CYCLE_MONTHS[c])
    uri = f"{base}/{sku.product_id}/skus/{sku.id}"
    return {
        "id": sku.id,
        "productId": sku.product_id,
        "title": sku.title,
        "description": sku.title,
        "minimumQuantity": sku.minimum,
        "maximumQuantity": sku.maximum,
        "isTrial": sku.is_trial,
        "supportedBillingCycles": cycles,
        "purchasePrerequisites": ["MicrosoftCustomerAgreement"],
        "inventoryVariables": [],
        "provisioningVariables": [],
        "actions": [] if sku.is_perpetual else ["Refund"],
        "dynamicAttributes": {
            "hasConstraints": sku.is_addon or sku.maximum <= 300 or sku.one_per_customer,
            "isAddon": sku.is_addon,
            "prerequisiteSkus": list(sku.prerequisites),
            "upgradeTargetOffers": list(sku.upgrade_targets),
            "isSoftwareAssuranceApplicable": False,
        },
        "links": {"availabilities": link(f"{uri}/availabilities"), "self": link(uri)},
        "attributes": {"objectType": "Sku"},
    }


def render_availability(sku: Sku, country: str, base: str) -> dict[str, Any]:
    code, symbol = currency(country)
    terms = []
    for term, cycle in sku.terms:
        entry: dict[str, Any] = {
            "id": term_id(sku, term, cycle),
            "duration": term,
            "description": _term_description(term, cycle),
            "billingCycle": cycle,
        }
        if not sku.is_perpetual:
            entry["cancellationPolicies"] = [
                {"refundOptions": [{"sequenceId": 0, "type": "Full", "expiresAfter": "P1D"},
                                   {"sequenceId": 1, "type": "Partial", "expiresAfter": "P7D"}]}
            ]  # fmt: skip
        terms.append(entry)
    uri = f"{base}/{sku.product_id}/skus/{sku.id}/availabilities/{sku.availability_id}"
    return {
        "id": sku.availability_id,
        "productId": sku.product_id,
        "skuId": sku.id,
        "catalogItemId": sku.catalog_item_id,
        "defaultCurrency": {"code": code, "symbol": symbol},
        "segment": "commercial",
        "country": country,
        "isPurchasable": True,
        "isRenewable": not sku.is_perpetual,
        "renewalInstructions": []
        if sku.is_perpetual
        else [
            {
                "applicableTermIds": [e["id"] for e in terms],
                "renewalOptions": [{"renewToId": _renews_to(sku), "isAutoRenewable": True}],
            }
        ],
        "terms": terms,
        "links": {"self": link(uri)},
        "attributes": {"objectType": "Availability"},
    }


def _term_description(term: str | None, cycle: str) -> str:
    if term is None:
        return "Perpetual licence, paid once"
    length = {"P1M": "One-Month", "P1Y": "One-Year", "P3Y": "Three-Year"}[term]
    return f"{length} commitment for {cycle} billing"


# -- routes ------------------------------------------------------------------------------------


def _country(request: web.Request) -> str:
    """The country to price in: the customer's own on customer-scoped routes (only for a partner
    that can see the customer, else 403 / 20002), otherwise the required ``country`` query."""
    if "customer" in request.match_info:
        country = customer_of(request).country
    else:
        country = query_one(request, "country") or ""
        if not country:
            raise invalid_input("country is required (an ISO 3166 two-letter code)")
    if country.upper() not in COUNTRIES:
        raise invalid_input(
            f"country {country!r} is not served by this catalog "
            f"(served: {', '.join(sorted(COUNTRIES))})"
        )
    return country.upper()


def _base(request: web.Request) -> str:
    path = request.path.removeprefix("/v1")
    head, _, _ = path.partition("/products")
    return f"{head}/products"


def _product(product_id: str) -> list[Sku]:
    skus = load().products.get(product_id.upper())
    if skus is None:
        raise PartnerCenterError(400013, product_id)
    return skus


def _sku(product_id: str, sku_id: str) -> Sku:
    for sku in _product(product_id):
        if sku.id == sku_id:
            return sku
    raise PartnerCenterError(400018, sku_id)


async def list_products(request: web.Request) -> web.Response:
    _country(request)
    view = query_one(request, "targetView")
    if not view:
        raise invalid_input("targetView is required (for example OnlineServices)")
    matched_view = next((v for v in TARGET_VIEWS if v.lower() == view.lower()), None)
    if matched_view is None:
        raise PartnerCenterError(400036, view)
    segment = query_one(request, "targetSegment")
    if segment is not None and segment.lower() not in SEGMENTS:
        raise PartnerCenterError(400030, segment)
    base = _base(request)
    items = []
    if segment is None or segment.lower() == "commercial":
        items = [
            render_product(skus, base)
            for skus in load().products.values()
            if matched_view in _views(skus[0].product_type)
        ]
    return respond(collection(items, request.path_qs.removeprefix("/v1")))


async def get_product(request: web.Request) -> web.Response:
    _country(request)
    return respond(render_product(_product(request.match_info["product"]), _base(request)))


async def list_skus(request: web.Request) -> web.Response:
    _country(request)
    base = _base(request)
    items = [render_sku(s, base) for s in _product(request.match_info["product"])]
    return respond(collection(items, request.path_qs.removeprefix("/v1")))


async def get_sku(request: web.Request) -> web.Response:
    _country(request)
    sku = _sku(request.match_info["product"], request.match_info["sku"])
    return respond(render_sku(sku, _base(request)))


async def list_availabilities(request: web.Request) -> web.Response:
    country = _country(request)
    sku = _sku(request.match_info["product"], request.match_info["sku"])
    items = [render_availability(sku, country, _base(request))]
    return respond(collection(items, request.path_qs.removeprefix("/v1")))


async def get_availability(request: web.Request) -> web.Response:
    country = _country(request)
    sku = _sku(request.match_info["product"], request.match_info["sku"])
    if request.match_info["availability"].upper() != sku.availability_id:
        raise PartnerCenterError(400019, request.match_info["availability"])
    return respond(render_availability(sku, country, _base(request)))


def add_routes(router: web.UrlDispatcher, prefix: str = "/v1") -> None:
    for root in (f"{prefix}/products", f"{prefix}/customers/{{customer}}/products"):
        router.add_get(root, list_products)
        router.add_get(root + "/{product}", get_product)
        router.add_get(root + "/{product}/skus", list_skus)
        router.add_get(root + "/{product}/skus/{sku}", get_sku)
        router.add_get(root + "/{product}/skus/{sku}/availabilities", list_availabilities)
        router.add_get(
            root + "/{product}/skus/{sku}/availabilities/{availability}", get_availability
        )
