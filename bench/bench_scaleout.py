"""The scale-out benchmark: purchases/s and latency for SQLite and PostgreSQL with 1 and 2 replicas.

Run it from the repository root, with nothing else busy on the machine:

    .venv/bin/python bench/bench_scaleout.py                  # 300 purchases per configuration
    .venv/bin/python bench/bench_scaleout.py --purchases 2000 --in-flight 512

Processes on this 2-core machine, all on loopback: the simulator (``python -m simulator``, its
rate limit off through ``PUT /_sim/config {"rateLimitPerMinute": 0}``, and a realistic Partner
Center delay on every ``/v1`` call through ``POST /_sim/faults {"latencyMs": 100}``), one or two
``pcgw serve`` processes, and this driver. Every gateway runs with ``PCGW_WORKERS=256`` (the
default 16 would bound operations in flight per process to 16) and its own rate limiter off
(``PCGW_PC_RATE_LIMIT_PER_MINUTE=0``): this run measures the journal and the replicas, not the
throttle. Configurations:

- SQLite, one process (a fresh file);
- PostgreSQL, one and two replicas, on a fresh database ``pcgw_bench_<random>`` created on
  ``--postgres`` (default ``postgresql://postgres@127.0.0.1/postgres``) and dropped afterwards;
  these rows are skipped, with the reason printed, when PostgreSQL is unreachable.

Per configuration, after a short warm-up (catalog and reseller caches): N new-tenant purchases
submitted round-robin to the replicas with up to ``--in-flight`` at once, each waited on with
the gateway's long-poll (``GET /v1/operations/{id}?waitSeconds=N``). Figures, all from the same
run:

- purchases/s from the first submit to the last success;
- p50 / p99 operation latency, from the operation's own ``createdAt`` to its last step's
  ``finishedAt`` (the long-poll of a replica that did not run the operation re-reads every
  0.5 s, which would otherwise be measured instead of the gateway);
- the most operations running at once (overlap of first step start .. last step finish);
- the median operation time against the sum of its upstream delays (5 calls x 100 ms for a
  new-tenant purchase), under load and one at a time; target <= 1.2;
- duplicates and losses: the simulator's ``GET /_sim/state`` must hold exactly one customer,
  order and subscription per purchase (the world is reset before each configuration).
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
WORKERS = 256


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def gateway_env(sim: str, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PCGW_PC_BASE_URL": sim,
        "PCGW_PC_LOGIN_URL": sim,
        "PCGW_PC_TENANT_ID": PROVIDER["tenant"],
        "PCGW_PC_CLIENT_ID": PROVIDER["client_id"],
        "PCGW_PC_CLIENT_SECRET": PROVIDER["secret"],
        "PCGW_DATABASE_URL": database_url,
        "PCGW_WORKERS": str(WORKERS),
        "PCGW_PC_RATE_LIMIT_PER_MINUTE": "0",
        "PCGW_ORDER_POLL_SECONDS": "0.05",
    }


def start_gateways(
    sim: str, database_url: str, replicas: int
) -> tuple[list[str], list[subprocess.Popen[bytes]]]:
    env = gateway_env(sim, database_url)
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
    state: dict[str, int] = field(default_factory=dict)
    #: Share of one core each process used during the measured purchases (1.0: one core busy).
    cpu: dict[str, float] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def exact(self) -> bool:
        total = self.state.get("expected", -1)
        return all(self.state.get(k) == total for k in ("customers", "orders", "subscriptions"))


async def prepare_simulator(session: aiohttp.ClientSession, sim: str) -> None:
    for method, path, body in (
        ("POST", "/_sim/reset", None),
        ("PUT", "/_sim/config", {"rateLimitPerMinute": 0}),
        ("POST", "/_sim/faults", {"latencyMs": LATENCY_MS}),
    ):
        async with session.request(method, f"{sim}{path}", json=body) as resp:
            if resp.status >= 300:
                raise SystemExit(f"{method} {path}: {resp.status} {await resp.text()}")


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
    for i in range(5):
        created, _, finished = span(await purchase(session, gws[i % len(gws)], f"s{i}{run}"))
        alone.append(finished - created)
        done += 1

    gate = asyncio.Semaphore(limit)

    async def one(i: int) -> dict[str, Any]:
        async with gate:
            return await purchase(session, gws[i % len(gws)], f"p{i:05d}{run}")

    pids = {**pids, "postgres": postgres_pids(), "driver": [os.getpid()]}
    cpu_before = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
    started = time.perf_counter()
    ops = await asyncio.gather(*(one(i) for i in range(count)))
    elapsed = time.perf_counter() - started
    row.cpu = {
        k: (sum(cpu_seconds(p) for p in v) - cpu_before[k]) / elapsed for k, v in pids.items()
    }
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


async def run_configuration(
    sim: str, sim_pid: int, row: Row, database_url: str, replicas: int, count: int, limit: int
) -> None:
    gws, procs = start_gateways(sim, database_url, replicas)
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=4 * limit),
            timeout=aiohttp.ClientTimeout(total=300),
        ) as session:
            for gw, proc in zip(gws, procs, strict=True):
                await wait_up(session, f"{gw}/openapi.json", proc)
            pids = {"simulator": [sim_pid], "gateways": [p.pid for p in procs]}
            await measure(session, sim, gws, row, count, limit, pids)
    finally:
        stop(procs)


def main(count: int, limit: int, admin_url: str) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="pcgw-scaleout-"))
    sim_port = free_port()
    sim = f"http://127.0.0.1:{sim_port}"
    sim_proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(sim_port), "--no-access-log",
         "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    rows: list[Row] = []
    try:

        async def up() -> None:
            async with aiohttp.ClientSession() as session:
                await wait_up(session, f"{sim}/_sim/clock", sim_proc)

        asyncio.run(up())
        row = Row("SQLite, 1 process")
        rows.append(row)
        asyncio.run(
            run_configuration(sim, sim_proc.pid, row, f"sqlite:///{work / 'j.db'}", 1, count, limit)
        )
        reason = pg_reason(admin_url)
        for replicas in (1, 2):
            row = Row(f"PostgreSQL, {replicas} replica{'s' if replicas > 1 else ''}")
            rows.append(row)
            if reason is not None:
                row.skipped = f"PostgreSQL unreachable at {admin_url} ({reason})"
                continue
            with fresh_database(admin_url) as url:
                asyncio.run(run_configuration(sim, sim_proc.pid, row, url, replicas, count, limit))
    finally:
        stop([sim_proc])
    return rows


def saturated(r: Row) -> str:
    """Which resource ran out: a single-threaded process near one core, or the whole machine."""
    replicas = int(r.name.split(", ")[1].split()[0])
    full = [k for k in ("simulator", "driver") if r.cpu.get(k, 0) >= 0.9]
    if r.cpu.get("gateways", 0) / replicas >= 0.9:
        full.append("gateway")
    total = sum(r.cpu.values())
    machine = f"machine {total:.2f} of {os.cpu_count()} cores"
    return f"saturated: {', '.join(full)} ({machine})" if full else machine


def report(rows: list[Row], limit: int) -> None:
    budget = CALLS_PER_PURCHASE * LATENCY_MS
    print(f"\nScale-out benchmark: new-tenant purchases, {LATENCY_MS} ms injected on every "
          f"Partner Center call, up to {limit} in flight, PCGW_WORKERS={WORKERS}\n")  # fmt: skip
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
                  f"{r.p50_ms - r.steps_ms:6.0f}")  # fmt: skip
    measured = [r for r in rows if not r.skipped]
    base = measured[0].per_second if measured else 0.0
    print("\n  throughput relative to SQLite, 1 process: " + ", ".join(
        f"{r.name} {r.per_second / base:.2f}x" for r in measured))  # fmt: skip
    print(f"  target: an operation takes <= 1.2x the sum of its upstream delays "
          f"({CALLS_PER_PURCHASE} x {LATENCY_MS} ms); 'alone' is the median of 5 purchases "
          f"one at a time\n")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--purchases", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1/postgres",
                        help="an admin connection; the benchmark's databases are made there")  # fmt: skip
    args = parser.parse_args()
    rows = main(args.purchases, args.in_flight, args.postgres)
    report(rows, args.in_flight)
    sys.exit(0 if all(r.skipped or r.exact for r in rows) else 1)
