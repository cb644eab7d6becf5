"""A new leader's Track with the request its task was placed from (docs/reducer.md, Track).

Both reducers: the request each placed task keeps for the store, and what a
tracked task gets back from it (group, unreachable strategy, pod, a
stateful task's restart on its volume).
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from ark import Reducer, reference
from ark import effects as fx
from ark import messages as m
from ark.errors import MessageError

ROLE = "db"
VOLUME = m.Volume("pg-0", "data", 64.0, ROLE, principal="ark")
PG = m.TaskRequest("pg", [m.Resource("cpus", scalar=1.0)], group="pg", volume=VOLUME)

SHOWN = m.Resource(
    "disk",
    scalar=64.0,
    role=ROLE,
    reservations=[m.Reservation(ROLE, principal="ark")],
    persistence_id="pg-0",
    container_path="data",
)


def requests(reducer: Any, ids: list[str]) -> list[m.TaskRequest | None]:
    if isinstance(reducer, Reducer):
        raw = reducer.snapshot().requests(ids)
        return [None if b is None else msgspec.msgpack.decode(b, type=m.TaskRequest) for b in raw]
    return list(reducer.requests(ids))


@pytest.fixture(params=["rust", "reference"])
def reducer(request: pytest.FixtureRequest) -> Any:
    return Reducer() if request.param == "rust" else reference.Reducer()


def offer(offer_id: str, agent: str, *extra: m.Resource) -> m.Offer:
    resources = [m.Resource("cpus", scalar=4.0), m.Resource("disk", scalar=500.0), *extra]
    return m.Offer(offer_id, agent, f"{agent}.host", resources)


def test_a_placed_task_keeps_its_request_until_it_ends(reducer: Any) -> None:
    reducer.step(m.Subscribed("fw"), 0.0)
    reducer.step(
        m.Update(m.TaskStatus("x", "TASK_RUNNING", agent_id="a9")), 0.5
    )  # ends reconciliation
    web = m.TaskRequest("web-1", [m.Resource("cpus", scalar=1.0)], group="web")
    reducer.step(m.Request([web, PG]), 1.0)
    effects = reducer.step(m.Offers([offer("o1", "a1")]), 2.0)
    assert sum(len(e.launches) for e in effects if isinstance(e, fx.Accept)) == 2
    assert requests(reducer, ["web-1", "pg", "nope"]) == [web, PG, None]
    reducer.step(m.Update(m.TaskStatus("web-1", "TASK_FINISHED", agent_id="a1")), 3.0)
    assert requests(reducer, ["web-1"]) == [None]


def test_a_tracked_stateful_task_restarts_on_its_volume(reducer: Any) -> None:
    # A new leader: the store gave it the task, its agent and its request.
    reducer.step(m.Track("pg", "a2", PG), 0.0)
    view = reducer.view()
    assert [(v.persistence_id, v.agent_id, v.size) for v in view.volumes] == [("pg-0", "a2", 64.0)]
    assert requests(reducer, ["pg"]) == [PG]
    reducer.step(m.Subscribed("fw"), 1.0)
    reducer.step(m.Update(m.TaskStatus("pg", "TASK_RUNNING", agent_id="a2")), 2.0)
    effects = reducer.step(m.Update(m.TaskStatus("pg", "TASK_FAILED", agent_id="a2")), 3.0)
    assert fx.Revive() in effects
    assert [r.task_id for r in reducer.view().demand] == ["pg.1"]
    # Another agent's offer does not take it: it waits for its volume's agent.
    assert not any(
        isinstance(e, fx.Accept) for e in reducer.step(m.Offers([offer("o1", "a1")]), 4.0)
    )
    effects = reducer.step(m.Offers([offer("o2", "a2", SHOWN)]), 5.0)
    (accept,) = [e for e in effects if isinstance(e, fx.Accept)]
    assert accept.agent_id == "a2" and accept.operations == []  # no RESERVE, no CREATE
    assert [lt.task_id for lt in accept.launches] == ["pg.1"]
    assert SHOWN in accept.launches[0].resources
    # Its restart keeps the first request, as the old leader's would.
    assert requests(reducer, ["pg.1"]) == [PG]


def test_a_tracked_task_gets_its_group_and_strategy_back(reducer: Any) -> None:
    strategy = m.UnreachableStrategy(inactive_after_seconds=5.0, expunge_after_seconds=10.0)
    web = m.TaskRequest(
        "web-1", [m.Resource("cpus", scalar=1.0)], group="web", unreachable=strategy
    )
    reducer.step(m.Track("web-1", "a1", web), 0.0)
    reducer.step(m.Subscribed("fw"), 1.0)
    reducer.step(m.Update(m.TaskStatus("web-1", "TASK_UNREACHABLE", agent_id="a1")), 2.0)
    assert [u.task_id for u in reducer.view().unreachable] == ["web-1"]
    reducer.step(m.Tick(), 8.0)
    assert [r.task_id for r in reducer.view().demand] == ["web-1.1"]


def test_a_known_task_is_left_alone_and_a_bad_request_refused(reducer: Any) -> None:
    reducer.step(m.Update(m.TaskStatus("pg", "TASK_RUNNING", agent_id="a1")), 0.0)
    reducer.step(m.Track("pg", "a2", PG), 1.0)
    assert reducer.view().volumes == [] and requests(reducer, ["pg"]) == [None]
    bad = msgspec.structs.replace(PG, role="web")  # a volume of another role
    with pytest.raises(MessageError):
        reducer.step(m.Track("other", "a1", bad), 2.0)
    assert "other" not in {t.task_id for t in reducer.view().tasks}


RELEASE = m.ResumeRelease("pg-0", "a2", ROLE, 64.0, "data", "ark")


def test_a_stored_release_kills_its_task_then_gives_the_volume_up(reducer: Any) -> None:
    # A new leader: the old one had sent Replace("pg") and stored the release.
    reducer.step(m.Track("pg", "a2", PG), 0.0)
    assert reducer.step(RELEASE, 0.0) == [fx.Kill("pg", "a2")]
    reducer.step(m.Subscribed("fw"), 1.0)
    reducer.step(m.Update(m.TaskStatus("pg", "TASK_KILLED", agent_id="a2")), 2.0)
    # Held while its volume is given up, though a1 has room.
    reducer.step(m.Offers([offer("o0", "a1")]), 2.5)
    (waiting,) = reducer.view().demand
    assert waiting.task_id == "pg.1"
    assert waiting.reason == 'volume "pg-0" is being given up (DESTROY, UNRESERVE) on agent "a2"'
    effects = reducer.step(m.Offers([offer("o1", "a2", SHOWN)]), 3.0)
    (release, *_) = [e for e in effects if isinstance(e, fx.Accept)]
    assert [op.type for op in release.operations] == ["DESTROY", "UNRESERVE"]
    assert release.launches == []
    # Then placed afresh: RESERVE, CREATE and LAUNCH on the next offer.
    effects = reducer.step(m.Offers([offer("o2", "a3")]), 4.0)
    (accept,) = [e for e in effects if isinstance(e, fx.Accept)]
    assert [op.type for op in accept.operations] == ["RESERVE", "CREATE"]
    assert [lt.task_id for lt in accept.launches] == ["pg.1"]


def test_a_stored_release_keeps_where_an_offer_showed_the_volume(reducer: Any) -> None:
    reducer.step(m.Subscribed("fw"), 0.0)
    reducer.step(m.Offers([offer("o1", "a1", SHOWN)]), 1.0)
    assert reducer.step(RELEASE, 2.0) == []  # no task on it: nothing to kill
    assert [(v.persistence_id, v.agent_id) for v in reducer.view().volumes] == [("pg-0", "a1")]


@pytest.mark.parametrize(
    "bad",
    [
        msgspec.structs.replace(RELEASE, persistence_id=""),
        msgspec.structs.replace(RELEASE, agent_id=""),
        msgspec.structs.replace(RELEASE, size=0.0),
        msgspec.structs.replace(RELEASE, size=float("inf")),
        msgspec.structs.replace(RELEASE, role="*"),
    ],
)
def test_a_malformed_stored_release_is_refused(reducer: Any, bad: m.ResumeRelease) -> None:
    with pytest.raises(MessageError):
        reducer.step(bad, 0.0)
    assert reducer.view().volumes == []


def test_the_core_gives_what_resumes_its_releases() -> None:
    old = Reducer()
    old.step(m.Track("pg", "a2", PG), 0.0)
    assert old.snapshot().stored_releases() == []
    old.step(m.Replace("pg"), 1.0)
    ((pid, stored),) = old.snapshot().stored_releases()
    assert pid == "pg-0" and m.decode(stored) == RELEASE
    new = Reducer()
    new.step(m.Track("pg", "a2", PG), 0.0)
    assert new.step_bytes(stored, 0.0) == [fx.Kill("pg", "a2")]
    assert new.snapshot().stored_releases() == [(pid, stored)]
