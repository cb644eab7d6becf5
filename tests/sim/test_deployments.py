"""Rolling updates end to end: deployments over the simulator's real API.

A scheduler with no hooks of its own: the test pushes ``Deploy`` and
``CancelDeployment`` into its loop and watches the core's snapshot. The first
deployment brings up v1 from nothing; v2 then replaces it a task at a time
and completes, or, its tasks failing their health check (the simulator's
``ark.sim/health`` label) and killed for it, is rolled back to v1 copies.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_client import fast_config

from ark import Config, Scheduler, StateManager
from ark import messages as m
from ark.drivers import V1Driver
from ark.sim import Cluster
from ark.state import DeploymentRecord, VersionCount
from ark.wire import task_payload
from waiting import wait_until

RESOURCES = [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32.0)]
#: A version whose health check never passes (the simulator's ``ark.sim/health``
#: label): its tasks run but are never ready, and the executor kills each.
UNHEALTHY = task_payload(
    "sleep 3600", labels={"labels": [{"key": "ark.sim/health", "value": "fail"}]}
)
CHECK = m.HealthCheck(
    "COMMAND",
    command="true",
    delay_seconds=0.0,
    interval_seconds=0.1,
    timeout_seconds=0.1,
    consecutive_failures=1,
    grace_period_seconds=0.0,
)
SERVING = task_payload("sleep 3600")
CONFIG = Config(backoff_seconds=0.05, backoff_max_seconds=0.1)


def template(version: str, payload: bytes = SERVING, **kw: object) -> m.TaskRequest:
    return m.TaskRequest(version, RESOURCES, group="web", payload=payload, **kw)  # type: ignore[arg-type]


def deployment(scheduler: Scheduler[None]) -> DeploymentRecord | None:
    return next((d for d in scheduler.snapshot().view().deployments if d.group == "web"), None)


def in_state(scheduler: Scheduler[None], state: str) -> DeploymentRecord | None:
    d = deployment(scheduler)
    return d if d is not None and d.state == state else None


def running_tasks(scheduler: Scheduler[None]) -> list[str]:
    return sorted(scheduler.snapshot().tasks_by_state().get("TASK_RUNNING", []))


@pytest.fixture
def scheduler() -> Iterator[Scheduler[None]]:
    with Cluster(fast_config()) as cluster:
        driver = V1Driver(cluster.url.removeprefix("http://"), {"name": "deploy", "user": "t"})
        with Scheduler(
            StateManager(), None, driver, config=CONFIG, reconcile_seconds=None, tick_seconds=0.02
        ) as s:
            wait_until(lambda: s.snapshot().registered, 10.0, "registration")
            s.push(m.Deploy("web", template("v1"), 3))
            wait_until(lambda: in_state(s, "completed"), 20.0, "v1 deployed")
            assert running_tasks(s) == ["v1-0", "v1-1", "v1-2"]
            yield s


def test_a_rolling_update_completes_with_the_new_version_only(
    scheduler: Scheduler[None],
) -> None:
    # Floor 2, ceiling 4: one v1 task may go at once, one v2 extra may start.
    scheduler.push(
        m.Deploy("web", template("v2"), 3, minimum_health_capacity=0.67, maximum_over_capacity=0.33)
    )
    seen: list[tuple[int, int]] = []

    def progress() -> DeploymentRecord | None:
        d = deployment(scheduler)
        if d is not None and d.version == "v2":
            seen.append((d.old.ready + d.new.ready, d.old.up + d.new.up))
        return in_state(scheduler, "completed") if d and d.version == "v2" else None

    done = wait_until(progress, 20.0, "v2 deployed")
    assert (done.new, done.old, done.failures) == (VersionCount(3, 3), VersionCount(0, 0), 0)
    assert running_tasks(scheduler) == ["v2-0", "v2-1", "v2-2"]
    # Never fewer than the floor ready, nor more than the ceiling up.
    assert all(ready >= 2 and up <= 4 for ready, up in seen), seen


def test_a_failing_version_is_rolled_back(scheduler: Scheduler[None]) -> None:
    v2 = template("v2", UNHEALTHY, health_check=CHECK)
    scheduler.push(m.Deploy("web", v2, 3, max_failures=2))
    rolled = wait_until(lambda: in_state(scheduler, "rolled-back"), 20.0, "rollback")
    assert (rolled.version, rolled.previous, rolled.failures) == ("v2", "v1", 2)
    assert rolled.new.up == 0 and rolled.old == VersionCount(3, 3)
    # v1 never went: with the floor at 3, no v1 task is killed before a v2 is ready.
    assert running_tasks(scheduler) == ["v1-0", "v1-1", "v1-2"]
    killed = scheduler.snapshot().tasks_by_state().get("TASK_KILLED", [])
    assert len(killed) >= 2 and all(t.startswith("v2-") for t in killed)


def test_a_cancelled_update_brings_the_old_version_back(scheduler: Scheduler[None]) -> None:
    scheduler.push(m.Deploy("web", template("v2"), 3, minimum_health_capacity=0.0))
    wait_until(lambda: (d := deployment(scheduler)) and d.new.ready >= 1, 20.0, "v2 running")
    scheduler.push(m.CancelDeployment("web"))
    rolled = wait_until(lambda: in_state(scheduler, "rolled-back"), 20.0, "rollback")
    assert rolled.new.up == 0 and rolled.old.ready == 3
    assert all(t.startswith("v1-") for t in running_tasks(scheduler))
