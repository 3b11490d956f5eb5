"""Subscription changes a marketplace asks for; each becomes an operation."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from contracts.northbound.base import Inbound


class CancellationReason(StrEnum):
    """The marketplace's cancellation reasons (seed ``000_…``)."""

    MOVING_TO_DIRECT = "Moving to a Direct vendor relationship"
    UNHAPPY_WITH_PRODUCT = "Customer canceled service - unhappy with product"
    MOVING_TO_ANOTHER_RESELLER = "Customer canceled the service - moving to another reseller"
    DISTRIBUTOR_SALES_SUPPORT = "Changing distributors - unhappy with sales support"
    DISTRIBUTOR_PRICE = "Changing distributors - for better price"
    DISTRIBUTOR_BILLING = "Changing distributors - unhappy with billing"
    DISTRIBUTOR_SUPPORT = "Changing distributors - unhappy with support"
    DISTRIBUTOR_MARKETPLACE = "Changing distributors - unhappy with the Cloud Marketplace"
    TRIAL = "Cancellation of a Trial"
    ADMINISTRATIVE = "Order Error/Cancel for administrative reasons"
    OTHER = "Other"


class ChangeSeats(Inbound):
    quantity: int = Field(ge=1, le=1_000_000)


class Cancel(Inbound):
    reason: CancellationReason
    comment: str | None = Field(default=None, max_length=1000)


class SetAutoRenew(Inbound):
    enabled: bool


class ChangePartnerOfRecord(Inbound):
    """The reseller (MPN ID) to name as the subscription's partner of record; it is checked
    like a purchase's reseller (exists, signed the MPA, accepted our invitation)."""

    mpn_id: Annotated[str, StringConstraints(pattern=r"^\d{1,10}$")]


class NoBody(Inbound):
    """Suspend and resume take no fields; an empty object (or no body) is fine."""
