"""The operation resource: what every write answers with and ``GET /v1/operations/{id}`` shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime

from contracts.northbound.base import Outbound

#: ``dead_letter``: the gateway stopped retrying an operation whose workers kept vanishing
#: mid-step; ``POST /v1/operations/{id}/retry`` runs it again.
OperationStatus = Literal[
    "accepted", "running", "action_required", "succeeded", "failed", "dead_letter"
]


class StepView(Outbound):
    name: str
    status: Literal["running", "waiting", "succeeded", "failed"]
    attempts: int
    ms_request_id: str
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None


class ErrorView(Outbound):
    """Why an operation failed: a sentence a reseller can act on, and Microsoft's own words."""

    message: str
    step: str | None = None
    #: The gateway's own reason when it refused without asking Microsoft, or gave up:
    #: ``rule``, ``unavailable``, ``domain_taken``, ``mpa_not_signed``, ``*_invitation_expired``,
    #: ``cart_line``, ``eu_efta``, ``order_failed``, ``internal``, ``dead_letter``.
    reason: str | None = None
    partner_center_status: int | None = None
    partner_center_code: int | None = None
    partner_center_description: str | None = None
    ms_request_id: str | None = None


class ActionView(Outbound):
    """What someone outside the gateway must do before the operation can go on."""

    kind: str
    message: str
    url: str | None = None
    expires_at: datetime | None = None


class OperationView(Outbound):
    id: str
    kind: str
    status: OperationStatus
    created_at: AwareDatetime
    updated_at: AwareDatetime
    steps: list[StepView]
    result: dict[str, Any]
    error: ErrorView | None = None
    action: ActionView | None = None
    request: dict[str, Any]


class OperationList(Outbound):
    items: list[OperationView]
    next_cursor: str | None = None


class Problem(Outbound):
    """Every northbound refusal: a stable ``code``, a sentence, and the field it is about."""

    code: str
    message: str
    field: str | None = None
    correlation_id: str | None = None
