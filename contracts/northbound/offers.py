"""An offer named in a subscription request (an upgrade's target, a legacy move's NCE offer):
by marketplace plan code, or by ``catalogItemId`` with ``termDuration`` and ``billingCycle``."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import StringConstraints, model_validator

from contracts.northbound.base import Inbound
from contracts.northbound.orders import CATALOG_ITEM_ID


class NamedOffer(Inbound):
    plan_code: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
        | None
    ) = None
    catalog_item_id: Annotated[str, StringConstraints(pattern=CATALOG_ITEM_ID)] | None = None
    term_duration: Literal["P1M", "P1Y", "P3Y"] | None = None
    billing_cycle: Literal["monthly", "annual", "triennial"] | None = None

    @model_validator(mode="after")
    def _one_way_to_name_the_offer(self) -> Self:
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
