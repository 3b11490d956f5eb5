"""Partner Center webhooks: each partner's registration, the events the world raises, and their
delivery to the registered URL, signed.

Microsoft's side, followed where documented:
https://learn.microsoft.com/partner-center/developer/partner-center-webhooks (the registration
API, the signature) and https://learn.microsoft.com/partner-center/developer/partner-center-webhook-events
(the events and their payload).

- Registration, per partner tenant (the bearer token's), under ``/webhooks/v1/registration``:
  ``POST`` / ``PUT`` ``{"WebhookUrl", "WebhookEvents", "SignatureTokenToMsSignatureHeader"?}``
  answer ``{"SubscriberId", "WebhookUrl", "WebhookEvents"}``; ``GET`` answers ``{"WebhookUrl",
  "WebhookEvents"}``; ``DELETE`` removes it; ``GET …/events`` lists the event names;
  ``POST …/validationEvents`` sends a ``test-created`` event and ``GET …/validationEvents/{id}``
  shows each attempt to deliver it.
- The payload is Microsoft's ``{"EventName", "ResourceUri", "ResourceName", "AuditUri",
  "ResourceChangeUtcDate"}``; ``ResourceUri`` names the simulator's own host.
- Events: ``subscription-updated`` (an accepted PATCH that changes seats, status or auto-renew;
  a clock-driven expiry, disable, delete or billing-cycle change), ``subscription-renewed`` (a
  renewal or a trial's conversion, when the clock completes it), ``customer-created``
  (``POST /v1/customers``), ``reseller-relationship-accepted-by-customer`` and
  ``indirect-reseller-relationship-accepted-by-customer`` (``POST /_sim/tenants/{t}/
  accept-relationship``; the second when an indirect reseller is named, to the provider and the
  reseller), ``create-transfer``, ``update-transfer`` (cancelled, expired) and
  ``complete-transfer`` (to the transfer's source and target partners), ``test-created``.
- Delivery is asynchronous: raising an event only queues it, so the call that caused it never
  waits for, nor fails with, the receiver. Each partner's events go out in order, one at a time;
  an answer other than 2xx (or none within 5 s) is retried twice, 0.5 s then 2 s later.
  ``GET /_sim/webhooks/deliveries`` (an extension) shows what was sent, where, and each answer.

LIMITATIONS:
- The signature is not Microsoft's: Microsoft signs the body with RSA-SHA256 under a Microsoft
  certificate (``Authorization: Signature <base64>``, ``X-MS-Certificate-Url``,
  ``X-MS-Signature-Algorithm: rsa-sha256``), which the simulator cannot do. It sends the same
  ``Authorization: Signature <base64>`` (or ``X-MS-Signature: Signature <base64>`` with
  ``SignatureTokenToMsSignatureHeader``) holding the base64 HMAC-SHA256 of the body under a
  shared secret, ``X-MS-Signature-Algorithm: hmac-sha256``, and no ``X-MS-Certificate-Url``. The
  secret is the setting ``webhook_secret`` (``PCSIM_WEBHOOK_SECRET``), or the registration's
  ``SigningSecret`` (an extension field Microsoft does not have).
- Microsoft documents ``ResourceUri`` and ``ResourceName`` for ``subscription-updated`` and
  ``reseller-relationship-accepted-by-customer`` only. The others are the simulator's choice:
  ``subscription-renewed`` as ``subscription-updated`` (``/webhooks/v1/customers/{c}/
  subscriptions/{s}``, ``subscription``; the simulator serves that path as the subscription);
  ``customer-created`` and the indirect relationship as the documented relationship event
  (``/v1/customers/{c}``, ``Customer``); transfers ``/v1/customers/{c}/transfers/{t}``,
  ``transfer``. ``AuditUri`` is always ``null`` (no audit records).
- Events go out at once; Microsoft delays ``subscription-updated`` up to 48 hours.
  ``ResourceChangeUtcDate`` is the simulated clock's time of the change.
- Three attempts, not Microsoft's ten, and no offline queue; a ``POST /_sim/reset`` leaves
  events already queued to be sent (their records stay with the old world). The 2-per-minute
  limit on validation events is not enforced. Registering again with ``POST`` while registered
  is 409 / 800002 (Microsoft's answer is not documented).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog
from aiohttp import web
from pydantic import Field

from simulator.clock import Event
from simulator.context import partner_of, sim_of, world_of
from simulator.errors import PartnerCenterError, invalid_input, sim_error
from simulator.wire import Inbound, body_as, dumps, iso, no_content, respond
from simulator.world import World

log = structlog.get_logger("simulator.webhooks")

SUBSCRIPTION_UPDATED = "subscription-updated"
SUBSCRIPTION_RENEWED = "subscription-renewed"
CUSTOMER_CREATED = "customer-created"
RELATIONSHIP_ACCEPTED = "reseller-relationship-accepted-by-customer"
INDIRECT_RELATIONSHIP_ACCEPTED = "indirect-reseller-relationship-accepted-by-customer"
TRANSFER_CREATED = "create-transfer"
TRANSFER_UPDATED = "update-transfer"
TRANSFER_COMPLETED = "complete-transfer"
TEST_CREATED = "test-created"
#: What ``GET /webhooks/v1/registration/events`` lists: the events the simulator raises.
EVENTS = (
    TEST_CREATED, SUBSCRIPTION_UPDATED, SUBSCRIPTION_RENEWED, CUSTOMER_CREATED,
    RELATIONSHIP_ACCEPTED, INDIRECT_RELATIONSHIP_ACCEPTED, TRANSFER_CREATED, TRANSFER_UPDATED,
    TRANSFER_COMPLETED,
)  # fmt: skip

#: Attempts per event, and the wall-clock waits between them.
ATTEMPTS = 3
BACKOFF = (0.5, 2.0)
TIMEOUT = 5.0

#: Clock events (``simulator.clock.EVENT_TYPES``) that are webhook events too.
_FROM_CLOCK = {
    "renewalCompleted": SUBSCRIPTION_RENEWED,
    "trialConverted": SUBSCRIPTION_RENEWED,
    "subscriptionExpired": SUBSCRIPTION_UPDATED,
    "subscriptionDisabled": SUBSCRIPTION_UPDATED,
    "subscriptionDeleted": SUBSCRIPTION_UPDATED,
    "billingCycleChanged": SUBSCRIPTION_UPDATED,
    "transferExpired": TRANSFER_UPDATED,
}


@dataclass(slots=True)
class Registration:
    subscriber_id: str
    url: str
    events: list[str]
    #: The registration's own HMAC key (``SigningSecret``); ``None``: the simulator's setting.
    secret: str | None = None
    #: ``SignatureTokenToMsSignatureHeader``: the signature in ``X-MS-Signature``.
    ms_signature_header: bool = False


@dataclass(slots=True)
class Attempt:
    at: datetime  # wall clock: retries wait in real time, whatever the simulated clock does
    status: int | None
    error: str | None


@dataclass(slots=True)
class Delivery:
    id: str
    partner_id: str
    event_name: str
    url: str
    body: bytes
    headers: dict[str, str]
    raised_at: datetime
    correlation_id: str | None = None
    state: str = "pending"  # pending | delivered | failed
    attempts: list[Attempt] = field(default_factory=list)

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "partnerTenantId": self.partner_id,
            "eventName": self.event_name,
            "url": self.url,
            "state": self.state,
            "raisedAt": iso(self.raised_at),
            "correlationId": self.correlation_id,
            "headers": self.headers,
            "body": json.loads(self.body),
            "attempts": [
                {"at": iso(a.at), "status": a.status, "error": a.error} for a in self.attempts
            ],
        }


def signature(secret: str, body: bytes) -> str:
    """The base64 HMAC-SHA256 of the exact body bytes (what a receiver recomputes)."""
    return base64.b64encode(hmac.digest(secret.encode(), body, "sha256")).decode()


# -- delivery ------------------------------------------------------------------------------------


class Dispatcher:
    """Sends queued deliveries: one lane (a queue and a task) per partner, so a partner's events
    arrive in the order they happened and a slow receiver holds up only its own partner."""

    def __init__(self, backoff: Sequence[float] = BACKOFF) -> None:
        self._backoff = backoff
        self._session: aiohttp.ClientSession | None = None
        self._lanes: dict[str, tuple[asyncio.Queue[Delivery], asyncio.Task[None]]] = {}

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            connector=aiohttp.TCPConnector(limit=32, limit_per_host=8),
        )

    async def close(self) -> None:
        for _, task in self._lanes.values():
            task.cancel()
        for _, task in self._lanes.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._lanes.clear()
        if self._session is not None:
            await self._session.close()

    def send(self, delivery: Delivery) -> None:
        lane = self._lanes.get(delivery.partner_id)
        if lane is None:
            queue: asyncio.Queue[Delivery] = asyncio.Queue()
            task = asyncio.create_task(self._drain(queue), name=f"webhooks-{delivery.partner_id}")
            lane = self._lanes[delivery.partner_id] = (queue, task)
        lane[0].put_nowait(delivery)

    async def _drain(self, queue: asyncio.Queue[Delivery]) -> None:
        while True:
            delivery = await queue.get()
            try:
                await self._deliver(delivery)
            except Exception:  # a bug here must not stop the partner's later events
                log.exception("webhook.delivery_crashed", delivery=delivery.id)
                delivery.state = "failed"

    async def _deliver(self, delivery: Delivery) -> None:
        assert self._session is not None, "the dispatcher was not opened"
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(self._backoff[min(attempt, len(self._backoff)) - 1])
            status, error = None, None
            try:
                async with self._session.post(
                    delivery.url, data=delivery.body, headers=delivery.headers,
                    allow_redirects=False,
                ) as resp:  # fmt: skip
                    status = resp.status
                    await resp.read()
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                error = f"{exc.__class__.__name__}: {exc}"[:300]
            delivery.attempts.append(Attempt(datetime.now(UTC), status, error))
            if status is not None and 200 <= status < 300:
                delivery.state = "delivered"
                return
            log.info("webhook.attempt_failed", delivery=delivery.id, status=status, error=error)
        delivery.state = "failed"


DISPATCHER = web.AppKey("webhook_dispatcher", Dispatcher)


async def _dispatching(app: web.Application) -> AsyncIterator[None]:
    dispatcher = app[DISPATCHER]
    await dispatcher.open()
    try:
        yield
    finally:
        await dispatcher.close()


# -- raising events ------------------------------------------------------------------------------


def _change_date(moment: datetime) -> str:
    """Microsoft's form: seven fractional digits and ``+00:00``."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0+00:00"


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def raise_event(
    request: web.Request,
    partner_ids: Iterable[str],
    event_name: str,
    resource_path: str,
    resource_name: str,
    correlation_id: str | None = None,
    at: datetime | None = None,
) -> list[Delivery]:
    """Queue ``event_name`` (a change at ``at``, by default now) for each of ``partner_ids``
    registered for it. Never raises: the change that caused the event has happened, and its
    caller must get its answer."""
    queued: list[Delivery] = []
    try:
        sim = sim_of(request)
        world = sim.world
        registrations = [
            (partner_id, registration)
            for partner_id in dict.fromkeys(partner_ids)
            if (registration := world.webhook_registrations.get(partner_id)) is not None
            and event_name in registration.events
        ]
        if not registrations:
            return queued  # the common case, on every change: nothing to render or sign
        at = at or world.now
        body = dumps(
            {
                "EventName": event_name,
                "ResourceUri": _base(request) + resource_path,
                "ResourceName": resource_name,
                "AuditUri": None,
                "ResourceChangeUtcDate": _change_date(at),
            }
        )
        for partner_id, registration in registrations:
            token = (
                f"Signature {signature(registration.secret or sim.settings.webhook_secret, body)}"
            )
            headers = {
                "Content-Type": "application/json",
                "X-MS-Signature-Algorithm": "hmac-sha256",
                "MS-CorrelationId": correlation_id or str(uuid.uuid4()),
            }
            headers["X-MS-Signature" if registration.ms_signature_header else "Authorization"] = (
                token
            )
            delivery = Delivery(
                str(uuid.uuid4()), partner_id, event_name, registration.url, body, headers,
                at, correlation_id,
            )  # fmt: skip
            world.webhook_deliveries.append(delivery)
            request.app[DISPATCHER].send(delivery)
            queued.append(delivery)
    except Exception:
        log.exception("webhook.raise_failed", event=event_name, resource=resource_path)
    return queued


