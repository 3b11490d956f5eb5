"""What the gateway writes to its log during a purchase: one JSON line per request and per
upstream call, carrying the ids support needs, and never a secret."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from gateway import logging as gateway_logging
from tests.gateway.conftest import Gateway, purchase_order
from tests.simulator.conftest import PROVIDER


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The gateway's own logging set-up, writing into a buffer the test reads."""
    buffer = io.StringIO()
    gateway_logging.configure("info", cache=False, stream=buffer)
    try:
        yield buffer
    finally:
        structlog.reset_defaults()


async def test_a_purchase_logs_its_calls_with_operation_step_and_ids_and_no_secrets(
    json_logs: io.StringIO, gw: Gateway
) -> None:
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert op["status"] == "succeeded"
    password = op["result"]["adminCredentials"]["adminPassword"]  # delivered with the finish
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.startswith("{")]
    upstream = [line for line in lines if line["event"] == "upstream"]
    assert {(line["method"], line["path"].split("/")[2]) for line in upstream} >= {
        ("POST", "customers"), ("HEAD", "domains"),
    }  # fmt: skip
    create = next(line for line in upstream if line["path"] == "/v1/customers")
    assert create["operation_id"] == op["id"]
    assert create["step"] == "create_customer"
    assert create["ms_correlation_id"] == op["id"]  # one correlation id for all its calls
    assert create["ms_request_id"] == next(
        s["msRequestId"] for s in op["steps"] if s["name"] == "create_customer"
    )
    requests = [line for line in lines if line["event"] == "request"]
    assert any(line["path"] == "/v1/orders" and line["status"] == 202 for line in requests)
    assert all(line.get("correlation_id") for line in requests)
    text = "\n".join(json.dumps(line) for line in lines)
    for secret in (PROVIDER["client_secret"], password, "access_token", "Bearer "):
        assert secret not in text
