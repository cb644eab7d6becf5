"""HA failover time: from the leader's SIGKILL to the new leader's first launch.

Two scheduler processes under ``Standby``, a real ZooKeeper and the
simulator. Two scenarios:

* empty (``--timeouts``, tests/ha/keep_n_process.py): the leader is killed
  as soon as it is elected, before it launches anything, so the new leader
  has every task to launch; for several ZooKeeper session timeouts, which
  bound how long a dead leader blocks the next one;
* running (``--tasks``, bench/failover_process.py): the leader runs N tasks
  (and its store holds them); it is killed, and the row is the seconds from
  the kill until the new leader, having reconciled every task, launches
  again (its probe task), against the session timeout. Target: at most the
  session timeout + 3 s at 100,000 tasks, + 1 s for a small framework.
  ``failover_row(tasks, session_timeout)`` is this row, for bench/scale.py.

    python bench/failover.py [--timeouts 1 2 4] [--trials 3]
    python bench/failover.py --tasks 8 100000 --session 2
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from ark.election import LeaderElection, Term  # noqa: E402
from ark.sim import AgentShape, Cluster, ClusterConfig, Timing  # noqa: E402
from ark.store import Intent, Record, ZooKeeperStore  # noqa: E402
from workload import wait_until  # noqa: E402
from zookeeper_server import ZooKeeperServer  # noqa: E402

SCRIPT = ROOT / "tests" / "ha" / "keep_n_process.py"
FLEET = ROOT / "bench" / "failover_process.py"
N = 12


def elections(log: Path) -> list[int]:
    return [int(x.split()[1]) for x in log.read_text().splitlines()] if log.exists() else []


def trial(zk: str, session_timeout: float, tmp: Path) -> tuple[float, float]:
    config = ClusterConfig(
        agents=(AgentShape(count=3, cpus=4, mem=1024),),
        timing=Timing(allocation_interval=0.05, heartbeat_interval=1.0),
    )
    with Cluster(config) as cluster:
        path = f"/ark-bench-{uuid.uuid4().hex[:8]}"
        logs = [tmp / f"{path[1:]}-{i}.log" for i in range(2)]
        args = [cluster.url, zk, path, str(N)]
        procs = [
            subprocess.Popen(
                [sys.executable, str(SCRIPT), *args, str(log), str(session_timeout)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for log in logs
        ]
        try:
            # The log, not its index: an index of 0 would read as "not yet".
            leader_log = wait_until(lambda: next((log for log in logs if elections(log)), None))
            first = logs.index(leader_log)
            procs[first].send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            other = logs[1 - first]
            epoch = wait_until(lambda: elections(other))[0]
            elected = time.perf_counter() - killed

            def launched() -> bool:
                tasks = [t for f in cluster.state()["frameworks"] for t in f["tasks"]]
                return any(f"-e{epoch}-" in t["id"] for t in tasks)

            wait_until(launched)
            return elected, time.perf_counter() - killed
        finally:
            for p in procs:
                p.kill()
                p.wait()


def _on_master(cluster: Cluster, check: Callable[[Any], bool]) -> bool:
    """``check`` over the simulated master's frameworks, on the simulator's loop."""
    master = cluster.leader()
    return cluster.run(lambda: any(check(f) for f in master.frameworks.values()))


def running_trial(
    zk: str, tasks: int, session_timeout: float, tmp: Path, encoding: str = "auto"
) -> dict[str, float]:
    """One failover of a framework running ``tasks`` tasks (see the module's docstring)."""
    agents = max(3, tasks // 1000)
    config = ClusterConfig(
        agents=(AgentShape(count=agents, cpus=16, mem=65536),),
        timing=Timing(allocation_interval=0.05, heartbeat_interval=1.0),
    )
    with Cluster(config) as cluster:
        path = f"/ark-bench-{uuid.uuid4().hex[:8]}"
        logs = [tmp / f"{path[1:]}-{i}.log" for i in range(2)]
        args = [cluster.url, zk, path, str(tasks)]
        procs = [
            subprocess.Popen(
                [sys.executable, str(FLEET), *args, str(log), str(session_timeout), encoding],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for log in logs
        ]
        try:
            leader_log = wait_until(lambda: next((log for log in logs if elections(log)), None))
            first = logs.index(leader_log)
            probe = f"probe-e{elections(leader_log)[0]}"

            def all_running(f: Any) -> bool:
                running = sum(t.state == "TASK_RUNNING" for t in f.tasks.values())
                return probe in f.tasks and running == tasks + 1

            wait_until(lambda: _on_master(cluster, all_running), 60 + tasks / 500)
            procs[first].send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            other = logs[1 - first]
            epoch = wait_until(lambda: elections(other))[0]
            elected = time.perf_counter() - killed
            probe = f"probe-e{epoch}"
            wait_until(lambda: _on_master(cluster, lambda f: probe in f.tasks), 60 + tasks / 1000)
            launched = time.perf_counter() - killed
            return {
                "tasks": tasks,
                "session_timeout": session_timeout,
                "elected_s": elected,
                "launch_s": launched,
                "over_session_s": launched - session_timeout,
            }
        finally:
            for p in procs:
                p.kill()
                p.wait()


def harness_trial(
    zk: str, tasks: int, session_timeout: float, tmp: Path, encoding: str = "auto"
) -> dict[str, float]:
    """As :func:`running_trial`, against ``ark-bench-master``, which never limits the run.

    Its tasks ``task-<i>`` are made known to it, and written to the store as
    the leader that launched them would have; offers come when the bench
    sends them (every 0.1 s while waiting for a launch: the harness keeps no
    refuse filters, so this measures loading and reconciling, not REVIVE).
    """
    from bench_master import BenchMaster

    agents = max(1, tasks // 100)
    path = f"/ark-bench-{uuid.uuid4().hex[:8]}"
    seed_store(zk, path, tasks, agents)
    with BenchMaster.start() as master:
        master.tasks(tasks, agents)
        logs = [tmp / f"{path[1:]}-{i}.log" for i in range(2)]
        args = [master.url, zk, path, str(tasks)]
        procs = [
            subprocess.Popen(
                [sys.executable, str(FLEET), *args, str(log), str(session_timeout), encoding],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for log in logs
        ]

        def launches(n: int, timeout: float) -> float:
            """Offer until the harness has seen ``n`` launches; the wall time of the last."""
            deadline = time.monotonic() + timeout
            while (stats := master.stats())["launches"] < n:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"timed out: {stats}")
                with contextlib.suppress(urllib.error.HTTPError):  # 409: nobody subscribed
                    master.offers(agents=1, cpus=1.0, mem=1024.0)
                time.sleep(0.1)
            return float(stats["last_accept_at"])

        try:
            leader_log = wait_until(lambda: next((log for log in logs if elections(log)), None))
            first = logs.index(leader_log)
            launches(1, 120 + tasks / 1000)
            procs[first].send_signal(signal.SIGKILL)
            killed_wall, killed = time.time(), time.perf_counter()
            other = logs[1 - first]
            wait_until(lambda: elections(other))
            elected = time.perf_counter() - killed
            launched = launches(2, 120 + tasks / 1000) - killed_wall
            return {
                "tasks": tasks,
                "session_timeout": session_timeout,
                "elected_s": elected,
                "launch_s": launched,
                "over_session_s": launched - session_timeout,
            }
        finally:
            for p in procs:
                p.kill()
                p.wait()


def seed_store(zk: str, path: str, tasks: int, agents: int) -> None:
    """The store of a framework whose earlier leader launched tasks ``task-<i>``."""
    terms: list[Term] = []
    election = LeaderElection(zk, path, terms.append, lambda: None)
    election.start()
    try:
        wait_until(lambda: terms)
        intents = {
            f"task-{i}": Intent(f"task-{i}", f"agent-{i % agents}", confirmed=True)
            for i in range(tasks)
        }
        store = ZooKeeperStore(election.client, f"{path}/state", terms[0])
        store.save(Record("fw-bench", intents))
    finally:
        election.stop()


def failover_row(
    tasks: int,
    session_timeout: float,
    zk: str | None = None,
    master: str | None = None,
    encoding: str = "auto",
) -> dict[str, Any]:
    """Seconds from SIGKILLing the leader of a ``tasks``-task framework to its successor's
    first launch, every task reconciled (a ZooKeeper of its own unless ``zk`` is given).

    ``master``: ``sim`` (the simulator, with Mesos's refuse filters) or
    ``harness`` (``ark-bench-master``); by default the simulator up to 1,000
    tasks, the harness above. ``encoding``: the schedulers' (V1Driver's).
    """
    if master is None:
        master = "sim" if tasks <= 1000 else "harness"
    trial = running_trial if master == "sim" else harness_trial
    server = ZooKeeperServer().start() if zk is None else None
    try:
        hosts = server.hosts if server is not None else zk
        assert hosts is not None
        with tempfile.TemporaryDirectory() as tmp:
            row = trial(hosts, tasks, session_timeout, Path(tmp), encoding)
            return {**row, "master": master, "encoding": encoding}
    finally:
        if server is not None:
            server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeouts", type=float, nargs="+", default=[1.0, 2.0, 4.0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--tasks", type=int, nargs="*", default=[], help="running scenario sizes")
    parser.add_argument("--session", type=float, default=2.0, help="its session timeout")
    parser.add_argument(
        "--master", choices=["sim", "harness"], help="default: sim up to 1,000 tasks"
    )
    parser.add_argument("--encoding", choices=["auto", "protobuf", "json"], default="auto")
    args = parser.parse_args()
    server = ZooKeeperServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if not args.tasks:
                print("failover: leader SIGKILLed right after its election, 2 schedulers")
                print(f"{'session timeout s':>18} {'to new leader s':>16}", end="")
                print(f" {'to first launch s':>18}")
                for timeout in args.timeouts:
                    runs = [trial(server.hosts, timeout, Path(tmp)) for _ in range(args.trials)]
                    elected = statistics.median(r[0] for r in runs)
                    launch = statistics.median(r[1] for r in runs)
                    print(f"{timeout:>18.1f} {elected:>16.2f} {launch:>18.2f}")
                return
            print(
                f"failover: leader of N running tasks SIGKILLed, 2 schedulers, "
                f"session timeout {args.session:.1f} s (median of {args.trials})"
            )
            print(
                f"{'tasks':>8} {'master':>8} {'to new leader s':>16} {'to launch again s':>18} "
                f"{'over session s':>15}"
            )
            for tasks in args.tasks:
                rows = [
                    failover_row(tasks, args.session, server.hosts, args.master, args.encoding)
                    for _ in range(args.trials)
                ]
                elected = statistics.median(r["elected_s"] for r in rows)
                launch = statistics.median(r["launch_s"] for r in rows)
                over = launch - args.session
                master = rows[0]["master"]
                print(f"{tasks:>8} {master:>8} {elected:>16.2f} {launch:>18.2f} {over:>15.2f}")
    finally:
        server.close()


if __name__ == "__main__":
    main()
