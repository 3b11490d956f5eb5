"""Moving a legacy CSP subscription to NCE (seed ``000_…``: order the new NCE subscription, then
cancel the old one)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from contracts.northbound.base import Inbound
from contracts.northbound.orders import CATALOG_ITEM_ID, MpnId


class MoveToNce(Inbound):
    """The NCE offer to buy, named by marketplace plan code (e.g. ``Microsoft 365 Business Basic
    (NCE COM 1YR MTH)``) or by ``catalogItemId`` + ``termDuration`` + ``billingCycle``; the
    reseller of record for the new subscription; and its seats (the legacy subscription's seats
    when left out)."""

    plan_code: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
        | None
    ) = None
    catalog_item_id: Annotated[str, StringConstraints(pattern=CATALOG_ITEM_ID)] | None = None
    term_duration: Literal["P1M", "P1Y", "P3Y"] | None = None
    billing_cycle: Literal["monthly", "annual", "triennial"] | None = None
    quantity: int | None = Field(
        default=None, ge=1, le=1_000_000,
        description="Seats of the new NCE subscription; default: the legacy subscription's seats",
    )  # fmt: skip
    reseller_mpn_id: MpnId = Field(
        description="MPN ID of the reseller of record for the new NCE subscription"
    )

    @model_validator(mode="after")
    def _one_way_to_name_the_offer(self) -> MoveToNce:
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


class MigrateToNce(Inbound):
    """Microsoft's migration API: Partner Center picks the NCE offer; term, billing and seats
    default to the legacy subscription's."""

    term_duration: Literal["P1M", "P1Y", "P3Y"] | None = None
    billing_cycle: Literal["monthly", "annual", "triennial"] | None = None
    purchase_full_term: bool = False
    quantity: int | None = Field(default=None, ge=1, le=1_000_000)