def subscription_updated(
    request: web.Request, partner_id: str, customer_id: str, sub_id: str
) -> None:
    raise_event(request, [partner_id], SUBSCRIPTION_UPDATED,
                f"/webhooks/v1/customers/{customer_id}/subscriptions/{sub_id}", "subscription")  # fmt: skip


def customer_created(request: web.Request, partner_id: str, customer_id: str) -> None:
    raise_event(request, [partner_id], CUSTOMER_CREATED, f"/v1/customers/{customer_id}", "Customer")


def relationship_accepted(
    request: web.Request, partner_id: str, customer_id: str, reseller_id: str | None
) -> None:
    path = f"/v1/customers/{customer_id}"
    if reseller_id is None:
        raise_event(request, [partner_id], RELATIONSHIP_ACCEPTED, path, "Customer")
    else:
        raise_event(request, [partner_id, reseller_id], INDIRECT_RELATIONSHIP_ACCEPTED, path,
                    "Customer")  # fmt: skip


def transfer_changed(
    request: web.Request, event_name: str, source_id: str, target_id: str, customer_id: str,
    transfer_id: str, at: datetime | None = None,
) -> None:  # fmt: skip
    raise_event(request, [source_id, target_id], event_name,
                f"/v1/customers/{customer_id}/transfers/{transfer_id}", "transfer", at=at)  # fmt: skip


