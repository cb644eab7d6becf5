"""A three-replica stateful service end to end over the simulator.

Each replica asks the core's matcher for a persistent volume; the core
reserves, creates and launches in one ACCEPT, restarts a replica that dies on
the agent that holds its data, and places one afresh when its agent is gone
or when the framework replaces it.
The simulator keeps what the tasks write in their volumes (``Cluster.volume``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ark import Scheduler, StateManager, Step, V1Driver, task_payload
from ark import messages as m
from ark.sim import AgentShape, Cluster, ClusterConfig
from ark.state import TaskRecord

ROLE = "db"
REPLICAS = [f"pg-{i}" for i in range(3)]


def replica(name: str) -> m.TaskRequest:
    """A replica writes ``marker=<name>`` into its volume when it runs."""
    labels = {"labels": [{"key": "ark.sim/volume-write", "value": f"marker={name}"}]}
    return m.TaskRequest(
        name,
        [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32.0)],
        payload=task_payload("sleep 3600", labels=labels),
        group="pg",
        constraints=[m.Constraint("hostname", "UNIQUE")],
        volume=m.Volume(f"{name}-data", "data", 64.0, ROLE, principal="ark"),
    )


class Service(StateManager[bool]):
    def registered(self, state: bool, framework_id: str, framework: object) -> Step[bool]:
        return True, ([] if state else [m.Request([replica(n) for n in REPLICAS])])


def wait_for(what: str, predicate: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def running(scheduler: Scheduler[bool], task_id: str) -> TaskRecord | None:
    record = scheduler.snapshot().task(task_id)
    return record if record is not None and record.state == "TASK_RUNNING" else None


def test_three_replicas_survive_a_task_failure_an_agent_loss_and_a_replace() -> None:
    config = ClusterConfig(agents=(AgentShape(count=4),))
    framework = {"name": "pg", "role": ROLE, "principal": "ark"}
    with Cluster(config) as cluster:
        driver = V1Driver(cluster.url, framework)
        with Scheduler(Service(), False, driver) as scheduler:
            for name in REPLICAS:
                wait_for(f"{name} running", lambda n=name: running(scheduler, n))
            agents = {n: running(scheduler, n).agent_id for n in REPLICAS}  # type: ignore[union-attr]
            assert len(set(agents.values())) == 3
            view = scheduler.snapshot().view()
            assert {v.persistence_id: v.agent_id for v in view.volumes} == {
                f"{n}-data": a for n, a in agents.items()
            }
            for name, agent in agents.items():
                assert cluster.volume(agent, f"{name}-data") == {"marker": name}

            # pg-0 dies: it comes back on its agent, its data intact.
            cluster.write_volume(agents["pg-0"], "pg-0-data", "rows", "42")
            scheduler.push(m.Kill("pg-0"))
            wait_for("pg-0.1 running", lambda: running(scheduler, "pg-0.1"), timeout=60.0)
            assert running(scheduler, "pg-0.1").agent_id == agents["pg-0"]  # type: ignore[union-attr]
            assert cluster.volume(agents["pg-0"], "pg-0-data") == {"marker": "pg-0", "rows": "42"}

            # pg-1's agent is gone for good: it is placed afresh, with a new volume.
            cluster.mark_agent_gone(agents["pg-1"])
            wait_for("pg-1.1 running", lambda: running(scheduler, "pg-1.1"), timeout=60.0)
            moved = running(scheduler, "pg-1.1").agent_id  # type: ignore[union-attr]
            assert moved is not None and moved not in agents.values()
            assert cluster.volume(moved, "pg-1-data") == {"marker": "pg-1"}
            volumes = {v.persistence_id: v.agent_id for v in scheduler.snapshot().view().volumes}
            assert volumes["pg-1-data"] == moved

            # pg-2 is replaced on purpose: its volume is destroyed, its disk
            # unreserved, and its next copy starts from an empty volume.
            cluster.write_volume(agents["pg-2"], "pg-2-data", "rows", "7")
            scheduler.push(m.Replace("pg-2"))
            wait_for("pg-2.1 running", lambda: running(scheduler, "pg-2.1"), timeout=60.0)
            fresh = running(scheduler, "pg-2.1").agent_id  # type: ignore[union-attr]
            assert fresh is not None
            assert cluster.volume(fresh, "pg-2-data") == {"marker": "pg-2"}
