"""Journal records as the northbound API shows them."""

from __future__ import annotations

from typing import Any

from contracts.northbound.operations import OperationView
from gateway.journal import Operation


def operation_view(op: Operation, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """The operation resource; ``secrets`` (a new tenant's ``adminCredentials``, perpetual
    licences' ``productKeys``) appear only in the one answer that delivers them."""
    result = dict(op.result)
    if secrets:
        result.update(secrets)
    error = dict(op.error) if op.error else None
    view = OperationView.model_validate(
        {
            "id": op.id,
            "kind": op.kind,
            "status": op.status.value,
            "createdAt": op.created_at,
            "updatedAt": op.updated_at,
            "steps": [
                {
                    "name": s.name,
                    "status": s.status.value,
                    "attempts": s.attempts,
                    "msRequestId": s.ms_request_id,
                    "startedAt": s.started_at,
                    "finishedAt": s.finished_at,
                }
                for s in op.steps
            ],
            "result": result,
            "error": error,
            "action": op.action,
            "request": op.request,
        }
    )
    return view.model_dump(mode="json", by_alias=True, exclude_none=True)
