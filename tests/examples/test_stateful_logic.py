"""The stateful example's hooks, pure, driven through the real core with hypothesis.

A small model of Mesos sits around them: agents that keep the volumes the core's
ACCEPTs create (and destroy), offer each volume while no task uses it, run what
is launched and end what is killed. After any sequence of scaling, replacing,
failures, finishes and offers, once the kills land and every agent has offered a
few times: exactly ``count`` replicas run, one copy each, each on the agent that
holds its volume, one per host, and nothing else runs.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ark import Config, Reducer
from ark import effects as fx
from ark import messages as m
from ark.examples.stateful.framework import (
    GetState,
    ReplaceReplica,
    Scale,
    ServiceSpec,
    Stateful,
    StatefulManager,
)
from ark.state_manager import Reply, apply_hook

AGENTS = [f"a{i}" for i in range(5)]
FREE = [
    m.Resource("cpus", scalar=4.0),
    m.Resource("mem", scalar=4096.0),
    m.Resource("disk", scalar=1000.0),
]


class World:
    """The core, the hooks, and what Mesos holds: live tasks, volumes per agent."""

    def __init__(self, count: int = 3) -> None:
        self.config = Config(backoff_seconds=0.5)
        self.core = Reducer(self.config)
        self.manager = StatefulManager(ServiceSpec())
        self.state = Stateful(count=count)
        #: task id -> (agent, the persistence id it uses)
        self.live: dict[str, tuple[str, str | None]] = {}
        #: agent -> persistence id -> the volume resource
        self.volumes: dict[str, dict[str, m.Resource]] = {a: {} for a in AGENTS}
        self.kills: list[str] = []
        self.replies: list[Any] = []
        #: Every request the hooks made, by task id.
        self.requested: dict[str, m.TaskRequest] = {}
        self.clock = 0.0
        self.offers = 0
        self.deliver(m.Subscribed("fw"))

    def deliver(self, message: m.Message | m.Custom) -> None:
        self.clock += 0.1
        effects = self.core.step(message, self.clock)
        self.state, commands = apply_hook(self.manager, self.state, message, self.core.snapshot())
        for command in commands:
            if isinstance(command, Reply):
                self.replies.append(command.value)
            elif isinstance(command, m.Custom):
                self.deliver(command)
            else:
                if isinstance(command, m.Request):
                    self.requested |= {r.task_id: r for r in command.tasks}
                effects += self.core.step(command, self.clock)
        for effect in effects:
            if isinstance(effect, fx.Accept):
                self.accept(effect)
            elif isinstance(effect, fx.Kill):
                self.kills.append(effect.task_id)

    def accept(self, accept: fx.Accept) -> None:
        held = self.volumes[accept.agent_id]
        for operation in accept.operations:
            for r in operation.resources:
                if operation.type == "CREATE" and r.persistence_id is not None:
                    assert r.persistence_id not in held, "two volumes for one id on an agent"
                    held[r.persistence_id] = r
                elif operation.type == "DESTROY" and r.persistence_id is not None:
                    assert not self.using(r.persistence_id, accept.agent_id), "destroyed in use"
                    held.pop(r.persistence_id)
        for launch in accept.launches:
            used = [r.persistence_id for r in launch.resources if r.persistence_id is not None]
            for pid in used:
                assert pid in held, f"{launch.task_id} launched on {pid}, not on its agent"
                assert not self.using(pid, accept.agent_id), f"{pid} used twice"
            self.live[launch.task_id] = (accept.agent_id, used[0] if used else None)

    def using(self, persistence_id: str, agent: str) -> bool:
        return (agent, persistence_id) in self.live.values()

    def offer(self, agent: str) -> None:
        self.offers += 1
        unused = [r for pid, r in sorted(self.volumes[agent].items()) if not self.using(pid, agent)]
        offer = m.Offer(f"o{self.offers}", agent, f"h-{agent}", [*FREE, *unused])
        self.deliver(m.Offers([offer]))

    def status(self, task_id: str, state: str) -> None:
        agent = self.live[task_id][0]
        if state in m.TERMINAL_STATES:
            del self.live[task_id]
        status = m.TaskStatus(task_id, state, agent_id=agent, timestamp=self.clock)  # type: ignore[arg-type]
        self.deliver(m.Update(status))

    def settle(self) -> None:
        """Kills land, launches report RUNNING, backoffs end, every agent offers, repeatedly."""
        for _ in range(6):
            while self.kills:
                task = self.kills.pop()
                if task in self.live:
                    self.status(task, "TASK_KILLED")
            for task in sorted(self.live):
                record = self.core.snapshot().task(task)
                if record is not None and record.state == "TASK_STAGING":
                    self.status(task, "TASK_RUNNING")
            self.clock += self.config.backoff_max_seconds
            self.deliver(m.Tick())
            for agent in AGENTS:
                self.offer(agent)


steps = st.lists(
    st.one_of(
        st.tuples(st.just("offer"), st.sampled_from(AGENTS)),
        st.tuples(
            st.just("status"),
            st.integers(0, 10),
            st.sampled_from(["TASK_RUNNING", "TASK_FAILED", "TASK_FINISHED", "TASK_KILLED"]),
        ),
        st.tuples(st.just("scale"), st.integers(0, 4)),
        st.tuples(st.just("replace"), st.integers(0, 4)),
        st.tuples(st.just("kills")),
    ),
    max_size=40,
)


@settings(max_examples=300)
@given(steps)
def test_every_replica_runs_once_on_its_volume(ops: list[tuple[Any, ...]]) -> None:
    world = World()
    for op in ops:
        if op[0] == "offer":
            world.offer(op[1])
        elif op[0] == "status" and world.live:
            task = sorted(world.live)[op[1] % len(world.live)]
            world.status(task, op[2])
        elif op[0] == "scale":
            world.deliver(Scale(op[1]))
        elif op[0] == "replace":
            world.deliver(ReplaceReplica(op[1]))
        elif op[0] == "kills":
            while world.kills:
                task = world.kills.pop()
                if task in world.live:
                    world.status(task, "TASK_KILLED")
        hosts = [agent for agent, _ in world.live.values()]
        assert len(hosts) == len(set(hosts)), f"two replicas on one host: {world.live}"
    world.settle()
    count = world.state.count
    running = {task: agent for task, (agent, _) in world.live.items()}
    assert len(running) == count, (world.live, world.state, world.core.snapshot().pending())
    world.deliver(GetState())
    replicas = world.replies[-1]["replicas"]
    assert sorted(r["index"] for r in replicas) == list(range(count))
    for replica in replicas:
        assert replica["state"] == "TASK_RUNNING", replica
        agent, volume = world.live[replica["task_id"]]
        assert volume == f"db-{replica['index']}-data"
        assert replica["agent_id"] == agent == replica["volume"]["agent_id"]
    assert world.core.snapshot().pending() == {}


def test_a_finished_replica_is_requested_again_under_a_new_base() -> None:
    world = World(count=1)
    world.settle()
    [(task, (agent, _))] = world.live.items()
    assert task == "db-0"
    world.status(task, "TASK_FINISHED")  # the core restarts failures, not finishes
    world.settle()
    assert {t: a for t, (a, _) in world.live.items()} == {"db-0-g1": agent}


def test_replacing_a_replica_that_has_no_copy_yet_is_refused() -> None:
    world = World(count=2)  # requested, nothing offered yet
    world.deliver(ReplaceReplica(0))
    world.deliver(ReplaceReplica(1))
    world.deliver(ReplaceReplica(5))
    assert world.replies == [
        {
            "error": "replica 0 has no launched copy to replace (db-0: not placed yet)",
            "status": 409,
        },
        {
            "error": "replica 1 is not requested yet: replicas get new volumes in order",
            "status": 409,
        },
        {"error": "no replica 5", "status": 404},
    ]


def test_replicas_get_new_volumes_one_at_a_time() -> None:
    world = World(count=3)
    assert [r.task_id for r in world.core.view().demand] == ["db-0"]
    world.offer("a0")  # db-0 placed: RESERVE, CREATE, LAUNCH
    assert [r.task_id for r in world.core.view().demand] == []
    world.status("db-0", "TASK_RUNNING")
    assert [r.task_id for r in world.core.view().demand] == ["db-1"]
    # The core keeps it off a0, which holds db-0's volume.
    assert world.requested["db-1"].constraints == [m.Constraint("hostname", "UNIQUE")]


def test_a_new_replica_stays_off_agents_holding_another_replicas_volume() -> None:
    world = World(count=2)
    world.settle()
    world.deliver(Scale(1))
    world.settle()
    kept = world.core.view().volumes
    held = {v.persistence_id: v.agent_id for v in kept}
    assert set(held) == {"db-0-data", "db-1-data"}
    world.deliver(Scale(3))  # db-1 back on its volume; db-2 new
    world.settle()
    running = {t: a for t, (a, _) in world.live.items()}
    assert running["db-1-g1"] == held["db-1-data"]
    assert running["db-2"] not in held.values()
