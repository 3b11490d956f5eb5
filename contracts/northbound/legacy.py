"""Moving a legacy CSP subscription to NCE (seed ``000_…``: order the new NCE subscription, then
cancel the old one)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.northbound.base import Inbound
from contracts.northbound.offers import NamedOffer
from contracts.northbound.orders import MpnId


class MoveToNce(NamedOffer):
    """The NCE offer to buy, named by marketplace plan code (e.g. ``Microsoft 365 Business Basic
    (NCE COM 1YR MTH)``) or by ``catalogItemId`` + ``termDuration`` + ``billingCycle``; the
    reseller of record for the new subscription; and its seats (the legacy subscription's seats
    when left out)."""

    quantity: int | None = Field(
        default=None, ge=1, le=1_000_000,
        description="Seats of the new NCE subscription; default: the legacy subscription's seats",
    )  # fmt: skip
    reseller_mpn_id: MpnId = Field(
        description="MPN ID of the reseller of record for the new NCE subscription"
    )


class MigrateToNce(Inbound):
    """Microsoft's migration API: Partner Center picks the NCE offer; term, billing and seats
    default to the legacy subscription's."""

    term_duration: Literal["P1M", "P1Y", "P3Y"] | None = None
    billing_cycle: Literal["monthly", "annual", "triennial"] | None = None
    purchase_full_term: bool = False
    quantity: int | None = Field(default=None, ge=1, le=1_000_000)
