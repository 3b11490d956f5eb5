"""The gateway's benchmark: purchases per second, the cost of a journaled call, calls per purchase.

Run it from the repository root, with nothing else busy on the machine:

    .venv/bin/python bench/bench_gateway.py                 # 2,000 purchases, about a minute
    .venv/bin/python bench/bench_gateway.py --purchases 500

Three processes on this 2-core machine: the simulator (``python -m simulator --no-access-log``,
rate limit off), the gateway (``pcgw serve`` on a fresh SQLite file, logging at ``info`` to
/dev/null, as it would run), and this driver. Figures are ratios taken in the same run
(``shared/design/performance.md``):

1. **Throughput**: N purchases (new tenant, one Business Basic line, through the default reseller)
   submitted with up to 64 in flight; purchases/s from the first submit to the last success.
   Target >= 50/s sustained over 2,000.
2. **A journaled call against a direct one**: purchases one at a time, through the gateway
   (submit, then wait for success with the long-poll) and directly (the same Partner Center
   calls made by this driver with one shared session, no journal). A journaled write is a
   write step as the operation records it (its journal write, with its MS-RequestId, before
   the call, plus the call); a direct write is the same POST timed by the driver. Both
   purchases' end-to-end times are printed too. Target <= 1.5.
3. **Calls per purchase**: counted from the simulator's request journal
   (``GET /_sim/requests``), against the minimal sequence for a new-tenant purchase (domain
   check, customer, MCA, cart, checkout = 5). Target <= minimal + 1 on average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "gateway.json"
PROVIDER = {
    "tenant": "4c2b1f3e-7d6a-4e5b-9c8d-000000000001",
    "client_id": "11111111-1111-4111-8111-111111111111",
    "secret": "provider-secret",
}
MINIMAL_CALLS = 5
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_up(session: aiohttp.ClientSession, url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as resp:
                if resp.status < 500:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not come up within {seconds} s")


def order(prefix: str) -> dict[str, Any]:
    return {
        "customer": {
            "newTenant": {
                "domainPrefix": prefix,
                "companyName": "Bench Ltd",
                "address": {"line1": "1 Main St", "city": "Rome", "postalCode": "00100",
                            "country": "IT"},
                "contact": {"firstName": "Ada", "lastName": "Bench", "email": "ada@bench.it"},
            }
        },
        "mca": {"firstName": "Ada", "lastName": "Bench", "email": "ada@bench.it",
                "acceptedOn": "2026-01-02"},
        "reseller": {"mpnId": "2000002", "domain": "fabrikamresellers.onmicrosoft.com"},
        "partnerOnRecordAttestation": True,
        "lines": [{"planCode": "Microsoft 365 Business Basic (NCE COM 1YR MTH)", "quantity": 5}],
    }  # fmt: skip


async def purchase(session: aiohttp.ClientSession, gw: str, prefix: str) -> str:
    async with session.post(
        f"{gw}/v1/orders", json=order(prefix), headers={"Idempotency-Key": prefix}
    ) as resp:
        body = await resp.json()
        if resp.status != 202:
            raise SystemExit(f"submit refused: {resp.status} {body}")
        return str(body["id"])


WRITE_STEPS = ("create_customer", "accept_mca", "create_cart", "checkout")


def in_write_steps(op: dict[str, Any]) -> float:
    """Seconds the operation spent in its write steps: each one's journal write (with its
    MS-RequestId, before the call) plus the call itself."""
    total = 0.0
    for step in op["steps"]:
        if step["name"] in WRITE_STEPS:
            started = datetime.fromisoformat(step["startedAt"])
            total += (datetime.fromisoformat(step["finishedAt"]) - started).total_seconds()
    return total


LAST: dict[str, Any] = {}


async def wait_done(session: aiohttp.ClientSession, gw: str, op_id: str) -> float:
    """Wait with the gateway's long-poll (``waitSeconds``), as a marketplace would."""
    while True:
        async with session.get(f"{gw}/v1/operations/{op_id}", params={"waitSeconds": "10"}) as resp:
            op = await resp.json()
        if op["status"] == "succeeded":
            LAST["op"] = op
            return time.perf_counter()
        if op["status"] in ("failed", "action_required"):
            raise SystemExit(f"purchase did not succeed: {op}")


