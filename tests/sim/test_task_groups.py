"""A pod end to end: Ark places it as one unit and Mesos runs it as a task group.

Each check runs on the simulator and on a real Mesos, whose agents run the
group under ``mesos-default-executor``. What a group does when one member
ends follows Mesos's ``DefaultExecutor::waited`` (src/launcher/
default_executor.cpp): a member that ends TASK_FAILED or TASK_KILLED (a
scheduler's KILL of one member included) kills every other live member.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from masters import Master

from ark import Scheduler, StateManager
from ark import messages as m
from ark.drivers import V1Driver
from ark.pods import PodTask, pod
from ark.wire import task_payload
from waiting import wait_until

SMALL = [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32.0)]


def member(
    task_id: str, command: str, *, seconds: float | None = None, outcome: str = "TASK_FAILED"
) -> PodTask:
    """A member running ``command``; on the simulator it ends after ``seconds`` in ``outcome``."""
    labels = []
    if seconds is not None:
        labels = [
            {"key": "ark.sim/duration", "value": str(seconds)},
            {"key": "ark.sim/outcome", "value": outcome},
        ]
    payload = task_payload(command, labels={"labels": labels})
    return PodTask(task_id, SMALL, name=task_id, payload=payload)


def run(master: Master, encoding: str = "auto") -> Scheduler[None]:
    driver = V1Driver(
        master.url.removeprefix("http://"),
        {"name": "ark-pods", "user": "root", "capabilities": [{"type": "TASK_KILLING_STATE"}]},
        encoding=encoding,  # type: ignore[arg-type]
    )
    return Scheduler(StateManager[None](), None, driver, reconcile_seconds=None)


@pytest.fixture
def scheduler(master: Master) -> Iterator[Scheduler[None]]:
    with run(master) as s:
        yield s


def states(scheduler: Scheduler[None], task_ids: Sequence[str]) -> dict[str, str | None]:
    snapshot = scheduler.snapshot()
    records = {t: snapshot.task(t) for t in task_ids}
    return {t: r.state if r is not None else None for t, r in records.items()}


def wait_for(
    scheduler: Scheduler[None], wanted: dict[str, str], timeout: float = 30.0
) -> dict[str, str | None]:
    def reached() -> dict[str, str | None] | None:
        now = states(scheduler, list(wanted))
        return now if now == wanted else None

    return wait_until(reached, timeout, f"pod members in {wanted}")


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_a_pod_is_placed_and_killed_as_one(master: Master, encoding: str) -> None:
    """One LAUNCH_GROUP on one agent; a Kill naming the pod kills every member.

    In both encodings: the simulator once refused a LAUNCH_GROUP over protobuf.
    """
    with run(master, encoding) as scheduler:
        placed_and_killed_as_one(scheduler)


def placed_and_killed_as_one(scheduler: Scheduler[None]) -> None:
    members = [member("web.app", "sleep 3600"), member("web.proxy", "sleep 3600")]
    scheduler.push(m.Request([pod("web", members)]))
    running = {"web.app": "TASK_RUNNING", "web.proxy": "TASK_RUNNING"}
    wait_for(scheduler, running)
    view = scheduler.snapshot().view()
    assert view.pods == [("web.app", "web"), ("web.proxy", "web")]
    agents = {t.agent_id for t in view.tasks}
    assert len(agents) == 1 and None not in agents
    scheduler.push(m.Kill("web"))
    wait_for(scheduler, {"web.app": "TASK_KILLED", "web.proxy": "TASK_KILLED"})


def used(master: Master, agent_id: str) -> tuple[float, float, float]:
    """The agent's used cpus, mem and disk, as ``/master/state`` says."""
    [agent] = [a for a in master.agents() if a["id"] == agent_id]
    r = agent["used_resources"]
    return round(r["cpus"], 3), round(r["mem"], 3), round(r["disk"], 3)


