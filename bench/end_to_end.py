"""End to end through the simulator: launch N short tasks on M agents, in one run.

Each row starts a fresh simulated cluster (real sockets, the v1 HTTP API) and
one framework, and measures the time from starting the framework to every
task RUNNING, and the launch rate. The rows:

* a plain pymesos scheduler written the usual way: ``resourceOffers`` loops
  over the offers and packs pending tasks into each;
* Ark with the same packing in its raw ``offers`` hook, for each driver.

    python bench/end_to_end.py [--agents 1000] [--tasks 10000]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ark import Scheduler, StateManager, Step
from ark import messages as m
from ark.core import Snapshot
from ark.drivers import PymesosDriver, V1Driver
from ark.sim import AgentShape, Cluster, ClusterConfig, TaskBehaviour, Timing
from ark.wire import task_payload

TASK_CPUS = 0.1
TASK_MEM = 32.0
TIMEOUT = 600.0


def cluster_config(agents: int) -> ClusterConfig:
    return ClusterConfig(
        agents=(AgentShape(count=agents, cpus=16.0, mem=65536.0),),
        tasks=TaskBehaviour(staging_seconds=0.01, starting_seconds=0.01, run_seconds=None),
        timing=Timing(allocation_interval=0.05, default_refuse_seconds=0.05),
    )


def pack(offer_cpus: float, offer_mem: float, pending: int) -> int:
    """How many tasks one offer holds, at most ``pending``."""
    fit = min(int(offer_cpus / TASK_CPUS + 1e-9), int(offer_mem / TASK_MEM + 1e-9))
    return max(0, min(fit, pending))


class Progress:
    """Counts RUNNING tasks; ``done`` is set when all are."""

    def __init__(self, tasks: int) -> None:
        self.tasks = tasks
        self.running: set[str] = set()
        self.first_launch: float | None = None
        self.lock = threading.Lock()
        self.done = threading.Event()

    def launched(self) -> None:
        if self.first_launch is None:
            self.first_launch = time.perf_counter()

    def update(self, task_id: str, state: str) -> None:
        with self.lock:
            if state == "TASK_RUNNING":
                self.running.add(task_id)
                if len(self.running) >= self.tasks:
                    self.done.set()


# --- a plain pymesos scheduler ------------------------------------------------------


class PlainPymesos:
    """The usual pymesos framework: pack tasks in resourceOffers, count updates."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.next_task = 0

    def resourceOffers(self, driver: Any, offers: list[Any]) -> None:
        for offer in offers:
            scalars = {r["name"]: r["scalar"]["value"] for r in offer["resources"] if "scalar" in r}
            n = pack(scalars.get("cpus", 0.0), scalars.get("mem", 0.0), self._pending())
            if n == 0:
                driver.declineOffer(offer["id"], {"refuse_seconds": 5.0})
                continue
            tasks = []
            for _ in range(n):
                task_id = f"task-{self.next_task}"
                self.next_task += 1
                tasks.append(
                    {
                        "task_id": {"value": task_id},
                        "agent_id": offer["agent_id"],
                        "name": task_id,
                        "command": {"value": "sleep 3600"},
                        "resources": [
                            {"name": "cpus", "type": "SCALAR", "scalar": {"value": TASK_CPUS}},
                            {"name": "mem", "type": "SCALAR", "scalar": {"value": TASK_MEM}},
                        ],
                    }
                )
            self.progress.launched()
            driver.launchTasks(offer["id"], tasks)

    def _pending(self) -> int:
        return self.progress.tasks - self.next_task

    def statusUpdate(self, driver: Any, status: Any) -> None:
        self.progress.update(status["task_id"]["value"], status["state"])

    def __getattr__(self, name: str) -> Callable[..., None]:
        # Every other pymesos callback: nothing to do.
        return lambda *args: None


