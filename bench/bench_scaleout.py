"""The scale-out benchmark: throughput and latency per storage and replica count, and the limiter.

Run it from the repository root, with nothing else busy on the machine (about 9 minutes):

    .venv/bin/python bench/bench_scaleout.py                  # 2,000 purchases per row
    .venv/bin/python bench/bench_scaleout.py --purchases 300  # a quicker look
    .venv/bin/python bench/bench_scaleout.py --skip-limiter --replicas 1,2 --in-flight 256

Processes on this 2-core machine, all on loopback: the simulator (``python -m simulator``, its
rate limit off through ``PUT /_sim/config {"rateLimitPerMinute": 0}``, and a realistic Partner
Center delay on every ``/v1`` call through ``POST /_sim/faults {"latencyMs": 100}``), one or more
``pcgw serve`` processes, and this driver. Every gateway runs with ``PCGW_WORKERS`` equal to
``--in-flight`` (default 512; a worker is an asyncio task, not a thread) and, in the throughput
rows, its own rate limiter off (``PCGW_PC_RATE_LIMIT_PER_MINUTE=0``): those rows measure the
journal and the replicas, not the throttle. Throughput rows:

- SQLite, one process (a fresh file);
- PostgreSQL with ``--replicas`` (default 1,2,4) on a fresh database ``pcgw_bench_<random>``
  created on ``--postgres`` (default ``postgresql://postgres@127.0.0.1/postgres``) and dropped
  afterwards; skipped, with the reason printed, when PostgreSQL is unreachable.

Per row, after a short warm-up (catalog and reseller caches): N new-tenant purchases submitted
round-robin to the replicas with up to ``--in-flight`` at once, each waited on with the
gateway's long-poll (``GET /v1/operations/{id}?waitSeconds=N``). Figures, all from the same run:

- purchases/s from the first submit to the last success;
- p50 / p99 operation latency, from the operation's own ``createdAt`` to its last step's
  ``finishedAt`` (the long-poll of a replica that did not run the operation re-reads every
  0.5 s, which would otherwise be measured instead of the gateway);
- the most operations running at once (overlap of first step start .. last step finish);
- the median operation time against the sum of its upstream delays (5 calls x 100 ms for a
  new-tenant purchase), under load and one at a time; target <= 1.2; for the SQLite row also
  at lighter loads (``--levels``, default 1,8,32,128 in flight), to show where it holds;
- calls per warm purchase, counted in the simulator's request log;
- duplicates and losses: the simulator's ``GET /_sim/state`` must hold exactly one customer,
  order and subscription per purchase (the world is reset before each row);
- what saturated, from each process's CPU in /proc: the simulator, a gateway process, the
  driver (each one event loop, so one core at most), or the machine's cores (from /proc/stat,
  every process counted, so a competing load shows), or none.

First the limiter runs (``--skip-limiter`` leaves them out; ``--skip-throughput`` runs only
them), at the same time, each on its own simulator and held for ``--limiter-seconds``
(default 180) with 16 purchases kept in flight, far more than 500 calls a minute. The
simulator's ``at`` is simulated time, which stands still, so the driver samples the length of
``GET /_sim/requests?limit=10000`` every wall-clock second. The first minute is left out of the
sustained figures: the gateway starts with an empty window and spends its burst.

- accuracy of the in-process limiter (``PCGW_PC_RATE_LIMIT_PER_MINUTE=500``, one process) and
  of the Redis one (``PCGW_REDIS_URL``, ``--redis``, two replicas on PostgreSQL; skipped when
  either server is unreachable; the throttle's ``pcgw:throttle:*`` keys are cleared first),
  with the simulator's own limit off: calls admitted per minute sustained against 500, the
  busiest sampled 60 s (never above 500), and no 429;
- the second figure: the simulator's real limit of 500 a minute and the gateway's paced at 480
  (a window counted at departure and one counted at arrival, 100 ms later, would race each
  other at exactly 500 and draw 429s): purchases completed per minute from 90 s on (the first
  minute's burst and the hold at the end of the gateway's first window over), and the purchases
  the calls after the first minute pay for, against the most that limit allows (500 / calls per
  warm purchase), target >= 90 %; 429s the simulator answered (each retried by the gateway) and
  operations that failed (none expected).

The exit code is 1 on a duplicate or lost purchase, a failed operation in a limiter run, or a
limiter admitting more than its budget in a sampled minute.

LIMITATIONS: the sampled minute is accurate to about a second; one machine hosts
everything, so CPU competes between the processes (the report shows the machine's busy cores
beside ours).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gateway import PROVIDER, order

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LATENCY_MS = 100
CALLS_PER_PURCHASE = 5
#: The gateway limiter's budget in the limiter runs, and the simulator's real limit in the last one.
LIMIT = 500
#: The gateway limiter under the simulator's real limit: a little headroom (see ``capacity_run``).
UNDER_LIMIT = 480
#: Purchases kept in flight in the limiter runs: far more calls than LIMIT a minute (each has
#: a call out or waiting for a slot all the time), few enough that the purchases left in flight
#: at the end of a run are a small share of it.
OFFERED = 16


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used (Linux /proc/stat, all cores): with
    ``cpu_seconds`` of ours, it tells whether something else was competing for the cores."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_up(session: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the process exited with code {proc.returncode}")
        try:
            async with session.get(url) as resp:
                if resp.status < 500:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not come up within 30 s")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- PostgreSQL: one throwaway database per configuration ----------------------------------------


def pg_reason(admin_url: str) -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        import psycopg

        with psycopg.connect(admin_url, connect_timeout=3):
            return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    import psycopg

    name = f"pcgw_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the gateways ---------------------------------------------------------------------------------


def gateway_env(
    sim: str, database_url: str, workers: int, extra: dict[str, str] | None = None
) -> dict[str, str]:
    return {
        **os.environ,
        "PCGW_PC_BASE_URL": sim,
        "PCGW_PC_LOGIN_URL": sim,
        "PCGW_PC_TENANT_ID": PROVIDER["tenant"],
        "PCGW_PC_CLIENT_ID": PROVIDER["client_id"],
        "PCGW_PC_CLIENT_SECRET": PROVIDER["secret"],
        "PCGW_DATABASE_URL": database_url,
        "PCGW_WORKERS": str(workers),
        "PCGW_PC_RATE_LIMIT_PER_MINUTE": "0",
        "PCGW_ORDER_POLL_SECONDS": "0.05",
        "PCGW_AUTH": "off",  # no API key: one indexed read per request is not what this measures
    } | (extra or {})


def start_gateways(
    sim: str, database_url: str, replicas: int, workers: int, extra: dict[str, str] | None = None
) -> tuple[list[str], list[subprocess.Popen[bytes]]]:
    env = gateway_env(sim, database_url, workers, extra)
    # Migrate once before the replicas start, as docker-compose.yml does.
    subprocess.run([str(BIN / "pcgw"), "db", "upgrade"], env=env, check=True,
                   stdout=subprocess.DEVNULL, cwd=ROOT)  # fmt: skip
    urls, procs = [], []
    for _ in range(replicas):
        port = free_port()
        procs.append(subprocess.Popen(
            [str(BIN / "pcgw"), "serve", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        ))  # fmt: skip
        urls.append(f"http://127.0.0.1:{port}")
    return urls, procs


# -- one purchase ---------------------------------------------------------------------------------


async def purchase(session: aiohttp.ClientSession, gw: str, prefix: str) -> dict[str, Any]:
    """Submit one purchase and wait for it with the long-poll; returns the finished operation."""
    async with session.post(
        f"{gw}/v1/orders", json=order(prefix), headers={"Idempotency-Key": prefix}
    ) as resp:
        body = await resp.json()
        if resp.status != 202:
            raise SystemExit(f"submit refused: {resp.status} {body}")
    while True:
        async with session.get(
            f"{gw}/v1/operations/{body['id']}", params={"waitSeconds": "30"}
        ) as resp:
            op: dict[str, Any] = await resp.json()
        if op["status"] == "succeeded":
            return op
        if op["status"] in ("failed", "action_required"):
            raise SystemExit(f"purchase did not succeed: {op}")


def span(op: dict[str, Any]) -> tuple[float, float, float]:
    """(created, first step started, last step finished) as POSIX seconds."""
    starts = [datetime.fromisoformat(s["startedAt"]).timestamp() for s in op["steps"]]
    ends = [datetime.fromisoformat(s["finishedAt"]).timestamp() for s in op["steps"]]
    return datetime.fromisoformat(op["createdAt"]).timestamp(), min(starts), max(ends)


def in_steps(op: dict[str, Any]) -> float:
    """Seconds inside the steps (their calls to Partner Center included); the rest of an
    operation's time is spent between steps: journal writes and waiting for a worker."""
    return sum(
        datetime.fromisoformat(s["finishedAt"]).timestamp()
        - datetime.fromisoformat(s["startedAt"]).timestamp()
        for s in op["steps"]
    )


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


