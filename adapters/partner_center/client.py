"""The Partner Center HTTP client: headers, retries, typed errors.

Retries live here and only here (tenacity around ``session.request``, so recorded cassettes hold
every attempt in order). What is retried: 429 (after ``Retry-After``, capped), 5xx, and no answer
at all — always with the **same** ``MS-RequestId``, which is how Partner Center tells a retry from
a new request. An answer larger than ``max_body`` or, on success, not JSON is an
``UnreadableAnswer`` keeping its status: retried when 5xx, otherwise the step fails saying what
came back (``adapters.partner_center.answers``). A 409 is *not* retried here: while a renewal
runs Microsoft asks for two minutes, and the workflow reschedules its step instead of holding a
worker. A 401 signs in again once.

Every attempt first takes a slot from the throttle (``gateway.throttle``) under Microsoft's keys:
the partner tenant, and the partner-and-customer pair for paths under ``/v1/customers/{id}``. A
429 pauses all those keys for its ``Retry-After`` (Microsoft does not say which limit it hit, so
the wider one pauses too). A slot further away than ``max_retry_after`` fails the call at once as
a 429 the gateway made itself, so the workflow reschedules its step instead of holding a worker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from adapters.partner_center.answers import parse_json, read_capped, too_large
from adapters.partner_center.token import TokenProvider
from gateway.throttle import Throttle, Throttled, keys_for
from gateway.upstream import (
    PartnerCenterError,
    Reply,
    UnreadableAnswer,
    UpstreamUnavailable,
)

if TYPE_CHECKING:
    from gateway.metrics import GatewayMetrics

log = structlog.get_logger("gateway.upstream")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    max_delay: float = 120.0  # give up after this long in total
    #: A longer ``Retry-After`` is not slept on here: the call fails at once and the workflow
    #: reschedules its step for after it, so a worker is not held for minutes.
    max_retry_after: float = 60.0
    #: Waits without ``Retry-After``: ``backoff * 2**n`` plus up to ``jitter`` seconds, at most 30.
    backoff: float = 0.5
    jitter: float = 1.0


def _retryable(exc: BaseException, policy: RetryPolicy) -> bool:
    if isinstance(exc, UnreadableAnswer) and exc.status < 300:
        return True  # asked again with the same MS-RequestId (see UnreadableAnswer)
    if isinstance(exc, PartnerCenterError):
        return exc.retryable and (exc.retry_after or 0) <= policy.max_retry_after
    return isinstance(exc, UpstreamUnavailable)


class _Wait:
    """``Retry-After`` when Microsoft gives one, jittered exponential back-off otherwise."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._fallback = wait_exponential_jitter(
            multiplier=policy.backoff, jitter=policy.jitter, max=30
        )
        self._cap = policy.max_retry_after

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, PartnerCenterError) and exc.retry_after is not None:
            return min(exc.retry_after, self._cap)
        return float(self._fallback(state))


class PartnerCenterClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        tokens: TokenProvider,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        *,
        throttle: Throttle | None = None,
        tenant_id: str = "",
        max_body: int = 16 * 1024 * 1024,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._tokens = tokens
        #: Read at each call, so it can be tuned on a running client.
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        #: ``None``: no budget and no shared pause (each call still honours its own 429).
        self.throttle = throttle
        self._tenant = tenant_id
        #: The largest answer read (``pc_max_response_bytes``); see ``answers``.
        self._max_body = max_body
        self.calls = 0
        #: Counts each attempt by route and status, each retry and each throttle refusal.
        self.metrics = metrics

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
    ) -> Reply:
        """One logical call, retried as a unit with one ``MS-RequestId``."""
        request_id = request_id or str(uuid.uuid4())
        correlation_id = correlation_id or str(uuid.uuid4())
        policy = self.policy
        kwargs: dict[str, Any] = {}
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        if (metrics := self.metrics) is not None:
            kwargs["before_sleep"] = lambda state: metrics.upstream_retried(
                method, path, state.outcome.exception() if state.outcome else None
            )
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda exc: _retryable(exc, policy)),
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_delay),
            wait=_Wait(policy),
            reraise=True,
            **kwargs,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(
                    method, path, body, params, headers, request_id, correlation_id
                )
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _once(
        self,
        method: str,
        path: str,
        body: Any,
        params: Mapping[str, str] | None,
        extra: Mapping[str, str] | None,
        request_id: str,
        correlation_id: str,
    ) -> Reply:
        keys = keys_for(self._tenant, path)
        for first in (True, False):
            await self._take_slot(keys, request_id)
            token = await self._tokens.token()
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "MS-RequestId": request_id,
                "MS-CorrelationId": correlation_id,
                "MS-Contract-Version": "v1",
                **(extra or {}),
            }
            self.calls += 1
            started = time.perf_counter()
            try:
                async with self._session.request(
                    method, f"{self._base}{path}", json=body, params=params, headers=headers
                ) as resp:
                    raw = await read_capped(resp, self._max_body)
                    status = resp.status
                    answer_headers = resp.headers
            except (aiohttp.ClientError, TimeoutError) as exc:
                if self.metrics is not None:
                    self.metrics.upstream_answered(
                        method, path, None, time.perf_counter() - started
                    )
                log.warning("upstream.unavailable", method=method, path=path,
                            ms_request_id=request_id, error=str(exc))  # fmt: skip
                raise UpstreamUnavailable(
                    f"{method} {path}: no answer ({exc.__class__.__name__})",
                    ms_request_id=request_id,
                ) from exc
            if self.metrics is not None:
                self.metrics.upstream_answered(method, path, status, time.perf_counter() - started)
            error: PartnerCenterError | None = None
            if raw is None:
                error = too_large(status, self._max_body, request_id)
            elif status >= 400:
                error = PartnerCenterError.from_answer(status, raw, answer_headers, request_id)
            log.info("upstream", method=method, path=path, status=status,
                     code=error.code if error else None, ms_request_id=request_id,
                     ms_correlation_id=correlation_id,
                     ms=round((time.perf_counter() - started) * 1000, 2))  # fmt: skip
            if status == 401 and first:
                self._tokens.invalidate()
                continue
            if error is not None:
                if status == 429 and error.retry_after is not None and self.throttle:
                    await self.throttle.throttled(keys, error.retry_after)
                raise error
            assert raw is not None
            try:
                body = parse_json(status, raw, answer_headers.get("Content-Type", ""), request_id)
            except UnreadableAnswer as exc:
                log.warning("upstream.unreadable", method=method, path=path, status=status,
                            ms_request_id=request_id, reason=exc.description)  # fmt: skip
                raise
            return Reply(status, body, answer_headers, request_id)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _take_slot(self, keys: list[str], request_id: str) -> None:
        if self.throttle is None:
            return
        try:
            await self.throttle.acquire(keys, max_wait=self.policy.max_retry_after)
        except Throttled as exc:
            if self.metrics is not None:
                self.metrics.throttle_refused()
            raise PartnerCenterError(
                429,
                None,
                f"the gateway's throttle for {keys[-1]} has no slot for {exc.seconds:.0f} s",
                ms_request_id=request_id,
                retry_after=exc.seconds,
            ) from exc
