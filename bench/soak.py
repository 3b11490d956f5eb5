"""The reliability soak: the fault matrix's mix for a bounded time, with the gateway SIGKILLed
and restarted every few seconds, then the invariants over everything that ran.

Run it from the repository root (about ``--seconds`` plus a minute to settle and check):

    python bench/soak.py                           # 120 s, a kill every 15 s
    python bench/soak.py --seconds 600 --kill-every 20 --seed 7

It starts ``pcgw sim`` (``python -m simulator``) and ``pcgw serve`` (SQLite journal, no API key,
short retries) as processes, on loopback, in a temporary directory it names at the end. The
simulator's seeded fault rules are the fault matrix's (``tests/reliability/workload.py``:
429 with ``Retry-After``, 500/503, latency, connections dropped before and after the change was
applied on the writes that create customers, MCA acceptances, carts and orders and on
subscription PATCHes, 409 renewal conflicts), ``--fault-scale`` times as likely. The mix:
``--in-flight`` chains at a time, each a new-tenant purchase then nothing, a seat change, a
cancel inside the window, a suspend then a resume, or a seat change then a cancel — the driver
sends a submit that got no answer again with its ``Idempotency-Key``, as a marketplace must.
Every ``--kill-every`` seconds the gateway gets SIGKILL and a new one starts on the same journal.
After ``--seconds`` no new chain starts; the ones running finish; the last gateway gets SIGTERM.

Printed: operations run (by kind), how they ended, faults injected by kind (``GET /_sim/faults``
``fired``), crashes, and the invariants (``tests/reliability/invariants.py``) as counts: lost,
duplicated, failed with a reason, other violations (each listed). Exit code 1 when anything is
lost or duplicated, or any other invariant is broken. The simulator's own rate limit is off
unless ``--rate-limit`` names one (the gateway then paces at 96 % of it): the soak is about
faults and crashes, not the limiter (``bench_scaleout.py`` measures that).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the mix and the invariants live with the tests

from tests.gateway.processes import GatewayProcess, free_port  # noqa: E402
from tests.reliability import invariants  # noqa: E402
from tests.reliability.workload import (  # noqa: E402
    Driver,
    RequestLog,
    SimControl,
    evidence,
    fault_rules,
    fired,
)

GATEWAY_ENV = {
    "PCGW_AUTH": "off",
    "PCGW_PC_RETRY_BACKOFF_SECONDS": "0.05",
    "PCGW_PC_RETRY_JITTER_SECONDS": "0.05",
    "PCGW_UNAVAILABLE_BACKOFF_SECONDS": "0.1",
    "PCGW_RENEWAL_RETRY_SECONDS": "0.2",
    "PCGW_SHUTDOWN_GRACE_SECONDS": "5",
}


async def start_simulator(port: int, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "simulator", "--port", str(port), "--no-access-log",
            "--log-level", "warning", stdout=out, stderr=out, cwd=ROOT,
        )  # fmt: skip


async def wait_up(http: aiohttp.ClientSession, url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url) as resp:
                if resp.status == 200:
                    return
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer within {seconds:.0f} s")
        await asyncio.sleep(0.1)


class Gateways:
    """The one gateway up at a time: started, SIGKILLed and replaced on the same journal."""

    def __init__(self, sim_url: str, work: Path, env: dict[str, str]) -> None:
        self.sim_url, self.work, self.env = sim_url, work, env
        self.database_url = f"sqlite:///{work / 'journal.db'}"
        self.current: GatewayProcess | None = None
        self.started = 0
        self.crashes = 0

    @property
    def url(self) -> str:
        return self.current.url if self.current else "http://127.0.0.1:9"

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.started += 1
        log = self.work / f"pcgw-{self.started}.log"
        gateway = GatewayProcess(self.sim_url, self.database_url, log, self.env)
        await gateway.start(http)
        self.current = gateway

    async def crash(self, http: aiohttp.ClientSession) -> None:
        assert self.current is not None
        await self.current.kill()
        self.crashes += 1
        await self.start(http)

    async def stop(self) -> int | None:
        """SIGTERM the gateway up; its exit code (``None`` if it had to be killed)."""
        process = self.current.process if self.current else None
        if process is None or process.returncode is not None:
            return None
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), 30.0)
        except TimeoutError:
            process.kill()
            await process.wait()
            return None


async def soak(args: argparse.Namespace, work: Path) -> int:
    sim_port = free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    sim_process = await start_simulator(sim_port, work / "simulator.log")
    env = {**GATEWAY_ENV, "PCGW_WORKERS": str(args.workers)}
    env["PCGW_PC_RATE_LIMIT_PER_MINUTE"] = str(int(args.rate_limit * 0.96))
    gateways = Gateways(sim_url, work, env)
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await wait_up(http, f"{sim_url}/_sim/clock")
            sim = SimControl(http, sim_url)
            await sim.control("PUT", "/config", {"rateLimitPerMinute": args.rate_limit})
            # 429s about every ten seconds at this mix's pace, not a pause that never ends
            throttles = (0.002 * args.fault_scale, None)
            for rule in fault_rules(args.seed, args.fault_scale, throttles):
                await sim.add_fault(**rule)
            await gateways.start(http)
            driver = Driver(http, lambda: gateways.url, args.seed, tag="soak", patience=180.0)
            log = RequestLog(sim)
            loop = asyncio.get_running_loop()
            started = loop.time()
            deadline = started + args.seconds
            work_task = asyncio.create_task(driver.run_until(deadline, args.in_flight))
            next_kill = started + args.kill_every if args.kill_every > 0 else float("inf")
            while not work_task.done():
                await asyncio.wait({work_task}, timeout=1.0)
                await log.poll()
                now = loop.time()
                if now >= next_kill and now < deadline:
                    await gateways.crash(http)
                    next_kill = loop.time() + args.kill_every
                    print(f"  {now - started:5.0f} s  crash {gateways.crashes}: SIGKILL, "
                          f"restarted ({len(driver.tally.submitted)} submitted)", flush=True)  # fmt: skip
            await work_task
            ran_for = loop.time() - started
            found = await evidence(http, sim, gateways.url, driver.tally.submitted, log=log)
            faults = await fired(sim)
            exit_code = await gateways.stop()
    finally:
        if gateways.current is not None:
            await gateways.current.kill()
        sim_process.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sim_process.wait(), 10.0)
    return report(args, found, faults, gateways, driver, ran_for, exit_code, work)


def report(
    args: argparse.Namespace,
    found: invariants.Evidence,
    faults: dict[str, int],
    gateways: Gateways,
    driver: Driver,
    ran_for: float,
    exit_code: int | None,
    work: Path,
) -> int:
    lost = invariants.lost(found)
    duplicated = invariants.duplicated(found)
    others = [
        *invariants.unfinished(found),
        *invariants.half_done(found),
        *invariants.foreign_request_ids(found),
    ]
    ops = found.operations
    kinds = Counter(op["kind"] for op in ops)
    statuses = Counter(op["status"] for op in ops)
    reasons = Counter(
        (op["error"] or {}).get("reason") or f"Partner Center {op['error']['partnerCenterCode']}"
        for op in ops
        if op["status"] == "failed"
    )
    limit = f"{args.rate_limit}/min" if args.rate_limit else "off"
    print()
    print(f"soak: {ran_for:.0f} s (new chains for {args.seconds} s), seed {args.seed}, "
          f"{args.in_flight} chains in flight, {args.workers} workers, kill every "
          f"{args.kill_every} s, fault scale {args.fault_scale}, simulator rate limit {limit}")  # fmt: skip
    print(f"operations run: {len(ops)} ({', '.join(f'{k} {n}' for k, n in kinds.most_common())})")
    print(f"  ended: {', '.join(f'{s} {n}' for s, n in statuses.most_common())}")
    print(f"  failed with a reason: {statuses['failed']}"
          + (f" ({', '.join(f'{r} {n}' for r, n in reasons.most_common())})" if reasons else ""))  # fmt: skip
    print(f"faults injected: {', '.join(f'{k} {n}' for k, n in sorted(faults.items()))}"
          f" ({sum(faults.values())})")  # fmt: skip
    print(f"Partner Center calls: {len(found.requests)}"
          + ("" if found.requests_complete else " (the log has gaps: whole-log counts skipped)"))  # fmt: skip
    print(f"crashes: {gateways.crashes} (SIGKILL + restart); submits sent again after no answer: "
          f"{driver.tally.resubmits}; last gateway's SIGTERM exit code: {exit_code}")  # fmt: skip
    print(f"lost: {len(lost)}")
    print(f"duplicated: {len(duplicated)}")
    print(f"other invariant violations: {len(others)}")
    for line in [*lost, *duplicated, *others][:40]:
        print(f"  - {line}")
    print(f"logs: {work}")
    return 1 if lost or duplicated or others else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="how long new work starts")
    parser.add_argument("--kill-every", type=float, default=15.0,
                        help="seconds between SIGKILLs of the gateway (0: never)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="seeds the faults and the mix")
    parser.add_argument("--in-flight", type=int, default=24, help="chains running at once")
    parser.add_argument("--workers", type=int, default=16, help="the gateway's PCGW_WORKERS")
    parser.add_argument("--fault-scale", type=float, default=1.0,
                        help="multiplies every fault rule's probability")  # fmt: skip
    parser.add_argument("--rate-limit", type=int, default=0,
                        help="the simulator's calls per minute (0: off)")  # fmt: skip
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pcgw-soak-"))
    os.chdir(ROOT)
    raise SystemExit(asyncio.run(soak(args, work)))


if __name__ == "__main__":
    main()
