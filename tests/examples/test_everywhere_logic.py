"""The example's hooks, pure, driven through the real core with hypothesis.

A small model of Mesos sits around the hooks: it launches what they accept,
delivers statuses for running copies, and kills what they kill. After any
sequence, once the pending kills land and every agent has offered again,
each agent that is not blacklisted runs exactly one copy and the others none.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ark import Config, Reducer
from ark import effects as fx
from ark import messages as m
from ark.examples.everywhere.framework import (
    AddToBlacklist,
    CancelDeployment,
    Everywhere,
    EverywhereManager,
    GetBlacklist,
    GetState,
    RemoveFromBlacklist,
    StartDeployment,
)
from ark.state_manager import Reply, apply_hook

AGENTS = [f"a{i}" for i in range(4)]
CPUS = [m.Resource("cpus", scalar=1.0), m.Resource("mem", scalar=512.0)]


class World:
    """The core, the hooks, and the tasks Mesos runs (task id -> agent)."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self.core = Reducer(self.config)
        self.manager = EverywhereManager()
        self.state = Everywhere()
        self.live: dict[str, str] = {}
        self.kills: list[str] = []
        self.replies: list[Any] = []
        self.clock = 0.0
        self.offers = 0
        self.deliver(m.Subscribed("fw"))

    def deliver(self, message: m.Message | m.Custom) -> None:
        self.clock += 1.0
        effects = self.core.step(message, self.clock)
        self.state, commands = apply_hook(self.manager, self.state, message, self.core.snapshot())
        for command in commands:
            if isinstance(command, Reply):
                self.replies.append(command.value)
            else:
                effects += self.core.step(command, self.clock)
        for effect in effects:
            if isinstance(effect, fx.Accept):
                for launch in effect.launches:
                    self.live[launch.task_id] = effect.agent_id
            elif isinstance(effect, fx.Kill):
                self.kills.append(effect.task_id)

    def offer(self, agent: str) -> None:
        self.offers += 1
        self.deliver(m.Offers([m.Offer(f"o{self.offers}", agent, f"h-{agent}", CPUS)]))

    def status(self, task_id: str, state: str) -> None:
        agent = self.live[task_id]
        if state in m.TERMINAL_STATES:
            del self.live[task_id]
        self.deliver(
            m.Update(m.TaskStatus(task_id, state, agent_id=agent, timestamp=self.clock))  # type: ignore[arg-type]
        )

    def settle(self) -> None:
        """Pending kills land, every launch backoff ends, then every agent offers twice.

        Twice: a copy asked for on an offer the core's matcher had already
        answered (something else was wanted) takes the agent's next offer.
        """
        while self.kills:
            task = self.kills.pop()
            if task in self.live:
                self.status(task, "TASK_KILLED")
        self.clock += self.config.backoff_max_seconds
        self.deliver(m.Tick())
        for _ in range(2):
            for agent in AGENTS:
                self.offer(agent)

    def copies(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {a: [] for a in AGENTS}
        for task, agent in self.live.items():
            out[agent].append(task)
        return out


steps = st.lists(
    st.one_of(
        st.tuples(st.just("offer"), st.sampled_from(AGENTS)),
        st.tuples(
            st.just("status"),
            st.integers(0, 10),
            st.sampled_from(["TASK_RUNNING", "TASK_FAILED", "TASK_FINISHED", "TASK_LOST"]),
        ),
        st.tuples(st.just("blacklist"), st.sampled_from(AGENTS)),
        st.tuples(st.just("unblacklist"), st.sampled_from(AGENTS)),
    ),
    max_size=40,
)


@settings(max_examples=300)
@given(steps)
def test_exactly_one_copy_per_allowed_agent(ops: list[tuple[Any, ...]]) -> None:
    world = World()
    for op in ops:
        if op[0] == "offer":
            world.offer(op[1])
        elif op[0] == "status" and world.live:
            task = sorted(world.live)[op[1] % len(world.live)]
            world.status(task, op[2])
        elif op[0] == "blacklist":
            world.deliver(AddToBlacklist(op[1]))
        elif op[0] == "unblacklist":
            world.deliver(RemoveFromBlacklist(op[1]))
        # Never two copies on one agent, at any point.
        assert all(len(tasks) <= 1 for tasks in world.copies().values()), world.copies()
    world.settle()
    for agent, tasks in world.copies().items():
        expected = 0 if agent in world.state.blacklist else 1
        assert len(tasks) == expected, (agent, tasks, world.state)


def test_a_failed_copy_waits_for_the_cores_launch_backoff() -> None:
    # Delays longer than the model's one second per message.
    world = World(Config(backoff_seconds=10.0))
    world.offer("a0")
    delays = []
    for _ in range(3):
        (task,) = world.copies()["a0"]
        world.status(task, "TASK_FAILED")  # asked for again at once, held by the core
        (backoff,) = world.core.view().backoffs
        delays.append(round(backoff.delay, 6))
        world.offer("a0")  # declined while the delay runs
        assert world.copies()["a0"] == []
        world.clock += backoff.delay
        world.deliver(m.Tick())
        world.offer("a0")  # launches again
    assert delays == [10.0, 11.5, 13.225]
    (task,) = world.copies()["a0"]
    world.status(task, "TASK_RUNNING")
    world.clock += world.config.backoff_reset_seconds
    world.deliver(m.Tick())
    assert world.core.view().backoffs == []  # ran stably: the next failure starts at 1 s


def test_api_messages_are_answered() -> None:
    world = World()
    world.offer("a1")
    world.deliver(AddToBlacklist("a1"))
    world.deliver(AddToBlacklist("a1"))
    world.deliver(GetBlacklist())
    world.deliver(RemoveFromBlacklist("a1"))
    world.deliver(RemoveFromBlacklist("a1"))
    world.deliver(GetState())
    changed_twice, blacklist, removed, removed_again, state = (
        world.replies[1],
        world.replies[2],
        world.replies[3],
        world.replies[4],
        world.replies[5],
    )
    assert world.replies[0] is True and changed_twice is False
    assert blacklist == ["a1"]
    assert removed is True and removed_again is False
    assert state["framework_id"] == "fw"
    assert state["agents"][0]["id"] == "a1"
    assert world.kills  # blacklisting a1 killed its copy


def running(world: World, task_id: str) -> bool:
    record = world.core.snapshot().task(task_id)
    return record is not None and record.state == "TASK_RUNNING"


def run_until_settled(world: World, rounds: int = 40) -> list[int]:
    """Mesos starts every copy and kills what is killed, agents offer, until the
    deployment ends; the copies running after each round."""
    counts = []
    for _ in range(rounds):
        while world.kills:
            task = world.kills.pop()
            if task in world.live:
                world.status(task, "TASK_KILLED")
        for task in sorted(world.live):
            if not running(world, task):
                world.status(task, "TASK_RUNNING")
        counts.append(sum(running(world, t) for t in world.live))
        (record,) = [d for d in world.core.view().deployments if d.version != "everywhere-v0"]
        if record.state in ("completed", "rolled-back") and not world.kills:
            break
        for agent in AGENTS:
            world.offer(agent)
    return counts


def test_a_deployment_replaces_every_copy_one_agent_at_a_time() -> None:
    world = World()
    for agent in AGENTS:
        world.offer(agent)
    for task in list(world.live):
        world.status(task, "TASK_RUNNING")
    world.deliver(StartDeployment("sleep 2"))
    reply = world.replies[-1]
    assert reply["version"] == "everywhere-v1" and reply["previous"]["command"] == "sleep 3600"
    counts = run_until_settled(world)
    # The floor: every agent but one keeps a running copy throughout.
    assert len(counts) > 1 and min(counts) >= len(AGENTS) - 1, counts
    (record,) = [d for d in world.core.view().deployments if d.version == "everywhere-v1"]
    assert record.state == "completed"
    copies = world.copies()
    assert all(len(c) == 1 and c[0].startswith("everywhere-v1-") for c in copies.values())
    assert world.state.version == 1 and world.state.command == "sleep 2"
    assert world.state.copies == {a: c[0] for a, c in copies.items()}


def test_a_deployment_cancelled_rolls_back_and_the_blacklist_waits() -> None:
    world = World()
    for agent in AGENTS:
        world.offer(agent)
    for task in list(world.live):
        world.status(task, "TASK_RUNNING")
    world.deliver(StartDeployment("sleep 2"))
    world.deliver(AddToBlacklist("a1"))
    world.deliver(StartDeployment("sleep 3"))
    world.deliver(CancelDeployment())
    refused_blacklist, refused_deploy, cancelled = world.replies[-3:]
    assert "refused" in refused_blacklist and "refused" in refused_deploy
    assert cancelled["version"] == "everywhere-v1"
    run_until_settled(world)
    assert world.state.version == 0 and world.state.rollback is None
    copies = world.copies()
    assert all(len(c) == 1 and c[0].startswith("everywhere-v0-") for c in copies.values())
    # Nothing left to cancel; a new deployment gets a new version number.
    world.deliver(CancelDeployment())
    assert "refused" in world.replies[-1]
    world.deliver(StartDeployment("sleep 4"))
    assert world.replies[-1]["version"] == "everywhere-v2"
