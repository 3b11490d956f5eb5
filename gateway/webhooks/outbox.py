"""The outbox of operation events: what a marketplace is told, and how it can trust it.

An event is written by the journal in the same transaction as the change of state it reports
(``adapters.storage.sql_webhooks.record_event``, called from the journal's ``save``, ``retry``
and dead-lettering), only for an owner with an endpoint. So a crash can lose neither the change
nor its event, and no event tells of a change that was rolled back. The delivery loop
(``gateway.webhooks.delivery``) sends it later, at least once: a receiver dedupes on ``id``,
which stays the same across retries.

The body is ``{"id", "type": "operation.<status>", "createdAt", "operation": <the operation as
GET /v1/operations/{id} shows it, never its one-time secrets>}``, and it is signed Stripe-style:
``Pcgw-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the endpoint's
secret>`` (the timestamp inside the MAC lets a receiver refuse an old delivery replayed).

This module also says what a waiting operation waits on (:func:`waiting_on`), which the journal
stores with it so that a Partner Center event can wake it (``gateway.webhooks.inbound``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gateway.journal import Operation, StepStatus

SIGNATURE_HEADER = "Pcgw-Signature"
#: A delivery older than this is refused by :func:`verify` (Stripe's default tolerance).
TOLERANCE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    created_at: datetime
    payload: str  # the exact JSON sent, every attempt


def operation_event(op: Operation, now: datetime) -> Event:
    """The event for ``op``'s current status."""
    from gateway.api.views import operation_view  # the API's view; imported late (import order)

    event_id = str(uuid.uuid4())
    kind = f"operation.{op.status.value}"
    body = {
        "id": event_id,
        "type": kind,
        "createdAt": now.isoformat().replace("+00:00", "Z"),
        "operation": operation_view(op),
    }
    return Event(event_id, kind, now, json.dumps(body, separators=(",", ":"), ensure_ascii=False))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Pcgw-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float) -> bool:
    """What a receiver does (the README shows it in six lines): the MAC must match and the
    timestamp be within :data:`TOLERANCE_SECONDS` of ``now``."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= TOLERANCE_SECONDS and hmac.compare_digest(
        expected, fields.get("v1", "")
    )


def waiting_on(op: Operation) -> str | None:
    """What Partner Center event may end the wait ``op`` is in, as a key the journal stores:
    ``customer:<domain>`` while it waits for a customer to accept the reseller relationship,
    ``transfer:<id>`` while it waits for the source partner to accept a transfer. ``None`` when
    no event can (it polls only)."""
    if op.status.finished:
        return None
    waiting = next((s for s in op.steps if s.status is StepStatus.WAITING), None)
    if waiting is None:
        return None
    if waiting.name == "find_customer":
        customer = op.request.get("customer") or {}
        domain = (customer.get("existingTenant") or {}).get("domain") or customer.get("domain")
        return f"customer:{str(domain).lower()}" if domain else None
    if waiting.name == "await_source":
        created = op.step("create_transfer")
        transfer_id = created.output.get("transferId") if created is not None else None
        return f"transfer:{str(transfer_id).lower()}" if transfer_id else None
    return None


# -- the store ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    owner: str
    url: str
    secret: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbox row as the delivery loop or ``pcgw webhooks show`` sees it."""

    id: str
    owner: str
    operation_id: str
    type: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    finished_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    #: The endpoint's URL and secret at claim time (set on claimed rows only).
    url: str | None = None
    secret: str | None = None

    def view(self) -> dict[str, Any]:
        """Without the payload or the secret: what an operator lists."""
        return {
            "id": self.id, "type": self.type, "operationId": self.operation_id,
            "status": self.status, "attempts": self.attempts, "createdAt": _when(self.created_at),
            "nextAttemptAt": _when(self.next_attempt_at) if self.status == "pending" else None,
            "finishedAt": _when(self.finished_at), "lastStatus": self.last_status,
            "lastError": self.last_error,
        }  # fmt: skip


def _when(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


class WebhookStore(Protocol):
    """Endpoints and the outbox (``adapters.storage.SqlWebhooks``), on the journal's database."""

    async def set_endpoint(self, owner: str, url: str, secret: str | None, now: datetime) -> None:
        """Create or change ``owner``'s endpoint; ``secret=None`` keeps the one it has."""

    async def endpoint(self, owner: str) -> Endpoint | None: ...

    async def remove_endpoint(self, owner: str, now: datetime) -> bool:
        """Remove it; its undelivered events fail (nowhere to send them). ``False``: none."""

    async def claim(
        self, worker: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[Delivery]:
        """Lease due pending events, oldest first, never one whose operation has an earlier
        event still pending (so an operation's events arrive in order); with their endpoint."""

    async def delivered(self, event_id: str, now: datetime, status: int) -> None: ...

    async def retry_at(
        self, event_id: str, now: datetime, at: datetime, status: int | None, error: str
    ) -> None: ...

    async def give_up(self, event_id: str, now: datetime, status: int | None, error: str) -> None:
        """Mark it ``failed``: no further attempt (``pcgw webhooks show`` lists it)."""

    async def recent(self, owner: str, limit: int) -> list[Delivery]:
        """The owner's newest events that are not delivered (pending or failed), newest first."""

    async def counts(self, owner: str) -> dict[str, int]:
        """Events by status."""

    async def prune(self, before: datetime) -> int:
        """Delete delivered and failed events finished before ``before``."""
