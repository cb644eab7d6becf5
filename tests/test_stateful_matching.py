"""Stateful services in the core: requests with a persistent volume.

The matcher reserves, creates and launches in one ACCEPT, places a request
whose volume it knows on that volume's agent, and requests a task with a
volume again when it ends (on its volume, or afresh when its agent is gone).
The Rust core against the Python reference on random sequences over a model
of Mesos's agents, then single scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ark import Config, Reducer, reference
from ark import effects as fx
from ark import messages as m
from ark.errors import ArkError, CommandRejected, MessageError
from ark.state import StateView

ROLE = "db"
AGENTS = ["a1", "a2", "a3"]
SIZE = 64.0


RESERVED = [m.Reservation(ROLE, principal="ark")]


def volume_resource(pid: str, size: float = SIZE) -> m.Resource:
    return m.Resource(
        "disk",
        scalar=size,
        role=ROLE,
        reservations=RESERVED,
        persistence_id=pid,
        container_path="data",
    )


def request(task_id: str, pid: str, cpus: float = 1.0) -> m.TaskRequest:
    return m.TaskRequest(
        task_id,
        [m.Resource("cpus", scalar=cpus)],
        volume=m.Volume(pid, "data", SIZE, ROLE, principal="ark"),
    )


@dataclass
class Agent:
    """What Mesos holds on one agent for the framework."""

    cpus: float = 4.0
    disk: float = 200.0
    volumes: dict[str, float] = field(default_factory=dict)
    #: Task id -> (cpus, its volume's persistence id).
    tasks: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    gone: bool = False
    #: Mesos refuses the next RESERVE here (e.g. a principal it does not allow).
    refuses: bool = False
    #: The next CREATE here fails after its RESERVE applied.
    fails_create: bool = False
    #: Disk reserved for the role and holding no volume.
    reserved_free: float = 0.0

    def resources(self) -> list[m.Resource]:
        used = {pid for _, pid in self.tasks.values()}
        free = self.cpus - sum(c for c, _ in self.tasks.values())
        out = [m.Resource("cpus", scalar=free), m.Resource("disk", scalar=self.disk)]
        if self.reserved_free > 0:
            reserved = m.Resource(
                "disk", scalar=self.reserved_free, role=ROLE, reservations=RESERVED
            )
            out.append(reserved)
        return out + [
            volume_resource(v, s) for v, s in sorted(self.volumes.items()) if v not in used
        ]


class VolumeRequests(RuleBasedStateMachine):
    """Both reducers get the same requests, offers and updates; a model of the
    agents applies the ACCEPTs, as Mesos would."""

    def __init__(self) -> None:
        super().__init__()
        config = Config(reconcile_base_seconds=1.0)
        self.rust = Reducer(config)
        self.reference = reference.Reducer(config)
        self.agents = {a: Agent() for a in AGENTS}
        self.offer_seq = 0
        self.task_seq = 0
        self.now = 0.0
        self.view: StateView = self.rust.view()
        #: Operation ids applied whose OPERATION_FINISHED is not yet delivered.
        self.unacknowledged: dict[str, str] = {}
        self.uuid_seq = 0

    def send(self, message: Any) -> list[fx.Effect]:
        self.now += 1.0
        outcomes = []
        for reducer in (self.rust, self.reference):
            try:
                outcomes.append((reducer.step(message, self.now), None))
            except ArkError as e:
                outcomes.append(([], type(e)))
        (effects, error), (ref_effects, ref_error) = outcomes
        assert error == ref_error, f"{message!r}: Rust {error}, reference {ref_error}"
        assert effects == ref_effects, f"{message!r}"
        self.view = self.rust.view()
        assert self.view == self.reference.view(), f"{message!r}"
        for effect in effects:
            if isinstance(effect, fx.Accept):
                self.apply(effect)
        return effects

    def apply(self, accept: fx.Accept) -> None:
        """Mesos runs the operations, then the launches."""
        agent = self.agents[accept.agent_id]
        if agent.refuses and any(op.type == "RESERVE" for op in accept.operations):
            self.refuse(accept)
            return
        if agent.fails_create and any(op.type == "CREATE" for op in accept.operations):
            self.fail_create(accept)
            return
        for op in accept.operations:
            assert op.id is not None, "the matcher's operations have ids"
            self.unacknowledged[op.id] = accept.agent_id
            [r] = op.resources
            assert r.scalar is not None
            if op.type == "RESERVE":
                assert agent.disk >= r.scalar, "RESERVE of disk the agent does not have"
                agent.disk -= r.scalar
            elif op.type == "CREATE":
                assert r.persistence_id not in agent.volumes, "a volume created twice"
                assert r.persistence_id is not None
                agent.volumes[r.persistence_id] = r.scalar
            elif op.type == "DESTROY":
                in_use = {p for _, p in agent.tasks.values()}
                assert r.persistence_id in agent.volumes, "DESTROY of a volume not there"
                assert r.persistence_id not in in_use, "DESTROY of a volume in use"
                agent.reserved_free += agent.volumes.pop(r.persistence_id)
            else:
                assert op.type == "UNRESERVE"
                assert agent.reserved_free - r.scalar > -1e-9, "UNRESERVE of disk not reserved"
                agent.reserved_free -= r.scalar
                agent.disk += r.scalar
        for launch in accept.launches:
            pids = [r.persistence_id for r in launch.resources if r.persistence_id]
            assert len(pids) <= 1
            pid = pids[0] if pids else None
            assert pid is None or pid in agent.volumes, "a launch on a volume the agent lacks"
            in_use = {p for _, p in agent.tasks.values()}
            assert pid not in in_use, "one volume used by two tasks"
            cpus = sum(r.scalar or 0.0 for r in launch.resources if r.name == "cpus")
            agent.tasks[launch.task_id] = (cpus, pid)

    def refuse(self, accept: fx.Accept) -> None:
        """The master drops the RESERVE (OPERATION_ERROR, no uuid, no agent), then
        the CREATE (no reserved disk), then the launch that uses the volume."""
        agent = self.agents[accept.agent_id]
        agent.refuses = False
        for op in accept.operations:
            assert op.id is not None
            status = m.OperationStatus(op.id, "OPERATION_ERROR", message="refused")
            assert self.send(m.OperationUpdate(status)) == []
        for launch in accept.launches:
            self.send(
                m.Update(m.TaskStatus(launch.task_id, "TASK_ERROR", agent_id=accept.agent_id))
            )

    def fail_create(self, accept: fx.Accept) -> None:
        """The RESERVE applies (finished later, as any); the CREATE fails
        (OPERATION_ERROR, no uuid), and with it the launch on its volume."""
        agent = self.agents[accept.agent_id]
        agent.fails_create = False
        for op in accept.operations:
            assert op.id is not None
            [r] = op.resources
            assert r.scalar is not None
            if op.type == "RESERVE":
                agent.disk -= r.scalar
                agent.reserved_free += r.scalar
                self.unacknowledged[op.id] = accept.agent_id
            else:
                assert op.type == "CREATE"
                status = m.OperationStatus(op.id, "OPERATION_ERROR", message="bad volume")
                # Suppressed since the placement: revived, to be offered the disk.
                effects = self.send(m.OperationUpdate(status))
                assert effects in ([], [fx.Revive()]), effects
        for launch in accept.launches:
            self.send(
                m.Update(m.TaskStatus(launch.task_id, "TASK_ERROR", agent_id=accept.agent_id))
            )

    @initialize()
    def subscribe(self) -> None:
        self.send(m.Subscribed("fw"))

    @rule(agent=st.sampled_from(AGENTS))
    def refuse_next_reserve(self, agent: str) -> None:
        self.agents[agent].refuses = True

    @rule(agent=st.sampled_from(AGENTS))
    def fail_next_create(self, agent: str) -> None:
        self.agents[agent].fails_create = True

    @precondition(lambda self: bool(self.unacknowledged))
    @rule(data=st.data(), twice=st.booleans())
    def operation_finished(self, data: st.DataObject, twice: bool) -> None:
        """The agent's OPERATION_FINISHED, acknowledged each time it comes."""
        op_id = data.draw(st.sampled_from(sorted(self.unacknowledged)))
        self.uuid_seq += 1
        uuid = self.uuid_seq.to_bytes(16, "big")
        agent = self.unacknowledged[op_id]
        status = m.OperationStatus(op_id, "OPERATION_FINISHED", agent_id=agent, uuid=uuid)
        ack = fx.AcknowledgeOperationStatus(op_id, agent, None, uuid)
        for _ in range(2 if twice else 1):
            assert self.send(m.OperationUpdate(status)) == [ack]
        del self.unacknowledged[op_id]

    @rule()
    def resubscribe(self) -> None:
        """The operations not finished are reconciled, with their agents."""
        effects = self.send(m.Subscribed("fw"))
        asked = [e for e in effects if isinstance(e, fx.ReconcileOperations)]
        expected = [
            fx.ReconcileOperation(i, self.unacknowledged[i], None)
            for i in sorted(self.unacknowledged)
        ]
        assert asked == ([fx.ReconcileOperations(expected)] if expected else [])

    @rule(agent=st.sampled_from(AGENTS))
    def offer(self, agent: str) -> None:
        model = self.agents[agent]
        if model.gone or any(o.agent_id == agent for o in self.view.offers):
            return
        self.offer_seq += 1
        offer = m.Offer(f"o{self.offer_seq}", agent, f"h-{agent}", model.resources())
        usable = self.view.registered and self.view.reconciliation.phase == "idle"
        shown = model.reserved_free > 0
        self.send(m.Offers([offer]))
        if usable and shown:
            # Reserved disk without a volume that an offer shows is given back at once.
            assert model.reserved_free == 0.0, f"{agent} keeps {model.reserved_free} reserved"

    @rule(cpus=st.sampled_from([1.0, 3.0, 5.0]))
    def request(self, cpus: float) -> None:
        self.task_seq += 1
        self.send(m.Request([request(f"t{self.task_seq}", f"v{self.task_seq}", cpus)]))

    @precondition(lambda self: any(a.tasks for a in self.agents.values()))
    @rule(
        data=st.data(),
        state=st.sampled_from(
            ["TASK_RUNNING", "TASK_FAILED", "TASK_KILLED", "TASK_FINISHED", "TASK_LOST"]
        ),
    )
    def update(self, data: st.DataObject, state: m.TaskState) -> None:
        live = sorted((t, a) for a, model in self.agents.items() for t in model.tasks)
        task, agent = data.draw(st.sampled_from(live))
        if state in m.TERMINAL_STATES:
            del self.agents[agent].tasks[task]
        self.send(m.Update(m.TaskStatus(task, state, agent_id=agent)))

    @precondition(lambda self: any(a.tasks and not a.gone for a in self.agents.values()))
    @rule(data=st.data())
    def agent_gone(self, data: st.DataObject) -> None:
        """The agent is removed: its tasks are TASK_GONE, its volumes lost."""
        agent = data.draw(st.sampled_from([a for a, x in self.agents.items() if x.tasks]))
        model = self.agents[agent]
        model.gone = True
        rescinded = [o.offer_id for o in self.view.offers if o.agent_id == agent]
        for offer_id in rescinded:
            self.send(m.Rescind(offer_id))
        for task in sorted(model.tasks):
            del model.tasks[task]
            self.send(m.Update(m.TaskStatus(task, "TASK_GONE", agent_id=agent)))

    @precondition(lambda self: bool(self.view.demand))
    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        self.send(m.Withdraw([data.draw(st.sampled_from(self.view.demand)).task_id]))

    @rule(data=st.data())
    def replace(self, data: st.DataObject) -> None:
        live = [t for model in self.agents.values() for t in model.tasks]
        waiting = [r.task_id for r in self.view.demand]
        task = data.draw(st.sampled_from([*sorted(live + waiting), "unknown"]))
        self.send(m.Replace(task))

    @rule()
    def tick(self) -> None:
        self.send(m.Tick())

    @precondition(lambda self: bool(self.view.volumes))
    @rule(data=st.data())
    def resume_a_release(self, data: st.DataObject) -> None:
        """A Replace a new leader's store kept: the volume is given up when offered."""
        v = data.draw(st.sampled_from(self.view.volumes))
        self.send(
            m.ResumeRelease(
                v.persistence_id, v.agent_id, v.role, v.size, v.container_path, v.principal
            )
        )

    @invariant()
    def a_volume_is_where_it_was_created(self) -> None:
        model = {v: a for a, agent in self.agents.items() if not agent.gone for v in agent.volumes}
        assert {v.persistence_id: v.agent_id for v in self.view.volumes} == model

    @invariant()
    def nothing_reserved_but_the_volumes(self) -> None:
        reserved = {(a, amount) for a, name, _, amount in self.view.reserved if name == "disk"}
        model = {
            (a, sum(agent.volumes.values()) + agent.reserved_free)
            for a, agent in self.agents.items()
            if (agent.volumes or agent.reserved_free) and not agent.gone
        }
        assert reserved == model


