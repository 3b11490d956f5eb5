"""Webhook bodies the gateway takes and answers: Partner Center's events in
(``POST /v1/partner-center/events``), and the gateway's answer to them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_pascal

from contracts.northbound.base import Outbound


class PartnerCenterEventIn(BaseModel):
    """Microsoft's payload, in its PascalCase; fields Microsoft may add are ignored."""

    model_config = ConfigDict(
        alias_generator=to_pascal, validate_by_name=True, serialize_by_alias=True,
        extra="ignore", frozen=True,
        json_schema_extra={"examples": [{
            "EventName": "reseller-relationship-accepted-by-customer",
            "ResourceUri": "https://api.partnercenter.microsoft.com/v1/customers/"
                           "4b2a6e33-8791-4386-bd2b-0d55baf25039",
            "ResourceName": "Customer", "AuditUri": None,
            "ResourceChangeUtcDate": "2023-10-18T00:26:24.0159088+00:00",
        }]},
    )  # fmt: skip

    event_name: str = Field(min_length=1, max_length=200)
    resource_uri: str | None = Field(default=None, max_length=2000)
    resource_name: str | None = None
    audit_uri: str | None = None
    resource_change_utc_date: str | None = None


class EventAccepted(Outbound):
    """The event was genuine; ``resumed`` operations were waiting on what it names."""

    event_name: str
    resumed: int