# -- one configuration ----------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    purchases: int = 0
    per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    most_in_flight: int = 0
    ratio_loaded: float = 0.0
    ratio_alone: float = 0.0
    #: Median seconds an operation spent inside its steps (upstream calls included).
    steps_ms: float = 0.0
    #: Partner Center calls of one warm purchase, counted in the simulator's request log.
    calls_per_purchase: float = 0.0
    replicas: int = 1
    state: dict[str, int] = field(default_factory=dict)
    #: Share of one core each process used during the measured purchases (1.0: one core busy).
    cpu: dict[str, float] = field(default_factory=dict)
    #: Cores busy on the whole machine meanwhile, every process counted.
    machine: float = 0.0
    #: (in flight, purchases/s, p50 / budget, p99 / budget) at lighter loads (SQLite row only).
    by_load: list[tuple[int, float, float, float]] = field(default_factory=list)
    skipped: str | None = None

    @property
    def exact(self) -> bool:
        total = self.state.get("expected", -1)
        return all(self.state.get(k) == total for k in ("customers", "orders", "subscriptions"))


async def prepare_simulator(session: aiohttp.ClientSession, sim: str, rate_limit: int = 0) -> None:
    for method, path, body in (
        ("POST", "/_sim/reset", None),
        ("PUT", "/_sim/config", {"rateLimitPerMinute": rate_limit}),
        ("POST", "/_sim/faults", {"latencyMs": LATENCY_MS}),
    ):
        async with session.request(method, f"{sim}{path}", json=body) as resp:
            if resp.status >= 300:
                raise SystemExit(f"{method} {path}: {resp.status} {await resp.text()}")