def test_volume_requests_rust_matches_the_reference() -> None:
    run_state_machine_as_test(VolumeRequests)


@pytest.mark.parametrize("make", [Reducer, reference.Reducer])
def test_restart_on_the_volume_then_replace_when_its_agent_is_gone(make: Any) -> None:
    core = make(Config())
    core.step(m.Subscribed("fw"), 0.0)
    core.step(m.Request([request("pg", "pg-0")]), 1.0)
    free = [m.Resource("cpus", scalar=4.0), m.Resource("disk", scalar=100.0)]
    [accept] = core.step(m.Offers([m.Offer("o1", "a1", "h1", free)]), 2.0)[:1]
    assert [op.type for op in accept.operations] == ["RESERVE", "CREATE"]
    assert accept.launches[0].resources[-1] == volume_resource("pg-0")
    assert core.step(m.Update(m.TaskStatus("pg", "TASK_FAILED", agent_id="a1")), 3.0) == [
        fx.Revive()
    ]
    # Another agent with room does not do: the task goes back to its data.
    core.step(m.Offers([m.Offer("o2", "a2", "h2", free)]), 4.0)
    [waiting] = core.view().demand
    assert waiting.task_id == "pg.1" and "pg-0" in (waiting.reason or "")
    shows = [m.Resource("cpus", scalar=4.0), volume_resource("pg-0")]
    [again, *_] = core.step(m.Offers([m.Offer("o3", "a1", "h1", shows)]), 5.0)
    assert (again.agent_id, again.operations) == ("a1", [])
    assert again.launches[0].task_id == "pg.1"
    assert again.launches[0].resources[-1] == volume_resource("pg-0")
    # Its agent is removed: the volume is lost, the next one is made elsewhere.
    core.step(m.Update(m.TaskStatus("pg.1", "TASK_GONE", agent_id="a1")), 6.0)
    assert core.view().volumes == [] and core.view().reserved == []
    [fresh, *_] = core.step(m.Offers([m.Offer("o4", "a2", "h2", free)]), 7.0)
    assert (fresh.agent_id, fresh.launches[0].task_id) == ("a2", "pg.2")
    assert [op.type for op in fresh.operations] == ["RESERVE", "CREATE"]
    # Finished: nothing more.
    assert core.step(m.Update(m.TaskStatus("pg.2", "TASK_FINISHED", agent_id="a2")), 8.0) == []
    assert core.view().demand == []


