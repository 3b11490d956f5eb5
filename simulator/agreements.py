"""Agreements: the Microsoft Customer Agreement's metadata, and a partner's confirmation that a
customer accepted it. A purchase for a customer without one fails at checkout with 403 / 13605.

LIMITATIONS:
- ``dateAgreed`` is not compared with the simulated clock (a marketplace may record acceptances
  dated after the clock's fixed start).
- Accepting again answers 201 and records another acceptance, as the contract fixes.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from simulator.context import customer_of, partner_of, world_of
from simulator.errors import invalid_input
from simulator.models import Agreement, Customer
from simulator.wire import Inbound, body_as, collection, iso, parse_instant, query_one, respond

MCA_TEMPLATE = "117a77b0-9360-443b-8795-c6dedc750cf9"
MCA_LINK = "https://aka.ms/customeragreement"
MCA = "MicrosoftCustomerAgreement"
CLOUD_TEMPLATE = "0c8e6c9a-4e1a-4bd4-9c63-6ca0f6d9b2e1"
TEMPLATES = {
    MCA: (MCA_TEMPLATE, MCA_LINK),
    "MicrosoftCloudAgreement": (CLOUD_TEMPLATE, "https://aka.ms/microsoftcloudagreement"),
}


class Contact(Inbound):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone_number: str | None = Field(default=None, max_length=40)


class AgreementIn(Inbound):
    primary_contact: Contact
    template_id: str
    date_agreed: str
    type: str = MCA


def has_mca(customer: Customer) -> bool:
    return any(a.agreement_type == MCA for a in customer.agreements)


def render_agreement(agreement: Agreement) -> dict[str, Any]:
    contact = {
        "firstName": agreement.first_name,
        "lastName": agreement.last_name,
        "email": agreement.email,
    }
    if agreement.phone_number:
        contact["phoneNumber"] = agreement.phone_number
    return {
        "primaryContact": contact,
        "templateId": agreement.template_id,
        "dateAgreed": iso(agreement.date_agreed),
        "type": agreement.agreement_type,
        "agreementLink": TEMPLATES[agreement.agreement_type][1],
        "userId": agreement.user_id,
        "attributes": {"objectType": "Agreement"},
    }


def kinds_named(wanted: str) -> list[str]:
    """The agreement types an ``agreementType`` query asks for (``All`` means every one); an
    unknown name is a 400 naming it rather than an empty list that hides a typo."""
    if wanted.lower() == "all":
        return list(TEMPLATES)
    kinds = [k for k in TEMPLATES if k.lower() == wanted.lower()]
    if not kinds:
        raise invalid_input(f"agreementType {wanted!r} is not one of {', '.join(TEMPLATES)} or All")
    return kinds


async def metadata(request: web.Request) -> web.Response:
    kinds = kinds_named(query_one(request, "agreementType") or "MicrosoftCloudAgreement")
    items = [
        {
            "templateId": TEMPLATES[k][0],
            "agreementType": k,
            "agreementLink": TEMPLATES[k][1],
            "versionRank": 0,
            "attributes": {"objectType": "AgreementMetaData"},
        }
        for k in kinds
    ]
    return respond(collection(items, request.path_qs.removeprefix("/v1")))


async def accept(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    body = await body_as(request, AgreementIn)
    kind = next((k for k in TEMPLATES if k.lower() == body.type.lower()), None)
    if kind is None:
        raise invalid_input(f"type {body.type!r} is not one of {', '.join(TEMPLATES)}")
    if body.template_id.lower() != TEMPLATES[kind][0]:
        raise invalid_input(
            f"templateId {body.template_id} is not the current {kind} template "
            f"({TEMPLATES[kind][0]})"
        )
    agreement = Agreement(
        template_id=TEMPLATES[kind][0],
        agreement_type=kind,
        date_agreed=parse_instant(body.date_agreed, "dateAgreed"),
        first_name=body.primary_contact.first_name,
        last_name=body.primary_contact.last_name,
        email=body.primary_contact.email,
        phone_number=body.primary_contact.phone_number or "",
        user_id=world.guid(),
        partner_tenant_id=partner.tenant_id,
    )
    customer.agreements.append(agreement)
    return respond(render_agreement(agreement), status=201)


async def list_for_customer(request: web.Request) -> web.Response:
    customer = customer_of(request)
    kinds = kinds_named(query_one(request, "agreementType") or "All")
    items = [render_agreement(a) for a in customer.agreements if a.agreement_type in kinds]
    return respond(collection(items, request.path_qs.removeprefix("/v1")))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1/agreements", metadata)
    router.add_post("/v1/customers/{customer}/agreements", accept)
    router.add_get("/v1/customers/{customer}/agreements", list_for_customer)
