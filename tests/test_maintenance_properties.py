"""Maintenance in the core, Rust against the reference, on random sequences.

A ``RuleBasedStateMachine`` under ``Config(maintenance="drain")``: inverse
offers come and go, agents' offers carry maintenance windows, tasks are
requested, run and end, and the clock moves across the windows. Both
reducers must give the same effects and the same state at every step, and
the drain policy's promises hold (docs/reducer.md, Maintenance).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ark import Config, Reducer, reference
from ark import effects as fx
from ark import messages as m
from ark.errors import ArkError
from ark.state import StateView

AGENTS = ["a0", "a1", "a2"]
INVERSE = [f"i{i}" for i in range(5)]
REQUESTED = [f"r{i}" for i in range(8)]
MARGIN = 2.0
CONFIG = Config(maintenance="drain", maintenance_margin_seconds=MARGIN)

# Windows around the machine's clock, which runs from 0 to a few dozen seconds.
windows = st.builds(
    m.Unavailability,
    st.integers(0, 30).map(float),
    st.none() | st.integers(1, 10).map(float),
)


class MaintenanceComparison(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rust = Reducer(CONFIG)
        self.reference = reference.Reducer(CONFIG)
        self.now = 0.0
        self.offer_seq = 0
        self.offers_seen: dict[str, m.Offer] = {}
        self.send(m.Subscribed("fw-1"))

    def send(self, message: Any) -> list[fx.Effect]:
        before = self.rust.view()
        outcomes = []
        for reducer in (self.rust, self.reference):
            try:
                outcomes.append((reducer.step(message, self.now), None))
            except ArkError as e:
                outcomes.append(([], type(e)))
        (effects, error), (ref_effects, ref_error) = outcomes
        assert error == ref_error, f"{message!r}: Rust raised {error}, reference {ref_error}"
        assert effects == ref_effects, f"{message!r}"
        view = self.rust.view()
        assert view == self.reference.view(), f"{message!r}"
        if error is not None:
            assert view == before, "a rejected message changed the state"
        self.check(before, message, effects, view)
        return effects

    def check(
        self, before: StateView, message: Any, effects: list[fx.Effect], after: StateView
    ) -> None:
        for effect in effects:
            if isinstance(effect, fx.Accept):
                # Nothing is placed on an agent whose window covers now + margin.
                for offer_id in effect.offer_ids:
                    window = self.offers_seen[offer_id].unavailability
                    assert window is None or not window.covers(self.now, MARGIN), effect
            if isinstance(effect, fx.AcceptInverseOffers) and not isinstance(
                message, m.AcceptInverseOffers
            ):
                # The policy accepts an inverse offer only for an agent with no live task.
                agents = {i.inverse_offer_id: i.agent_id for i in before.inverse_offers}
                if isinstance(message, m.InverseOffers):
                    agents.update({i.id: i.agent_id for i in message.inverse_offers})
                for inverse_id in effect.inverse_offer_ids:
                    agent = agents[inverse_id]
                    live = [
                        t.task_id
                        for t in after.tasks
                        if t.agent_id == agent and t.state not in m.TERMINAL_STATES
                    ]
                    assert not live, (inverse_id, live)
        # A drain kills an agent's tasks once per inverse offer.
        kills = [e.task_id for e in effects if isinstance(e, fx.Kill)]
        assert len(kills) == len(set(kills)), effects

    @rule(
        agent=st.sampled_from(AGENTS),
        window=st.none() | windows,
        cpus=st.sampled_from([1.0, 4.0]),
    )
    def offer(self, agent: str, window: m.Unavailability | None, cpus: float) -> None:
        self.offer_seq += 1
        offer = m.Offer(
            f"o{self.offer_seq}",
            agent,
            f"h-{agent}",
            [m.Resource("cpus", scalar=cpus)],
            unavailability=window,
        )
        self.offers_seen[offer.id] = offer
        self.send(m.Offers([offer]))

    @rule(task=st.sampled_from(REQUESTED), agent=st.none() | st.sampled_from(AGENTS))
    def request(self, task: str, agent: str | None) -> None:
        self.send(
            m.Request(
                [m.TaskRequest(task, resources=[m.Resource("cpus", scalar=1.0)], agent_id=agent)]
            )
        )

    @rule(
        ids=st.lists(st.sampled_from(INVERSE), min_size=1, max_size=2),
        agent=st.sampled_from(AGENTS),
        window=windows,
    )
    def inverse_offers(self, ids: list[str], agent: str, window: m.Unavailability) -> None:
        self.send(m.InverseOffers([m.InverseOffer(i, agent, window) for i in ids]))

    @rule(inverse=st.sampled_from(INVERSE))
    def rescind_inverse_offer(self, inverse: str) -> None:
        self.send(m.RescindInverseOffer(inverse))

    @rule(
        ids=st.lists(st.sampled_from(INVERSE), max_size=2),
        accept=st.booleans(),
        refuse=st.sampled_from([5.0, 60.0]),
    )
    def answer(self, ids: list[str], accept: bool, refuse: float) -> None:
        kind = m.AcceptInverseOffers if accept else m.DeclineInverseOffers
        self.send(kind(ids, refuse))

    @rule(
        task=st.sampled_from(REQUESTED),
        state=st.sampled_from(["TASK_RUNNING", "TASK_KILLED", "TASK_FAILED", "TASK_FINISHED"]),
    )
    def update(self, task: str, state: m.TaskState) -> None:
        known = {t.task_id: t for t in self.rust.view().tasks}
        agent = known[task].agent_id if task in known else "a0"
        self.send(m.Update(m.TaskStatus(task, state, agent_id=agent)))

    @rule(seconds=st.sampled_from([0.5, 1.0, 3.0, 10.0]))
    def tick(self, seconds: float) -> None:
        self.now += seconds
        self.send(m.Tick())

    @rule()
    def disconnect_and_back(self) -> None:
        self.send(m.Disconnected())
        self.send(m.Subscribed("fw-1"))

    @rule(task=st.sampled_from(REQUESTED))
    def track(self, task: str) -> None:
        self.send(m.Track(task, "a1"))

    @invariant()
    def an_inverse_offer_held_under_drain_has_work_left(self) -> None:
        view = self.rust.view()
        for inverse in view.inverse_offers:
            # Every agent left with no live task was given back at once.
            assert any(
                t.agent_id == inverse.agent_id and t.state not in m.TERMINAL_STATES
                for t in view.tasks
            ), inverse


def test_drain_policy_rust_matches_the_reference() -> None:
    run_state_machine_as_test(MaintenanceComparison)
