"""Partner Center's answers as the simulator sends them, shaped as Microsoft documents them.

These describe RESPONSES for the published OpenAPI document (``contracts/openapi/
partner-center.json``): the fields the simulator always sends are required, the ones it may
leave out or send as ``null`` are optional, and every object allows further fields (Microsoft
adds fields without notice; a client must ignore what it does not know). They are deliberately
compatible with ``contracts.partner_center.resources``, which the gateway reads answers with:
every field a resource requires is required here with the same type.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.alias_generators import to_camel, to_pascal

T = TypeVar("T")


class Shaped(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True, extra="allow"
    )


# -- the envelope ------------------------------------------------------------------------------


class LinkHeader(Shaped):
    key: str
    value: str


class Link(Shaped):
    uri: str
    method: str
    headers: list[LinkHeader] = []


class Attributes(Shaped):
    object_type: str | None = None
    etag: str | None = None


class Collection(Shaped, Generic[T]):
    """``{totalCount, items, continuationToken?, links, attributes}``."""

    total_count: int
    items: list[T]
    continuation_token: str | None = None
    links: dict[str, Link] = {}
    attributes: Attributes = Attributes()


class Throttled(Shaped):
    """The gateway front door's 429 body (not Partner Center's error body)."""

    status_code: int
    message: str


class EntraError(BaseModel):
    """Entra ID's OAuth error (snake_case on the wire)."""

    model_config = ConfigDict(extra="allow")

    error: str
    error_description: str


class EntraToken(BaseModel):
    """Entra ID's token answer: v1 sends the lifetimes as strings, v2 as numbers."""

    model_config = ConfigDict(extra="allow")

    token_type: str
    access_token: str
    expires_in: int | str
    ext_expires_in: int | str | None = None
    expires_on: str | None = None
    not_before: str | None = None
    resource: str | None = None


# -- customers ---------------------------------------------------------------------------------


class CompanyProfile(Shaped):
    tenant_id: str | None = None
    domain: str
    company_name: str | None = None
    organization_registration_number: str | None = None


class BillingAddress(Shaped):
    country: str | None = None


class BillingProfile(Shaped):
    id: str | None = None
    email: str | None = None
    company_name: str | None = None
    default_address: BillingAddress | None = None


class UserCredentials(Shaped):
    user_name: str
    password: str


class Customer(Shaped):
    id: str
    commerce_id: str | None = None
    company_profile: CompanyProfile
    billing_profile: BillingProfile | None = None
    relationship_to_partner: str | None = None
    associated_partner_id: str | None = None
    allow_delegated_access: bool | None = None
    user_credentials: UserCredentials | None = None
    links: dict[str, Link] = {}
    attributes: Attributes = Attributes()


class RelationshipRequest(Shaped):
    url: str


class PartnerRelationship(Shaped):
    id: str
    name: str
    mpn_id: str
    relationship_type: str
    state: str
    location: str | None = None


# -- partner -----------------------------------------------------------------------------------


class MpnProfile(Shaped):
    partner_name: str
    mpn_id: str
    profile_type: str | None = None


class AgreementStatus(Shaped):
    is_agreement_signed: bool


# -- agreements --------------------------------------------------------------------------------


class AgreementMetadata(Shaped):
    template_id: str
    agreement_type: str
    agreement_link: str | None = None
    version_rank: int | None = None


class Contact(Shaped):
    first_name: str
    last_name: str
    email: str
    phone_number: str | None = None


class Agreement(Shaped):
    primary_contact: Contact
    template_id: str
    date_agreed: str
    type: str
    agreement_link: str | None = None
    user_id: str | None = None


# -- catalog -----------------------------------------------------------------------------------


class ProductType(Shaped):
    id: str
    display_name: str | None = None


class Product(Shaped):
    id: str
    title: str
    description: str | None = None
    product_type: ProductType