@pytest.mark.parametrize("make", [Reducer, reference.Reducer])
def test_replace_gives_the_volume_up_then_places_afresh(make: Any) -> None:
    core = make(Config())
    core.step(m.Subscribed("fw"), 0.0)
    core.step(m.Request([request("pg", "pg-0")]), 1.0)
    free = [m.Resource("cpus", scalar=4.0), m.Resource("disk", scalar=100.0)]
    core.step(m.Offers([m.Offer("o1", "a1", "h1", free)]), 2.0)
    with pytest.raises(CommandRejected):
        core.step(m.Replace("other"), 3.0)
    # Suppressed (nothing wanted): revived, for the offer that shows the volume.
    assert core.step(m.Replace("pg"), 3.0) == [fx.Revive(), fx.Kill("pg", "a1")]
    core.step(m.Update(m.TaskStatus("pg", "TASK_KILLED", agent_id="a1")), 4.0)
    # Held while its volume is given up, though a2 has room.
    core.step(m.Offers([m.Offer("o9", "a2", "h2", free)]), 4.5)
    [waiting] = core.view().demand
    assert waiting.task_id == "pg.1" and "given up" in (waiting.reason or "")
    shows = [m.Resource("cpus", scalar=4.0), volume_resource("pg-0")]
    release, *_ = core.step(m.Offers([m.Offer("o2", "a1", "h1", shows)]), 5.0)
    assert (release.offer_ids, release.launches) == (["o2"], [])
    unreserved = m.Resource("disk", scalar=SIZE, role=ROLE, reservations=RESERVED)
    assert release.operations == [
        m.Operation("DESTROY", [volume_resource("pg-0")], "ark-destroy-pg-0-o2"),
        m.Operation("UNRESERVE", [unreserved], "ark-unreserve-pg-0-o2"),
    ]
    assert core.view().volumes == [] and core.view().reserved == []
    # Placed afresh on the next offer with room, with a new reservation and volume.
    [fresh, *_] = core.step(m.Offers([m.Offer("o3", "a2", "h2", free)]), 6.0)
    assert (fresh.agent_id, fresh.launches[0].task_id) == ("a2", "pg.1")
    assert [op.type for op in fresh.operations] == ["RESERVE", "CREATE"]


