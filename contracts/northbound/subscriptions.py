"""Subscription changes a marketplace asks for; each becomes an operation."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

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


class BillingCycle(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"
    TRIENNIAL = "triennial"


class ScheduleChange(Inbound):
    """What the subscription becomes at its renewal: a plan code (``Microsoft 365 Business
    Standard (NCE COM 1YR MTH)``) or a ``catalogItemId`` with ``termDuration`` and
    ``billingCycle``, and the seats. The offer must be the same or an upgrade."""

    plan_code: str | None = Field(default=None, min_length=1, max_length=200)
    catalog_item_id: (
        Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]+:[0-9A-Za-z]+:[0-9A-Za-z]+$")]
        | None
    ) = None
    term_duration: Annotated[str, StringConstraints(pattern=r"^P(1M|1Y|3Y)$")] | None = None
    billing_cycle: BillingCycle | None = None
    quantity: int = Field(ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _one_way_to_name_it(self) -> ScheduleChange:
        if (self.plan_code is None) == (self.catalog_item_id is None):
            raise ValueError(
                "give either planCode or catalogItemId (with termDuration and billingCycle)"
            )
        if self.catalog_item_id is not None and (
            self.term_duration is None or self.billing_cycle is None
        ):
            raise ValueError("catalogItemId needs termDuration and billingCycle")
        return self


class ChangeBillingCycle(Inbound):
    """The billing cycle from the next charge (the current cycle again drops a pending change)."""

    billing_cycle: BillingCycle
