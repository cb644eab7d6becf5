"""Health checks run by the agent's executor, on the simulator and a real Mesos.

Ark launches a task whose request carries a COMMAND health check that tests
for a marker file, and a kill policy. The check passes while the file is
there; the test then makes it fail (on a real Mesos by deleting the file,
which the agent's command executor sees since agents here share the test's
filesystem; on the simulator through ``Cluster.set_health``) and watches the
executor kill the task. Mesos's side: ``HealthCheckerProcess`` in
``src/checks/health_checker.cpp`` and ``taskHealthUpdated`` / ``reaped`` in
``src/launcher/executor.cpp``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from masters import Master

from ark import Scheduler, StateManager, Step
from ark import messages as m
from ark.core import Snapshot
from ark.drivers import V1Driver
from ark.sim.health import HealthChecker
from ark.wire import task_payload
from waiting import wait_until

RESOURCES = [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32)]


class Seen(msgspec.Struct, frozen=True):
    """Every status the hook saw: ``(state, healthy, reason)``."""

    statuses: tuple[tuple[str, bool | None, str | None], ...] = ()


class Watch(StateManager[Seen]):
    """Requests one task at registration and records every status of it."""

    def __init__(self, request: m.TaskRequest) -> None:
        self.request = request

    def registered(self, state: Seen, framework_id: str, framework: Snapshot) -> Step[Seen]:
        if framework.task(self.request.task_id) is not None:
            return state, ()
        return state, [m.Request([self.request])]

    def status_update(self, state: Seen, status: m.TaskStatus, framework: Snapshot) -> Step[Seen]:
        seen = (status.state, status.healthy, status.reason)
        return Seen((*state.statuses, seen)), ()


@pytest.fixture
def marker() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ark-health-") as d:
        path = Path(d) / "healthy"
        path.touch()
        yield path


def make_unhealthy(master: Master, task_id: str, marker: Path) -> None:
    """From now on the task's check fails: its file is gone (or the simulator says so)."""
    marker.unlink()
    if master.cluster is not None:
        master.cluster.set_health(task_id, passing=False)


