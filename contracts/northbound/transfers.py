"""Partner-to-partner NCE transfers as a marketplace asks for them, and as it reads them back.

As **target** (a customer comes to this distributor) the marketplace sends a :class:`TransferIn`;
as **source** (a customer leaves) it lists the customer's transfers and accepts one with
:class:`AcceptTransfer`. A target may withdraw its pending request with :class:`CancelTransfer`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from contracts.northbound.base import Inbound, Outbound
from contracts.northbound.orders import Email, MpnId, TenantDomain, Text

GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SUBSCRIPTION_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")


def _tenant_id(value: str) -> str:
    if not GUID.match(value):
        raise ValueError("must be a partner tenant id (a GUID such as 4c2b1f3e-7d6a-4e5b-9c8d-…)")
    return value.lower()


def _subscription_id(value: str) -> str:
    if not SUBSCRIPTION_ID.match(value):
        raise ValueError("must be a subscription id (letters, digits and hyphens)")
    return value


TenantId = Annotated[str, AfterValidator(_tenant_id)]
SubscriptionId = Annotated[str, AfterValidator(_subscription_id)]
ProductType = Literal[
    "AzureSubscription", "AzureReservation", "AzureSavingsPlan", "OnlineServicesNCE", "Software",
    "SaaS",
]  # fmt: skip


class TransferCustomer(Inbound):
    """The customer's existing tenant; this distributor needs (or asks for) its relationship."""

    domain: TenantDomain


class TransferIn(Inbound):
    """Ask another partner to hand a customer's subscriptions over to this distributor."""

    customer: TransferCustomer
    customer_email: Email = Field(description="The customer's contact for the transfer")
    source_partner_tenant_id: TenantId = Field(
        description="The tenant id of the partner that holds the subscriptions today"
    )
    source_partner_name: Text
    reseller_mpn_id: MpnId | None = Field(
        default=None,
        description="The reseller that becomes partner of record of the moved subscriptions; "
        "checked like a purchase's reseller",
    )
    target_product_types: list[ProductType] | None = Field(
        default=None,
        min_length=1,
        description="Which kinds of subscription may move; all when absent",
    )

    @field_validator("target_product_types")
    @classmethod
    def _distinct_types(cls, types: list[str] | None) -> list[str] | None:
        if types and len(set(types)) != len(types):
            raise ValueError("a product type is listed twice")
        return types


class AcceptLine(Inbound):
    subscription_id: SubscriptionId
    quantity: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Seats to move; all of them when absent"
    )


class AcceptTransfer(Inbound):
    """The subscriptions (and seats) this distributor gives to the target partner."""

    lines: list[AcceptLine] = Field(min_length=1, max_length=100)

    @field_validator("lines")
    @classmethod
    def _distinct_subscriptions(cls, lines: list[AcceptLine]) -> list[AcceptLine]:
        seen: set[str] = set()
        for line in lines:
            key = line.subscription_id.lower()
            if key in seen:
                raise ValueError(f"subscription {line.subscription_id} is listed twice")
            seen.add(key)
        return lines


class CancelTransfer(Inbound):
    """A cancel takes no fields; an empty object (or no body) is fine."""


class PartnerView(Outbound):
    tenant_id: str
    name: str | None = None


class TransferLineView(Outbound):
    subscription_id: str
    quantity: int | None = None
    billing_cycle: str | None = None
    product_type: str | None = None
    status: str | None = None
    transferred_subscription_id: str | None = Field(
        default=None, description="The subscription's new id in the target's account, once moved"
    )


class TransferView(Outbound):
    id: str
    customer_id: str
    direction: Literal["incoming", "outgoing", "other"] = Field(
        description="incoming: the customer comes to this distributor (it is the target); "
        "outgoing: the customer leaves it (it is the source, and may accept or ignore)"
    )
    status: str = Field(description="Pending, Complete, Canceled or Expired (Microsoft's words)")
    source: PartnerView
    target: PartnerView
    customer_email: str | None = None
    reseller_mpn_id: str | None = Field(
        default=None, description="Partner of record the moved subscriptions get"
    )
    target_product_types: list[str] | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    completed_at: datetime | None = None
    lines: list[TransferLineView]


class TransferList(Outbound):
    items: list[TransferView]
