"""Operations: submitting one (shared by every write) and reading them back."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any

from aiohttp import web

from contracts.northbound.operations import OperationList, OperationView
from contracts.openapi import Route
from gateway.api.auth import caller
from gateway.api.errors import ApiError
from gateway.api.inputs import path_guid, shown
from gateway.api.views import operation_view
from gateway.journal import Operation, Status
from gateway.services import services
from gateway.workflows import KINDS

KEY_HEADER = "Idempotency-Key"


def idempotency_key(request: web.Request) -> str:
    key = request.headers.get(KEY_HEADER, "").strip()
    if not key:
        raise ApiError(400, "idempotency_key_required",
                       f"the {KEY_HEADER} header is required on every write (any unique string up to 255 characters)",
                       KEY_HEADER)  # fmt: skip
    if len(key) > 255 or not key.isprintable():
        raise ApiError(400, "invalid_idempotency_key",
                       f"the {KEY_HEADER} header must be printable and at most 255 characters", KEY_HEADER)  # fmt: skip
    return key


async def submit(request: web.Request, kind: str, payload: dict[str, Any]) -> web.Response:
    """Journal a new operation (or find the one this key already made) and answer 202."""
    svc = services(request)
    key = idempotency_key(request)
    canonical = json.dumps({"kind": kind, **payload}, sort_keys=True, separators=(",", ":"))
    body_hash = hashlib.sha256(canonical.encode()).hexdigest()
    now = svc.clock()
    lease = svc.workers.lease_for_new(now)
    op, created = await svc.journal.create(
        Operation(
            id=str(uuid.uuid4()),
            kind=kind,
            status=Status.ACCEPTED,
            owner=caller(request),
            idempotency_key=key,
            body_hash=body_hash,
            request=payload,
            created_at=now,
            updated_at=now,
            run_after=now,
        ),
        lease,
    )
    if not created and op.body_hash != body_hash:
        raise ApiError(422, "idempotency_key_reused",
                       f"{KEY_HEADER} {shown(key)} was already used for operation {op.id} with a different "
                       "request; use a new key for a new request", KEY_HEADER)  # fmt: skip
    if created:
        svc.workers.adopt(op) if lease else svc.workers.wake()
    return web.json_response(
        operation_view(op), status=202, headers={"Location": f"/v1/operations/{op.id}"}
    )


MAX_WAIT = 30.0


def _wait_seconds(request: web.Request) -> float:
    text = request.query.get("waitSeconds")
    if text is None:
        return 0.0
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_WAIT:
        raise ApiError(400, "invalid_request",
                       f"waitSeconds must be a number from 0 to {MAX_WAIT:.0f}", "waitSeconds")  # fmt: skip
    return seconds


async def get_operation(request: web.Request) -> web.Response:
    """The operation; with ``?waitSeconds=N`` the answer waits (long-poll, at most 30 s) until
    the operation is finished or needs an action, so a marketplace need not poll."""
    svc = services(request)
    op_id = path_guid(request, "operation")
    wait = _wait_seconds(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        op = await svc.journal.get(op_id, caller(request))
        if op is None:
            raise ApiError(404, "not_found", f"operation {op_id} does not exist")
        left = deadline - loop.time()
        if op.status.finished or op.status is Status.ACTION_REQUIRED or left <= 0:
            break
        # Woken when this process's workers move the operation on; re-read now and then for
        # one that is queued or that another replica runs.
        await svc.workers.changed(op_id, left)
    # A new tenant's credentials go out once, with the finished operation (also a failed one:
    # the tenant exists even if a later step failed), never in a mid-run poll that may be
    # discarded.
    if op.secrets is not None and op.status.finished:
        taken = await svc.journal.get(op_id, caller(request), take_secrets=True)
        if taken is not None:
            op = taken
    return web.json_response(operation_view(op, op.secrets or None))


async def list_operations(request: web.Request) -> web.Response:
    svc = services(request)
    status = request.query.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise ApiError(
            400,
            "invalid_request",
            f"status must be one of {', '.join(s.value for s in Status)}",
            "status",
        )
    kind = request.query.get("kind")
    if kind is not None and kind not in KINDS:
        raise ApiError(400, "invalid_request", f"kind must be one of {', '.join(KINDS)}", "kind")
    text = request.query.get("limit", "50")
    if not text.isdigit() or not 1 <= int(text) <= 200:
        raise ApiError(400, "invalid_request", "limit must be an integer from 1 to 200", "limit")
    try:
        page = await svc.journal.list_operations(
            caller(request), status, kind, int(text), request.query.get("cursor")
        )
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc), "cursor") from None
    return web.json_response(
        {"items": [operation_view(op) for op in page.items], "nextCursor": page.next_cursor}
    )


async def retry_operation(request: web.Request) -> web.Response:
    """Put a dead-lettered operation (or one Partner Center's absence failed) back to run."""
    svc = services(request)
    op_id = path_guid(request, "operation")
    op, retried = await svc.journal.retry(op_id, caller(request), svc.clock())
    if op is None:
        raise ApiError(404, "not_found", f"operation {op_id} does not exist")
    if not retried:
        raise ApiError(409, "operation_not_retryable",
                       f"operation {op_id} is {op.status.value}; only a dead_letter operation, or one that "
                       "failed because Partner Center was unavailable, can be retried")  # fmt: skip
    svc.workers.wake()
    return web.json_response(
        operation_view(op), status=202, headers={"Location": f"/v1/operations/{op.id}"}
    )


ROUTES = [
    Route("GET", "/v1/operations/{operation}", "An operation: status, steps, result or error", OperationView,
          query={"waitSeconds": "wait up to this long (0-30) for the operation to finish or need an action"},
          errors=(404,), tag="operations"),
    Route("GET", "/v1/operations", "Operations, newest first", OperationList,
          query={"status": "accepted, running, action_required, succeeded, failed or dead_letter", "kind": "purchase, change_seats, …",
                 "limit": "1-200 (default 50)", "cursor": "nextCursor of the previous page"}, tag="operations"),
    Route("POST", "/v1/operations/{operation}/retry",
          "Run a dead-lettered operation, or one that failed because Partner Center was unavailable, "
          "again from where it stopped", OperationView, status=202, errors=(404, 409), tag="operations"),
]  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1/operations", list_operations)
    router.add_get("/v1/operations/{operation}", get_operation)
    router.add_post("/v1/operations/{operation}/retry", retry_operation)
