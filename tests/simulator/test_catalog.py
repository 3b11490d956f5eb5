"""The catalog and the default world over HTTP: products, SKUs and availabilities as a client
discovers them, every served country, the error codes, and the customer-scoped routes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.simulator.conftest import BASIC, PartnerClient, customer_body

PRODUCTS = "/v1/products?country=US&targetView=OnlineServices"
BASIC_PRODUCT = "CFQ7TTC0LH18"
E3 = "CFQ7TTC0LFLX"
EURO = [
    "AT", "BE", "BG", "HR", "CY", "EE", "FI", "FR", "DE", "GR", "IE", "IT", "LV", "LT", "LU",
    "MT", "NL", "PT", "SK", "SI", "ES",
]  # fmt: skip
NON_EURO = {
    "CZ": "CZK", "DK": "DKK", "HU": "HUF", "PL": "PLN", "RO": "RON", "SE": "SEK",
    "IS": "ISK", "LI": "CHF", "NO": "NOK", "CH": "CHF", "US": "USD",
}  # fmt: skip
CURRENCY = {**dict.fromkeys(EURO, "EUR"), **NON_EURO}
PRODUCT_SKU = re.compile(r"^[A-Z0-9]{12}:[A-Z0-9]{4}$")


async def products(pc: PartnerClient, query: str = PRODUCTS) -> dict[str, dict[str, Any]]:
    return {p["title"]: p for p in (await pc.ok("GET", query))["items"]}


async def skus(pc: PartnerClient, product_id: str) -> list[dict[str, Any]]:
    return list((await pc.ok("GET", f"/v1/products/{product_id}/skus?country=US"))["items"])


async def availability(
    pc: PartnerClient, product_id: str, sku_id: str, country: str = "US"
) -> dict[str, Any]:
    body = await pc.ok(
        "GET", f"/v1/products/{product_id}/skus/{sku_id}/availabilities?country={country}"
    )
    assert body["totalCount"] == 1
    return dict(body["items"][0])


async def all_skus(pc: PartnerClient) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for product in (await products(pc)).values():
        out += await skus(pc, product["id"])
    return out


def terms_of(avail: dict[str, Any]) -> set[tuple[str | None, str]]:
    return {(t["duration"], t["billingCycle"]) for t in avail["terms"]}


# -- products -----------------------------------------------------------------------------------


async def test_default_world_lists_the_contract_products(pc: PartnerClient) -> None:
    listed = await products(pc)
    for title in [
        "Microsoft 365 Business Basic",
        "Microsoft 365 Business Standard",
        "Microsoft 365 Business Premium",
        "Microsoft 365 E3",
        "Microsoft 365 E5",
        "Office 365 E1",
        "Microsoft 365 Copilot",
        "Multi-Geo Capabilities in Office 365",
    ]:
        assert title in listed, title
        assert listed[title]["productType"] == {
            "id": "OnlineServicesNCE",
            "displayName": "OnlineServicesNCE",
        }
    assert listed["Microsoft 365 Business Basic"]["id"] == BASIC_PRODUCT
    assert any(p["productType"]["id"] == "Software" for p in listed.values())


async def test_product_carries_links_and_object_type(pc: PartnerClient) -> None:
    product = await pc.ok("GET", f"/v1/products/{BASIC_PRODUCT}?country=US")
    assert product["title"] == "Microsoft 365 Business Basic"
    assert product["links"]["skus"]["uri"] == f"/products/{BASIC_PRODUCT}/skus"
    assert product["attributes"]["objectType"] == "Product"


async def test_product_id_matches_case_insensitively(pc: PartnerClient) -> None:
    product = await pc.ok("GET", f"/v1/products/{BASIC_PRODUCT.lower()}?country=US")
    assert product["id"] == BASIC_PRODUCT


async def test_catalog_is_the_same_after_reset(pc: PartnerClient) -> None:
    before = await pc.ok("GET", PRODUCTS)
    await pc.sim("POST", "/reset", status=204)
    assert await pc.ok("GET", PRODUCTS) == before


# -- Business Basic -----------------------------------------------------------------------------


async def test_business_basic_sku_0001_sells_1_to_300_seats(pc: PartnerClient) -> None:
    sku = await pc.ok("GET", f"/v1/products/{BASIC_PRODUCT}/skus/0001?country=US")
    assert (sku["minimumQuantity"], sku["maximumQuantity"]) == (1, 300)
    assert sku["isTrial"] is False
    assert sku["dynamicAttributes"]["isAddon"] is False
    assert set(sku["supportedBillingCycles"]) == {"monthly", "annual"}


async def test_business_basic_availability_has_the_three_terms(pc: PartnerClient) -> None:
    avail = await availability(pc, BASIC_PRODUCT, "0001")
    assert avail["catalogItemId"] == BASIC
    assert avail["catalogItemId"] == f"{BASIC_PRODUCT}:0001:{avail['id']}"
    assert terms_of(avail) == {("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual")}
    assert avail["isPurchasable"] is True
    assert avail["isRenewable"] is True
    assert avail["segment"] == "commercial"
    assert all(t["id"] and t["description"] for t in avail["terms"])


async def test_availability_is_readable_by_id(pc: PartnerClient) -> None:
    avail_id = BASIC.split(":")[2]
    avail = await pc.ok(
        "GET", f"/v1/products/{BASIC_PRODUCT}/skus/0001/availabilities/{avail_id}?country=FR"
    )
    assert (avail["id"], avail["country"]) == (avail_id, "FR")


async def test_business_basic_has_a_trial_sku(pc: PartnerClient) -> None:
    trials = [s for s in await skus(pc, BASIC_PRODUCT) if s["isTrial"]]
    assert len(trials) == 1
    trial = trials[0]
    avail = await availability(pc, BASIC_PRODUCT, trial["id"])
    assert {cycle for _, cycle in terms_of(avail)} == {"none"}
    targets = trial["dynamicAttributes"]["upgradeTargetOffers"]
    assert f"{BASIC_PRODUCT}:0001" in targets
    renews_to = avail["renewalInstructions"][0]["renewalOptions"][0]["renewToId"]
    assert renews_to == f"{BASIC_PRODUCT}:0001"


# -- the rest of the default world --------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Microsoft 365 Business Basic",
        "Microsoft 365 Business Standard",
        "Microsoft 365 Business Premium",
    ],
)
async def test_smb_suites_are_capped_at_300_seats(pc: PartnerClient, title: str) -> None:
    product = (await products(pc))[title]
    paid = [s for s in await skus(pc, product["id"]) if not s["isTrial"]]
    assert paid
    assert all(s["maximumQuantity"] == 300 for s in paid)


async def test_enterprise_suites_allow_more_than_300_seats(pc: PartnerClient) -> None:
    listed = await products(pc)
    for title in ("Microsoft 365 E3", "Microsoft 365 E5", "Office 365 E1"):
        (sku,) = await skus(pc, listed[title]["id"])
        assert sku["maximumQuantity"] > 300, title


@pytest.mark.parametrize("title", ["Microsoft 365 Copilot", "Multi-Geo Capabilities in Office 365"])
async def test_add_on_skus_name_their_base_products(pc: PartnerClient, title: str) -> None:
    product = (await products(pc))[title]
    (sku,) = await skus(pc, product["id"])
    attrs = sku["dynamicAttributes"]
    assert attrs["isAddon"] is True
    assert attrs["prerequisiteSkus"]
    for ref in attrs["prerequisiteSkus"]:
        assert PRODUCT_SKU.match(ref), ref
        base_product, base_sku = ref.split(":")
        base = await pc.ok("GET", f"/v1/products/{base_product}/skus/{base_sku}?country=US")
        assert base["dynamicAttributes"]["isAddon"] is False


async def test_copilot_can_be_added_to_business_basic_and_multi_geo_to_e3(
    pc: PartnerClient,
) -> None:
    listed = await products(pc)
    (copilot,) = await skus(pc, listed["Microsoft 365 Copilot"]["id"])
    (multigeo,) = await skus(pc, listed["Multi-Geo Capabilities in Office 365"]["id"])
    assert f"{BASIC_PRODUCT}:0001" in copilot["dynamicAttributes"]["prerequisiteSkus"]
    assert f"{E3}:0001" in multigeo["dynamicAttributes"]["prerequisiteSkus"]


async def test_upgrade_targets_are_product_sku_pairs_that_exist(pc: PartnerClient) -> None:
    found = 0
    for sku in await all_skus(pc):
        for ref in sku["dynamicAttributes"]["upgradeTargetOffers"]:
            found += 1
            assert PRODUCT_SKU.match(ref), ref
            product_id, sku_id = ref.split(":")
            await pc.ok("GET", f"/v1/products/{product_id}/skus/{sku_id}?country=US")
    assert found > 0
    basic = await pc.ok("GET", f"/v1/products/{BASIC_PRODUCT}/skus/0001?country=US")
    assert "CFQ7TTC0LCHC:0002" in basic["dynamicAttributes"]["upgradeTargetOffers"]


async def test_a_three_year_offer_exists_with_p3y_terms(pc: PartnerClient) -> None:
    avail = await availability(pc, E3, "0001")
    p3y = {cycle for term, cycle in terms_of(avail) if term == "P3Y"}
    assert p3y
    assert "triennial" in p3y


async def test_every_term_bills_no_longer_than_it_lasts(pc: PartnerClient) -> None:
    months = {"P1M": 1, "P1Y": 12, "P3Y": 36}
    cycle_months = {"monthly": 1, "annual": 12, "triennial": 36, "none": 0}
    for sku in await all_skus(pc):
        avail = await availability(pc, sku["productId"], sku["id"])
        assert avail["catalogItemId"] == f"{sku['productId']}:{sku['id']}:{avail['id']}"
        for term, cycle in terms_of(avail):
            if term is not None:
                assert cycle_months[cycle] <= months[term], (avail["catalogItemId"], term, cycle)


# -- perpetual software -------------------------------------------------------------------------


async def _software(pc: PartnerClient) -> dict[str, Any]:
    listed = [p for p in (await products(pc)).values() if p["productType"]["id"] == "Software"]
    assert len(listed) == 1
    return listed[0]


async def test_perpetual_software_is_one_time_and_never_renews(pc: PartnerClient) -> None:
    product = await _software(pc)
    assert product["productType"] == {"id": "Software", "displayName": "Software"}
    (sku,) = await skus(pc, product["id"])
    assert sku["supportedBillingCycles"] == ["one_time"]
    avail = await availability(pc, product["id"], sku["id"])
    assert terms_of(avail) == {(None, "one_time")}
    assert avail["isRenewable"] is False
    assert avail["renewalInstructions"] == []


@pytest.mark.parametrize("view", ["Software", "SoftwarePerpetual", "software"])
async def test_perpetual_software_is_listed_under_software_views(
    pc: PartnerClient, view: str
) -> None:
    product = await _software(pc)
    listed = await products(pc, f"/v1/products?country=US&targetView={view}")
    assert [p["id"] for p in listed.values()] == [product["id"]]


# -- countries ----------------------------------------------------------------------------------


async def test_every_eu_efta_country_and_the_us_is_served_in_its_currency(
    pc: PartnerClient,
) -> None:
    assert len(CURRENCY) == 32
    for country, code in CURRENCY.items():
        avail = await availability(pc, BASIC_PRODUCT, "0001", country)
        assert avail["country"] == country
        assert avail["defaultCurrency"]["code"] == code, country
        assert avail["defaultCurrency"]["symbol"]


async def test_country_matches_case_insensitively(pc: PartnerClient) -> None:
    avail = await availability(pc, BASIC_PRODUCT, "0001", "de")
    assert (avail["country"], avail["defaultCurrency"]["code"]) == ("DE", "EUR")


async def test_products_are_listed_for_every_served_country(pc: PartnerClient) -> None:
    us = await products(pc)
    for country in CURRENCY:
        there = await products(pc, f"/v1/products?country={country}&targetView=OnlineServices")
        assert there.keys() == us.keys(), country


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/products/CFQ7TTC0ZZZZ?country=US", 404, 400013),
        ("/v1/products/CFQ7TTC0ZZZZ/skus?country=US", 404, 400013),
        (f"/v1/products/{BASIC_PRODUCT}/skus/9999?country=US", 404, 400018),
        (f"/v1/products/{BASIC_PRODUCT}/skus/9999/availabilities?country=US", 404, 400018),
        (
            f"/v1/products/{BASIC_PRODUCT}/skus/0001/availabilities/CFQ7TTC0ZZZZ?country=US",
            404,
            400019,
        ),
        ("/v1/products?country=US&targetView=Nonsense", 403, 400036),
        ("/v1/products?country=US&targetView=OnlineServices&targetSegment=retail", 403, 400030),
        ("/v1/products?targetView=OnlineServices", 400, 800002),
        (f"/v1/products/{BASIC_PRODUCT}/skus", 400, 800002),
        (f"/v1/products/{BASIC_PRODUCT}/skus/0001/availabilities", 400, 800002),
        ("/v1/products?country=JP&targetView=OnlineServices", 400, 800002),
        ("/v1/products?country=US", 400, 800002),
    ],
)
async def test_catalog_refusals_carry_microsofts_codes(
    pc: PartnerClient, path: str, status: int, code: int
) -> None:
    await pc.fail("GET", path, None, status, code)


async def test_unknown_product_error_names_it(pc: PartnerClient) -> None:
    error = await pc.fail("GET", "/v1/products/CFQ7TTC0ZZZZ?country=US", None, 404, 400013)
    assert "CFQ7TTC0ZZZZ" in error["description"]


async def test_missing_country_error_names_country(pc: PartnerClient) -> None:
    error = await pc.fail("GET", "/v1/products?targetView=OnlineServices", None, 400, 800002)
    assert "country" in error["description"]


@pytest.mark.parametrize("segment", ["education", "government", "nonprofit"])
async def test_other_valid_segments_list_nothing(pc: PartnerClient, segment: str) -> None:
    body = await pc.ok("GET", f"{PRODUCTS}&targetSegment={segment}")
    assert body["items"] == []
    assert body["totalCount"] == 0


async def test_commercial_segment_lists_the_catalog(pc: PartnerClient) -> None:
    assert (await products(pc, f"{PRODUCTS}&targetSegment=commercial")).keys() == (
        await products(pc)
    ).keys()


# -- customer-scoped routes ---------------------------------------------------------------------


async def test_customer_scoped_routes_use_the_customers_country(pc: PartnerClient) -> None:
    customer = await pc.new_customer("german.onmicrosoft.com", "DE")
    base = f"/v1/customers/{customer['id']}/products"
    listed = await pc.ok("GET", f"{base}?targetView=OnlineServices")
    assert BASIC_PRODUCT in [p["id"] for p in listed["items"]]
    assert listed["items"][0]["links"]["self"]["uri"].startswith(
        f"/customers/{customer['id']}/products/"
    )
    avails = await pc.ok("GET", f"{base}/{BASIC_PRODUCT}/skus/0001/availabilities?country=US")
    avail = avails["items"][0]
    assert (avail["country"], avail["defaultCurrency"]["code"]) == ("DE", "EUR")
    assert avail["catalogItemId"] == BASIC


@pytest.mark.parametrize(
    "suffix",
    [
        "?targetView=OnlineServices",
        f"/{BASIC_PRODUCT}",
        f"/{BASIC_PRODUCT}/skus",
        f"/{BASIC_PRODUCT}/skus/0001",
        f"/{BASIC_PRODUCT}/skus/0001/availabilities",
        f"/{BASIC_PRODUCT}/skus/0001/availabilities/{BASIC.split(':')[2]}",
    ],
)
async def test_every_customer_scoped_route_answers_without_country(
    pc: PartnerClient, suffix: str
) -> None:
    customer = await pc.new_customer("swiss.onmicrosoft.com", "CH")
    body = await pc.ok("GET", f"/v1/customers/{customer['id']}/products{suffix}")
    assert body


async def test_customer_scoped_availability_by_id_is_priced_in_the_customers_currency(
    pc: PartnerClient,
) -> None:
    customer = await pc.new_customer("swedish.onmicrosoft.com", "SE")
    avail = await pc.ok(
        "GET",
        f"/v1/customers/{customer['id']}/products/{BASIC_PRODUCT}/skus/0001/availabilities/"
        f"{BASIC.split(':')[2]}",
    )
    assert (avail["country"], avail["defaultCurrency"]["code"]) == ("SE", "SEK")


async def test_customer_scoped_routes_refuse_another_partners_customer(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer = await pc.new_customer("hidden.onmicrosoft.com", "US")
    base = f"/v1/customers/{customer['id']}/products"
    await direct_pc.fail("GET", f"{base}?targetView=OnlineServices", None, 403, 20002)
    await direct_pc.fail(
        "GET", f"{base}/{BASIC_PRODUCT}/skus/0001/availabilities", None, 403, 20002
    )


async def test_customer_scoped_routes_refuse_an_unknown_customer(pc: PartnerClient) -> None:
    await pc.fail(
        "GET",
        "/v1/customers/00000000-0000-4000-8000-0000000000aa/products?targetView=OnlineServices",
        None,
        403,
        20002,
    )


async def test_customer_scoped_routes_refuse_a_customer_in_an_unserved_country(
    pc: PartnerClient,
) -> None:
    body = customer_body("kyiv.onmicrosoft.com", "UA")
    body["companyProfile"]["organizationRegistrationNumber"] = "12345678"
    created = await pc.ok("POST", "/v1/customers", body, status=201)
    error = await pc.fail(
        "GET",
        f"/v1/customers/{created['id']}/products?targetView=OnlineServices",
        None,
        400,
        800002,
    )
    assert "UA" in error["description"]


async def test_customer_scoped_routes_keep_the_catalog_errors(pc: PartnerClient) -> None:
    customer = await pc.new_customer("errors.onmicrosoft.com", "US")
    base = f"/v1/customers/{customer['id']}/products"
    await pc.fail("GET", f"{base}/CFQ7TTC0ZZZZ", None, 404, 400013)
    await pc.fail("GET", f"{base}?targetView=Nonsense", None, 403, 400036)
