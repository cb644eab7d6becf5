"""The example framework at scale: a task on every one of N simulated agents.

Measures, in one run on one simulated cluster:

1. the time from starting the scheduler to one task RUNNING on every agent;
2. the latency of ``GET /state`` and ``GET /blacklist`` (p50 / p99), answered
   through the scheduler's loop, while the loop is busy: every agent's task
   is made to fail and be relaunched, and a blacklist is being edited.

    python bench/everywhere.py [--agents 5000] [--requests 300]
"""

from __future__ import annotations

import argparse
import logging
import socket
import statistics
import threading
import time

import httpx
import uvicorn

from ark import Config, Scheduler
from ark.drivers import V1Driver
from ark.examples.everywhere.api import create_app
from ark.examples.everywhere.framework import Everywhere, EverywhereManager, TaskSpec
from ark.sim import AgentShape, Cluster, ClusterConfig, TaskBehaviour, Timing

TOKEN = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    config = ClusterConfig(
        agents=(AgentShape(count=args.agents, cpus=4.0, mem=4096.0),),
        tasks=TaskBehaviour(staging_seconds=0.01, starting_seconds=0.01),
        timing=Timing(allocation_interval=0.2, default_refuse_seconds=1.0),
    )
    spec = TaskSpec(refuse_seconds=5.0)
    with Cluster(config) as cluster:
        driver = V1Driver(cluster.url, {"name": "everywhere-bench", "user": "bench"})
        scheduler = Scheduler(
            EverywhereManager(spec),
            Everywhere(),
            driver,
            config=Config(backoff_seconds=0.5),
            reconcile_seconds=None,
        )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(scheduler, TOKEN, timeout=30.0),
                host="127.0.0.1",
                port=port,
                log_level="error",
            )
        )
        api = threading.Thread(target=server.run, daemon=True)
        api.start()
        while not server.started:
            time.sleep(0.01)

        start = time.perf_counter()
        scheduler.start()
        while len(scheduler.snapshot().tasks_by_state().get("TASK_RUNNING", [])) < args.agents:
            time.sleep(0.02)
        to_all_running = time.perf_counter() - start

        # Phase 2: keep the loop busy (blacklisting kills a task, removing it
        # relaunches one) and measure reads through the loop meanwhile.
        agents = [a["id"] for a in cluster.state()["slaves"]]
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        busy = threading.Event()

        def churn() -> None:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            i = 0
            while not busy.is_set():
                agent = agents[i % len(agents)]
                http.put(f"/blacklist/{agent}", headers=auth)
                http.delete(f"/blacklist/{agent}", headers=auth)
                i += 1

        churner = threading.Thread(target=churn, daemon=True)
        churner.start()
        latencies: dict[str, list[float]] = {"/state": [], "/blacklist": []}
        for i in range(args.requests):
            path = "/state" if i % 2 == 0 else "/blacklist"
            t = time.perf_counter()
            response = http.get(path)
            latencies[path].append(time.perf_counter() - t)
            assert response.status_code == 200, response.text
        busy.set()
        churner.join(30)
        counters = scheduler.metrics.snapshot()
        http.close()
        server.should_exit = True
        api.join(10)
        scheduler.shutdown()

    print(f"everywhere: {args.agents:,} simulated agents")
    print(f"start to one task RUNNING on every agent: {to_all_running:.2f} s")
    print(f"{'read (while blacklisting churns)':<34} {'p50 ms':>8} {'p99 ms':>8} {'n':>5}")
    for path, samples in latencies.items():
        p50, p99 = percentile(samples, 50) * 1e3, percentile(samples, 99) * 1e3
        print(f"GET {path:<30} {p50:>8.1f} {p99:>8.1f} {len(samples):>5}")
    print(f"loop: {counters['batches']:,} batches, longest {counters['batch_seconds_max']:.3f} s")


if __name__ == "__main__":
    main()
