"""The request bodies the simulator accepts, for the published OpenAPI document.

Partner Center binds keys case-insensitively and ignores unknown ones; the document names them
in Microsoft's camelCase and allows further keys. The constraints mirror the simulator's own
binding (``simulator/*.py`` ``…In`` models), so a body valid here is one the simulator reads
(it may still refuse it on a business rule, with a Partner Center error body).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel, to_pascal

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
#: Microsoft 365 Business Basic, one year, billed monthly: in every catalog the simulator ships.
BASIC = "CFQ7TTC0LH18:0001:CFQ7TTC0K971"
_ADDRESS = {
    "firstName": "Jane",
    "lastName": "Doe",
    "addressLine1": "1 Main St",
    "city": "Springfield",
    "state": "WA",
    "postalCode": "98052",
    "country": "US",
}
_LINE = {
    "catalogItemId": BASIC,
    "quantity": 5,
    "billingCycle": "monthly",
    "termDuration": "P1Y",
    "participants": [{"key": "transaction_reseller", "value": "2000002"}],
}


def _examples(*bodies: dict[str, Any]) -> ConfigDict:
    """Example bodies in the document (and the first requests a contract tester sends)."""
    return ConfigDict(json_schema_extra={"examples": list(bodies)})


class Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="allow")


class KeyValue(Body):
    key: str
    value: str


class Address(Body):
    first_name: str = Field(min_length=1, max_length=50)
    last_name: str = Field(min_length=1, max_length=50)
    address_line1: str = Field(min_length=1, max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str | None = Field(default=None, max_length=50)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str = Field(pattern=r"^[A-Za-z]{2}$")
    phone_number: str | None = Field(default=None, max_length=40)


class NewBillingProfile(Body):
    email: str = Field(pattern=EMAIL)
    culture: str = Field(min_length=2, max_length=20)
    language: str = Field(min_length=2, max_length=20)
    company_name: str = Field(min_length=1, max_length=256)
    default_address: Address


class NewCompanyProfile(Body):
    domain: str = Field(min_length=1)
    organization_registration_number: str | None = None


class NewCustomer(Body):
    model_config = _examples(
        {
            "companyProfile": {"domain": "contosoexample.onmicrosoft.com"},
            "billingProfile": {
                "email": "jane@contoso.com",
                "culture": "en-US",
                "language": "en",
                "companyName": "Contoso Ltd",
                "defaultAddress": _ADDRESS,
            },
        }
    )

    company_profile: NewCompanyProfile
    billing_profile: NewBillingProfile
    associated_partner_id: str | None = None


class CustomerPatch(Body):
    relationship_to_partner: str | None = None


class AgreementContact(Body):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: str = Field(pattern=EMAIL)
    phone_number: str | None = Field(default=None, max_length=40)


class NewAgreement(Body):
    model_config = _examples(
        {
            "primaryContact": {"firstName": "Jane", "lastName": "Doe", "email": "jane@contoso.com"},
            "templateId": "117a77b0-9360-443b-8795-c6dedc750cf9",
            "dateAgreed": "2026-01-02T00:00:00Z",
            "type": "MicrosoftCustomerAgreement",
        }
    )

    primary_contact: AgreementContact
    template_id: str
    date_agreed: str
    type: str = "MicrosoftCustomerAgreement"


class CartLineIn(Body):
    id: int | None = None
    catalog_item_id: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    billing_cycle: str
    term_duration: str | None = None
    friendly_name: str | None = Field(default=None, max_length=250)
    participants: list[KeyValue] = []
    provisioning_context: dict[str, Any] = {}
    promotion_id: str | None = None


class CartIn(Body):
    model_config = _examples({"lineItems": [_LINE], "partnerOnRecordAttestationAccepted": True})

    line_items: list[CartLineIn] = Field(min_length=1)
    partner_on_record_attestation_accepted: bool | None = None


class OrderLineIn(Body):
    line_item_number: int = Field(ge=0)
    offer_id: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    term_duration: str | None = None
    friendly_name: str | None = None
    partner_id_on_record: str | None = None
    additional_partner_ids_on_record: list[str] = []
    provisioning_context: dict[str, Any] = {}


class OrderIn(Body):
    model_config = _examples(
        {
            "billingCycle": "monthly",
            "partnerOnRecordAttestationAccepted": True,
            "lineItems": [
                {
                    "lineItemNumber": 0,
                    "offerId": BASIC,
                    "quantity": 1,
                    "termDuration": "P1Y",
                    "partnerIdOnRecord": "2000002",
                }
            ],
        }
    )

    reference_customer_id: str | None = None
    billing_cycle: str
    partner_on_record_attestation_accepted: bool | None = None
    line_items: list[OrderLineIn] = Field(min_length=1)


class ProductTerm(Body):
    product_id: str
    sku_id: str
    availability_id: str
    term_duration: str | None = None
    billing_cycle: str | None = None


class NextTerm(Body):
    product: ProductTerm
    quantity: int = Field(ge=1)
    term_duration: str | None = None
    billing_cycle: str | None = None
    custom_term_end_date: str | None = None


class NextCharge(Body):
    product: ProductTerm
    quantity: int | None = None


class SubscriptionPatch(Body):
    model_config = _examples({"quantity": 6}, {"autoRenewEnabled": False})

    quantity: int | None = Field(default=None, ge=0)
    status: str | None = None
    auto_renew_enabled: bool | None = None
    friendly_name: str | None = Field(default=None, max_length=250)
    partner_id: str | None = None
    billing_cycle: str | None = None
    scheduled_next_term_instructions: NextTerm | None = None
    next_charge_instructions: NextCharge | None = None


class TransitionIn(Body):
    model_config = _examples(
        {
            "toCatalogItemId": "CFQ7TTC0LDPB:0001:CFQ7TTC0KDG8",
            "quantity": 1,
            "transitionType": "transition_only",
        }
    )

    to_catalog_item_id: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    transition_type: str
    to_subscription_id: str | None = None
    from_catalog_item_id: str | None = None
    from_subscription_id: str | None = None
    term_duration: str | None = None
    billing_cycle: str | None = None


class TransferIn(Body):
    source_partner_tenant_id: str = Field(min_length=1)
    source_partner_name: str = Field(min_length=1)
    customer_email_id: str = Field(pattern=EMAIL)
    customer_name: str | None = None
    target_partner_tenant_id: str | None = None
    target_partner_email_id: str | None = None
    target_product_types: list[str] | None = None
    partner_on_record: str | None = None
    transfer_type: int | None = None


class TransferLineIn(Body):
    subscription_id: str = Field(min_length=1)
    quantity: int | None = Field(default=None, ge=1)


class TransferPatch(Body):
    status: str
    line_items: list[TransferLineIn] = []


class MigrationCheck(Body):
    current_subscription_id: str = Field(min_length=1)


class MigrationIn(Body):
    current_subscription_id: str = Field(min_length=1)
    term_duration: str | None = None
    billing_cycle: str | None = None
    purchase_full_term: bool = False
    quantity: int | None = Field(default=None, ge=1)
    custom_term_end_date: date | None = None
    add_on_migrations: list[dict[str, Any]] = []


#: The events the simulator raises (``simulator.webhooks.EVENTS``).
WebhookEvent = Literal[
    "test-created", "subscription-updated", "subscription-renewed", "customer-created",
    "reseller-relationship-accepted-by-customer",
    "indirect-reseller-relationship-accepted-by-customer", "create-transfer", "update-transfer",
    "complete-transfer",
]  # fmt: skip


class WebhookRegistrationIn(BaseModel):
    """Microsoft names these keys in PascalCase (bound case-insensitively all the same).
    ``SigningSecret`` is the simulator's extension: the registration's HMAC key."""

    model_config = ConfigDict(
        alias_generator=to_pascal, validate_by_name=True, extra="allow",
        json_schema_extra={"examples": [{"WebhookUrl": "http://127.0.0.1:9/webhooks",
                                         "WebhookEvents": ["subscription-updated"]}]},
    )  # fmt: skip

    webhook_url: str = Field(pattern=r"^https?://[^/?#\s]+", max_length=2000)
    webhook_events: list[WebhookEvent] = Field(min_length=1, max_length=9)
    signature_token_to_ms_signature_header: bool | None = None
    signing_secret: str | None = Field(default=None, min_length=8, max_length=200)


class TokenRequest(BaseModel):
    """Entra ID's client-credentials grant, sent as a form: v1 names ``resource``, v2
    ``scope``."""

    model_config = ConfigDict(extra="allow")

    grant_type: Literal["client_credentials"]
    client_id: str
    client_secret: str
    resource: str | None = None
    scope: str | None = None