async def throughput(session: aiohttp.ClientSession, gw: str, count: int) -> dict[str, float]:
    in_flight = asyncio.Semaphore(64)
    latencies: list[float] = []

    async def one(i: int) -> None:
        async with in_flight:
            started = time.perf_counter()
            op_id = await purchase(session, gw, f"t{i:05d}{uuid.uuid4().hex[:6]}")
            latencies.append(await wait_done(session, gw, op_id) - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "purchases": count,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
    }


async def direct_purchase(
    session: aiohttp.ClientSession, sim: str, token: str, prefix: str
) -> float:
    """The new-tenant purchase's Partner Center calls, made directly: the same minimal sequence
    the gateway makes once its caches are warm. Returns the seconds spent in the four writes."""
    headers = {"Authorization": f"Bearer {token}"}
    in_writes = 0.0

    async def call(method: str, path: str, body: Any = None) -> Any:
        nonlocal in_writes
        h = {**headers, "MS-RequestId": str(uuid.uuid4()), "MS-CorrelationId": str(uuid.uuid4())}
        started = time.perf_counter()
        async with session.request(method, f"{sim}{path}", json=body, headers=h) as resp:
            answer = await resp.json() if resp.status != 404 and method != "HEAD" else None
        if method == "POST":
            in_writes += time.perf_counter() - started
        return answer

    domain = f"{prefix}.onmicrosoft.com"
    await call("HEAD", f"/v1/domains/{domain}")
    customer = await call("POST", "/v1/customers", {
        "companyProfile": {"domain": domain},
        "billingProfile": {"email": "ada@bench.it", "culture": "en-US", "language": "en",
                           "companyName": "Bench Ltd",
                           "defaultAddress": {"firstName": "Ada", "lastName": "Bench",
                                              "addressLine1": "1 Main St", "city": "Rome",
                                              "postalCode": "00100", "country": "IT"}},
        "associatedPartnerId": "4c2b1f3e-7d6a-4e5b-9c8d-000000000002",
    })  # fmt: skip
    cid = customer["id"]
    await call("POST", f"/v1/customers/{cid}/agreements", {
        "primaryContact": {"firstName": "Ada", "lastName": "Bench", "email": "ada@bench.it"},
        "templateId": "117a77b0-9360-443b-8795-c6dedc750cf9", "dateAgreed": "2026-01-02T00:00:00Z",
        "type": "MicrosoftCustomerAgreement"})  # fmt: skip
    cart = await call("POST", f"/v1/customers/{cid}/carts", {
        "lineItems": [{"catalogItemId": "CFQ7TTC0LH18:0001:CFQ7TTC0K971", "quantity": 5,
                       "termDuration": "P1Y", "billingCycle": "monthly",
                       "participants": [{"key": "transaction_reseller", "value": "2000002"}]}],
        "partnerOnRecordAttestationAccepted": True})  # fmt: skip
    await call("POST", f"/v1/customers/{cid}/carts/{cart['id']}/checkout")
    return in_writes


async def requests_seen(session: aiohttp.ClientSession, sim: str) -> list[dict[str, Any]]:
    async with session.get(f"{sim}/_sim/requests", params={"limit": "10000"}) as resp:
        return list((await resp.json())["items"])


