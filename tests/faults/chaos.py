"""A seeded chaos run: two scheduler processes under ``Standby``, random faults.

    python tests/faults/chaos.py [--seed N] [--seconds S] [--agents A]

The example framework (one copy on every agent) runs in two processes under
``Standby`` against the simulator, each reaching the master and ZooKeeper
through fault proxies of its own. For ``S`` seconds, faults of every kind
the proxies know come and go on random links; then every link heals and the
checker must hold: one framework id, no task id launched twice, one copy
running on every agent and none killed as a second, and no call sent by a
deposed leader between its fence (the next term's start in ZooKeeper) and
its own next term. It prints what it did and what held; the exit status is
1 if anything did not hold. The same seed makes the same schedule of faults.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from checker import framework_tasks, violations, wait_for_steady  # noqa: E402
from proxy import Fault, FaultProxy  # noqa: E402
from standby_pair import SchedulerProcess, wait_for  # noqa: E402

from ark.sim import AgentShape, Cluster  # noqa: E402
from sim.sim_client import FAST, fast_config  # noqa: E402
from zookeeper_server import ZooKeeperServer  # noqa: E402

SESSION = 2.0

#: Faults on a master link and on a ZooKeeper link.
MASTER_FAULTS = [
    "silence",
    "delay",
    "throttle",
    "drop-up",
    "drop-down",
    "reset",
    "answer-500",
    "answer-503",
    "slow-calls",
    "cut",
]
ZOOKEEPER_FAULTS = ["silence", "delay", "throttle", "drop-up", "drop-down", "reset"]


def draw(kind: str, rng: random.Random) -> Fault:
    """The fault a name stands for, with drawn parameters."""
    if kind == "delay":
        return Fault("delay", seconds=rng.uniform(0.05, 1.0))
    if kind == "throttle":
        return Fault("throttle", rate=rng.uniform(2_000, 50_000))
    if kind.startswith("drop-"):
        return Fault("drop", direction=kind.removeprefix("drop-"))
    if kind.startswith("answer-"):
        return Fault("answer", status=int(kind.removeprefix("answer-")))
    if kind == "slow-calls":
        return Fault("delay", seconds=5.0, calls_only=True)
    return Fault(kind)


Event = tuple[float, int, "Fault | None", str]


#: The link index of an agent killed and restarted: its copy ends and must
#: be launched again, through whatever faults are on then.
RESTART = -1


def schedule(rng: random.Random, seconds: float, kinds: list[list[str]]) -> list[Event]:
    """``(at, link, fault or None to heal, name)``, in time order: a fault on
    a random link every second or so, lasting 0.3 to 4 s, at most two links
    faulty at once (so that a leader can exist); now and then an agent
    killed and restarted (link ``RESTART``)."""
    events: list[Event] = []
    busy: dict[int, float] = {}
    at = 0.0
    while at < seconds:
        busy = {i: until for i, until in busy.items() if until > at}
        if rng.random() < 0.08:
            events.append((at, RESTART, None, "agent killed"))
        if len(busy) < 2 and rng.random() < 0.5:
            index = rng.randrange(len(kinds))
            if index not in busy:
                kind = rng.choice(kinds[index])
                until = min(seconds, at + rng.uniform(0.3, 4.0))
                events += [(at, index, draw(kind, rng), kind), (until, index, None, "")]
                busy[index] = until
        at += rng.uniform(0.1, 0.6)
    return sorted(events, key=lambda e: (e[0], e[2] is not None or e[1] == RESTART))


@dataclasses.dataclass
class Report:
    faults: Counter[str] = dataclasses.field(default_factory=Counter)
    takeovers: int = 0
    launched: int = 0
    lost: list[str] = dataclasses.field(default_factory=list)
    doubled: list[str] = dataclasses.field(default_factory=list)
    late_calls: list[str] = dataclasses.field(default_factory=list)
    violations: list[str] = dataclasses.field(default_factory=list)
    settle_seconds: float = 0.0

    @property
    def held(self) -> bool:
        return not (self.violations or self.late_calls)


class EpochWatch:
    """When each term began: the epoch znode's mtime for every epoch it had."""

    def __init__(self, zk_hosts: str, path: str) -> None:
        from kazoo.client import KazooClient  # type: ignore[import-untyped]

        self.began: dict[int, float] = {}
        self._zk = KazooClient(hosts=zk_hosts)
        self._zk.start(30)
        self._zk.ensure_path(path)
        self._zk.DataWatch(f"{path}/epoch", self._changed)

    def _changed(self, data: bytes | None, stat: Any) -> None:
        if data and stat is not None:
            self.began.setdefault(int(data), stat.mtime / 1000.0)

    def close(self) -> None:
        self._zk.stop()
        self._zk.close()


class TaskWatch:
    """Samples the master's tasks every 0.1 s: the ids ever seen (a task lost
    with its agent leaves the master's lists) and agents ever seen with two
    live copies at once."""

    def __init__(self, cluster: Cluster) -> None:
        self.seen: dict[str, str] = {}  # task id -> agent id
        self.moved: set[str] = set()  # ids seen on two agents: launched twice
        self.two_copies: set[str] = set()
        self._cluster = cluster
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.sample(self._cluster.state())
            except Exception:  # a master failing over: the next sample
                continue

    def sample(self, state: dict[str, Any]) -> None:
        live: Counter[str] = Counter()
        for t in framework_tasks(state):
            if self.seen.setdefault(t["id"], t["slave_id"]) != t["slave_id"]:
                self.moved.add(t["id"])
            if t["state"] in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"):
                live[t["slave_id"]] += 1
        self.two_copies |= {a for a, n in live.items() if n > 1}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def late_calls(procs: list[SchedulerProcess], began: dict[int, float]) -> list[str]:
    """Calls a process sent after a later term began and before it led again."""
    found = []
    epochs = sorted(began)
    for p in procs:
        mine = [e for e in p.epochs() if e in began]
        for e in mine:
            later = [x for x in epochs if x > e]
            if not later:
                continue
            fence = began[later[0]]
            again = [began[x] for x in mine if x > e]
            until = again[0] if again else float("inf")
            late = [t for t, _ in p.master.requests if fence < t < until]
            if late:
                found.append(
                    f"{p.name}: {len(late)} calls after epoch {later[0]} began "
                    f"(first {late[0] - fence:.3f} s after)"
                )
    return found