def run(master: Master, encoding: str, request: m.TaskRequest) -> Scheduler[Seen]:
    driver = V1Driver(
        master.url.removeprefix("http://"),
        {
            "name": "ark-health",
            "user": "root",
            "capabilities": [{"type": "TASK_KILLING_STATE"}],
        },
        encoding=encoding,  # type: ignore[arg-type]
    )
    return Scheduler(Watch(request), Seen(), driver, reconcile_seconds=None)


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_a_failing_health_check_gets_its_task_killed(
    master: Master, encoding: str, marker: Path
) -> None:
    """Healthy on the first success; after ``consecutive_failures`` failures the
    executor kills the task, whose terminal update says ``healthy: false``."""
    task_id = f"checked-{encoding}"
    check = m.HealthCheck(
        "COMMAND",
        command=f"test -f {marker}",
        delay_seconds=0.0,
        interval_seconds=0.5,
        timeout_seconds=5.0,
        consecutive_failures=2,
        grace_period_seconds=0.0,
    )
    request = m.TaskRequest(
        task_id,
        resources=RESOURCES,
        payload=task_payload("sleep 3600"),
        health_check=check,
        kill_policy=m.KillPolicy(grace_period_seconds=1.0),
    )
    with run(master, encoding, request) as scheduler:

        def health() -> bool | None:
            record = scheduler.snapshot().task(task_id)
            return None if record is None else record.healthy

        wait_until(lambda: health() is True, 30.0, "the first healthy result")
        record = scheduler.snapshot().task(task_id)
        assert record is not None and record.state == "TASK_RUNNING"
        assert record.reason == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"

        make_unhealthy(master, task_id, marker)

        def killed() -> bool:
            record = scheduler.snapshot().task(task_id)
            return record is not None and record.state == "TASK_KILLED"

        wait_until(killed, 30.0, "the health check's kill")
        record = scheduler.snapshot().task(task_id)
        assert record is not None and record.healthy is False
        statuses = wait_until(
            lambda: (s := scheduler.state.statuses) and s[-1][0] == "TASK_KILLED" and s,
            5.0,
            "the hook to see the kill",
        )

    health_updates = [s for s in statuses if s[2] == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"]
    # Every result is a TASK_RUNNING update: one success, then each failure
    # until the one that kills (Mesos reports every failure, not only changes).
    assert health_updates[0] == ("TASK_RUNNING", True, "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED")
    failures = [s for s in health_updates if s[1] is False]
    assert failures[:2] == [("TASK_RUNNING", False, "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED")] * 2
    assert health_updates == [health_updates[0], *failures]
    states = [s[0] for s in statuses]
    assert states.index("TASK_KILLED") == len(states) - 1
    # The framework takes TASK_KILLING, so the executor sends it before the end.
    assert "TASK_KILLING" in states
    assert statuses[-1][1] is False


def test_a_task_that_never_passes_is_killed_after_its_grace_period(master: Master) -> None:
    """Failures inside the grace period are ignored; then they count and kill.

    Mesos: ``HealthCheckerProcess::failure`` ignores a failure while
    ``initializing`` and within ``grace_period_seconds`` of the start.
    """
    task_id = "never-healthy"
    check = m.HealthCheck(
        "COMMAND",
        command="false",
        delay_seconds=0.0,
        interval_seconds=0.3,
        consecutive_failures=1,
        grace_period_seconds=1.5,
    )
    payload = task_payload(
        "sleep 3600", labels={"labels": [{"key": "ark.sim/health", "value": "fail"}]}
    )
    request = m.TaskRequest(task_id, resources=RESOURCES, payload=payload, health_check=check)
    with run(master, "json", request) as scheduler:

        def running_at() -> float | None:
            record = scheduler.snapshot().task(task_id)
            return record.updated_at if record and record.state == "TASK_RUNNING" else None

        started = wait_until(running_at, 30.0, "the task running")

        def killed() -> float | None:
            record = scheduler.snapshot().task(task_id)
            return record.updated_at if record and record.state == "TASK_KILLED" else None

        ended = wait_until(killed, 30.0, "the kill after the grace period")
        record = scheduler.snapshot().task(task_id)
        assert record is not None and record.healthy is False
    # At least the grace period went by (the loop's clock; a little slack).
    assert ended - started >= 1.0


class KillWhenHealthy(Watch):
    """Kills its task once healthy: its check says the task is set up."""

    def status_update(self, state: Seen, status: m.TaskStatus, framework: Snapshot) -> Step[Seen]:
        state, _ = super().status_update(state, status, framework)
        return state, [m.Kill(status.task_id)] if status.healthy else []


@pytest.mark.parametrize(("grace", "at_least", "under"), [(1.0, 0.8, 2.5), (None, 2.5, 6.0)])
def test_a_task_that_ignores_sigterm_dies_at_its_kill_policy_s_grace(
    master: Master, grace: float | None, at_least: float, under: float
) -> None:
    """SIGKILL comes ``kill_policy.grace_period`` after SIGTERM, 3 s without a
    policy (Mesos's command executor: ``kill()`` and ``escalated()``). The
    task is killed once its health check finds the trap set: a kill that
    comes before the shell runs ends it at once."""
    task_id = f"stubborn-{grace}"
    payload = task_payload(
        "trap '' TERM; touch trapped; while :; do sleep 0.1; done",
        labels={"labels": [{"key": "ark.sim/kill", "value": "inf"}]},
    )
    policy = None if grace is None else m.KillPolicy(grace_period_seconds=grace)
    check = m.HealthCheck(
        "COMMAND", command="test -f trapped", delay_seconds=0.0, interval_seconds=0.2
    )
    request = m.TaskRequest(
        task_id, resources=RESOURCES, payload=payload, health_check=check, kill_policy=policy
    )
    driver = V1Driver(
        master.url.removeprefix("http://"),
        {
            "name": "ark-kill-policy",
            "user": "root",
            "capabilities": [{"type": "TASK_KILLING_STATE"}],
        },
    )
    with Scheduler(KillWhenHealthy(request), Seen(), driver, reconcile_seconds=None) as scheduler:

        def at(state: str) -> float | None:
            record = scheduler.snapshot().task(task_id)
            return record.updated_at if record and record.state == state else None

        killing = wait_until(lambda: at("TASK_KILLING"), 30.0, "TASK_KILLING")
        killed = wait_until(lambda: at("TASK_KILLED"), 30.0, "TASK_KILLED")
    assert at_least <= killed - killing < under


class Reconciled(Watch):
    """Asks for reconciliation once its task is healthy."""

    def status_update(self, state: Seen, status: m.TaskStatus, framework: Snapshot) -> Step[Seen]:
        state, _ = super().status_update(state, status, framework)
        asked = status.healthy and status.reason != "REASON_RECONCILIATION"
        return state, [m.Reconcile()] if asked else []


def test_reconciliation_answers_carry_the_last_health(master: Master, marker: Path) -> None:
    """The master answers with the health of the task's last status (Mesos's
    ``getTaskHealth`` in ``src/common/protobuf_utils.cpp``), so a new leader
    learns it with the state."""
    task_id = "reconciled"
    check = m.HealthCheck(
        "COMMAND", command=f"test -f {marker}", delay_seconds=0.0, interval_seconds=0.5
    )
    request = m.TaskRequest(
        task_id, resources=RESOURCES, payload=task_payload("sleep 3600"), health_check=check
    )
    driver = V1Driver(master.url.removeprefix("http://"), {"name": "ark-health", "user": "root"})
    with Scheduler(Reconciled(request), Seen(), driver, reconcile_seconds=None) as scheduler:
        answer = wait_until(
            lambda: [s for s in scheduler.state.statuses if s[2] == "REASON_RECONCILIATION"],
            30.0,
            "a reconciliation answer",
        )
    assert answer[0] == ("TASK_RUNNING", True, "REASON_RECONCILIATION")


class FakeLoop:
    """Just enough of an event loop to step a checker through time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Callable[[], None], list[bool]]] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        cancelled = [False]
        self.timers.append((self.now + delay, callback, cancelled))

        class Handle:
            def cancel(self) -> None:
                cancelled[0] = True

        return Handle()

    def run_until(self, until: float) -> None:
        while True:
            due = sorted((t for t in self.timers if not t[2][0]), key=lambda t: t[0])
            if not due or due[0][0] > until:
                self.now = until
                return
            timer = due[0]
            self.timers.remove(timer)
            self.now = timer[0]
            timer[1]()


def checker(passing: Callable[[float], bool], **check: Any) -> list[tuple[float, bool, bool]]:
    """The results a checker reports over 6 s: ``(time, healthy, kill)``."""
    loop = FakeLoop()
    reports: list[tuple[float, bool, bool]] = []
    HealthChecker(
        {"delay_seconds": 1.0, "interval_seconds": 1.0, **check},
        loop,  # type: ignore[arg-type]
        lambda: passing(loop.now),
        lambda healthy, kill: reports.append((loop.now, healthy, kill)),
    )
    loop.run_until(6.0)
    return reports


def test_the_simulator_s_checker_follows_mesos_s_schedule() -> None:
    """``HealthCheckerProcess``: a success on the first and after failures only,
    every failure reported, those before the first success ignored within
    the grace period, ``kill`` from the failure that makes the count."""
    never = checker(lambda t: False, grace_period_seconds=2.5, consecutive_failures=2)
    assert never[:2] == [(3.0, False, False), (4.0, False, True)]
    flaky = checker(lambda t: t != 3.0, grace_period_seconds=10.0)
    assert flaky == [(1.0, True, False), (3.0, False, False), (4.0, True, False)]
