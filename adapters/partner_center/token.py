"""App-only sign-in (client credentials) with a cached token, refreshed before it expires.

One refresh at a time: concurrent callers wait on a lock and re-check the cache, so a burst of
calls at expiry makes one sign-in, not fifty.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
from pydantic import ValidationError

from adapters.partner_center.answers import read_capped, too_large
from contracts.partner_center.resources import Token
from gateway.upstream import PartnerCenterError, UnreadableAnswer, UpstreamUnavailable

#: Refresh this long before expiry (Microsoft's SDK uses 30 s; network time eats into it).
EARLY = 60.0
#: A token answer is a few kilobytes; a bigger one is not a token answer.
MAX_ANSWER = 256 * 1024


class TokenProvider:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        login_url: str,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        resource: str = "https://api.partnercenter.microsoft.com",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._url = f"{login_url.rstrip('/')}/{tenant_id}/oauth2/token"
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "resource": resource,
        }
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.sign_ins = 0

    async def token(self) -> str:
        if self._token is not None and self._clock() < self._expires - EARLY:
            return self._token
        async with self._lock:
            if self._token is not None and self._clock() < self._expires - EARLY:
                return self._token
            return await self._sign_in()

    def invalidate(self) -> None:
        """Forget the token (after a 401), so the next call signs in again."""
        self._token = None

    async def _sign_in(self) -> str:
        try:
            async with self._session.post(self._url, data=self._form) as resp:
                read = await read_capped(resp, MAX_ANSWER)
                if read is None:
                    raise too_large(resp.status, MAX_ANSWER, None)
                raw = read
                if resp.status != 200:
                    raise PartnerCenterError(
                        resp.status, None,
                        f"sign-in refused: {raw[:300].decode(errors='replace')}",
                        ms_request_id=None,
                    )  # fmt: skip
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamUnavailable(
                f"sign-in failed: no answer ({exc.__class__.__name__})", ms_request_id=None
            ) from exc
        try:
            answer = Token.model_validate_json(raw)
        except ValidationError:
            # Never the body itself: a half-usable answer may still hold a token.
            raise UnreadableAnswer(
                resp.status,
                f"a sign-in answer without a usable token ({len(raw):,} bytes)",
                ms_request_id=None,
            ) from None
        self._token = answer.access_token
        self._expires = self._clock() + answer.expires_in
        self.sign_ins += 1
        return self._token
