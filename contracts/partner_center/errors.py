"""Partner Center's error body and the codes both the simulator and the gateway speak.

Microsoft answers every failure (but throttling) with ``{code, description, data, source}``;
``code`` is an integer on the wire (simulator contract). The descriptions below are Microsoft's
published texts (``developer/error-codes.md``), with ``{0}``-style placeholders filled by
``str.format`` at the raise site.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

#: code -> (HTTP status, description template). Only codes a caller can meet are listed.
CODES: dict[int, tuple[int, str]] = {
    400: (401, "Access denied"),
    1000: (404, "Not found"),
    2000: (400, "Invalid input: {0}"),
    2001: (400, "{0}"),
    2002: (400, "Subscription quantity isn't within minimum and maximum allowed quantity"),
    2011: (400, "Subscription with ID {0} and deleted status can't be updated."),
    2055: (400, "Etag is no longer valid"),
    2072: (404, "PartnerID of Indirect Provider isn't valid as Partner On Record"),
    2200: (400, "Requested MPN Id {0} is either invalid or does not exist in Partner Center."),
    2204: (400, "Requested partner {0} is not a CSP indirect reseller."),
    2205: (400, "Requested tenant {0} is either invalid or does not exist in Partner Center."),
    3000: (404, "Partner Organization with partner_id {0} could not be found"),
    13605: (
        403,
        "Either a partner confirmation of the customer acceptance of the Microsoft Customer "
        "Agreement must be provided or the customer must accept the Microsoft Customer Agreement "
        "in the Microsoft Admin Center before you can complete this purchase",
    ),
    20000: (404, "Order with ID {0} not found."),
    20002: (403, "The partner ID {0} has no commerce relationship with the customer ID {1}."),
    20003: (404, "Subscription with ID {0} not found."),
    60003: (404, "Tenant not found"),
    400013: (404, "Product with ID {0} not found."),
    400018: (404, "Sku with ID {0} not found."),
    400019: (404, "Availability with ID {0} not found."),
    400030: (403, "Target segment {0} is not allowed."),
    400036: (403, "Target view {0} is not allowed."),
    600049: (400, "Organization registration ID is required for country {0}."),
    600050: (
        400,
        "Organization registration ID information is invalid and should be of the format {0}",
    ),
    600051: (400, "Phone number is required for country {0}."),
    800002: (400, "Invalid request input: {0}"),
    800003: (500, "Unexpected service error"),
    800008: (404, "Unable to retrieve cart ID {0}"),
    800009: (400, "Error in Cart item(s)"),
    800015: (404, "PartnerID {0} isn't found"),
    800016: (400, "PartnerID {0} isn't a valid Indirect Reseller"),
    800018: (400, "Sandbox limit exceeded: {0}"),
    800040: (400, "Asset status can't be changed to {0} from {1}"),
    800064: (409, "Cart {0} is being processed by another request"),
    800065: (400, "can't check out an already submitted cart {0}."),
    800082: (409, "Subscription is not ready to be updated. Try again after sometime"),
    800091: (400, "Can't update a subscription with suspended status"),
    800093: (400, "The subscription is not auto-renewable."),
    800098: (400, "Can't update the partner on record for this subscription"),
    900100: (404, "Transfer with ID {0} not found."),
    900104: (409, "Transfer {0} is in {1} state and can't be updated."),
    900123: (403, "Microsoft Partner Agreement hasn't been accepted by the indirect reseller {0}"),
    900206: (400, "Partner Attestation is missing"),
    900213: (
        400,
        "You have passed your {0}-hour cancellation window. We are unable to cancel your purchase",
    ),
    900214: (400, "You have passed your {0}-hour window for reducing seats for this subscription."),
    900270: (400, "The billing cycle cannot be longer than the term."),
    900275: (
        400,
        "The requested quantity for line item {0} is not within the allowed quantity for this "
        "offer.",
    ),
    900279: (400, "Update operations are no longer allowed for this subscription."),
    900311: (
        400,
        "This subscription has been updated too many times. Please contact partner support if "
        "you need to make more updates on this subscription.",
    ),
}


class ErrorBody(BaseModel):
    """Microsoft's error body, read leniently (the gateway parses upstream answers with it)."""

    model_config = ConfigDict(extra="ignore")

    code: int
    description: str
    data: list[Any] = []
    source: str = "PartnerFD"


def describe(code: int, *args: object) -> str:
    """Microsoft's description for ``code`` with its placeholders filled."""
    template = CODES[code][1]
    return template.format(*args) if args else template


def http_status(code: int) -> int:
    """The HTTP status Microsoft pairs with ``code``."""
    return CODES[code][0]