class SkuDynamicAttributes(Shaped):
    is_addon: bool = False
    prerequisite_skus: list[str] = []
    upgrade_target_offers: list[str] = []


class Sku(Shaped):
    id: str
    product_id: str
    title: str
    minimum_quantity: int
    maximum_quantity: int
    is_trial: bool
    supported_billing_cycles: list[str]
    dynamic_attributes: SkuDynamicAttributes


class Currency(Shaped):
    code: str
    symbol: str


class Term(Shaped):
    id: str | None = None
    duration: str | None
    description: str | None = None
    billing_cycle: str


class Availability(Shaped):
    id: str
    product_id: str
    sku_id: str
    catalog_item_id: str
    default_currency: Currency | None = None
    segment: str
    country: str | None = None
    is_purchasable: bool | None = None
    is_renewable: bool | None = None
    terms: list[Term]


# -- carts and orders --------------------------------------------------------------------------


class CartLineError(Shaped):
    error_code: int
    error_name: str | None = None
    error_description: str = ""


class CartLine(Shaped):
    id: int
    catalog_item_id: str
    friendly_name: str | None = None
    quantity: int
    billing_cycle: str
    term_duration: str | None = None
    participants: list[LinkHeader] = []
    provisioning_context: dict[str, Any] = {}
    order_group: str | None = None
    error: CartLineError | None = None


class Cart(Shaped):
    id: str
    creation_timestamp: str
    last_modified_timestamp: str
    expiration_timestamp: str
    last_modified_user: str | None = None
    status: str
    partner_on_record_attestation_accepted: bool | None = None
    line_items: list[CartLine]


class OrderLine(Shaped):
    line_item_number: int
    offer_id: str
    subscription_id: str | None = None
    product_key: str | None = None
    term_duration: str | None = None
    transaction_type: str | None = None
    friendly_name: str | None = None
    quantity: int
    partner_id_on_record: str | None = None
    additional_partner_ids_on_record: list[str] = []
    provisioning_context: dict[str, Any] = {}


class Order(Shaped):
    id: str
    alternate_id: str | None = None
    reference_customer_id: str
    billing_cycle: str
    currency_code: str | None = None
    currency_symbol: str | None = None
    line_items: list[OrderLine]
    creation_date: str
    status: str
    transaction_type: str | None = None
    total_price: float | None = None


class OrderError(Shaped):
    order_group_id: str | None = None
    code: int | None = None
    description: str | None = None


class CartCheckoutResult(Shaped):
    orders: list[Order]
    order_errors: list[OrderError] = []


class QuantityProvisioning(Shaped):
    quantity: int
    status: str


class OrderLineProvisioning(Shaped):
    order_line_item_id: int | None = None
    line_item_number: int
    status: str
    quantity_provisioning_information: list[QuantityProvisioning] = []
    product_key: str | None = None


# -- subscriptions -----------------------------------------------------------------------------


class RefundableDetail(Shaped):
    quantity: int
    allowed_until_date_time: str


class RefundableQuantity(Shaped):
    total_quantity: int
    details: list[RefundableDetail]


class RefundOption(Shaped):
    type: str
    expires_at: str | None = None


class Subscription(Shaped):
    id: str
    offer_id: str
    offer_name: str
    friendly_name: str
    product_type: ProductType | None = None
    quantity: int
    unit_type: str | None = None
    creation_date: str
    effective_start_date: str
    commitment_end_date: str | None = None
    commitment_end_date_time: str | None = None
    status: str
    auto_renew_enabled: bool
    is_trial: bool
    billing_type: str | None = None
    billing_cycle: str
    term_duration: str | None = None
    refund_options: list[RefundOption] = []
    partner_id: str
    order_id: str | None = None
    cancellation_allowed_until_date: str | None = None
    refundable_quantity: RefundableQuantity | None = None
    scheduled_next_term_instructions: dict[str, Any] | None = None
    next_charge_instructions: dict[str, Any] | None = None
    additional_partner_ids_on_record: list[str] = []
    suspension_reasons: list[str] = []
    links: dict[str, Link] = {}
    attributes: Attributes = Attributes()


