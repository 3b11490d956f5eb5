"""Entra-shaped sign-in, and the bearer check every ``/v1`` call passes.

Tokens are JWT-shaped (``header.payload.signature``, HMAC-SHA256 with a key made at start) and
name the partner tenant in ``tid``. They are checked by signature, not looked up, so they survive
``POST /_sim/reset`` as long as the partner still exists (the default partners always do).

LIMITATIONS:
- Only the client-credentials grant; no App+User (refresh-token) flow, so no route answers
  403 / 900329 for app-only tokens.
- Expiry is counted on the wall clock (``token_lifetime`` seconds), not the simulated clock.
- A v2 request names exactly one scope; a space-separated list (``… offline_access``) is
  refused as ``invalid_scope``.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from typing import Any

from aiohttp import web

from simulator.context import Simulator, sim_of
from simulator.errors import PartnerCenterError
from simulator.models import Partner
from simulator.wire import respond

RESOURCES = ("https://api.partnercenter.microsoft.com", "https://graph.windows.net")
SCOPES = (
    *(f"{r}/.default" for r in RESOURCES),
    "https://api.partnercenter.microsoft.com/user_impersonation",
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _entra_error(status: int, error: str, description: str) -> web.Response:
    return respond(
        {
            "error": error,
            "error_description": description,
            "error_codes": [{"invalid_client": 7000215, "invalid_resource": 500011}.get(error, 0)],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
        },
        status=status,
    )


def issue_token(sim: Simulator, partner: Partner, audience: str) -> tuple[str, int, int]:
    now = int(time.time())
    exp = now + sim.settings.token_lifetime
    header = _b64(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64(
        json.dumps(
            {"aud": audience, "tid": partner.tenant_id, "appid": partner.client_id,
             "iat": now, "nbf": now, "exp": exp, "iss": "https://sts.windows.net/"
             + partner.tenant_id + "/"},
            separators=(",", ":"),
        ).encode()
    )  # fmt: skip
    signature = _b64(sim.sign(f"{header}.{payload}".encode()))
    return f"{header}.{payload}.{signature}", now, exp


async def sign_in(request: web.Request) -> web.Response:
    """``POST /{tenant}/oauth2/token`` (v1: ``resource``) and ``…/oauth2/v2.0/token`` (v2:
    ``scope``)."""
    sim = sim_of(request)
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError):
        return _entra_error(
            400, "invalid_request", "AADSTS900144: The request body must be a UTF-8 form."
        )
    v2 = request.path.endswith("/v2.0/token")
    field: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    if field.get("grant_type") != "client_credentials":
        return _entra_error(
            400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant."
        )
    audience = (field.get("scope") or "") if v2 else (field.get("resource") or "")
    allowed = SCOPES if v2 else RESOURCES
    if audience.rstrip("/") not in allowed:
        return _entra_error(
            400,
            "invalid_resource" if not v2 else "invalid_scope",
            f"AADSTS500011: The resource principal named {audience or '(none)'} was not found. "
            f"Use one of: {', '.join(allowed)}.",
        )
    partner = sim.world.partners_by_client.get(str(field.get("client_id", "")))
    if partner is None:
        return _entra_error(
            400,
            "invalid_client",
            f"AADSTS700016: Application with identifier '{field.get('client_id')}' was not found.",
        )
    tenant = request.match_info["tenant"].lower()
    if tenant not in (partner.tenant_id, partner.domain.lower(), "common", "organizations"):
        return _entra_error(
            400, "invalid_client",
            f"AADSTS700016: Application '{partner.client_id}' was not found in tenant {tenant}.",
        )  # fmt: skip
    given = str(field.get("client_secret", "")).encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, partner.client_secret.encode()):
        return _entra_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
    resource = audience.removesuffix("/.default").removesuffix("/user_impersonation")
    token, now, exp = issue_token(sim, partner, resource)
    lifetime = exp - now
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "expires_in": lifetime if v2 else str(lifetime),
        "ext_expires_in": lifetime if v2 else str(lifetime),
    }
    if not v2:
        body.update(expires_on=str(exp), not_before=str(now), resource=resource)
    body["access_token"] = token
    return respond(body)


def access_denied() -> PartnerCenterError:
    return PartnerCenterError(400, status=401, description="Access denied")


def authenticate(sim: Simulator, authorization: str | None) -> Partner:
    """The partner a bearer token was issued to; anything else is 401 / 400 "Access denied"."""
    if not authorization or not authorization[:7].lower() == "bearer ":
        raise access_denied()
    token = authorization[7:].strip()
    if not token.isascii():  # a JWT is base64url; anything else is garbled, not an error
        raise access_denied()
    cached = sim.token_cache.get(token)
    if cached is None:
        parts = token.split(".")
        if len(parts) != 3:
            raise access_denied()
        expected = _b64(sim.sign(f"{parts[0]}.{parts[1]}".encode()))
        if not hmac.compare_digest(expected.encode(), parts[2].encode()):
            raise access_denied()
        try:
            claims = json.loads(_unb64(parts[1]))
            cached = (str(claims["tid"]), float(claims["exp"]))
        except (ValueError, KeyError, TypeError):
            raise access_denied() from None
        if len(sim.token_cache) > 10_000:
            sim.token_cache.clear()
        sim.token_cache[token] = cached
    tenant_id, expires = cached
    if expires < time.time():
        raise access_denied()
    partner = sim.world.partners.get(tenant_id)
    if partner is None:
        raise access_denied()
    return partner


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/{tenant}/oauth2/token", sign_in)
    router.add_post("/{tenant}/oauth2/v2.0/token", sign_in)