def main(count: int, serial: int) -> dict[str, Any]:
    """Start the simulator and the gateway as processes, measure, stop them."""
    work = Path(tempfile.mkdtemp(prefix="pcgw-bench-"))
    sim_port, gw_port = free_port(), free_port()
    sim, gw = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{gw_port}"
    devnull = subprocess.DEVNULL
    sim_proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(sim_port), "--no-access-log",
         "--log-level", "warning"], stdout=devnull, stderr=devnull, cwd=ROOT,
    )  # fmt: skip
    env = {
        **os.environ,
        "PCGW_PC_BASE_URL": sim,
        "PCGW_PC_LOGIN_URL": sim,
        "PCGW_PC_TENANT_ID": PROVIDER["tenant"],
        "PCGW_PC_CLIENT_ID": PROVIDER["client_id"],
        "PCGW_PC_CLIENT_SECRET": PROVIDER["secret"],
        "PCGW_ORDER_POLL_SECONDS": "0.05",
        "PCGW_AUTH": "off",  # no API key: one indexed read per request is not what this measures
    }
    gw_proc = subprocess.Popen(
        [str(BIN / "pcgw"), "serve", "--port", str(gw_port), "--database-url",
         f"sqlite:///{work / 'journal.db'}"], env=env, stdout=devnull, stderr=devnull, cwd=ROOT,
    )  # fmt: skip
    if os.environ.get("BENCH_SHOW_PIDS"):
        print(f"simulator pid {sim_proc.pid}, gateway pid {gw_proc.pid}", flush=True)
    try:
        return asyncio.run(measure(sim, gw, count, serial))
    finally:
        for proc in (gw_proc, sim_proc):
            proc.terminate()
        for proc in (gw_proc, sim_proc):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def measure(sim: str, gw: str, count: int, serial: int) -> dict[str, Any]:
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=128), timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        await wait_up(session, f"{sim}/_sim/clock")
        await wait_up(session, f"{gw}/openapi.json")
        async with session.put(f"{sim}/_sim/config", json={"rateLimitPerMinute": 0}):
            pass
        # Warm the gateway's caches (catalog, reseller) and both processes.
        for i in range(5):
            await wait_done(session, gw, await purchase(session, gw, f"w{i}{uuid.uuid4().hex[:6]}"))

        # 2. one at a time: gateway versus direct, and 3. calls per purchase.
        before = len(await requests_seen(session, sim))
        started = time.perf_counter()
        gateway_writes = 0.0
        for i in range(serial):
            await wait_done(session, gw, await purchase(session, gw, f"s{i}{uuid.uuid4().hex[:6]}"))
            gateway_writes += in_write_steps(LAST["op"])
        gateway_serial = (time.perf_counter() - started) / serial
        gateway_calls = (len(await requests_seen(session, sim)) - before) / serial
        async with session.post(
            f"{sim}/{PROVIDER['tenant']}/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": PROVIDER["client_id"],
                  "client_secret": PROVIDER["secret"],
                  "resource": "https://api.partnercenter.microsoft.com"},
        ) as resp:  # fmt: skip
            token = (await resp.json())["access_token"]
        started = time.perf_counter()
        direct_writes = 0.0
        for i in range(serial):
            direct_writes += await direct_purchase(
                session, sim, token, f"d{i}{uuid.uuid4().hex[:6]}"
            )
        direct_serial = (time.perf_counter() - started) / serial

        # 1. throughput
        flow = await throughput(session, gw, count)
    per_call_gateway = gateway_writes / (serial * len(WRITE_STEPS))
    per_call_direct = direct_writes / (serial * len(WRITE_STEPS))
    return {
        "throughput": flow,
        "serial": {
            "purchases": serial,
            "gateway_ms_per_purchase": 1000 * gateway_serial,
            "direct_ms_per_purchase": 1000 * direct_serial,
            "journaled_write_ms": 1000 * per_call_gateway,
            "direct_write_ms": 1000 * per_call_direct,
            "ratio": per_call_gateway / per_call_direct,
        },
        "calls_per_purchase": {"gateway": gateway_calls, "minimal": MINIMAL_CALLS},
    }


def report(r: dict[str, Any]) -> None:
    t, s, c = r["throughput"], r["serial"], r["calls_per_purchase"]

    def mark(ok: bool) -> str:
        return "PASS" if ok else "SHORT"

    print(f"\nGateway benchmark ({t['purchases']} purchases, SQLite journal, simulator upstream)\n")
    print(
        f"  throughput          {t['per_second']:8.1f} purchases/s   p50 {t['p50_ms']:.0f} ms   "
        f"p99 {t['p99_ms']:.0f} ms   [target >= 50/s: {mark(t['per_second'] >= 50)}]"
    )
    print(
        f"  one at a time       gateway {s['gateway_ms_per_purchase']:.1f} ms/purchase, "
        f"direct {s['direct_ms_per_purchase']:.1f} ms/purchase"
    )
    print(
        f"  a write to Partner Center   journaled {s['journaled_write_ms']:.2f} ms, direct "
        f"{s['direct_write_ms']:.2f} ms, ratio {s['ratio']:.2f}   [target <= 1.5: "
        f"{mark(s['ratio'] <= 1.5)}]"
    )
    print(
        f"  calls per purchase  {c['gateway']:.2f} (minimal {c['minimal']})   [target <= "
        f"{c['minimal'] + 1}: {mark(c['gateway'] <= c['minimal'] + 1)}]\n"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--purchases", type=int, default=2000)
    parser.add_argument("--serial", type=int, default=100)
    args = parser.parse_args()
    results = main(args.purchases, args.serial)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    report(results)
