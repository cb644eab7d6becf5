"""Deployments in both reducers, against ``docs/reducer.md`` (Deployments).

Every expected value is worked out by hand from the specification; each case
runs against the Python reference and the Rust core.
"""

from __future__ import annotations

from typing import Any

import pytest

import ark.core
import ark.reference
from ark import effects as fx
from ark import messages as m
from ark.errors import CommandRejected, MessageError
from ark.state import Config, VersionCount

CPUS = [m.Resource("cpus", scalar=1.0)]
CHECK = m.HealthCheck("COMMAND", command="true")


@pytest.fixture(params=["reference", "rust"])
def reducer(request: pytest.FixtureRequest) -> Any:
    cls = ark.reference.Reducer if request.param == "reference" else ark.core.Reducer
    r = cls(Config())
    r.step(m.Subscribed("fw"), 0.0)
    return r


def template(version: str, **kw: Any) -> m.TaskRequest:
    return m.TaskRequest(version, resources=CPUS, group="web", **kw)


def offer(r: Any, offer_id: str, now: float) -> list[str]:
    """Offer plenty; the ids of the tasks launched on it."""
    effects = r.step(m.Offers([m.Offer(offer_id, "a1", "h1", [m.Resource("cpus", 16.0)])]), now)
    return [lt.task_id for e in effects if isinstance(e, fx.Accept) for lt in e.launches]


def update(r: Any, task_id: str, state: str, now: float, healthy: bool | None = None) -> Any:
    return r.step(m.Update(m.TaskStatus(task_id, state, agent_id="a1", healthy=healthy)), now)  # type: ignore[arg-type]


def kills(effects: list[fx.Effect]) -> list[str]:
    return [e.task_id for e in effects if isinstance(e, fx.Kill)]


def deployed(r: Any, version: str, n: int, now: float = 1.0) -> None:
    r.step(m.Deploy("web", template(version), n, minimum_health_capacity=0.5), now)
    assert offer(r, f"o-{version}", now) == [f"{version}-{k}" for k in range(n)]
    for k in range(n):
        update(r, f"{version}-{k}", "TASK_RUNNING", now)
    assert r.view().deployments[0].state == "completed"


def test_a_first_deployment_launches_every_copy_at_once(reducer: Any) -> None:
    effects = reducer.step(m.Deploy("web", template("v1"), 2), 1.0)
    assert effects == [fx.Revive()]  # nothing offered yet
    [d] = reducer.view().deployments
    assert (d.group, d.version, d.previous, d.instances, d.state) == (
        "web",
        "v1",
        None,
        2,
        "running",
    )
    assert (d.new, d.old, d.other) == (VersionCount(2, 0), VersionCount(0, 0), VersionCount(0, 0))
    assert offer(reducer, "o1", 1.0) == ["v1-0", "v1-1"]
    update(reducer, "v1-0", "TASK_RUNNING", 2.0)
    assert reducer.view().deployments[0].new == VersionCount(2, 1)
    update(reducer, "v1-1", "TASK_RUNNING", 2.0)
    assert reducer.view().deployments[0].state == "completed"


def test_the_floor_lets_old_tasks_go_before_new_ones_are_ready(reducer: Any) -> None:
    deployed(reducer, "v1", 4)
    # Floor 2, ceiling 4: two old tasks go at once, making room for two new.
    effects = reducer.step(
        m.Deploy("web", template("v2"), 4, minimum_health_capacity=0.5, maximum_over_capacity=0.0),
        3.0,
    )
    assert kills(effects) == ["v1-0", "v1-1"]
    update(reducer, "v1-0", "TASK_KILLED", 4.0)
    update(reducer, "v1-1", "TASK_KILLED", 4.0)
    assert offer(reducer, "o2", 4.0) == ["v2-0", "v2-1"]
    assert kills(update(reducer, "v2-0", "TASK_RUNNING", 5.0)) == ["v1-2"]
    assert kills(update(reducer, "v2-1", "TASK_RUNNING", 5.0)) == ["v1-3"]
    [d] = reducer.view().deployments
    assert (d.new, d.old, d.state) == (VersionCount(2, 2), VersionCount(2, 0), "running")


