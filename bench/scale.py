"""Ark at scale, against a master that is never the bottleneck, in one run.

Each framework row runs against its own ``ark-bench-master`` (a Rust process,
rust/bench-master), which checks every call as it counts it and reports its
own CPU time, so each row prints how idle the harness was. The rows:

* update storm: N TASK_RUNNING updates streamed at once, each to be
  acknowledged: seconds from the first update sent until the harness has
  every acknowledgement, for Ark (V1Driver, protobuf and JSON; a framework
  with no ``status_update`` hook, so Ark acknowledges by itself), Ark with a
  trivial Python ``status_update`` hook, and a plain pymesos scheduler
  (implicit acknowledgements);
* launch: N task requests (``m.Request``, 0.1 cpu / 32 MB each) matched on
  the offers of M agents: seconds from the offers being sent until the last
  ACCEPT reaches the harness, with every launch counted;
* failover (``bench/failover.py: failover_row``, when present);
* update cost at 200,000 tasks in ``ark.core.Reducer``, batches of
  TASK_RUNNING updates stepped with and without a snapshot held.

    python bench/scale.py [--updates 100000] [--tasks 100000] [--agents 10000]
                          [--reducer-tasks 200000] [--rows storm,launch,failover,reducer]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from ark import Reducer, Scheduler, StateManager, Step
from ark import messages as m
from ark.core import Snapshot
from ark.drivers import V1Driver
from bench_master import BenchMaster, Stats, idle_share

TASK_CPUS = 0.1
TASK_MEM = 32.0
# Ten tasks fit an offer by cpus (10.5) before mem (11): every agent is used.
AGENT_CPUS = 1.05
AGENT_MEM = 352.0
BATCH = 1024
TIMEOUT = 900.0
FRAMEWORK = {"name": "ark-scale", "user": "bench"}


class Row:
    """One printed row: what ran, how long, how idle the harness was."""

    def __init__(self, name: str, seconds: float, count: int, harness_cpu: float) -> None:
        self.name = name
        self.seconds = seconds
        self.count = count
        self.harness_cpu = harness_cpu

    def print(self, unit: str) -> None:
        idle = idle_share(self.harness_cpu, self.seconds)
        print(
            f"{self.name:<44} {self.seconds:>9.2f} {self.count / self.seconds:>12,.0f} {unit:<8}"
            f" {self.harness_cpu:>8.2f} {idle:>7.0%}"
        )


def header(title: str) -> None:
    print(f"\n{title}")
    print(f"{'':<44} {'seconds':>9} {'rate':>12} {'':<8} {'harness':>8} {'idle':>7}")
    print(f"{'':<44} {'':>9} {'':>12} {'':<8} {'cpu (s)':>8} {'':>7}")


def checked(stats: Stats, what: str) -> Stats:
    """Fails the row if the framework did anything wrong along the way."""
    wrong = {
        k: stats[k]
        for k in (
            "acks_duplicate",
            "acks_bad_uuid",
            "acks_unknown",
            "unknown_calls",
            "offers_reused",
        )
        if stats[k]
    }
    if wrong:
        raise RuntimeError(f"{what}: the harness counted mistakes: {wrong}")
    return stats


# --- update storm -------------------------------------------------------------------


class Acknowledger(StateManager[int]):
    """No hooks at all: Ark acknowledges every update itself."""


class Hooked(StateManager[int]):
    """A trivial Python hook per update: counts them."""

    def status_update(self, state: int, status: m.TaskStatus, framework: Snapshot) -> Step[int]:
        return state + 1, ()


def storm_ark(updates: int, encoding: Any, manager: StateManager[int]) -> tuple[float, float]:
    with BenchMaster.start() as master:
        driver = V1Driver(master.url, FRAMEWORK, encoding=encoding)
        with Scheduler(manager, 0, driver, reconcile_seconds=None):
            # Subscribed, and Ark's first (implicit) reconciliation is in, so it
            # is not answered with the storm's tasks.
            master.wait(
                lambda s: s["stream_encoding"] == encoding and s["reconcile_calls"] >= 1,
                timeout=60.0,
            )
            return storm(master, updates)


def storm_pymesos(updates: int) -> tuple[float, float]:
    from pymesos import MesosSchedulerDriver

    class Plain:
        """The usual pymesos framework: count updates; pymesos acknowledges them."""

        def __init__(self) -> None:
            self.updates = 0

        def statusUpdate(self, driver: Any, status: Any) -> None:
            self.updates += 1

        def __getattr__(self, name: str) -> Callable[..., None]:
            return lambda *args: None

    with BenchMaster.start() as master:
        info = {**FRAMEWORK, "failover_timeout": 3600.0}
        driver = MesosSchedulerDriver(
            Plain(), info, master.address, use_addict=False, implicit_acknowledgements=True
        )
        driver.start()
        try:
            master.wait(lambda s: s["stream_encoding"] == "json", timeout=60.0)
            return storm(master, updates)
        finally:
            # Joined, or its IO thread fails a call on the stopping harness and
            # SIGINTs this thread (pymesos).
            driver.stop(failover=True)
            driver.join()


def storm(master: BenchMaster, updates: int) -> tuple[float, float]:
    """Streams the storm; returns (seconds to the last ack, harness CPU seconds meanwhile)."""
    cpu = master.stats()["cpu_seconds"]
    master.storm(updates)
    stats = checked(master.wait(lambda s: s["acks_ok"] >= updates, TIMEOUT), "storm")
    # From the first update sent: encoding the storm beforehand is not the run's.
    cpu = stats["cpu_at_first_update"] or cpu
    return stats["last_ack_at"] - stats["first_update_at"], stats["cpu_seconds"] - cpu


def storm_rows(updates: int) -> None:
    header(f"update storm: {updates:,} TASK_RUNNING updates, each acknowledged")
    rows: list[tuple[str, Callable[[], tuple[float, float]]]] = [
        ("Ark, V1Driver protobuf", lambda: storm_ark(updates, "protobuf", Acknowledger())),
        ("Ark, V1Driver json", lambda: storm_ark(updates, "json", Acknowledger())),
        ("Ark, V1Driver protobuf, Python hook", lambda: storm_ark(updates, "protobuf", Hooked())),
    ]
    if importlib.util.find_spec("pymesos") is not None:
        rows.append(("plain pymesos scheduler", lambda: storm_pymesos(updates)))
    else:
        print("(plain pymesos scheduler: skipped, pymesos is not installed:")
        print(" run PYTHON=.venv/bin/python bash .ci/install-pymesos.sh)")
    seconds: dict[str, float] = {}
    for name, run in rows:
        elapsed, cpu = run()
        seconds[name] = elapsed
        Row(name, elapsed, updates, cpu).print("updates/s")
    base = seconds.get("plain pymesos scheduler")
    for name, elapsed in seconds.items():
        if base and name != "plain pymesos scheduler":
            print(f"ratio, {name} / plain pymesos (updates/s): {base / elapsed:.2f}x")
    hook = seconds["Ark, V1Driver protobuf, Python hook"]
    plain = seconds["Ark, V1Driver protobuf"]
    cost = (hook - plain) / updates * 1e6
    noise = " (below zero: within the noise of this run)" if cost < 0 else ""
    print(f"a Python status_update hook costs {cost:.1f} µs per update{noise}")


# --- launch -------------------------------------------------------------------------


def launch_row(tasks: int, agents: int) -> None:
    header(f"launch: {tasks:,} task requests matched on {agents:,} agents' offers")
    resources = [m.Resource("cpus", scalar=TASK_CPUS), m.Resource("mem", scalar=TASK_MEM)]
    request = m.Request([m.TaskRequest(f"task-{i}", resources=resources) for i in range(tasks)])
    with BenchMaster.start() as master:
        driver = V1Driver(master.url, FRAMEWORK)
        with Scheduler(Acknowledger(), 0, driver, reconcile_seconds=None) as scheduler:
            master.wait(lambda s: s["stream_encoding"] is not None, timeout=60.0)
            deadline = time.monotonic() + 60.0
            # Ark declines offers while it reconciles: wait until it is done.
            while scheduler.snapshot().reconciliation_phase != "idle":
                if time.monotonic() > deadline:
                    raise TimeoutError("Ark never finished reconciling")
                time.sleep(0.01)
            scheduler.push(request)
            while len(scheduler.snapshot().pending()) < tasks:
                time.sleep(0.01)
            cpu = master.stats()["cpu_seconds"]
            sent_at = time.time()
            master.offers(agents=agents, cpus=AGENT_CPUS, mem=AGENT_MEM, disk=1000.0)
            stats = checked(master.wait(lambda s: s["launches"] >= tasks, TIMEOUT), "launch")
    elapsed = stats["last_accept_at"] - sent_at
    Row("Ark, V1Driver protobuf, matcher", elapsed, tasks, stats["cpu_seconds"] - cpu).print(
        "tasks/s"
    )
    print(f"offers accepted {stats['offers_accepted']:,}, declined {stats['offers_declined']:,}")


# --- failover -----------------------------------------------------------------------


def failover_rows(tasks: int) -> None:
    # ---- FAILOVER ROW: bench/failover.py provides failover_row(tasks, session_timeout)
    # (another engineer's work); until it exists the row is skipped.
    import failover

    row: Callable[..., dict[str, Any]] | None = getattr(failover, "failover_row", None)
    print(f"\nfailover of a {tasks:,}-task framework (real ZooKeeper)")
    if row is None:
        print("(skipped: bench/failover.py has no failover_row yet)")
        return
    for key, value in row(tasks=tasks, session_timeout=2.0).items():
        print(f"{key:<44} {value}")


# --- update cost with a snapshot held ---------------------------------------------


def reducer_rows(tasks: int, updates: int) -> None:
    header_text = f"update cost at {tasks:,} tasks (ark.core.Reducer, batches of {BATCH:,})"
    print(f"\n{header_text}")
    rng = random.Random(1)
    core = Reducer()
    core.step(m.Subscribed("framework-1", heartbeat_interval_seconds=15.0), 0.0)
    track = [m.encode(m.Track(f"task-{i}", f"agent-{i % 1000}")) for i in range(tasks)]
    for i in range(0, tasks, BATCH):
        _, errors = core.step_batch(track[i : i + BATCH], 1.0)
        assert not errors, errors[:3]

    def batches() -> list[list[bytes]]:
        picks = [rng.randrange(tasks) for _ in range(updates)]
        stream = [
            m.encode(
                m.Update(
                    m.TaskStatus(
                        f"task-{i}",
                        "TASK_RUNNING",
                        agent_id=f"agent-{i % 1000}",
                        source="SOURCE_EXECUTOR",
                        uuid=rng.randbytes(16),
                    )
                )
            )
            for i in picks
        ]
        return [stream[i : i + BATCH] for i in range(0, len(stream), BATCH)]

    def run(hold: bool) -> float:
        work = batches()
        gc.collect()
        start = time.perf_counter()
        held = None
        for batch in work:
            if hold:
                # As the Scheduler does: a fresh snapshot after every batch, held until the next.
                held = core.snapshot()
            _, errors = core.step_batch(batch, 2.0)
            assert not errors, errors[:3]
        del held
        return (time.perf_counter() - start) / updates * 1e6

    without = run(hold=False)
    held = run(hold=True)
    print(f"{'µs per update, no snapshot held':<44} {without:>9.2f}")
    print(f"{'µs per update, a snapshot held':<44} {held:>9.2f}")
    print(f"ratio, held / not held: {held / without:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=100_000, help="updates in a storm")
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks launched, failed over")
    parser.add_argument("--agents", type=int, default=10_000, help="agents offering for the launch")
    parser.add_argument("--reducer-tasks", type=int, default=200_000)
    parser.add_argument("--rows", default="storm,launch,failover,reducer")
    args = parser.parse_args()
    # Calls still queued when a run shuts down are dropped with a warning: noise here.
    logging.basicConfig(level=logging.ERROR)
    rows = set(args.rows.split(","))
    # Build the harness before any clock starts.
    BenchMaster.start().stop()
    if "storm" in rows:
        storm_rows(args.updates)
    if "launch" in rows:
        launch_row(args.tasks, args.agents)
    if "failover" in rows:
        failover_rows(args.tasks)
    if "reducer" in rows:
        reducer_rows(args.reducer_tasks, max(args.updates, BATCH))


if __name__ == "__main__":
    main()
