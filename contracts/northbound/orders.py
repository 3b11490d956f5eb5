"""A marketplace purchase order, as the marketplace backend sends it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from contracts.northbound.base import Inbound

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
MpnId = Annotated[str, StringConstraints(pattern=r"^\d{1,10}$")]
TenantDomain = Annotated[
    str,
    StringConstraints(
        to_lower=True, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.onmicrosoft\.com$"
    ),
]
DomainPrefix = Annotated[
    str, StringConstraints(to_lower=True, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,25}[a-z0-9])?$")
]


class Address(Inbound):
    line1: Text
    line2: Text | None = None
    city: Text
    state: Annotated[str, StringConstraints(max_length=50)] | None = None
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    country: Country


class Contact(Inbound):
    first_name: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    last_name: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    email: Email
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None


class NewTenant(Inbound):
    """A customer without a Microsoft tenant: the gateway creates ``<domainPrefix>.onmicrosoft.com``."""

    domain_prefix: DomainPrefix
    company_name: Text
    address: Address
    contact: Contact
    organization_registration_number: Text | None = None


class ExistingTenant(Inbound):
    """A customer that already has a tenant: the gateway finds it, or asks the customer's admin
    to accept the reseller relationship first."""

    domain: TenantDomain


class Customer(Inbound):
    new_tenant: NewTenant | None = None
    existing_tenant: ExistingTenant | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Customer:
        if (self.new_tenant is None) == (self.existing_tenant is None):
            raise ValueError("give exactly one of newTenant or existingTenant")
        return self


class McaAcceptance(Inbound):
    """Who accepted the Microsoft Customer Agreement for the customer, and when."""

    first_name: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    last_name: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    email: Email
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    accepted_on: date


class Reseller(Inbound):
    mpn_id: MpnId
    domain: TenantDomain


class OrderLine(Inbound):
    """An offer named either by Partner Center ``catalogItemId`` (with ``termDuration`` and
    ``billingCycle``) or by the marketplace plan code, e.g.
    ``Microsoft 365 Business Basic (NCE COM 1YR MTH)``."""

    catalog_item_id: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]+:[A-Za-z0-9]+:[A-Za-z0-9]+$")]
        | None
    ) = None
    term_duration: Literal["P1M", "P1Y", "P3Y"] | None = None
    billing_cycle: Literal["monthly", "annual", "triennial", "one_time", "none"] | None = None
    plan_code: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
        | None
    ) = None
    quantity: int = Field(ge=1, le=1_000_000)
    friendly_name: Annotated[str, StringConstraints(max_length=250)] | None = None

    @model_validator(mode="after")
    def _one_way_to_name_the_offer(self) -> OrderLine:
        if (self.catalog_item_id is None) == (self.plan_code is None):
            raise ValueError("give exactly one of catalogItemId or planCode")
        if self.catalog_item_id is not None and self.billing_cycle is None:
            raise ValueError("billingCycle is required with catalogItemId")
        if self.plan_code is not None and (self.term_duration or self.billing_cycle):
            raise ValueError(
                "a planCode already names the term and billing; drop termDuration and billingCycle"
            )
        return self


class PurchaseOrder(Inbound):
    customer: Customer
    mca: McaAcceptance
    reseller: Reseller
    additional_reseller_mpn_ids: list[MpnId] = Field(default_factory=list, max_length=5)
    partner_on_record_attestation: Literal[True] = Field(
        description="The partner confirms it acts as an indirect partner for the reseller named "
        "(Microsoft's partner-of-record attestation); must be true."
    )
    lines: list[OrderLine] = Field(min_length=1, max_length=50)
    purchase_order_number: Annotated[str, StringConstraints(max_length=100)] | None = None
