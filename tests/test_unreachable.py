"""Unreachable strategies, hand-worked from docs/reducer.md ("Partitions"), on both reducers.

A task placed with a strategy goes TASK_UNREACHABLE; ``inactive_after_seconds``
later a Tick requests its replacement ``<id>.<n>``; when the old task comes
back the copy the kill selection names goes; past ``expunge_after_seconds`` the
old one is given up and killed if it ever comes back.
"""

from __future__ import annotations

from typing import Any

import pytest

import ark.core
import ark.reference
from ark import effects as fx
from ark import messages as m
from ark.errors import MessageError
from ark.state import Config, UnreachableRecord

IMPLEMENTATIONS = {"reference": ark.reference.Reducer, "rust": ark.core.Reducer}
CPU = [m.Resource("cpus", scalar=1.0)]
OFFERED = [m.Resource("cpus", scalar=4.0)]
#: Replaced 10 s after it went unreachable, given up after 20 s.
YOUNGEST = m.UnreachableStrategy(10.0, 20.0, "YoungestFirst")
OLDEST = m.UnreachableStrategy(10.0, 20.0, "OldestFirst")


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def reducer_type(request: pytest.FixtureRequest) -> Any:
    return IMPLEMENTATIONS[request.param]


class Run:
    """One reducer, its clock, and the effects of the last step."""

    def __init__(self, reducer_type: Any) -> None:
        self.reducer = reducer_type(Config())
        self.now = 0.0

    def step(self, message: Any, at: float | None = None) -> list[fx.Effect]:
        if at is not None:
            self.now = at
        effects: list[fx.Effect] = self.reducer.step(message, self.now)
        return effects

    def unreachable(self) -> list[UnreachableRecord]:
        records: list[UnreachableRecord] = self.reducer.view().unreachable
        return records

    def state(self, task_id: str) -> str:
        return next(t.state for t in self.reducer.view().tasks if t.task_id == task_id)


def update(task_id: str, state: str, agent: str) -> m.Update:
    return m.Update(m.TaskStatus(task_id, state, agent_id=agent))  # type: ignore[arg-type]


def placed(reducer_type: Any, strategy: m.UnreachableStrategy | None = YOUNGEST) -> Run:
    """``web`` running on a1, then unreachable at t=100."""
    run = Run(reducer_type)
    run.step(m.Subscribed("fw"))
    run.step(m.Request([m.TaskRequest("web", resources=CPU, unreachable=strategy)]))
    effects = run.step(m.Offers([m.Offer("o1", "a1", "h1", OFFERED)]))
    assert [type(e) for e in effects] == [fx.Accept, fx.Suppress]
    run.step(update("web", "TASK_RUNNING", "a1"))
    assert run.step(update("web", "TASK_UNREACHABLE", "a1"), at=100.0) == []
    return run


def replaced(reducer_type: Any, strategy: m.UnreachableStrategy = YOUNGEST) -> Run:
    """As :func:`placed`, then ``web.1`` requested at t=110 and launched on a2."""
    run = placed(reducer_type, strategy)
    assert run.step(m.Tick(), at=109.0) == []
    assert run.step(m.Tick(), at=110.0) == [fx.Revive()]
    assert run.unreachable() == [UnreachableRecord("web", 100.0, "web.1", False)]
    assert [r.task_id for r in run.reducer.view().demand] == ["web.1"]
    effects = run.step(m.Offers([m.Offer("o2", "a2", "h2", OFFERED)]))
    assert [type(e) for e in effects] == [fx.Accept, fx.Suppress]
    accept = effects[0]
    assert isinstance(accept, fx.Accept)
    assert (accept.agent_id, [x.task_id for x in accept.launches]) == ("a2", ["web.1"])
    run.step(update("web.1", "TASK_RUNNING", "a2"))
    return run


def test_an_unreachable_task_is_recorded_and_replaced_after_inactive_after(
    reducer_type: Any,
) -> None:
    run = replaced(reducer_type)
    # The replacement carries the strategy too.
    run.step(update("web.1", "TASK_UNREACHABLE", "a2"), at=111.0)
    assert run.unreachable() == [
        UnreachableRecord("web", 100.0, "web.1", False),
        UnreachableRecord("web.1", 111.0, None, False),
    ]


def test_youngest_first_kills_the_replacement_when_the_old_task_comes_back(
    reducer_type: Any,
) -> None:
    run = replaced(reducer_type)
    assert run.step(update("web", "TASK_RUNNING", "a1")) == [fx.Kill("web.1", "a2")]
    assert run.unreachable() == []
    run.step(update("web.1", "TASK_KILLED", "a2"))
    assert (run.state("web"), run.state("web.1")) == ("TASK_RUNNING", "TASK_KILLED")