def run_pymesos(cluster: Cluster, tasks: int) -> Progress:
    from pymesos import MesosSchedulerDriver

    progress = Progress(tasks)
    info = {"user": "bench", "name": "plain-pymesos", "failover_timeout": 3600.0}
    driver = MesosSchedulerDriver(
        PlainPymesos(progress), info, cluster.url.split("//")[1], use_addict=False
    )
    driver.start()
    try:
        if not progress.done.wait(TIMEOUT):
            raise RuntimeError(f"pymesos: only {len(progress.running)} of {tasks} running")
    finally:
        # Joined, or its IO thread keeps answering offers while the cluster
        # stops, and a failed call there SIGINTs the main thread (pymesos).
        driver.stop(failover=True)
        driver.join()
    return progress


# --- Ark ----------------------------------------------------------------------------


class Packer(StateManager[int]):
    """Ark's version of the same framework; the state is the next task number."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def offers(self, state: int, offers: Sequence[m.Offer], framework: Snapshot) -> Step[int]:
        commands: list[m.Message] = []
        resources = [m.Resource("cpus", scalar=TASK_CPUS), m.Resource("mem", scalar=TASK_MEM)]
        for offer in offers:
            scalars = {r.name: r.scalar or 0.0 for r in offer.resources}
            n = pack(scalars.get("cpus", 0.0), scalars.get("mem", 0.0), self.progress.tasks - state)
            if n == 0:
                commands.append(m.Decline([offer.id], refuse_seconds=5.0))
                continue
            launches = [
                m.Launch(f"task-{state + i}", resources=resources, payload=COMMAND)
                for i in range(n)
            ]
            state += n
            commands.append(m.Accept([offer.id], launches))
        if commands:
            self.progress.launched()
        return state, commands

    def status_update(self, state: int, status: m.TaskStatus, framework: Snapshot) -> Step[int]:
        self.progress.update(status.task_id, status.state)
        return state, ()


COMMAND = task_payload("sleep 3600")

FRAMEWORK = {"name": "ark-bench", "user": "bench"}
DRIVERS: dict[str, Callable[[Cluster], Any]] = {
    "native v1 driver": lambda c: V1Driver(c.url, FRAMEWORK),
}
if importlib.util.find_spec("pymesos") is not None:
    DRIVERS["pymesos bridge"] = lambda c: PymesosDriver(c.url.split("//")[1], FRAMEWORK)


def run_ark(cluster: Cluster, tasks: int, make_driver: Callable[[Cluster], Any]) -> Progress:
    progress = Progress(tasks)
    scheduler = Scheduler(Packer(progress), 0, make_driver(cluster), reconcile_seconds=None)
    scheduler.start()
    try:
        if not progress.done.wait(TIMEOUT):
            raise RuntimeError(f"ark: only {len(progress.running)} of {tasks} running")
    finally:
        scheduler.shutdown(failover=True)
    return progress


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()
    # Calls still queued when a run shuts down are dropped with a warning: noise here.
    logging.basicConfig(level=logging.ERROR)

    rows: list[tuple[str, Callable[[Cluster], Progress]]] = []
    if importlib.util.find_spec("pymesos") is not None:
        rows.append(("plain pymesos scheduler", lambda c: run_pymesos(c, args.tasks)))
    for name, factory in DRIVERS.items():
        rows.append((f"Ark, {name}", lambda c, f=factory: run_ark(c, args.tasks, f)))  # type: ignore[misc]

    print(f"end to end: {args.tasks:,} tasks on {args.agents:,} simulated agents")
    print(f"{'framework':<32} {'to all running (s)':>18} {'tasks/s':>10}")
    results: dict[str, float] = {}
    for name, run in rows:
        with Cluster(cluster_config(args.agents)) as cluster:
            start = time.perf_counter()
            progress = run(cluster)
            elapsed = time.perf_counter() - start
        results[name] = elapsed
        assert progress.first_launch is not None
        print(f"{name:<32} {elapsed:>18.2f} {args.tasks / elapsed:>10,.0f}")
    base = results.get("plain pymesos scheduler")
    if base:
        for name, elapsed in results.items():
            if name != "plain pymesos scheduler":
                print(f"ratio, {name} / plain pymesos (tasks/s): {base / elapsed:.2f}x")


if __name__ == "__main__":
    main()
