"""Upgrading an NCE subscription (seed ``003_…``): all its seats (same subscription), some of
them (a new coterminous subscription), or into an existing subscription of the target offer; a
trial converts to its paid offer the same way (at least 25 seats mid-term)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from contracts.northbound.offers import NamedOffer

SUBSCRIPTION_ID = r"^[0-9A-Za-z-]{1,64}$"


class Upgrade(NamedOffer):
    """The offer to upgrade to, named by marketplace plan code (e.g. ``Microsoft 365 Business
    Standard (NCE COM 1YR MTH)``) or by ``catalogItemId`` + ``termDuration`` + ``billingCycle``;
    how many seats move (all of them when left out); and, to add them to a subscription the
    customer already holds, its id."""

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