def run(seed: int, seconds: float, agents: int, zk_hosts: str, workdir: Path) -> Report:
    rng = random.Random(seed)
    report = Report()
    timing = dataclasses.replace(FAST, offer_timeout=1.0)
    config = fast_config(
        agents=(AgentShape(count=agents, cpus=4, mem=1024),), timing=timing, seed=seed
    )
    path = f"/ark-chaos-{uuid.uuid4().hex[:8]}"
    with Cluster(config) as cluster:
        watch = EpochWatch(zk_hosts, path)
        tasks_seen = TaskWatch(cluster)
        procs = [
            SchedulerProcess(f"s{i}", cluster.url, zk_hosts, path, workdir, SESSION)
            for i in range(2)
        ]
        try:
            if not wait_for(lambda: any(p.epochs() for p in procs), 60):
                report.violations.append("no leader within 60 s")
                return report
            links: list[tuple[FaultProxy, list[str]]] = []
            for p in procs:
                links += [(p.master, MASTER_FAULTS), (p.zookeeper, ZOOKEEPER_FAULTS)]
            started = time.monotonic()
            for at, index, fault, kind in schedule(rng, seconds, [k for _, k in links]):
                time.sleep(max(0.0, started + at - time.monotonic()))
                if index == RESTART:
                    agent = rng.choice(cluster.state()["slaves"])["id"]
                    cluster.kill_agent(agent)  # its copy dies with it
                    time.sleep(0.1)
                    cluster.restart_agent(agent)
                    report.faults[kind] += 1
                    continue
                proxy = links[index][0]
                if fault is None:
                    proxy.heal()
                else:
                    proxy.set(fault)
                    report.faults[f"{proxy.name.split('-')[1]} {kind}"] += 1
            time.sleep(max(0.0, started + seconds - time.monotonic()))
            for proxy, _ in links:
                proxy.heal()
            settle = time.monotonic()
            found = wait_for_steady(cluster, 90, hold=1.0)
            report.settle_seconds = time.monotonic() - settle
            report.violations = found
            state = cluster.state()
            tasks = framework_tasks(state)
            ids = [t["id"] for t in tasks]
            tasks_seen.sample(state)
            report.launched = len(tasks_seen.seen)
            report.doubled = [i for i, n in Counter(ids).items() if n > 1]
            report.doubled += [t["id"] for t in tasks if t["state"] == "TASK_KILLED"]
            report.doubled += sorted(tasks_seen.moved)
            report.doubled += [f"two copies on {a}" for a in sorted(tasks_seen.two_copies)]
            if report.doubled:
                report.violations.append(f"doubled: {report.doubled}")
            running = Counter(t["slave_id"] for t in tasks if t["state"] == "TASK_RUNNING")
            report.lost = [a["id"] for a in state["slaves"] if running.get(a["id"], 0) == 0]
            report.takeovers = sum(len(p.epochs()) for p in procs) - 1
            report.late_calls = late_calls(procs, watch.began)
            if violations(state) and not report.violations:
                report.violations = violations(state)
        finally:
            for p in procs:
                p.close()
            watch.close()
            tasks_seen.close()
    return report


def describe(report: Report, seed: int, seconds: float) -> str:
    lines = [f"chaos seed {seed}, {seconds:.0f} s of faults"]
    lines.append(f"  faults injected: {sum(report.faults.values())}")
    for kind, n in sorted(report.faults.items()):
        lines.append(f"    {kind:<22} {n}")
    lines.append(f"  takeovers (terms after the first): {report.takeovers}")
    lines.append(f"  task ids launched (seen at the master): {report.launched}")
    lines.append(f"  agents left without a copy: {len(report.lost)} {report.lost or ''}")
    lines.append(f"  tasks doubled: {len(report.doubled)} {report.doubled or ''}")
    lines.append(f"  calls by a deposed leader after its fence: {len(report.late_calls)}")
    for line in report.late_calls:
        lines.append(f"    {line}")
    lines.append(f"  settled {report.settle_seconds:.1f} s after the last fault")
    verdict = "everything held" if report.held else f"FAILED: {report.violations}"
    lines.append(f"  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--agents", type=int, default=5)
    parser.add_argument("--zookeeper", help="host:port of a running ZooKeeper (else one starts)")
    parser.add_argument("--workdir", help="keep the processes' logs here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # The simulator's web server logs every connection a fault resets.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    server = None
    zk_hosts = args.zookeeper
    if zk_hosts is None:
        server = ZooKeeperServer().start()
        zk_hosts = server.hosts
    try:
        with tempfile.TemporaryDirectory(prefix="ark-chaos-") as tmp:
            workdir = Path(args.workdir or tmp)
            workdir.mkdir(parents=True, exist_ok=True)
            report = run(args.seed, args.seconds, args.agents, zk_hosts, workdir)
    finally:
        if server is not None:
            server.close()
    print(describe(report, args.seed, args.seconds), flush=True)
    return 0 if report.held else 1


if __name__ == "__main__":
    sys.exit(main())
