"""The Partner Center subset the simulator serves (``/v1`` and Entra sign-in), as a route table,
and the OpenAPI 3.1 document built from it. ``/_sim`` (the simulator's own control plane) is not
part of Partner Center and is left out.

``tests/contracts/test_published.py`` compares this table with the simulator's router, so a route
added there without a line here fails; ``python -m contracts.publish`` writes the document.
"""

from __future__ import annotations

from typing import Any

from contracts.openapi import Route, build
from contracts.partner_center import requests as rq
from contracts.partner_center import shapes as sh
from contracts.partner_center.errors import ErrorBody

FORM = "application/x-www-form-urlencoded"
C = "/v1/customers/{customer}"
SUB = C + "/subscriptions/{subscription}"
HOOKS = "/webhooks/v1/registration"

SECURITY = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An app+user-less token from Entra's client-credentials grant "
        "(POST /{tenant}/oauth2/token, resource https://api.partnercenter.microsoft.com).",
    }
}


def _r(method: str, path: str, summary: str, response: Any, tag: str, **more: Any) -> Route:
    return Route(method, path, summary, response, tag=tag, **more)


def _sign_in(path: str, version: str) -> Route:
    return Route(
        "POST", path, f"Entra ID client-credentials sign-in ({version})", sh.EntraToken,
        body=rq.TokenRequest, body_type=FORM, tag="sign-in", secured=False,
        responses={400: sh.EntraError, 401: sh.EntraError},
    )  # fmt: skip


def _catalog(root: str, tag: str) -> list[Route]:
    country = {"country": "ISO 3166 two-letter code (not on customer-scoped routes)"}
    listing = {**country, "targetView": "e.g. OnlineServices", "targetSegment": "commercial"}
    product = root + "/{product}"
    sku = product + "/skus/{sku}"
    return [
        _r("GET", root, "List products", sh.Collection[sh.Product], tag, query=listing),
        _r("GET", product, "Get a product", sh.Product, tag, query=country),
        _r("GET", product + "/skus", "List a product's SKUs", sh.Collection[sh.Sku], tag,
           query=country),
        _r("GET", sku, "Get a SKU", sh.Sku, tag, query=country),
        _r("GET", sku + "/availabilities", "List a SKU's availabilities",
           sh.Collection[sh.Availability], tag, query=country),
        _r("GET", sku + "/availabilities/{availability}", "Get an availability",
           sh.Availability, tag, query=country),
    ]  # fmt: skip