async def request_log(session: aiohttp.ClientSession, sim: str) -> tuple[int, int]:
    """(Partner Center calls the simulator answered, of which 429s) in its log of the last 10,000.

    The log's ``at`` is simulated time, which stands still here: callers sample it on the wall
    clock instead."""
    async with session.get(f"{sim}/_sim/requests", params={"limit": "10000"}) as resp:
        items = (await resp.json())["items"]
    calls = [i for i in items if i["path"].startswith("/v1")]
    return len(calls), sum(1 for i in calls if i["status"] == 429)


async def world_counts(session: aiohttp.ClientSession, sim: str) -> dict[str, int]:
    async with session.get(f"{sim}/_sim/state") as resp:
        state = await resp.json()
    return {k: len(state[k]) for k in ("customers", "orders", "subscriptions")}


async def measure(
    session: aiohttp.ClientSession,
    sim: str,
    gws: list[str],
    row: Row,
    count: int,
    limit: int,
    pids: dict[str, list[int]],
) -> None:
    await prepare_simulator(session, sim)
    before = await world_counts(session, sim)
    run = uuid.uuid4().hex[:6]
    done = 0
    for i, gw in enumerate(gws * 2):  # warm-up: caches of every replica
        await purchase(session, gw, f"w{i}{run}")
        done += 1
    alone = []
    calls_before = (await request_log(session, sim))[0]
    for i in range(5):
        created, _, finished = span(await purchase(session, gws[i % len(gws)], f"s{i}{run}"))
        alone.append(finished - created)
        done += 1

    row.calls_per_purchase = ((await request_log(session, sim))[0] - calls_before) / 5
    gate = asyncio.Semaphore(limit)

    async def one(i: int) -> dict[str, Any]:
        async with gate:
            return await purchase(session, gws[i % len(gws)], f"p{i:05d}{run}")

    pids = {**pids, "postgres": postgres_pids(), "driver": [os.getpid()]}
    cpu_before = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
    machine_before = machine_busy_seconds()
    started = time.perf_counter()
    ops = await asyncio.gather(*(one(i) for i in range(count)))
    elapsed = time.perf_counter() - started
    row.cpu = {
        k: (sum(cpu_seconds(p) for p in v) - cpu_before[k]) / elapsed for k, v in pids.items()
    }
    row.machine = (machine_busy_seconds() - machine_before) / elapsed
    done += count

    spans = [span(op) for op in ops]
    latencies = [end - created for created, _, end in spans]
    budget = CALLS_PER_PURCHASE * LATENCY_MS / 1000
    after = await world_counts(session, sim)
    row.purchases = count
    row.per_second = count / elapsed
    row.p50_ms = 1000 * statistics.median(latencies)
    row.p99_ms = 1000 * percentile(latencies, 0.99)
    row.steps_ms = 1000 * statistics.median(in_steps(op) for op in ops)
    row.most_in_flight = most_at_once([(first, end) for _, first, end in spans])
    row.ratio_loaded = statistics.median(latencies) / budget
    row.ratio_alone = statistics.median(alone) / budget
    row.state = {k: after[k] - before[k] for k in after} | {"expected": done}