def test_oldest_first_kills_the_old_task_when_it_comes_back(reducer_type: Any) -> None:
    run = replaced(reducer_type, OLDEST)
    assert run.step(update("web", "TASK_RUNNING", "a1")) == [fx.Kill("web", "a1")]
    assert run.unreachable() == []


def test_back_before_inactive_after_nothing_is_replaced(reducer_type: Any) -> None:
    run = placed(reducer_type)
    assert run.step(update("web", "TASK_RUNNING", "a1"), at=105.0) == []
    assert run.unreachable() == []
    assert run.step(m.Tick(), at=200.0) == []
    assert run.reducer.view().demand == []


def test_back_while_the_replacement_waits_for_offers(reducer_type: Any) -> None:
    run = placed(reducer_type)
    run.step(m.Tick(), at=110.0)
    # YoungestFirst: the replacement, not yet placed, is withdrawn.
    assert run.step(update("web", "TASK_RUNNING", "a1")) == [fx.Suppress()]
    assert run.reducer.view().demand == []


def test_back_while_the_replacement_waits_oldest_first(reducer_type: Any) -> None:
    run = placed(reducer_type, OLDEST)
    run.step(m.Tick(), at=110.0)
    assert run.step(update("web", "TASK_RUNNING", "a1")) == [fx.Kill("web", "a1")]
    assert [r.task_id for r in run.reducer.view().demand] == ["web.1"]


def test_the_only_copy_is_never_killed(reducer_type: Any) -> None:
    run = replaced(reducer_type, OLDEST)
    run.step(update("web.1", "TASK_FAILED", "a2"))
    assert run.step(update("web", "TASK_RUNNING", "a1")) == []


def test_past_expunge_after_it_is_given_up_and_killed_if_it_comes_back(
    reducer_type: Any,
) -> None:
    run = replaced(reducer_type)
    assert run.step(m.Tick(), at=120.0) == []
    assert run.unreachable() == [UnreachableRecord("web", 100.0, "web.1", True)]
    assert run.step(update("web", "TASK_RUNNING", "a1")) == [fx.Kill("web", "a1")]
    assert run.unreachable() == []


def test_replaced_and_expunged_in_one_tick(reducer_type: Any) -> None:
    run = placed(reducer_type, m.UnreachableStrategy(0.0, 0.0))
    assert run.step(m.Tick(), at=100.0) == [fx.Revive()]
    assert run.unreachable() == [UnreachableRecord("web", 100.0, "web.1", True)]


def test_an_end_forgets_it_and_unknown_does_not(reducer_type: Any) -> None:
    run = replaced(reducer_type)
    run.step(update("web", "TASK_UNKNOWN", "a1"))
    assert [r.task_id for r in run.unreachable()] == ["web"]
    run.step(update("web", "TASK_GONE", "a1"))
    assert run.unreachable() == []
    assert run.state("web.1") == "TASK_RUNNING"


def test_the_replacement_id_skips_ids_taken(reducer_type: Any) -> None:
    run = placed(reducer_type)
    run.step(update("web.1", "TASK_RUNNING", "a3"))  # adopted: web.1 is taken
    run.step(m.Request([m.TaskRequest("web.2", resources=[m.Resource("gpus", scalar=1.0)])]))
    run.step(m.Tick(), at=110.0)
    assert run.unreachable() == [UnreachableRecord("web", 100.0, "web.3", False)]


def test_a_request_without_strategy_is_left_alone(reducer_type: Any) -> None:
    run = placed(reducer_type, None)
    assert run.unreachable() == []
    assert run.step(m.Tick(), at=10_000.0) == []


@pytest.mark.parametrize(
    "strategy",
    [
        m.UnreachableStrategy(-1.0, 10.0),
        m.UnreachableStrategy(20.0, 10.0),
        m.UnreachableStrategy(float("nan"), 10.0),
    ],
)
def test_a_malformed_strategy_is_a_message_error(
    reducer_type: Any, strategy: m.UnreachableStrategy
) -> None:
    run = Run(reducer_type)
    request = m.Request([m.TaskRequest("web", unreachable=strategy)])
    before = run.reducer.view()
    with pytest.raises(MessageError, match="unreachable strategy"):
        run.reducer.step(request, 0.0)
    with pytest.raises(MessageError, match="unreachable strategy"):
        run.reducer.step_bytes(m.encode(request), 0.0)
    assert run.reducer.view() == before


def test_a_pod_with_a_strategy_is_a_message_error(reducer_type: Any) -> None:
    # Its replacement would need its members renamed too: refused, not ignored.
    run = Run(reducer_type)
    member = m.PodTask("web.app", [m.Resource("cpus", scalar=0.1)])
    request = m.Request(
        [m.TaskRequest("web", pod=[member], unreachable=m.UnreachableStrategy(1.0, 2.0))]
    )
    before = run.reducer.view()
    with pytest.raises(MessageError, match="a pod takes no unreachable strategy"):
        run.reducer.step(request, 0.0)
    assert run.reducer.view() == before
