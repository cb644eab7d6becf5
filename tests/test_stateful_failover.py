"""A stateful service across a leader failover: two scheduler processes,
ZooKeeper and the simulator (issue 19: restart and replace survive a leader
failover).

The leader is killed after its ACCEPT (RESERVE, CREATE, LAUNCH) reached the
master and before any update of its replicas came back. The new leader
learns the launches and the requests they were placed from from the store:
it ends with three replicas running, each on its own volume, no volume
created twice and no disk reserved beyond them; then it restarts a replica
whose task fails on the same agent, its data intact.

A Replace in flight survives too: the leader is killed after it sent the
Replace's Kill and stored the release, before the task ended; the new leader
kills it again, gives its volume up when offered and places it afresh.
"""

from __future__ import annotations

import signal
import uuid
from pathlib import Path
from typing import Any

from ark.sim import AgentShape, Cluster, TaskBehaviour
from sim.sim_client import fast_config
from test_high_availability import Process, tasks
from waiting import wait_until

SCRIPT = Path(__file__).parent / "ha" / "stateful_process.py"
ROLE = "db"
REPLICAS = ["pg-0", "pg-1", "pg-2"]


def volumes(cluster: Cluster) -> dict[str, list[str]]:
    """The agents holding each persistent volume."""
    held: dict[str, list[str]] = {}
    for agent in cluster.run(lambda: list(cluster.agents.values())):
        for persistence_id in cluster.run(lambda a=agent: list(a.volumes)):
            held.setdefault(persistence_id, []).append(agent.id)
    return held


def reserved_disk(cluster: Cluster) -> dict[str, float]:
    state = cluster.state()
    return {
        a["id"]: a["reserved_resources"][ROLE]["disk"]
        for a in state["slaves"]
        if a["reserved_resources"].get(ROLE, {}).get("disk")
    }


def running(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """Running tasks by replica name (``pg-1.1`` is a copy of ``pg-1``)."""
    out: dict[str, dict[str, Any]] = {}
    for t in tasks(cluster):
        if t["state"] == "TASK_RUNNING":
            assert t["id"].split(".")[0] not in out, f"two copies of a replica: {t['id']}"
            out[t["id"].split(".")[0]] = t
    return out


def two_processes(cluster: Cluster, zookeeper: str, tmp_path: Path) -> list[Process]:
    args = [cluster.url, zookeeper, f"/ark-stateful-{uuid.uuid4().hex[:8]}"]
    return [Process(f"s{i}", args, tmp_path / f"s{i}.log", script=SCRIPT) for i in range(2)]


def leader(procs: list[Process]) -> Process:
    return wait_until(lambda: next((p for p in procs if p.elections()), None), 30, "a leader")


def fail_over(procs: list[Process], leader: Process) -> None:
    """Kill the leader; the other process takes over."""
    leader.kill()
    other = next(p for p in procs if p is not leader)
    wait_until(other.elections, 30, "the other takes over")


def test_a_leader_killed_mid_reserve_create_launch(zookeeper: str, tmp_path: Path) -> None:
    config = fast_config(
        agents=(AgentShape(count=4, cpus=2, mem=1024),),
        tasks=TaskBehaviour(staging_seconds=0.01, starting_seconds=0.01, kill_seconds=0.05),
    )
    with Cluster(config) as cluster:
        procs = two_processes(cluster, zookeeper, tmp_path)
        try:
            first = leader(procs)
            # The ACCEPT went out: a replica is STAGING on its new volume (for
            # two seconds, by its label), and no update has come back yet.
            wait_until(
                lambda: any(t["state"] == "TASK_STAGING" for t in tasks(cluster)),
                30,
                "a replica staging",
            )
            assert volumes(cluster), "its volume was created with the launch"
            fail_over(procs, first)

            wait_until(lambda: len(running(cluster)) == 3, 60, "three replicas running")
            replicas = running(cluster)
            agents = {name: t["slave_id"] for name, t in replicas.items()}
            assert len(set(agents.values())) == 3
            held = volumes(cluster)
            # Each replica on its own volume, none created twice, none left over.
            assert held == {f"{n}-data": [agents[n]] for n in REPLICAS}
            assert reserved_disk(cluster) == {agents[n]: 64.0 for n in REPLICAS}
            ids = [t["id"] for t in tasks(cluster)]
            assert len(ids) == len(set(ids)), "no task id launched twice"
            assert len(cluster.state()["frameworks"]) == 1
            for name in REPLICAS:
                assert cluster.volume(agents[name], f"{name}-data")["marker"] == name

            # pg-1 fails its health check and is killed by its executor: the
            # NEW leader restarts it on its agent, on its volume.
            cluster.write_volume(agents["pg-1"], "pg-1-data", "rows", "42")
            failing = replicas["pg-1"]["id"]
            cluster.set_health(failing, False)
            wait_until(
                lambda: (t := running(cluster).get("pg-1")) is not None and t["id"] != failing,
                60,
                "pg-1 restarted",
            )
            restarted = running(cluster)["pg-1"]
            assert restarted["slave_id"] == agents["pg-1"]
            assert cluster.volume(agents["pg-1"], "pg-1-data") == {"marker": "pg-1", "rows": "42"}
            assert volumes(cluster) == held, "no new volume"
            assert reserved_disk(cluster) == {agents[n]: 64.0 for n in REPLICAS}
        finally:
            for p in procs:
                p.stop()


def test_a_leader_killed_mid_replace(zookeeper: str, tmp_path: Path) -> None:
    # A kill takes 3 s: the leader dies while pg-1's task still holds its volume.
    config = fast_config(
        agents=(AgentShape(count=4, cpus=2, mem=1024),),
        tasks=TaskBehaviour(staging_seconds=0.01, starting_seconds=0.01, kill_seconds=3.0),
    )
    with Cluster(config) as cluster:
        procs = two_processes(cluster, zookeeper, tmp_path)
        try:
            first = leader(procs)
            wait_until(lambda: len(running(cluster)) == 3, 60, "three replicas running")
            before = running(cluster)["pg-1"]
            cluster.write_volume(before["slave_id"], "pg-1-data", "rows", "42")
            first.kill(signal.SIGUSR1)
            replaced = first.log.with_suffix(".replaced")
            wait_until(replaced.exists, 20, "the Replace sent and its release stored")
            assert replaced.read_text().split() == [before["id"]]
            assert cluster.volume(before["slave_id"], "pg-1-data")["rows"] == "42"
            fail_over(procs, first)

            # The new leader finishes the Replace: the old volume destroyed and
            # unreserved, pg-1 placed afresh on a new one, without the old data.
            wait_until(
                lambda: (t := running(cluster).get("pg-1")) is not None and t["id"] != before["id"],
                60,
                "pg-1 placed afresh",
            )
            replicas = running(cluster)
            agents = {name: t["slave_id"] for name, t in replicas.items()}
            assert len(set(agents.values())) == 3
            assert volumes(cluster) == {f"{n}-data": [agents[n]] for n in REPLICAS}
            assert cluster.volume(agents["pg-1"], "pg-1-data") == {"marker": "pg-1"}
            assert reserved_disk(cluster) == {agents[n]: 64.0 for n in REPLICAS}
        finally:
            for p in procs:
                p.stop()
