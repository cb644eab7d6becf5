"""A deployment resumed by a new leader (docs/reducer.md, Deployments, Failover).

Both reducers: a stored deployment and the tracked tasks of its group are
taken up where the old leader left them; nothing moves until reconciliation
has reported the tasks, and failures counted before still count.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from ark import Reducer, reference
from ark import effects as fx
from ark import messages as m
from ark.errors import CommandRejected, MessageError

CPUS = [m.Resource("cpus", scalar=1.0)]
V1 = m.TaskRequest("v1", CPUS, group="web")
V2 = m.TaskRequest("v2", CPUS, group="web")


@pytest.fixture(params=["rust", "reference"])
def reducer(request: pytest.FixtureRequest) -> Any:
    return Reducer() if request.param == "rust" else reference.Reducer()


def resume(failures: int = 0, phase: Any = "running", **kw: Any) -> m.ResumeDeployment:
    fields: dict[str, Any] = dict(
        group="web",
        template=V2,
        instances=2,
        minimum_health_capacity=0.5,
        maximum_over_capacity=0.0,
        max_failures=2,
        previous=V1,
        failures=failures,
        phase=phase,
    )
    fields.update(kw)
    return m.ResumeDeployment(**fields)


def kills(effects: list[fx.Effect]) -> list[str]:
    return [e.task_id for e in effects if isinstance(e, fx.Kill)]


def update(r: Any, task_id: str, state: str, now: float) -> list[fx.Effect]:
    return r.step(m.Update(m.TaskStatus(task_id, state, agent_id="a1")), now)  # type: ignore[arg-type]


def new_leader(r: Any) -> None:
    """The store's launches (one old copy, one new) and deployment."""
    for task_id, version in [("v1-0", V1), ("v2-0", V2)]:
        r.step(m.Track(task_id, "a1", msgspec.structs.replace(version, task_id=task_id)), 0.0)
    r.step(resume(failures=1), 0.0)


def test_a_resumed_deployment_waits_for_reconciliation(reducer: Any) -> None:
    new_leader(reducer)
    (d,) = reducer.view().deployments
    assert (d.version, d.previous, d.state, d.failures) == ("v2", "v1", "running", 1)
    # Not registered, then reconciling: the tracked tasks are only STAGING.
    assert kills(reducer.step(m.Tick(), 1.0)) == []
    reducer.step(m.Subscribed("fw"), 2.0)
    assert kills(reducer.step(m.Tick(), 3.0)) == []
    assert kills(update(reducer, "v1-0", "TASK_RUNNING", 4.0)) == []
    update(reducer, "v2-0", "TASK_RUNNING", 4.5)  # the last answer
    # Reported: the old copy goes (one ready left, the floor is one).
    assert kills(reducer.step(m.Tick(), 5.0)) == ["v1-0"]


def test_failures_before_the_failover_still_count(reducer: Any) -> None:
    new_leader(reducer)
    reducer.step(m.Subscribed("fw"), 1.0)
    update(reducer, "v1-0", "TASK_RUNNING", 2.0)
    update(reducer, "v2-0", "TASK_RUNNING", 2.0)
    update(reducer, "v2-0", "TASK_FAILED", 3.0)
    (d,) = reducer.view().deployments
    # One before the failover, one after: max_failures reached, rolled back.
    assert (d.state, d.failures) == ("rolling-back", 2)


def test_a_group_with_a_deployment_keeps_it_and_bad_ones_are_refused(reducer: Any) -> None:
    reducer.step(resume(failures=1), 0.0)
    reducer.step(resume(failures=0, template=msgspec.structs.replace(V2, task_id="v3")), 0.0)
    assert reducer.view().deployments[0].version == "v2"
    with pytest.raises(MessageError):
        reducer.step(resume(failures=-1, group="db"), 0.0)
    with pytest.raises(MessageError):
        reducer.step(resume(max_failures=0, group="db"), 0.0)
    with pytest.raises(CommandRejected):
        reducer.step(resume(group="db"), 0.0)  # the template is of group web
    assert [d.group for d in reducer.view().deployments] == ["web"]


def test_the_core_gives_what_resumes_its_deployments() -> None:
    old = Reducer()
    old.step(m.Subscribed("fw"), 0.0)
    old.step(m.Deploy("web", V1, 1), 0.0)
    ((group, stored),) = old.snapshot().stored_deployments()
    assert group == "web"
    assert msgspec.msgpack.decode(stored, type=m.ResumeDeployment) == resume(
        template=V1,
        previous=None,
        instances=1,
        minimum_health_capacity=1.0,
        maximum_over_capacity=1.0,
        max_failures=3,
    )
    new = Reducer()
    new.step_bytes(stored, 0.0)

    def summary(r: Reducer) -> list[tuple[str, str, str, int, int]]:
        return [
            (d.group, d.version, d.state, d.failures, d.instances) for d in r.view().deployments
        ]

    assert summary(new) == summary(old)
