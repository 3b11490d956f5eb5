"""Upgrading an NCE subscription (seed ``003_…``): all its seats (same subscription), some of
them (a new coterminous subscription), or into an existing subscription of the target offer; a
trial converts to its paid offer the same way (at least 25 seats mid-term)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from contracts.northbound.base import Inbound
from contracts.northbound.orders import CATALOG_ITEM_ID

SUBSCRIPTION_ID = r"^[0-9A-Za-z-]{1,64}$"


class Upgrade(Inbound):
    """The offer to upgrade to, named by marketplace plan code (e.g. ``Microsoft 365 Business
    Standard (NCE COM 1YR MTH)``) or by ``catalogItemId`` + ``termDuration`` + ``billingCycle``;
    how many seats move (all of them when left out); and, to add them to a subscription the
    customer already holds, its id."""

    plan_code: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
        | None
    ) = None
    catalog_item_id: Annotated[str, StringConstraints(pattern=CATALOG_ITEM_ID)] | None = None
    term_duration: Literal["P1M", "P1Y", "P3Y"] | None = None
    billing_cycle: Literal["monthly", "annual", "triennial"] | None = None
    quantity: int | None = Field(
        default=None, ge=1, le=1_000_000,
        description="Seats to move; default: all of the subscription's seats (a full upgrade)",
    )  # fmt: skip
    to_subscription_id: Annotated[str, StringConstraints(pattern=SUBSCRIPTION_ID)] | None = Field(
        default=None,
        description="An existing subscription of the target offer to add the seats to; it must "
        "be active, past its cancellation window, with a term not shorter than this one's and "
        "ending on or after it",
    )
    transition_type: Literal["transition_only", "transition_with_license_transfer"] = Field(
        default="transition_with_license_transfer",
        description="Whether Microsoft reassigns the users' licences to the new offer",
    )

    @model_validator(mode="after")
    def _one_way_to_name_the_offer(self) -> Upgrade:
        if (self.catalog_item_id is None) == (self.plan_code is None):
            raise ValueError("give exactly one of catalogItemId or planCode")
        if self.catalog_item_id is not None and (
            self.term_duration is None or self.billing_cycle is None
        ):
            raise ValueError("termDuration and billingCycle are required with catalogItemId")
        if self.plan_code is not None and (self.term_duration or self.billing_cycle):
            raise ValueError(
                "a planCode already names the term and billing; drop termDuration and billingCycle"
            )
        return self