def clock_events(request: web.Request, events: Iterable[Event]) -> None:
    """The webhook events among what the clock just did (renewals, expiries, …)."""
    world = world_of(request)
    if not world.webhook_registrations:
        return  # a year's advance yields tens of thousands of events: none to look at
    for happened in events:
        name = _FROM_CLOCK.get(happened.type)
        if name is None:
            continue
        parts = happened.resource_uri.strip("/").split("/")  # customers/{c}/{kind}/{id}
        if len(parts) != 4:
            continue
        customer_id, kind, resource_id = parts[1], parts[2], parts[3]
        if kind == "subscriptions":
            sub = world.subscriptions.get(resource_id)
            if sub is not None:
                raise_event(request, [sub.partner_tenant_id], name,
                            f"/webhooks/v1/customers/{customer_id}/subscriptions/{resource_id}",
                            "subscription", at=happened.at)  # fmt: skip
        elif kind == "transfers":
            transfer = world.transfers.get(resource_id)
            if transfer is not None:
                transfer_changed(request, name, transfer.source_partner_id,
                                 transfer.target_partner_id, customer_id, resource_id,
                                 happened.at)  # fmt: skip


# -- registration (Partner Center's API) ---------------------------------------------------------


class RegistrationIn(Inbound):
    webhook_url: str = Field(min_length=1, max_length=2000)
    webhook_events: list[str] = Field(min_length=1, max_length=len(EVENTS))
    signature_token_to_ms_signature_header: bool = False
    #: Simulator extension: this registration's HMAC key.
    signing_secret: str | None = Field(default=None, min_length=8, max_length=200)


