"""A marketplace purchase order, as the marketplace backend sends it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StringConstraints, model_validator

from contracts.northbound.base import Inbound

COUNTRY = r"^[A-Z]{2}$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MPN_ID = r"^\d{1,10}$"
TENANT_DOMAIN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.onmicrosoft\.com$"
DOMAIN_PREFIX = r"^[a-z0-9](?:[a-z0-9-]{0,25}[a-z0-9])?$"
CATALOG_ITEM_ID = r"^[A-Za-z0-9]+:[A-Za-z0-9]+:[A-Za-z0-9]+$"
#: Each pattern as a refusal says it, so a 400 names the rule rather than a regular expression.
PATTERN_RULES = {
    COUNTRY: "a two-letter ISO country code in capitals, e.g. US",
    EMAIL: "an email address",
    MPN_ID: "an MPN ID: digits only, at most 10",
    TENANT_DOMAIN: "a full tenant domain such as fabrikam.onmicrosoft.com",
    DOMAIN_PREFIX: "1-27 letters, digits or inner hyphens (the part before .onmicrosoft.com)",
    CATALOG_ITEM_ID: "a catalog item id: product:sku:availability, e.g. CFQ7TTC0LH18:0001:CFQ7TTC0K971",
}

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Country = Annotated[str, StringConstraints(pattern=COUNTRY)]
Email = Annotated[str, StringConstraints(pattern=EMAIL, max_length=254)]
MpnId = Annotated[str, StringConstraints(pattern=MPN_ID)]


def _lower(value: object) -> object:
    """Domains ignore case; pydantic matches ``pattern`` before ``to_lower``, so lower first."""
    return value.strip().lower() if isinstance(value, str) else value


TenantDomain = Annotated[str, StringConstraints(pattern=TENANT_DOMAIN), BeforeValidator(_lower)]
DomainPrefix = Annotated[str, StringConstraints(pattern=DOMAIN_PREFIX), BeforeValidator(_lower)]


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

    catalog_item_id: Annotated[str, StringConstraints(pattern=CATALOG_ITEM_ID)] | None = None
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
