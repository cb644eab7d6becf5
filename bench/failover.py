"""HA failover time: from the leader's SIGKILL to the new leader's first launch.

Two scheduler processes (tests/ha/keep_n_process.py), a real ZooKeeper and
the simulator. The leader is killed as soon as it is elected, before it
launches anything, so the new leader has every task to launch; measured for
several ZooKeeper session timeouts, which bound how long a dead leader
blocks the next one.

    python bench/failover.py [--timeouts 1 2 4] [--trials 3]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from ark.sim import AgentShape, Cluster, ClusterConfig, Timing  # noqa: E402
from workload import wait_until  # noqa: E402
from zookeeper_server import ZooKeeperServer  # noqa: E402

SCRIPT = ROOT / "tests" / "ha" / "keep_n_process.py"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeouts", type=float, nargs="+", default=[1.0, 2.0, 4.0])
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    server = ZooKeeperServer().start()
    try:
        print("failover: leader SIGKILLed right after its election, 2 schedulers")
        print(f"{'session timeout s':>18} {'to new leader s':>16} {'to first launch s':>18}")
        with tempfile.TemporaryDirectory() as tmp:
            for timeout in args.timeouts:
                runs = [trial(server.hosts, timeout, Path(tmp)) for _ in range(args.trials)]
                elected = statistics.median(r[0] for r in runs)
                launch = statistics.median(r[1] for r in runs)
                print(f"{timeout:>18.1f} {elected:>16.2f} {launch:>18.2f}")
    finally:
        server.close()


if __name__ == "__main__":
    main()