ROUTES: list[Route] = [
    _sign_in("/{tenant}/oauth2/token", "v1"),
    _sign_in("/{tenant}/oauth2/v2.0/token", "v2"),
    # -- partner ---------------------------------------------------------------------------
    _r("GET", "/v1/profiles/mpn", "The partner's (or another partner's) MPN profile",
       sh.MpnProfile, "partner", query={"mpnId": "another partner's MPN id"}),
    _r("GET", "/v1/compliance/csp/agreementstatus", "Whether a reseller signed the MPA",
       sh.AgreementStatus, "partner", query={"mpnId": "MPN id", "tenantId": "tenant id"}),
    _r("GET", "/v1/relationships", "Indirect provider / reseller relationships",
       sh.Collection[sh.PartnerRelationship], "partner",
       query={"relationship_type": "IsIndirectCloudSolutionProviderOf | IsIndirectResellerOf"}),
    # -- customers -------------------------------------------------------------------------
    _r("HEAD", "/v1/domains/{domain}", "Whether a domain is taken", None, "customers",
       responses={404: None}),
    _r("GET", "/v1/customers", "List customers", sh.Collection[sh.Customer], "customers",
       query={"size": "page size", "filter": "JSON filter on domain or companyName",
              "seekOperation": "next (with MS-ContinuationToken)"}),
    _r("POST", "/v1/customers", "Create a customer", sh.Customer, "customers", status=201,
       body=rq.NewCustomer),
    _r("GET", "/v1/customers/relationshiprequests", "The reseller-relationship invitation",
       sh.RelationshipRequest, "customers"),
    _r("GET", C, "Get a customer", sh.Customer, "customers"),
    _r("PATCH", C, "Remove the reseller relationship", sh.Customer, "customers",
       body=rq.CustomerPatch),
    _r("GET", C + "/relationships", "A customer's indirect resellers",
       sh.Collection[sh.PartnerRelationship], "customers"),
    # -- agreements ------------------------------------------------------------------------
    _r("GET", "/v1/agreements", "Agreement metadata", sh.Collection[sh.AgreementMetadata],
       "agreements", query={"agreementType": "e.g. MicrosoftCustomerAgreement"}),
    _r("POST", C + "/agreements", "Confirm the customer accepted an agreement", sh.Agreement,
       "agreements", status=201, body=rq.NewAgreement),
    _r("GET", C + "/agreements", "A customer's agreements", sh.Collection[sh.Agreement],
       "agreements", query={"agreementType": "e.g. MicrosoftCustomerAgreement"}),
    # -- catalog ---------------------------------------------------------------------------
    *_catalog("/v1/products", "catalog"),
    *_catalog(C + "/products", "catalog"),
    # -- carts and orders ------------------------------------------------------------------
    _r("POST", C + "/carts", "Create a cart", sh.Cart, "carts", status=201, body=rq.CartIn),
    _r("GET", C + "/carts/{cart}", "Get a cart", sh.Cart, "carts"),
    _r("PUT", C + "/carts/{cart}", "Replace a cart", sh.Cart, "carts", status=201,
       body=rq.CartIn),
    _r("POST", C + "/carts/{cart}/checkout", "Check out a cart", sh.CartCheckoutResult,
       "carts", status=201),
    _r("GET", C + "/orders", "List orders", sh.Collection[sh.Order], "orders",
       query={"billingType": "license"}),
    _r("POST", C + "/orders", "Place an order", sh.Order, "orders", status=201, body=rq.OrderIn),
    _r("GET", C + "/orders/{order}", "Get an order", sh.Order, "orders"),
    _r("GET", C + "/orders/{order}/provisioningstatus", "An order's provisioning status",
       sh.Collection[sh.OrderLineProvisioning], "orders"),
    # -- subscriptions ---------------------------------------------------------------------
    _r("GET", C + "/subscriptions", "List subscriptions", sh.Collection[sh.Subscription],
       "subscriptions", query={"order_id": "only this order's", "mpn_id": "only this reseller's"}),
    _r("GET", SUB, "Get a subscription", sh.Subscription, "subscriptions"),
    _r("PATCH", SUB, "Change a subscription", sh.Subscription, "subscriptions",
       body=rq.SubscriptionPatch),
    _r("GET", SUB + "/provisioningstatus", "A subscription's provisioning status",
       sh.SubscriptionProvisioningStatus, "subscriptions"),
    # -- transitions -----------------------------------------------------------------------
    _r("GET", SUB + "/transitionEligibilities", "Upgrade targets and their eligibility",
       sh.Collection[sh.TransitionEligibility], "transitions",
       query={"eligibilityType": "immediate | scheduled"}),
    _r("GET", SUB + "/transitions", "Past transitions", sh.Transitions, "transitions",
       query={"operationId": "one transition"}),
    _r("POST", SUB + "/transitions", "Upgrade a subscription", sh.Transition, "transitions",
       body=rq.TransitionIn),
    # -- transfers -------------------------------------------------------------------------
    _r("POST", C + "/transfers", "Propose a transfer", sh.Transfer, "transfers", status=201,
       body=rq.TransferIn),
    _r("GET", C + "/transfers", "List transfers", sh.Collection[sh.Transfer], "transfers"),
    _r("GET", C + "/transfers/{transfer}", "Get a transfer", sh.Transfer, "transfers"),
    _r("PATCH", C + "/transfers/{transfer}", "Accept or cancel a transfer", sh.Transfer,
       "transfers", body=rq.TransferPatch),
    # -- new-commerce migrations -----------------------------------------------------------
    _r("POST", C + "/migrations/newcommerce/validate", "Can a legacy subscription migrate",
       sh.MigrationEligibility, "migrations", body=rq.MigrationCheck),
    _r("POST", C + "/migrations/newcommerce", "Migrate a legacy subscription", sh.Migration,
       "migrations", status=201, body=rq.MigrationIn),
    _r("GET", C + "/migrations/newcommerce/{migration}", "A migration", sh.Migration,
       "migrations"),
    # -- webhooks --------------------------------------------------------------------------
    _r("GET", HOOKS + "/events", "The webhook events a partner may register for",
       sh.WebhookEventNames, "webhooks"),
    _r("POST", HOOKS, "Register for webhook events", sh.WebhookRegistration, "webhooks",
       body=rq.WebhookRegistrationIn),
    _r("GET", HOOKS, "The partner's webhook registration", sh.WebhookRegistration, "webhooks"),
    _r("PUT", HOOKS, "Change the webhook registration", sh.WebhookRegistration, "webhooks",
       body=rq.WebhookRegistrationIn),
    _r("DELETE", HOOKS, "Remove the webhook registration", None, "webhooks", status=204),
    _r("POST", HOOKS + "/validationEvents", "Send a test-created event", sh.ValidationEvent,
       "webhooks"),
    _r("GET", HOOKS + "/validationEvents/{correlation}", "Each attempt to deliver a test event",
       sh.ValidationEventStatus, "webhooks"),
    _r("GET", "/webhooks/v1/customers/{customer}/subscriptions/{subscription}",
       "A subscription, at the ResourceUri its webhook events carry", sh.Subscription,
       "webhooks"),
]  # fmt: skip


def openapi() -> dict[str, Any]:
    """Every ``/v1`` answer not listed is Partner Center's error body (``default``); 429 is the
    front door's own body."""
    routes = [_throttle(r) if r.path.startswith("/v1/") else r for r in ROUTES]
    return build(
        routes,
        title="Partner Center (the subset the simulator serves)",
        version="1",
        error=ErrorBody,
        security=SECURITY,
        default_error=True,
    )


def _throttle(route: Route) -> Route:
    return Route(
        route.method, route.path, route.summary, route.response, route.status, route.body,
        route.query, route.headers, (*route.errors, 401, 403, 404), route.tag,
        {**route.responses, 429: sh.Throttled}, route.body_type, route.secured,
    )  # fmt: skip