@pytest.mark.parametrize("make", [Reducer, reference.Reducer])
def test_a_volume_of_another_role_than_its_request_is_malformed(make: Any) -> None:
    core = make(Config())
    bad = m.TaskRequest("pg", volume=m.Volume("pg-0", "data", SIZE, ROLE), role="web")
    with pytest.raises(MessageError, match="role"):
        core.step(m.Request([bad]), 0.0)


def test_a_volume_needs_a_size_ids_and_a_role() -> None:
    for args in [("", "data", 1.0, ROLE), ("v", "data", 0.0, ROLE), ("v", "data", 1.0, "*")]:
        with pytest.raises(ValueError, match="volume"):
            m.Volume(*args)


def replica(task_id: str, pid: str, *constraints: m.Constraint) -> m.TaskRequest:
    return m.TaskRequest(
        task_id,
        [m.Resource("cpus", scalar=1.0)],
        volume=m.Volume(pid, "data", SIZE, ROLE, principal="ark"),
        constraints=list(constraints),
        group="db",
    )


UNIQUE = m.Constraint("hostname", "UNIQUE")
FREE = [m.Resource("cpus", scalar=4.0), m.Resource("disk", scalar=100.0)]


def one_replica_down(make: Any, *constraints: m.Constraint) -> Any:
    """Replica a of group db placed on a1 with its volume, then down: its
    restart waits for an offer of a1 that shows the volume."""
    core = make(Config())
    core.step(m.Subscribed("fw"), 0.0)
    core.step(m.Request([replica("a", "a-0", *constraints)]), 1.0)
    core.step(m.Offers([m.Offer("o1", "a1", "h1", FREE)]), 2.0)
    core.step(m.Update(m.TaskStatus("a", "TASK_FAILED", agent_id="a1")), 3.0)
    core.step(m.Request([replica("b", "b-0", *constraints)]), 4.0)
    return core