class SubscriptionProvisioningStatus(Shaped):
    sku_id: str
    status: str
    quantity: int
    end_date: str | None = None


# -- transitions (upgrades) --------------------------------------------------------------------


class CodedError(Shaped):
    code: int
    description: str


class Eligibility(Shaped):
    is_eligible: bool
    transition_type: str
    errors: list[CodedError] = []


class SubscriptionEligibility(Shaped):
    is_eligible: bool
    subscription_id: str
    subscription_friendly_name: str | None = None
    subscription_term_duration: str | None = None
    subscription_billing_cycle: str | None = None
    errors: list[CodedError] = []


class TransitionEligibility(Shaped):
    catalog_item_id: str
    title: str | None = None
    description: str | None = None
    quantity: int
    eligibilities: list[Eligibility]
    subscription_eligibilities: list[SubscriptionEligibility] = []


class TransitionEvent(Shaped):
    name: str
    status: str
    timestamp: str


class Transition(Shaped):
    operation_id: str
    from_catalog_item_id: str
    from_subscription_id: str
    to_catalog_item_id: str
    to_subscription_id: str | None = None
    quantity: int
    term_duration: str | None = None
    billing_cycle: str | None = None
    transition_type: str
    events: list[TransitionEvent] = Field(default=[], alias="Events")


class Transitions(Shaped):
    transition: list[Transition]
    attributes: Attributes = Attributes()


# -- transfers ---------------------------------------------------------------------------------


class TransferLine(Shaped):
    id: int
    subscription_id: str
    quantity: int
    billing_cycle: str | None = None
    product_type: str | None = None
    status: str | None = None
    transferred_subscription_id: str | None = None


class Transfer(Shaped):
    id: str
    status: str
    transfer_type: int | None = None
    customer_email_id: str | None = None
    created_time: str
    last_modified_time: str | None = None
    completed_time: str | None = None
    expiration_time: str | None = None
    customer_name: str | None = None
    customer_tenant_id: str
    source_partner_name: str | None = None
    source_partner_tenant_id: str
    target_partner_name: str | None = None
    target_partner_tenant_id: str
    target_partner_email_id: str | None = None
    partner_on_record: str | None = None
    target_product_types: list[str] | None = None
    line_items: list[TransferLine]


# -- new-commerce migrations -------------------------------------------------------------------


class MigrationEligibility(Shaped):
    current_subscription_id: str
    is_eligible: bool
    catalog_item_id: str | None = None
    errors: list[CodedError] = []


class Migration(Shaped):
    id: str
    started_time: str
    completed_time: str | None = None
    current_subscription_id: str
    status: str
    customer_tenant_id: str
    catalog_item_id: str
    subscription_end_date: str | None = None
    quantity: int
    term_duration: str | None = None
    billing_cycle: str | None = None
    purchase_full_term: bool | None = None
    new_commerce_subscription_id: str | None = None
    new_commerce_order_id: str | None = None


# -- webhooks ----------------------------------------------------------------------------------


class WebhookEventNames(RootModel[list[str]]):
    """The event names a partner may register for."""


class WebhookRegistration(BaseModel):
    """Microsoft writes this one in PascalCase; ``SubscriberId`` is absent from a ``GET``."""

    model_config = ConfigDict(
        alias_generator=to_pascal, validate_by_name=True, serialize_by_alias=True, extra="allow"
    )

    subscriber_id: str | None = None
    webhook_url: str
    webhook_events: list[str]


class ValidationEvent(Shaped):
    correlation_id: str


class ValidationAttempt(Shaped):
    response_code: str
    response_message: str
    system_error: bool
    date_time_utc: str


class ValidationEventStatus(Shaped):
    correlation_id: str
    partner_id: str
    status: str
    callback_url: str
    results: list[ValidationAttempt]
