"""Partner Center's webhook events, taken as a nudge: an event about a customer relationship or
a transfer makes the operations waiting on it due at once, instead of at their next poll.

An event is trusted only with a valid signature: ``Authorization: Signature <base64>`` (or
``X-MS-Signature: Signature <base64>``, Microsoft's alternative) holding the base64 HMAC-SHA256
of the exact body under ``PCGW_PC_WEBHOOK_SECRET``, the simulator's scheme
(``simulator.webhooks``). A bad or missing signature is refused before anything is done.

An event only ever wakes: the woken operation reads Partner Center again, as its poll would,
and decides from what it reads. So a forged or repeated event (had it a valid signature) could
at most cost a read; and polling stays, as the fallback for an event never sent or lost.

What wakes what (``gateway.webhooks.outbox.waiting_on`` is what the operations wait on):

- ``reseller-relationship-accepted-by-customer``, ``indirect-reseller-…``: the operations
  waiting for that customer (by its domain, read once from Partner Center; if that read fails,
  every operation waiting for a customer);
- ``create-transfer``, ``update-transfer``, ``complete-transfer``: the operations waiting on
  that transfer;
- anything else (``subscription-updated``, ``customer-created``, ``test-created``, events
  Microsoft adds later) is acknowledged and changes nothing.

LIMITATIONS:
- Microsoft's own signature (RSA-SHA256 under the certificate at ``X-MS-Certificate-Url``) is
  not verified: against the real Partner Center, leave ``PCGW_PC_WEBHOOK_SECRET`` unset (the
  route then answers 404) and operations resume by polling.
- An event that lands while the operation's worker is mid-check (between its read and its
  decision to wait) finds it leased and does not wake it; its next poll does.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

import structlog
from pydantic import ValidationError

from contracts.northbound.webhooks import PartnerCenterEventIn as PartnerCenterEvent
from gateway.api.inputs import ApiError
from gateway.journal import Journal
from gateway.upstream import PartnerCenter, UpstreamError

log = structlog.get_logger("gateway.webhooks")

RELATIONSHIP_EVENTS = frozenset({
    "reseller-relationship-accepted-by-customer",
    "indirect-reseller-relationship-accepted-by-customer",
})  # fmt: skip
TRANSFER_EVENTS = frozenset({"create-transfer", "update-transfer", "complete-transfer"})
_GUID = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_CUSTOMER = re.compile(rf"/customers/({_GUID})/?$")
_TRANSFER = re.compile(rf"/customers/({_GUID})/transfers/({_GUID})/?$")


def check_signature(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """401 unless the body carries a valid signature under ``secret``."""
    header = "X-MS-Signature" if "X-MS-Signature" in headers else "Authorization"
    scheme, _, token = headers.get(header, "").strip().partition(" ")
    if scheme.lower() != "signature" or not token.strip():
        raise ApiError(401, "unauthorized", "a Partner Center event must be signed: "
                       "`Authorization: Signature <base64 HMAC-SHA256 of the body>`", header)  # fmt: skip
    expected = base64.b64encode(hmac.digest(secret.encode(), body, "sha256")).decode()
    if not hmac.compare_digest(expected.encode(), token.strip().encode("utf-8", "replace")):
        raise ApiError(401, "unauthorized", "the event's signature does not match its body "
                       "under PCGW_PC_WEBHOOK_SECRET", header)  # fmt: skip


def read_event(body: bytes) -> PartnerCenterEvent:
    """The event, or a 400 naming the field that is wrong."""
    try:
        return PartnerCenterEvent.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        if first["type"] == "json_invalid":
            raise ApiError(400, "invalid_json", f"the event is not JSON: {first['msg']}",
                           "body") from None  # fmt: skip
        if first["type"] == "missing":
            raise ApiError(400, "invalid_request", f"{where} is required", where) from None
        raise ApiError(400, "invalid_request", f"{where}: {first['msg']}", where) from None


def _path(event: PartnerCenterEvent) -> str:
    try:
        return urlsplit(event.resource_uri or "").path
    except ValueError:
        return ""


async def waits_ended(event: PartnerCenterEvent, reads: PartnerCenter) -> list[str]:
    """The ``waiting_on`` keys ``event`` may end (``*`` ends a prefix)."""
    path = _path(event)
    if event.event_name in TRANSFER_EVENTS:
        found = _TRANSFER.search(path)
        return [f"transfer:{found.group(2).lower()}"] if found else []
    if event.event_name in RELATIONSHIP_EVENTS:
        found = _CUSTOMER.search(path)
        if not found:
            return ["customer:*"]
        try:
            reply = await reads.call("GET", f"/v1/customers/{found.group(1)}")
            domain = str((reply.body.get("companyProfile") or {}).get("domain") or "").lower()
        except UpstreamError as exc:  # woken all the same: each one reads for itself
            log.info("webhooks.customer_unread", customer=found.group(1), error=str(exc))
            domain = ""
        return [f"customer:{domain}"] if domain else ["customer:*"]
    return []


async def resume(
    event: PartnerCenterEvent, journal: Journal, reads: PartnerCenter, now: datetime
) -> list[str]:
    """Make the operations ``event`` concerns due now; their ids."""
    keys = await waits_ended(event, reads)
    woken = await journal.wake(keys, now) if keys else []
    log.info("webhooks.partner_center_event", name=event.event_name, keys=keys, woken=len(woken))
    return woken