def test_the_executor_s_resources_are_held_until_its_last_task_ends(
    master: Master, scheduler: Scheduler[None]
) -> None:
    """Mesos frees a task's resources when it ends, its executor's when the executor exits."""
    members = [
        member("job.prep", "sleep 1", seconds=1.0, outcome="TASK_FINISHED"),
        member("job.main", "sleep 3600"),
    ]
    scheduler.push(m.Request([pod("job", members)]))
    wait_for(scheduler, {"job.prep": "TASK_RUNNING", "job.main": "TASK_RUNNING"})
    record = scheduler.snapshot().task("job.main")
    assert record is not None and record.agent_id is not None
    agent_id = record.agent_id
    # Two members (0.1 cpus, 32 MB each) and the default executor (0.1, 32, 10 of disk).
    assert used(master, agent_id) == (0.3, 96.0, 10.0)
    # A member that finished leaves the others running, and its executor too.
    wait_for(scheduler, {"job.prep": "TASK_FINISHED", "job.main": "TASK_RUNNING"})
    wait_until(lambda: used(master, agent_id) == (0.2, 64.0, 10.0), 10.0, "one member freed")
    scheduler.push(m.Kill("job"))
    wait_for(scheduler, {"job.prep": "TASK_FINISHED", "job.main": "TASK_KILLED"})
    wait_until(lambda: used(master, agent_id) == (0.0, 0.0, 0.0), 10.0, "the executor freed")


def test_a_failing_member_takes_its_pod_down(master: Master, scheduler: Scheduler[None]) -> None:
    """The default executor kills the rest of a group when one member fails."""
    members = [member("db.init", "sleep 1; exit 3", seconds=1.0), member("db.main", "sleep 3600")]
    scheduler.push(m.Request([pod("db", members)]))
    wait_for(scheduler, {"db.init": "TASK_FAILED", "db.main": "TASK_KILLED"})


def test_killing_one_member_kills_its_pod(master: Master, scheduler: Scheduler[None]) -> None:
    """A KILL of one member ends TASK_KILLED, and the executor kills the others."""
    members = [member("api.app", "sleep 3600"), member("api.log", "sleep 3600")]
    scheduler.push(m.Request([pod("api", members)]))
    wait_for(scheduler, {"api.app": "TASK_RUNNING", "api.log": "TASK_RUNNING"})
    scheduler.push(m.Kill("api.log"))
    wait_for(scheduler, {"api.app": "TASK_KILLED", "api.log": "TASK_KILLED"})


def test_a_member_failing_its_health_check_takes_its_pod_down(master: Master) -> None:
    """A member's COMMAND check runs under the default executor (its
    ``HealthChecker`` for a nested container); after ``consecutive_failures``
    it kills the member (TASK_KILLED, ``healthy: false``), and the group goes
    with it (``DefaultExecutor::taskHealthUpdated``, then ``waited``)."""
    with tempfile.TemporaryDirectory() as d:
        marker = Path(d) / "healthy"
        marker.touch()
        check = m.HealthCheck(
            "COMMAND",
            command=f"test -f {marker}",
            delay_seconds=0.0,
            interval_seconds=0.5,
            timeout_seconds=5.0,
            consecutive_failures=2,
            grace_period_seconds=0.0,
        )
        checked = PodTask(
            "db.app",
            SMALL,
            payload=task_payload("sleep 3600"),
            health_check=check,
            kill_policy=m.KillPolicy(grace_period_seconds=1.0),
        )
        members = [checked, member("db.logs", "sleep 3600")]
        with run(master) as scheduler:
            scheduler.push(m.Request([pod("db", members)]))

            def healthy() -> bool:
                record = scheduler.snapshot().task("db.app")
                return record is not None and record.healthy is True

            wait_until(healthy, 30.0, "the member's first healthy result")
            marker.unlink()
            if master.cluster is not None:
                master.cluster.set_health("db.app", passing=False)
            wait_for(scheduler, {"db.app": "TASK_KILLED", "db.logs": "TASK_KILLED"})
            record = scheduler.snapshot().task("db.app")
            assert record is not None and record.healthy is False