async def measure_by_load(
    session: aiohttp.ClientSession, sim: str, gws: list[str], row: Row, levels: list[int]
) -> None:
    """Median and p99 operation time against its upstream delays with fewer in flight: where
    the 1.2x target holds, and where waiting for the gateway's loop starts to dominate."""
    budget = CALLS_PER_PURCHASE * LATENCY_MS / 1000
    run = uuid.uuid4().hex[:6]
    before = await world_counts(session, sim)
    done = 0
    for level in levels:
        gate = asyncio.Semaphore(level)

        async def one(i: int, gate: asyncio.Semaphore = gate, level: int = level) -> float:
            async with gate:
                op = await purchase(session, gws[i % len(gws)], f"b{level}x{i:05d}{run}")
            created, _, finished = span(op)
            return finished - created

        count = max(100, 4 * level)
        started = time.perf_counter()
        latencies = await asyncio.gather(*(one(i) for i in range(count)))
        elapsed = time.perf_counter() - started
        done += count
        row.by_load.append((level, count / elapsed, statistics.median(latencies) / budget,
                            percentile(latencies, 0.99) / budget))  # fmt: skip
    after = await world_counts(session, sim)
    for k in ("customers", "orders", "subscriptions"):
        row.state[k] += after[k] - before[k]
    row.state["expected"] += done


async def run_configuration(
    sim: str,
    sim_pid: int,
    row: Row,
    database_url: str,
    count: int,
    limit: int,
    levels: list[int] | None = None,
) -> None:
    gws, procs = start_gateways(sim, database_url, row.replicas, max(limit, 16))
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=4 * limit),
            timeout=aiohttp.ClientTimeout(total=300),
        ) as session:
            for gw, proc in zip(gws, procs, strict=True):
                await wait_up(session, f"{gw}/openapi.json", proc)
            pids = {"simulator": [sim_pid], "gateways": [p.pid for p in procs]}
            await measure(session, sim, gws, row, count, limit, pids)
            if levels:
                await measure_by_load(session, sim, gws, row, levels)
    finally:
        stop(procs)


def start_simulator() -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port), "--no-access-log",
         "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    async def up() -> None:
        async with aiohttp.ClientSession() as session:
            await wait_up(session, f"{url}/_sim/clock", proc)

    asyncio.run(up())
    return url, proc