def test_a_checked_version_is_ready_only_when_healthy(reducer: Any) -> None:
    deployed(reducer, "v1", 1)
    reducer.step(m.Deploy("web", template("v2", health_check=CHECK), 1), 3.0)
    assert offer(reducer, "o2", 3.0) == ["v2-0"]
    assert kills(update(reducer, "v2-0", "TASK_RUNNING", 4.0)) == []
    assert kills(update(reducer, "v2-0", "TASK_RUNNING", 5.0, healthy=True)) == ["v1-0"]


def test_failures_roll_back_and_a_health_kill_counts(reducer: Any) -> None:
    deployed(reducer, "v1", 1)
    # Floor 0: v1-0 goes at once.
    effects = reducer.step(
        m.Deploy("web", template("v2"), 1, minimum_health_capacity=0.0, max_failures=2), 3.0
    )
    assert kills(effects) == ["v1-0"]
    update(reducer, "v1-0", "TASK_KILLED", 3.0)
    assert offer(reducer, "o2", 3.0) == ["v2-0"]
    update(reducer, "v2-0", "TASK_KILLED", 4.0, healthy=False)
    assert offer(reducer, "o3", 5.0) == ["v2-1"]
    effects = update(reducer, "v2-1", "TASK_FAILED", 6.0)
    [d] = reducer.view().deployments
    assert (d.state, d.failures) == ("rolling-back", 2)
    assert fx.Revive() in effects  # v1-1 is wanted
    reducer.step(m.Tick(), 20.0)  # the launch backoff of the failure ends
    assert offer(reducer, "o4", 20.0) == ["v1-1"]
    update(reducer, "v1-1", "TASK_RUNNING", 21.0)
    [d] = reducer.view().deployments
    assert (d.state, d.old, d.new) == ("rolled-back", VersionCount(1, 1), VersionCount(0, 0))


def test_cancelling_a_first_deployment_kills_its_tasks(reducer: Any) -> None:
    reducer.step(m.Deploy("web", template("v1"), 2), 1.0)
    assert offer(reducer, "o1", 1.0) == ["v1-0", "v1-1"]
    assert kills(reducer.step(m.CancelDeployment("web"), 2.0)) == ["v1-0", "v1-1"]
    assert reducer.view().deployments[0].state == "rolled-back"
    with pytest.raises(CommandRejected):
        reducer.step(m.CancelDeployment("web"), 3.0)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (m.Deploy("web", template("v1"), -1), MessageError),
        (m.Deploy("web", template("v1"), 1, minimum_health_capacity=1.5), MessageError),
        (m.Deploy("web", template("v1"), 1, maximum_over_capacity=0.0), MessageError),
        (m.Deploy("web", template("v1"), 1, max_failures=0), MessageError),
        (m.Deploy("db", template("v1"), 1), CommandRejected),
        (m.Deploy("", m.TaskRequest("v1"), 1), CommandRejected),
        (m.CancelDeployment("web"), CommandRejected),
    ],
)
def test_bad_deployments_change_nothing(reducer: Any, message: Any, error: type) -> None:
    before = reducer.view()
    with pytest.raises(error):
        reducer.step_bytes(m.encode(message), 1.0)
    assert reducer.view() == before


def test_a_deployment_in_progress_or_of_the_same_version_is_rejected(reducer: Any) -> None:
    deployed(reducer, "v1", 1)
    with pytest.raises(CommandRejected, match="new task id"):
        reducer.step(m.Deploy("web", template("v1"), 1), 2.0)
    reducer.step(m.Deploy("web", template("v2"), 1), 2.0)
    with pytest.raises(CommandRejected, match="in progress"):
        reducer.step(m.Deploy("web", template("v3"), 1), 2.0)
