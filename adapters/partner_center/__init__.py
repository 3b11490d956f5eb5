"""The gateway's only way to Partner Center: sign-in, headers, retries, typed errors."""

from adapters.partner_center.client import PartnerCenterClient, RetryPolicy
from adapters.partner_center.token import TokenProvider

__all__ = ["PartnerCenterClient", "RetryPolicy", "TokenProvider"]