# -- the limiter: accuracy, and purchases under the simulator's real limit ----------------------


@dataclass
class LimitRun:
    """One run held at the limiter for ``seconds``; samples are (wall s, calls, 429s, done)."""

    name: str
    gateway_limit: int
    simulator_limit: int
    replicas: int = 1
    database: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)
    calls_per_purchase: float = 0.0
    failed: list[str] = field(default_factory=list)
    skipped: str | None = None

    def sustained(self, after: float = 60.0) -> tuple[float, int, int, int]:
        """(length, calls admitted, 429s, purchases done) from the sample nearest ``after``
        seconds to the last."""
        end = self.samples[-1]
        start = min(self.samples, key=lambda s: abs(s[0] - after))
        return (end[0] - start[0], end[1] - start[1], end[2] - start[2], end[3] - start[3])

    def busiest_minute(self) -> int:
        """Most calls admitted in any 60 s between two samples: what the limit must cap."""
        return max(
            (b[1] - a[1] for a in self.samples for b in self.samples if 0 < b[0] - a[0] <= 60.0),
            default=0,
        )


async def offer_load(
    session: aiohttp.ClientSession, sim: str, gws: list[str], run: LimitRun, seconds: float
) -> None:
    """Keep OFFERED purchases in flight for ``seconds``, sampling the simulator's log each second."""
    tag = uuid.uuid4().hex[:6]
    done = 0
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            i = next(counter)
            try:
                await purchase(session, gws[i % len(gws)], f"l{i:05d}{tag}")
                done += 1
            except SystemExit as exc:  # an operation that failed: a 429 left unhandled
                run.failed.append(str(exc)[:200])

    tasks = [asyncio.create_task(worker()) for _ in range(OFFERED)]
    start = time.monotonic()
    while time.monotonic() < deadline:
        calls, refused = await request_log(session, sim)
        run.samples.append((time.monotonic() - start, calls, refused, done))
        await asyncio.sleep(max(0.0, min(1.0, deadline - time.monotonic())))
    calls, refused = await request_log(session, sim)
    run.samples.append((time.monotonic() - start, calls, refused, done))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def limiter_run(run: LimitRun, seconds: float) -> None:
    sim, sim_proc = await asyncio.to_thread(start_simulator)
    gws, procs = await asyncio.to_thread(
        start_gateways, sim, run.database, run.replicas, 4 * OFFERED, run.extra
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
            for gw, proc in zip(gws, procs, strict=True):
                await wait_up(session, f"{gw}/openapi.json", proc)
            await prepare_simulator(session, sim, run.simulator_limit)
            for i, gw in enumerate(gws):  # warm-up: caches of every replica
                await purchase(session, gw, f"w{i}{uuid.uuid4().hex[:6]}")
            before = (await request_log(session, sim))[0]
            await purchase(session, gws[0], f"c{uuid.uuid4().hex[:6]}")
            run.calls_per_purchase = (await request_log(session, sim))[0] - before
            await offer_load(session, sim, gws, run, seconds)
    finally:
        stop([*procs, sim_proc])


def redis_reason(url: str) -> str | None:
    """Why Redis cannot be used, or None once it can and the throttle's keys are cleared."""
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        for key in client.scan_iter(match="pcgw:throttle:*"):
            client.delete(key)
        client.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def limiter_runs(runs: list[LimitRun], seconds: float) -> None:
    """All at once, each on its own simulator: a run is held at 500 calls a minute, so the
    machine has room, and the default benchmark stays within a few minutes."""
    await asyncio.gather(*(limiter_run(r, seconds) for r in runs if r.skipped is None))


def plan_limiter_runs(work: Path, admin_url: str, redis_url: str) -> list[LimitRun]:
    return [
        LimitRun(
            f"in-process limiter {LIMIT}, 1 process, SQLite",
            LIMIT,
            0,
            database=f"sqlite:///{work / 'limiter.db'}",
            extra={"PCGW_PC_RATE_LIMIT_PER_MINUTE": str(LIMIT)},
        ),
        LimitRun(
            f"Redis limiter {LIMIT}, 2 replicas, PostgreSQL",
            LIMIT,
            0,
            replicas=2,
            extra={"PCGW_PC_RATE_LIMIT_PER_MINUTE": str(LIMIT), "PCGW_REDIS_URL": redis_url},
        ),
        LimitRun(
            f"simulator limit {LIMIT}, gateway {UNDER_LIMIT}, 1 process",
            UNDER_LIMIT,
            LIMIT,
            database=f"sqlite:///{work / 'capacity.db'}",
            extra={"PCGW_PC_RATE_LIMIT_PER_MINUTE": str(UNDER_LIMIT)},
        ),
    ]


def run_limiters(work: Path, admin_url: str, redis_url: str, seconds: float) -> list[LimitRun]:
    runs = plan_limiter_runs(work, admin_url, redis_url)
    shared = runs[1]
    reason = pg_reason(admin_url)
    if reason is None:
        reason = redis_reason(redis_url)
        if reason is not None:
            shared.skipped = f"Redis unreachable at {redis_url} ({reason})"
    else:
        shared.skipped = f"PostgreSQL unreachable at {admin_url} ({reason})"
    if shared.skipped is not None:
        asyncio.run(limiter_runs(runs, seconds))
        return runs
    with fresh_database(admin_url) as url:
        shared.database = url
        asyncio.run(limiter_runs(runs, seconds))
    return runs


# -- the whole benchmark --------------------------------------------------------------------------


def main(args: argparse.Namespace) -> tuple[list[Row], list[LimitRun]]:
    work = Path(tempfile.mkdtemp(prefix="pcgw-scaleout-"))
    rows: list[Row] = []
    limits = []
    if not args.skip_limiter:
        limits = run_limiters(work, args.postgres, args.redis, args.limiter_seconds)
    if args.skip_throughput:
        return rows, limits
    sim, sim_proc = start_simulator()
    try:
        row = Row("SQLite, 1 process")
        rows.append(row)
        asyncio.run(run_configuration(sim, sim_proc.pid, row, f"sqlite:///{work / 'j.db'}",
                                      args.purchases, args.in_flight, args.levels))  # fmt: skip
        reason = pg_reason(args.postgres)
        for replicas in args.replicas:
            plural = "s" if replicas > 1 else ""
            row = Row(f"PostgreSQL, {replicas} replica{plural}", replicas=replicas)
            rows.append(row)
            if reason is not None:
                row.skipped = f"PostgreSQL unreachable at {args.postgres} ({reason})"
                continue
            with fresh_database(args.postgres) as url:
                asyncio.run(run_configuration(sim, sim_proc.pid, row, url, args.purchases,
                                              args.in_flight))  # fmt: skip
    finally:
        stop([sim_proc])
    return rows, limits


def saturated(r: Row) -> str:
    """What ran out: a single-threaded event loop near one core (the simulator, a gateway, the
    driver), or the machine's cores (naming the largest user, and what other processes took)."""
    cores = os.cpu_count() or 1
    ours = sum(max(v, 0) for v in r.cpu.values())
    full = [k for k in ("simulator", "driver") if r.cpu.get(k, 0) >= 0.85]
    if r.cpu.get("gateways", 0) / r.replicas >= 0.85:
        full.append("a gateway process" if r.replicas == 1 else "the gateway processes")
    if r.machine >= 0.9 * cores:
        biggest = max(r.cpu, key=lambda k: r.cpu[k])
        full.append(f"the machine's {cores} cores (largest user: {biggest})")
    machine = f"machine {r.machine:.2f} of {cores} cores busy, {ours:.2f} of them ours"
    if full:
        return f"saturated: {', '.join(full)} ({machine})"
    biggest = max(r.cpu, key=lambda k: r.cpu[k])
    return f"none reached a core; largest: {biggest} ({machine})"


def report(rows: list[Row], limit: int) -> None:
    budget = CALLS_PER_PURCHASE * LATENCY_MS
    print(f"\nScale-out benchmark: new-tenant purchases, {LATENCY_MS} ms injected on every "
          f"Partner Center call, up to {limit} in flight, PCGW_WORKERS={max(limit, 16)}\n")  # fmt: skip
    print(f"  {'configuration':24} {'purch.':>6} {'per s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'in flight':>9} {'p50/' + str(budget) + 'ms':>10} {'alone':>6}  duplicates/losses")  # fmt: skip
    for r in rows:
        if r.skipped:
            print(f"  {r.name:24} skipped: {r.skipped}")
            continue
        s = r.state
        check = ("none" if r.exact else "MISMATCH") + (
            f" (customers {s['customers']}, orders {s['orders']}, subscriptions "
            f"{s['subscriptions']} for {s['expected']} purchases)"
        )
        print(f"  {r.name:24} {r.purchases:6d} {r.per_second:7.1f} {r.p50_ms:7.0f} "
              f"{r.p99_ms:7.0f} {r.most_in_flight:9d} {r.ratio_loaded:10.2f} "
              f"{r.ratio_alone:6.2f}  {check}")  # fmt: skip
    print(
        "\n  CPU during the purchases, in cores (2 on this machine; a Python process tops at 1.0):"
    )
    for r in rows:
        if not r.skipped:
            print(f"  {r.name:24} " + ", ".join(f"{k} {max(v, 0):.2f}" for k, v in r.cpu.items())
                  + f"  -> {saturated(r)}")  # fmt: skip
    print(
        "\n  where a purchase's time goes (median ms): inside its steps, upstream calls included,"
        " against between steps (journal writes, waiting for a worker or a connection):"
    )
    for r in rows:
        if not r.skipped:
            print(f"  {r.name:24} in steps {r.steps_ms:6.0f}   between steps "
                  f"{r.p50_ms - r.steps_ms:6.0f}   calls per purchase {r.calls_per_purchase:.1f}")  # fmt: skip
    for r in rows:
        if r.by_load:
            print(f"\n  {r.name}: operation time against its upstream delays "
                  f"({CALLS_PER_PURCHASE} x {LATENCY_MS} ms) by purchases in flight (target <= 1.2):")  # fmt: skip
            for level, per_s, p50, p99 in r.by_load:
                print(f"  {'':24} {level:4d} in flight: {per_s:6.1f}/s, p50 {p50:5.2f}x, "
                      f"p99 {p99:5.2f}x")  # fmt: skip
    measured = [r for r in rows if not r.skipped]
    base = measured[0].per_second if measured else 0.0
    print("\n  throughput relative to SQLite, 1 process: " + ", ".join(
        f"{r.name} {r.per_second / base:.2f}x" for r in measured))  # fmt: skip
    print(f"  target: an operation takes <= 1.2x the sum of its upstream delays "
          f"({CALLS_PER_PURCHASE} x {LATENCY_MS} ms); 'alone' is the median of 5 purchases "
          f"one at a time\n")  # fmt: skip


def report_limits(runs: list[LimitRun], seconds: float) -> None:
    print(f"Limiter: {OFFERED} purchases kept in flight for {seconds:.0f} s (far more than "
          f"{LIMIT} calls a minute offered), Partner Center calls counted in the simulator's log, "
          f"sampled each wall-clock second\n")  # fmt: skip
    for r in runs:
        if r.skipped:
            print(f"  {r.name:44} skipped: {r.skipped}")
            continue
        if len(r.samples) < 2:
            print(f"  {r.name:44} no samples")
            continue
        length, calls, _, _ = r.sustained()
        per_minute = calls * 60 / length if length else 0.0
        failed = f"{len(r.failed)} failed" + (f" (first: {r.failed[0]})" if r.failed else "")
        print(f"  {r.name:44} after the first minute ({length:.0f} s): {per_minute:.0f} calls "
              f"admitted a minute, busiest 60 s {r.busiest_minute()}, 429s {r.samples[-1][2]}, "
              f"purchases done {r.samples[-1][3]}, {failed}")  # fmt: skip
        if r.simulator_limit:
            report_capacity(r)
        else:
            verdict = "accurate" if r.busiest_minute() <= r.gateway_limit else "OVER"
            print(f"  {'':44} saturated: the limiter: {per_minute / r.gateway_limit:.0%} of "
                  f"{r.gateway_limit}/min sustained ({verdict}: never above it in any sampled "
                  f"60 s)")  # fmt: skip
    print()


def report_capacity(r: LimitRun) -> None:
    """Purchases completed per minute once the run is steady, against the most the simulator's
    limit allows for our calls per purchase (``limit / calls`` a minute). Steady: from 90 s on,
    when the first minute's burst and the hold at the end of the gateway's first window are
    over (purchases held there would finish just after it, with calls spent before it); the
    calls admitted after the first minute, divided by the calls per purchase, say the same
    another way."""
    held, _, refused, done = r.samples[-1]
    length, _, _, finished = r.sustained(90.0)
    calls_length, calls, _, _ = r.sustained()
    theory = r.simulator_limit / r.calls_per_purchase if r.calls_per_purchase else 0.0
    steady = finished * 60 / length if length else 0.0
    paid = calls * 60 / calls_length / r.calls_per_purchase if calls_length else 0.0
    print(f"  {'':44} {r.calls_per_purchase:.0f} calls per warm purchase: the simulator's "
          f"{r.simulator_limit}/min allows {theory:.0f} purchases a minute; completed "
          f"{steady:.1f}/min over the last {length:.0f} s = {steady / theory if theory else 0:.0%} "
          f"(target >= 90 %); the calls after the first minute pay for {paid:.1f}/min = "
          f"{paid / theory if theory else 0:.0%}; {done * 60 / held:.1f}/min over the whole run, "
          f"start-up and purchases left in flight included")  # fmt: skip
    print(f"  {'':44} 429s answered by the simulator {refused}, each retried by the gateway; "
          f"operations failed {len(r.failed)}; saturated: the limiter (the gateway paces "
          f"{r.gateway_limit}/min under the simulator's {r.simulator_limit}: its window counts at "
          f"departure, the simulator's at arrival)")  # fmt: skip


def ok(rows: list[Row], runs: list[LimitRun]) -> bool:
    exact = all(r.skipped or r.exact for r in rows)
    held = all(
        r.skipped or (not r.failed and r.busiest_minute() <= max(r.gateway_limit, 1)) for r in runs
    )
    return exact and held


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--purchases", type=int, default=2000,
                        help="per throughput row (the issue asks for at least 2,000)")  # fmt: skip
    parser.add_argument("--in-flight", type=int, default=512,
                        help="purchases in flight at once; PCGW_WORKERS is set to match")  # fmt: skip
    parser.add_argument("--replicas", type=lambda t: [int(x) for x in t.split(",")],
                        default=[1, 2, 4], help="PostgreSQL rows, e.g. 1,2,4")  # fmt: skip
    parser.add_argument("--levels", type=lambda t: [int(x) for x in t.split(",") if x],
                        default=[1, 8, 32, 128],
                        help="lighter loads (in flight) for the SQLite row's latency table")  # fmt: skip
    parser.add_argument("--limiter-seconds", type=float, default=180.0,
                        help="how long each limiter run is held at the limit (>= 120: the first"
                             " minute is left out of the sustained figures)")  # fmt: skip
    parser.add_argument("--skip-limiter", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true",
                        help="only the limiter runs")  # fmt: skip
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1/postgres",
                        help="an admin connection; the benchmark's databases are made there")  # fmt: skip
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0",
                        help="shared by the two replicas of the Redis limiter run")  # fmt: skip
    args = parser.parse_args()
    rows, runs = main(args)
    if rows:
        report(rows, args.in_flight)
    if runs:
        report_limits(runs, args.limiter_seconds)
    sys.exit(0 if ok(rows, runs) else 1)