@pytest.mark.parametrize("make", [Reducer, reference.Reducer])
def test_a_down_replicas_volume_keeps_its_host_for_it(make: Any) -> None:
    core = one_replica_down(make, UNIQUE)
    # Only a1 offered (its volume not shown): b would take a's host for good.
    core.step(m.Offers([m.Offer("o2", "a1", "h1", FREE)]), 5.0)
    pending = {r.task_id: r.reason for r in core.view().demand}
    assert (
        pending["b"]
        == "constraint hostname UNIQUE (a volume of the group is held there) on 1 agent"
    )
    assert "a-0" in (pending["a.1"] or "")
    # a1 and a2 offered: b goes to a2.
    offers = [m.Offer("o3", "a1", "h1", FREE), m.Offer("o4", "a2", "h2", FREE)]
    effects = core.step(m.Offers(offers), 6.0)
    [accept] = [e for e in effects if isinstance(e, fx.Accept)]
    assert (accept.agent_id, [launch.task_id for launch in accept.launches]) == ("a2", ["b"])
    # a restarts on its volume on a1, beside nothing of its group.
    shows = [m.Resource("cpus", scalar=4.0), volume_resource("a-0")]
    [again, *_] = core.step(m.Offers([m.Offer("o5", "a1", "h1", shows)]), 7.0)
    assert (again.agent_id, again.launches[0].task_id) == ("a1", "a.1")


