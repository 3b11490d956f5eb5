"""The records the world holds: small slots dataclasses, never pydantic models or nested dicts.

Kept compact on purpose (``shared/design/performance.md``): a world of 100,000 subscriptions must
not make the garbage collector pause, and a subscription must cost well under 4 KiB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(slots=True)
class Partner:
    """A partner tenant: the indirect provider the gateway signs in as, a reseller, or a direct
    partner. ``accepted_providers`` maps provider tenant id -> when this reseller accepted it."""

    tenant_id: str
    mpn_id: str
    name: str
    kind: str  # indirect_provider | indirect_reseller | direct
    country: str
    domain: str
    client_id: str
    client_secret: str
    mpa_signed: bool
    accepted_providers: dict[str, datetime] = field(default_factory=dict)


@dataclass(slots=True)
class Agreement:
    """A partner's confirmation that the customer accepted an agreement (the MCA)."""

    template_id: str
    agreement_type: str
    date_agreed: datetime
    first_name: str
    last_name: str
    email: str
    phone_number: str
    user_id: str
    partner_tenant_id: str


@dataclass(slots=True)
class PartnerLink:
    """A partner's relationship with a customer, and the indirect reseller it sells through."""

    since: datetime
    indirect_reseller_id: str | None = None


@dataclass(slots=True)
class Customer:
    """A customer tenant. ``partners`` holds every partner with a relationship; a partner that is
    not in it cannot see the customer (403 / 20002)."""

    tenant_id: str
    commerce_id: str
    domain: str
    company_name: str
    country: str
    created_at: datetime
    billing_profile: dict[str, Any]
    organization_registration_number: str | None = None
    admin_password: str | None = None
    partners: dict[str, PartnerLink] = field(default_factory=dict)
    agreements: list[Agreement] = field(default_factory=list)


@dataclass(slots=True)
class CartLine:
    id: int
    catalog_item_id: str
    quantity: int
    billing_cycle: str
    term_duration: str | None
    friendly_name: str | None
    participants: list[tuple[str, str]]
    provisioning_context: dict[str, Any]
    order_group: str
    error: dict[str, Any] | None = None
    promotion_id: str | None = None


@dataclass(slots=True)
class Cart:
    id: str
    customer_id: str
    partner_id: str
    created_at: datetime
    modified_at: datetime
    expires_at: datetime
    lines: list[CartLine]
    attestation_accepted: bool | None
    status: str = "Active"  # Active | Ordered


@dataclass(slots=True)
class OrderLine:
    number: int
    catalog_item_id: str
    quantity: int
    billing_cycle: str
    term_duration: str | None
    friendly_name: str | None
    partner_id_on_record: str | None
    additional_partner_ids: list[str]
    provisioning_context: dict[str, Any]
    subscription_id: str
    transaction_type: str = "New"


@dataclass(slots=True)
class Order:
    id: str
    customer_id: str
    partner_id: str
    created_at: datetime
    completes_at: datetime
    billing_cycle: str
    lines: list[OrderLine]
    total_price: float
    currency: str = "USD"
    transaction_type: str = "UserPurchase"
    completed: bool = False


@dataclass(slots=True)
class SeatBatch:
    """Seats added at one moment, reducible until ``until`` (their own 168-hour window)."""

    quantity: int
    until: datetime


@dataclass(slots=True)
class Subscription:
    id: str
    customer_id: str
    partner_tenant_id: str  # the partner whose account holds it (provider or direct partner)
    order_id: str
    catalog_item_id: str
    offer_name: str
    friendly_name: str
    quantity: int
    billing_cycle: str
    term_duration: str | None
    created_at: datetime
    effective_start: datetime
    commitment_end: date | None  # inclusive; None for perpetual software
    cancellation_until: datetime | None
    seat_batches: list[SeatBatch]
    partner_id_on_record: str  # the reseller's MPN, "" when none
    additional_partner_ids: list[str]
    product_type: str = "OnlineServicesNCE"
    status: str = "active"  # active | suspended | expired | disabled | deleted
    auto_renew: bool = True
    is_trial: bool = False
    renewing_since: datetime | None = None  # set while a renewal is in progress
    updates: int = 0
    version: int = 1
    status_since: datetime | None = None
    #: ``scheduledNextTermInstructions`` as Microsoft shows them (camelCase), applied by the
    #: renewal; ``None`` when nothing is scheduled (issue 6, owned by subscriptions/lifecycle).
    scheduled_next_term: dict[str, Any] | None = None
    #: ``nextChargeInstructions``: a billing-cycle change taking effect at the next charge.
    next_charge: dict[str, Any] | None = None
    #: The subscription this one was upgraded from, or converted from (transitions).
    upgraded_from: str | None = None
    #: A perpetual licence's one-use product key, delivered on provisioning.
    product_key: str | None = None
    #: commercial | education | government | nonprofit; legacy non-commercial subscriptions
    #: still renew after the July 2022 cutover.
    segment: str = "commercial"


@dataclass(slots=True)
class TransferLine:
    id: int
    subscription_id: str
    quantity: int
    billing_cycle: str
    product_type: str
    status: str = "Pending"
    transferred_subscription_id: str | None = None


@dataclass(slots=True)
class Transfer:
    id: str
    customer_id: str
    customer_name: str | None
    customer_email: str
    source_partner_id: str
    source_partner_name: str
    target_partner_id: str
    target_partner_name: str
    target_partner_email: str | None
    partner_on_record: str | None
    target_product_types: list[str] | None
    transfer_type: int
    created_at: datetime
    modified_at: datetime
    expires_at: datetime
    status: str = "Pending"  # Pending | Complete | Expired | Canceled
    completed_at: datetime | None = None
    lines: list[TransferLine] = field(default_factory=list)
