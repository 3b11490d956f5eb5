"""``POST /v1/partner-center/events``: Partner Center's webhook events, signed, waking the
operations that wait on what they name (``gateway.webhooks.inbound``). Public (no API key):
the signature is the proof of the sender."""

from __future__ import annotations

from aiohttp import web

from contracts.northbound.webhooks import EventAccepted, PartnerCenterEventIn
from contracts.openapi import Route
from gateway.api.errors import ApiError
from gateway.services import services
from gateway.webhooks import inbound

PATH = "/v1/partner-center/events"
#: Microsoft's events are a few hundred bytes.
MAX_EVENT_BYTES = 64 * 1024

ROUTES = [
    Route(
        "POST", PATH,
        "Partner Center webhook event (signed): wakes the operations waiting on what it names",
        EventAccepted, body=PartnerCenterEventIn, errors=(400, 401, 404, 413), tag="webhooks",
        headers={"Authorization": "`Signature <base64 HMAC-SHA256 of the body>` under "
                 "PCGW_PC_WEBHOOK_SECRET"},
        secured=False,
    ),
]  # fmt: skip


async def partner_center_event(request: web.Request) -> web.Response:
    held = services(request)
    secret = held.settings.pc_webhook_secret
    if secret is None:
        raise ApiError(404, "not_found", "this gateway takes no Partner Center events: "
                       "PCGW_PC_WEBHOOK_SECRET is not set")  # fmt: skip
    if request.content_length is not None and request.content_length > MAX_EVENT_BYTES:
        raise ApiError(413, "body_too_large",
                       f"a Partner Center event is at most {MAX_EVENT_BYTES} bytes", "body")  # fmt: skip
    body = await request.read()
    inbound.check_signature(secret.get_secret_value(), request.headers, body)
    event = inbound.read_event(body)
    woken = await inbound.resume(event, held.journal, held.reads, held.clock())
    if woken:
        held.workers.wake()
    answer = EventAccepted(event_name=event.event_name, resumed=len(woken))
    return web.json_response(text=answer.model_dump_json(by_alias=True))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post(PATH, partner_center_event)