def _checked(body: RegistrationIn) -> tuple[str, list[str]]:
    url = body.webhook_url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid_input(f"WebhookUrl must be an absolute http(s) URL, got {body.webhook_url!r}")
    unknown = [e for e in body.webhook_events if e not in EVENTS]
    if unknown:
        raise invalid_input(
            f"WebhookEvents: unknown event(s) {', '.join(map(repr, unknown))}; "
            f"GET /webhooks/v1/registration/events lists them"
        )
    return url, list(dict.fromkeys(body.webhook_events))


def _registration_of(world: World, partner_id: str) -> Registration:
    registration: Registration | None = world.webhook_registrations.get(partner_id)
    if registration is None:
        raise PartnerCenterError(
            800002, status=404, description="This partner has no webhook registration; "
            "POST /webhooks/v1/registration makes one.",
        )  # fmt: skip
    return registration


def _render(registration: Registration, *, subscriber: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"SubscriberId": registration.subscriber_id} if subscriber else {}
    out.update(WebhookUrl=registration.url, WebhookEvents=registration.events)
    return out


async def list_events(request: web.Request) -> web.Response:
    return respond(list(EVENTS))


async def register(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    body = await body_as(request, RegistrationIn)
    url, events = _checked(body)
    if partner.tenant_id in world.webhook_registrations:
        raise PartnerCenterError(
            800002, status=409, description="This partner is registered already; "
            "PUT /webhooks/v1/registration changes the registration.",
        )  # fmt: skip
    registration = Registration(world.guid(), url, events, body.signing_secret,
                                body.signature_token_to_ms_signature_header)  # fmt: skip
    world.webhook_registrations[partner.tenant_id] = registration
    return respond(_render(registration))


async def get_registration(request: web.Request) -> web.Response:
    registration = _registration_of(world_of(request), partner_of(request).tenant_id)
    return respond(_render(registration, subscriber=False))


async def update_registration(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    body = await body_as(request, RegistrationIn)
    url, events = _checked(body)
    registration = _registration_of(world, partner.tenant_id)
    registration.url, registration.events = url, events
    registration.ms_signature_header = body.signature_token_to_ms_signature_header
    if body.signing_secret is not None:
        registration.secret = body.signing_secret
    return respond(_render(registration))


async def delete_registration(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    _registration_of(world, partner.tenant_id)
    del world.webhook_registrations[partner.tenant_id]
    return no_content()


async def create_validation_event(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    registration = _registration_of(world, partner.tenant_id)
    if TEST_CREATED not in registration.events:
        raise invalid_input(
            "the registration's WebhookEvents must include test-created to send a validation event"
        )
    correlation_id = request.headers.get("MS-CorrelationId") or str(uuid.uuid4())
    raise_event(request, [partner.tenant_id], TEST_CREATED,
                f"/webhooks/v1/registration/validationEvents/{correlation_id}", "test",
                correlation_id=correlation_id)  # fmt: skip
    return respond({"correlationId": correlation_id})


async def get_validation_event(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    wanted = request.match_info["correlation"].lower()
    found = next(
        (
            d
            for d in reversed(world.webhook_deliveries)
            if d.partner_id == partner.tenant_id
            and d.event_name == TEST_CREATED
            and (d.correlation_id or "").lower() == wanted
        ),
        None,
    )
    if found is None:
        raise PartnerCenterError(
            800002, status=404,
            description=f"No validation event with correlation id {request.match_info['correlation']}.",
        )  # fmt: skip
    return respond(
        {
            "correlationId": found.correlation_id,
            "partnerId": partner.tenant_id,
            "status": "queued" if found.state == "pending" else "completed",
            "callbackUrl": found.url,
            "results": [
                {
                    "responseCode": str(a.status) if a.status is not None else "",
                    "responseMessage": a.error or "",
                    "systemError": a.status is None,
                    "dateTimeUtc": iso(a.at),
                }
                for a in found.attempts
            ],
        }
    )


# -- the control plane's view ---------------------------------------------------------------------


async def list_deliveries(request: web.Request) -> web.Response:
    """``GET /_sim/webhooks/deliveries?limit=N&partnerTenantId=…``: newest first."""
    text = request.query.get("limit", "100")
    if not text.isdigit():
        raise sim_error(400, f"limit must be a non-negative integer, got {text!r}")
    limit = int(text)
    partner_id = request.query.get("partnerTenantId", "").lower() or None
    found = [
        d
        for d in reversed(world_of(request).webhook_deliveries)
        if partner_id is None or d.partner_id == partner_id
    ]
    return respond({"items": [d.render() for d in found[:limit]]})


def add_routes(app: web.Application) -> None:
    """The registration API, the subscription at the ``ResourceUri`` its events carry, the
    deliveries view, and the dispatcher that sends (opened and closed with the app)."""
    from simulator import subscriptions  # imported here: subscriptions raises events

    app[DISPATCHER] = Dispatcher()
    app.cleanup_ctx.append(_dispatching)
    router = app.router
    base = "/webhooks/v1/registration"
    router.add_get(base + "/events", list_events)
    router.add_post(base, register)
    router.add_get(base, get_registration)
    router.add_put(base, update_registration)
    router.add_delete(base, delete_registration)
    router.add_post(base + "/validationEvents", create_validation_event)
    router.add_get(base + "/validationEvents/{correlation}", get_validation_event)
    router.add_get(
        "/webhooks/v1/customers/{customer}/subscriptions/{subscription}",
        subscriptions.get_subscription,
    )
    router.add_get("/_sim/webhooks/deliveries", list_deliveries)


__all__ = ["DISPATCHER", "EVENTS", "Delivery", "Registration", "add_routes", "raise_event"]
