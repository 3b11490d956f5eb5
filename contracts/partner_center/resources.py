"""Partner Center resources as the gateway reads them: lenient (unknown fields ignored, lax
types), camelCase on the wire, snake_case in Python. Only the fields the gateway acts on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Upstream(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        frozen=True,
    )


class Token(Upstream):
    """Entra's token answer; v1 sends ``expires_in`` as a string, v2 as a number."""

    access_token: str = Field(validation_alias="access_token")
    expires_in: int = Field(validation_alias="expires_in")
    token_type: str = Field(default="Bearer", validation_alias="token_type")


class CompanyProfile(Upstream):
    tenant_id: str | None = None
    domain: str
    company_name: str | None = None


class UserCredentials(Upstream):
    user_name: str
    password: str


class Customer(Upstream):
    id: str
    company_profile: CompanyProfile
    relationship_to_partner: str | None = None
    associated_partner_id: str | None = None
    user_credentials: UserCredentials | None = None


class CustomerPage(Upstream):
    total_count: int = 0
    items: list[Customer] = []
    continuation_token: str | None = None


class MpnProfile(Upstream):
    partner_name: str
    mpn_id: str


class AgreementStatus(Upstream):
    is_agreement_signed: bool


class PartnerRelationship(Upstream):
    id: str
    name: str = ""
    mpn_id: str = ""
    relationship_type: str = ""
    state: str = ""


class RelationshipRequest(Upstream):
    url: str


class Agreement(Upstream):
    template_id: str
    type: str | None = Field(default=None, validation_alias=AliasChoices("type", "agreementType"))


class SkuDynamicAttributes(Upstream):
    is_addon: bool = False
    prerequisite_skus: list[str] = []
    upgrade_target_offers: list[str] = []


class Sku(Upstream):
    id: str
    product_id: str
    title: str
    minimum_quantity: int = 1
    maximum_quantity: int = 10**6
    is_trial: bool = False
    supported_billing_cycles: list[str] = []
    dynamic_attributes: SkuDynamicAttributes = SkuDynamicAttributes()


class Term(Upstream):
    duration: str | None = None
    billing_cycle: str


class Availability(Upstream):
    id: str
    product_id: str
    sku_id: str
    catalog_item_id: str
    segment: str = "commercial"
    terms: list[Term] = []


class ProductType(Upstream):
    id: str


class Product(Upstream):
    id: str
    title: str
    product_type: ProductType


class CartLineError(Upstream):
    error_code: int
    error_description: str = ""


class CartLine(Upstream):
    id: int
    catalog_item_id: str
    quantity: int
    error: CartLineError | None = None


class Cart(Upstream):
    id: str
    status: str
    line_items: list[CartLine] = []


class OrderLine(Upstream):
    line_item_number: int
    offer_id: str
    quantity: int
    subscription_id: str | None = None


class Order(Upstream):
    id: str
    status: str
    line_items: list[OrderLine] = []


class CheckoutResult(Upstream):
    orders: list[Order] = []
    order_errors: list[dict[str, Any]] = []


class RefundableDetail(Upstream):
    quantity: int
    allowed_until_date_time: datetime


class RefundableQuantity(Upstream):
    total_quantity: int = 0
    details: list[RefundableDetail] = []


class Subscription(Upstream):
    id: str
    offer_id: str
    offer_name: str = ""
    friendly_name: str = ""
    quantity: int
    status: str
    auto_renew_enabled: bool = False
    billing_cycle: str = ""
    term_duration: str | None = None
    commitment_end_date: datetime | None = None
    cancellation_allowed_until_date: datetime | None = None
    refundable_quantity: RefundableQuantity = RefundableQuantity()
    partner_id: str = ""
    order_id: str | None = None
    is_trial: bool = False
