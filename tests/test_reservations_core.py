"""Reservations and persistent volumes: offer operations in the core.

The Rust core against the Python reference on random RESERVE, UNRESERVE,
CREATE and DESTROY sequences over a small model of Mesos's agents, with the
bookkeeping's invariants (never two volumes for one id, nothing reserved
twice, nothing leaked after UNRESERVE); then the lifts and the calls, both
roads alike.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ark import Config, Reducer, _core, protobuf, reference, wire
from ark import effects as fx
from ark import messages as m
from ark.errors import ArkError, CommandRejected
from ark.reference import events as ref
from ark.state import StateView

ROLE = "db"
PRINCIPAL = "ark"
AGENTS = ["a1", "a2"]
VOLUMES = ["v1", "v2", "v3"]
DISK = 1000.0
RESERVED = [m.Reservation(ROLE, principal=PRINCIPAL)]


def disk(amount: float, volume: str | None = None) -> m.Resource:
    """Reserved disk for ``ROLE``, or the volume ``volume`` on it."""
    return m.Resource(
        "disk",
        scalar=amount,
        role=ROLE,
        reservations=RESERVED,
        persistence_id=volume,
        container_path="data" if volume else None,
    )


@dataclass
class Agent:
    """What Mesos holds on one agent for the framework."""

    unreserved: float = DISK
    reserved: float = 0.0
    volumes: dict[str, float] = field(default_factory=dict)
    in_use: set[str] = field(default_factory=set)

    def resources(self) -> list[m.Resource]:
        out = [m.Resource("cpus", scalar=4.0), m.Resource("disk", scalar=self.unreserved)]
        if self.reserved > 0:
            out.append(disk(self.reserved))
        out += [disk(size, v) for v, size in sorted(self.volumes.items()) if v not in self.in_use]
        return out


class StatefulComparison(RuleBasedStateMachine):
    """Both reducers get the same offers and operations; a model of the
    agents applies what they accept, as Mesos would."""

    def __init__(self) -> None:
        super().__init__()
        config = Config(reconcile_base_seconds=1.0)
        self.rust = Reducer(config)
        self.reference = reference.Reducer(config)
        self.agents = {a: Agent() for a in AGENTS}
        self.reserved_by_ark = dict.fromkeys(AGENTS, 0.0)
        self.offer_seq = 0
        self.task_seq = 0
        self.view: StateView = self.rust.view()

    def send(self, message: Any) -> bool:
        """Send to both; True when both applied it (they must agree)."""
        outcomes = []
        for reducer in (self.rust, self.reference):
            try:
                outcomes.append((reducer.step(message, 0.0), None))
            except ArkError as e:
                outcomes.append(([], type(e)))
        (effects, error), (ref_effects, ref_error) = outcomes
        assert error == ref_error, f"{message!r}: Rust {error}, reference {ref_error}"
        assert effects == ref_effects, f"{message!r}"
        after = self.rust.view()
        assert after == self.reference.view(), f"{message!r}"
        if error is not None:
            assert after == self.view, "a rejected message changed the state"
        self.view = after
        return error is None

    @initialize()
    def subscribe(self) -> None:
        self.send(m.Subscribed("fw"))
        assert self.view.reconciliation.phase == "idle"

    def held(self, agent: str) -> list[str]:
        return [o.offer_id for o in self.view.offers if o.agent_id == agent]

    @rule(agent=st.sampled_from(AGENTS))
    def offer(self, agent: str) -> None:
        if self.held(agent):
            return
        self.offer_seq += 1
        offer = m.Offer(f"o{self.offer_seq}", agent, f"h-{agent}", self.agents[agent].resources())
        self.send(m.Offers([offer]))

    def accept(self, agent: str, operations: list[m.Operation], launches: list[m.Launch]) -> bool:
        offers = self.held(agent)
        if not offers:
            return False
        return self.send(m.Accept(offers, launches, operations=operations))

    @rule(agent=st.sampled_from(AGENTS), amount=st.sampled_from([100.0, 400.0, 2000.0]))
    def reserve(self, agent: str, amount: float) -> None:
        if self.accept(agent, [m.Operation("RESERVE", [disk(amount)])], []):
            self.agents[agent].unreserved -= amount
            self.agents[agent].reserved += amount
            self.reserved_by_ark[agent] += amount

    @rule(agent=st.sampled_from(AGENTS), amount=st.sampled_from([100.0, 400.0]))
    def unreserve(self, agent: str, amount: float) -> None:
        if self.accept(agent, [m.Operation("UNRESERVE", [disk(amount)])], []):
            self.agents[agent].unreserved += amount
            self.agents[agent].reserved -= amount
            self.reserved_by_ark[agent] = max(0.0, self.reserved_by_ark[agent] - amount)

    @rule(agent=st.sampled_from(AGENTS), volume=st.sampled_from(VOLUMES))
    def create(self, agent: str, volume: str) -> None:
        if self.accept(agent, [m.Operation("CREATE", [disk(100.0, volume)])], []):
            self.agents[agent].reserved -= 100.0
            self.agents[agent].volumes[volume] = 100.0

    @rule(agent=st.sampled_from(AGENTS), volume=st.sampled_from(VOLUMES))
    def reserve_create_launch(self, agent: str, volume: str) -> None:
        """Marathon's and the SDK's first launch of a stateful task: one ACCEPT."""
        self.task_seq += 1
        task = f"t{self.task_seq}"
        ops = [
            m.Operation("RESERVE", [disk(100.0)], id=f"reserve-{task}"),
            m.Operation("CREATE", [disk(100.0, volume)], id=f"create-{task}"),
        ]
        launch = m.Launch(task, resources=[m.Resource("cpus", scalar=1.0), disk(100.0, volume)])
        if self.accept(agent, ops, [launch]):
            a = self.agents[agent]
            a.unreserved -= 100.0
            a.volumes[volume] = 100.0
            a.in_use.add(volume)
            self.reserved_by_ark[agent] += 100.0

    @rule(agent=st.sampled_from(AGENTS), volume=st.sampled_from(VOLUMES))
    def destroy(self, agent: str, volume: str) -> None:
        if self.accept(agent, [m.Operation("DESTROY", [disk(100.0, volume)])], []):
            a = self.agents[agent]
            del a.volumes[volume]
            a.reserved += 100.0

    @precondition(lambda self: bool(self.view.volumes))
    @rule(data=st.data())
    def destroy_a_known_volume(self, data: st.DataObject) -> None:
        volume = data.draw(st.sampled_from(self.view.volumes))
        self.offer(volume.agent_id)
        self.destroy(volume.agent_id, volume.persistence_id)

    @precondition(lambda self: any(a.in_use for a in self.agents.values()))
    @rule()
    def tasks_end(self) -> None:
        """The tasks end: their volumes are offered again."""
        for agent in self.agents.values():
            agent.in_use.clear()

    @rule(
        agent=st.sampled_from(AGENTS),
        op=st.sampled_from(["RESERVE", "UNRESERVE", "CREATE", "DESTROY"]),
        resource=st.sampled_from(
            [
                m.Resource("disk", scalar=100.0),
                m.Resource("disk", scalar=100.0, role=ROLE),
                m.Resource("disk", ranges=[(1, 2)], role=ROLE, reservations=RESERVED),
                m.Resource("disk", scalar=0.0, role=ROLE, reservations=RESERVED),
                m.Resource("disk", scalar=100.0, role="other", reservations=RESERVED),
                m.Resource("cpus", scalar=1.0, role=ROLE, reservations=RESERVED),
                m.Resource(
                    "disk",
                    scalar=100.0,
                    role=ROLE,
                    reservations=[m.Reservation(ROLE, type="STATIC")],
                ),
                m.Resource(
                    "disk", scalar=100.0, role=ROLE, reservations=RESERVED, persistence_id="v1"
                ),
            ]
        ),
    )
    def malformed(self, agent: str, op: Any, resource: m.Resource) -> None:
        """Operations of the wrong shape: both reject them, or both take them."""
        before = self.view
        if self.accept(agent, [m.Operation(op, [resource])], []):
            a = self.agents[agent]
            if (op, resource.persistence_id) == ("DESTROY", "v1"):
                # The agent's own volume, offered and not in use: a real DESTROY.
                del a.volumes["v1"]
                a.reserved += 100.0
            elif (op, resource.persistence_id) == ("CREATE", "v1"):
                # 100 of reserved disk offered and no v1 anywhere: a real CREATE.
                a.reserved -= 100.0
                a.volumes["v1"] = 100.0
            else:
                # Else only a cpus RESERVE (of the offered cpus) is well formed
                # here; the model's agents track disk alone.
                assert (resource.name, op) == ("cpus", "RESERVE"), op
        else:
            assert self.view == before

    @invariant()
    def never_two_volumes_for_one_id(self) -> None:
        ids = [v.persistence_id for v in self.view.volumes]
        assert len(ids) == len(set(ids))
        model = {v: a for a, agent in self.agents.items() for v in agent.volumes}
        assert {v.persistence_id: v.agent_id for v in self.view.volumes} == model

    @invariant()
    def nothing_reserved_twice_nothing_leaked(self) -> None:
        disk_reserved = {
            agent: amount for agent, name, _, amount in self.view.reserved if name == "disk"
        }
        for agent, amount in self.reserved_by_ark.items():
            assert disk_reserved.get(agent, 0.0) == pytest.approx(amount)
            assert amount <= DISK
        for model in self.agents.values():
            used = model.reserved + sum(model.volumes.values())
            assert model.unreserved + used == pytest.approx(DISK)
            assert model.unreserved >= 0 and model.reserved >= 0


def test_reservations_and_volumes_rust_matches_the_reference() -> None:
    run_state_machine_as_test(StatefulComparison)


def test_reserve_create_launch_in_one_accept_then_the_volume_is_known() -> None:
    for reducer in (Reducer(Config()), reference.Reducer(Config())):
        reducer.step(m.Subscribed("fw"), 0.0)
        offer = m.Offer(
            "o1", "a1", "h1", [m.Resource("cpus", scalar=2.0), m.Resource("disk", scalar=500.0)]
        )
        reducer.step(m.Offers([offer]), 0.0)
        ops = [m.Operation("RESERVE", [disk(200.0)]), m.Operation("CREATE", [disk(200.0, "v1")])]
        launch = m.Launch("t1", resources=[m.Resource("cpus", scalar=1.0), disk(200.0, "v1")])
        [accept] = reducer.step(m.Accept(["o1"], [launch], operations=ops), 0.0)
        assert isinstance(accept, fx.Accept) and accept.operations == ops
        view = reducer.view()
        [volume] = view.volumes
        assert (volume.persistence_id, volume.agent_id, volume.size) == ("v1", "a1", 200.0)
        assert (volume.container_path, volume.principal) == ("data", PRINCIPAL)
        assert view.reserved == [("a1", "disk", ROLE, 200.0)]
        # The same id again, anywhere: refused, nothing changes.
        reducer.step(m.Offers([m.Offer("o2", "a2", "h2", [m.Resource("disk", scalar=500.0)])]), 0.0)
        with pytest.raises(CommandRejected, match="v1"):
            reducer.step(m.Accept(["o2"], [], operations=ops), 0.0)


def test_a_launch_cannot_take_a_volume_or_reservation_the_offers_do_not_hold() -> None:
    for reducer in (Reducer(Config()), reference.Reducer(Config())):
        reducer.step(m.Subscribed("fw"), 0.0)
        offer = m.Offer("o1", "a1", "h1", [m.Resource("disk", scalar=500.0), disk(100.0, "v1")])
        reducer.step(m.Offers([offer]), 0.0)
        assert [v.persistence_id for v in reducer.view().volumes] == ["v1"]
        with pytest.raises(CommandRejected):
            reducer.step(m.Accept(["o1"], [m.Launch("t1", resources=[disk(100.0)])]), 0.0)
        with pytest.raises(CommandRejected):
            reducer.step(m.Accept(["o1"], [m.Launch("t1", resources=[disk(100.0, "v2")])]), 0.0)
        with pytest.raises(CommandRejected, match="no task and runs no operation"):
            reducer.step(m.Accept(["o1"], []), 0.0)
        reducer.step(m.Accept(["o1"], [m.Launch("t1", resources=[disk(100.0, "v1")])]), 0.0)


# --- the lifts and the calls ---------------------------------------------------------

reservations = st.lists(
    st.builds(
        m.Reservation,
        role=st.sampled_from(["db", "db/x"]),
        principal=st.none() | st.just("ark"),
        labels=st.lists(
            st.tuples(st.sampled_from(["k", "l"]), st.sampled_from(["", "v"])), max_size=2
        ),
        type=st.sampled_from(["STATIC", "DYNAMIC"]),
    ),
    max_size=2,
)


@st.composite
def stateful_resources(draw: st.DrawFn) -> m.Resource:
    stack = draw(reservations)
    volume = draw(st.none() | st.sampled_from(["v1", "v2"])) if stack else None
    return m.Resource(
        "disk",
        scalar=draw(st.sampled_from([1.0, 100.5])),
        role=stack[-1].role if stack else "*",
        reservations=stack,
        persistence_id=volume,
        container_path=draw(st.none() | st.just("data")) if volume else None,
    )


@given(st.lists(stateful_resources(), max_size=3))
def test_every_lift_reads_reservations_and_volumes_alike(resources: list[m.Resource]) -> None:
    message = m.Offers([m.Offer("o1", "a1", "h1", resources)])
    data = ref.encode_event(message)
    decoder = msgspec.msgpack.Decoder(m.Offers)
    rust = _core.decode_event(data)
    assert rust is not None and decoder.decode(rust[1]) == message
    assert ref.event_from_protobuf(data) == message
    obj = protobuf.to_json(data, protobuf.Event)
    assert ref.event_from_json(obj) == message
    rust_json = _core.decode_event(json.dumps(obj).encode(), "json")
    assert rust_json is not None and decoder.decode(rust_json[1]) == message


def test_a_pre_refinement_reservation_takes_the_resource_s_role() -> None:
    """Frameworks without RESERVATION_REFINEMENT get ``role`` + ``reservation``."""
    event = {
        "type": "OFFERS",
        "offers": {
            "offers": [
                {
                    "id": {"value": "o1"},
                    "framework_id": {"value": "fw"},
                    "agent_id": {"value": "a1"},
                    "hostname": "h1",
                    "resources": [
                        {
                            "name": "disk",
                            "type": "SCALAR",
                            "scalar": {"value": 64},
                            "role": "db",
                            "reservation": {"principal": "ark"},
                            "disk": {
                                "persistence": {"id": "v1", "principal": "ark"},
                                "volume": {"container_path": "data", "mode": "RW"},
                            },
                        }
                    ],
                }
            ]
        },
    }
    expected = m.Offers(
        [
            m.Offer(
                "o1",
                "a1",
                "h1",
                [
                    m.Resource(
                        "disk",
                        scalar=64.0,
                        role="db",
                        reservations=[m.Reservation("db", principal="ark")],
                        persistence_id="v1",
                        container_path="data",
                    )
                ],
            )
        ]
    )
    assert ref.event_from_json(event) == expected
    rust = _core.decode_event(json.dumps(event).encode(), "json")
    assert rust is not None and msgspec.msgpack.decode(rust[1], type=m.Offers) == expected
    data = protobuf.to_protobuf(event, protobuf.Event)
    assert ref.event_from_protobuf(data) == expected
    rust_pb = _core.decode_event(data)
    assert rust_pb is not None and msgspec.msgpack.decode(rust_pb[1], type=m.Offers) == expected


OPERATIONS = [
    m.Operation(
        "RESERVE",
        [disk(100.0), m.Resource("cpus", scalar=1.0, role=ROLE, reservations=RESERVED)],
        id="r1",
    ),
    m.Operation("CREATE", [disk(100.0, "v1")], id="c1"),
    m.Operation("DESTROY", [disk(100.0, "v1")]),
    m.Operation(
        "UNRESERVE",
        [
            m.Resource(
                "disk",
                scalar=1.0,
                role=ROLE,
                reservations=[m.Reservation(ROLE, labels=[("k", ""), ("a", "b")])],
            )
        ],
    ),
]


@pytest.mark.parametrize("launches", [0, 1])
def test_an_accept_with_operations_is_the_same_call_on_every_road(launches: int) -> None:
    launch = fx.LaunchTask("t1", "a1", "db", [disk(100.0, "v1")], b"", [])
    effect = fx.Accept(["o1"], "a1", [launch] * launches, 5.0, operations=OPERATIONS)
    expected = wire.call(effect, "fw-1")
    steps = expected["accept"]["operations"]
    assert [s["type"] for s in steps] == ["RESERVE", "CREATE", "DESTROY", "UNRESERVE"] + [
        "LAUNCH"
    ] * launches
    assert steps[1]["create"]["volumes"][0]["disk"] == {
        "persistence": {"id": "v1", "principal": PRINCIPAL},
        "volume": {"container_path": "data", "mode": "RW"},
    }
    assert steps[0]["id"] == {"value": "r1"}
    encoded = msgspec.msgpack.encode([effect])
    [(kind, body, media)] = _core.encode_calls(encoded, "fw-1", "json")
    assert (kind, media) == ("ACCEPT", "application/json")
    assert json.loads(body) == expected
    [(_, body, media)] = _core.encode_calls(encoded, "fw-1", "protobuf")
    assert media == protobuf.CONTENT_TYPE
    assert protobuf.to_json(body, protobuf.Call) == protobuf.to_json(
        protobuf.to_protobuf(expected, protobuf.Call), protobuf.Call
    )


def test_the_readme_s_stateful_example_runs() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    [block] = [b for b in blocks if 'm.Operation("CREATE"' in b]
    exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