@pytest.mark.parametrize("make", [Reducer, reference.Reducer])
def test_a_volume_counts_once_and_not_against_its_own_request(make: Any) -> None:
    max_2 = m.Constraint("hostname", "MAX_PER", "2")
    core = one_replica_down(make, max_2)
    # a's volume on a1 counts one: b may join it there, a third may not.
    core.step(m.Offers([m.Offer("o2", "a1", "h1", FREE)]), 5.0)
    core.step(m.Request([replica("c", "c-0", max_2)]), 6.0)
    core.step(m.Offers([m.Offer("o3", "a1", "h1", FREE)]), 7.0)
    pending = {r.task_id: r.reason for r in core.view().demand}
    assert pending.keys() == {"a.1", "c"}
    assert (
        pending["c"]
        == "constraint hostname MAX_PER 2 (a volume of the group is held there) on 1 agent"
    )
    # a restarts beside b: its own volume does not count against it.
    shows = [m.Resource("cpus", scalar=3.0), volume_resource("a-0")]
    [again, *_] = core.step(m.Offers([m.Offer("o4", "a1", "h1", shows)]), 8.0)
    assert (again.agent_id, again.launches[0].task_id) == ("a1", "a.1")
    # a.1 running on its volume counts once: still no room for c.
    core.step(m.Offers([m.Offer("o5", "a1", "h1", FREE)]), 9.0)
    [c] = core.view().demand
    assert c.reason == "constraint hostname MAX_PER 2 on 1 agent"
    core.step(m.Offers([m.Offer("o6", "a2", "h2", FREE)]), 10.0)
    assert core.view().demand == []


@pytest.mark.parametrize("make", [Reducer, reference.Reducer])
def test_group_by_spreads_over_the_hosts_of_down_replicas(make: Any) -> None:
    core = one_replica_down(make, m.Constraint("hostname", "GROUP_BY", "2"))
    # a's volume holds h1: b goes to h2 though h1 is offered first.
    effects = core.step(
        m.Offers([m.Offer("o2", "a1", "h1", FREE), m.Offer("o3", "a2", "h2", FREE)]), 5.0
    )
    [accept] = [e for e in effects if isinstance(e, fx.Accept)]
    assert (accept.agent_id, [launch.task_id for launch in accept.launches]) == ("a2", ["b"])
