"""An unreachable strategy end to end: Ark's scheduler over the simulator and a real
Mesos (``faulty``: the real agent is partitioned with SIGSTOP, healed with SIGCONT).

The task's agent is partitioned: Mesos reports TASK_UNREACHABLE (Ark subscribes
PARTITION_AWARE), Ark replaces the task on the other agent after
``inactive_after_seconds``; the agent comes back and re-registers, Mesos reports
the old task TASK_RUNNING again (``Master::__reregisterSlave``), and Ark kills
the copy the kill selection names (Marathon's ``unreachableStrategy``).
"""

from __future__ import annotations

from typing import Any

import pytest
from agent_faults import FaultyMaster, faulty

from ark import Scheduler, StateManager, Step
from ark import messages as m
from ark.drivers import V1Driver
from ark.wire import task_payload
from waiting import wait_until

__all__ = ["faulty"]

SMALL = [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32.0)]


class OneService(StateManager[int]):
    """Asks for one long-running task with an unreachable strategy."""

    def __init__(self, strategy: m.UnreachableStrategy) -> None:
        self.strategy = strategy

    def registered(self, state: int, framework_id: str, framework: Any) -> Step[int]:
        if state:
            return state, ()
        request = m.TaskRequest(
            "web", SMALL, payload=task_payload("sleep 3600"), unreachable=self.strategy
        )
        return 1, [m.Request([request])]


def states(scheduler: Scheduler[int]) -> dict[str, str]:
    return {t.task_id: t.state for t in scheduler.snapshot().view().tasks}


def running_on_master(faulty: FaultyMaster) -> list[str]:
    tasks = [t for f in faulty.master.state()["frameworks"] for t in f["tasks"]]
    return sorted(t["id"] for t in tasks if t["state"] == "TASK_RUNNING")


@pytest.mark.parametrize(
    ("selection", "survivor", "killed"),
    [("YoungestFirst", "web", "web.1"), ("OldestFirst", "web.1", "web")],
)
def test_an_unreachable_task_is_replaced_and_the_selected_copy_killed_when_it_returns(
    faulty: FaultyMaster, selection: Any, survivor: str, killed: str
) -> None:
    strategy = m.UnreachableStrategy(1.0, 600.0, selection)
    driver = V1Driver(faulty.url, {"name": "unreachable", "user": "test"})
    with Scheduler(OneService(strategy), 0, driver, reconcile_seconds=None) as scheduler:
        wait_until(lambda: states(scheduler).get("web") == "TASK_RUNNING", 30, "web running")
        record = scheduler.snapshot().task("web")
        assert record is not None and record.agent_id is not None
        old_agent = record.agent_id
        faulty.partition_agent(old_agent)
        try:
            wait_until(
                lambda: states(scheduler).get("web") == "TASK_UNREACHABLE", 30, "unreachable"
            )
            wait_until(lambda: states(scheduler).get("web.1") == "TASK_RUNNING", 30, "replaced")
            assert scheduler.snapshot().unreachable() == {"web": "web.1"}
            replacement = scheduler.snapshot().task("web.1")
            assert replacement is not None and replacement.agent_id != old_agent
        finally:
            faulty.heal_agent(old_agent)
        wait_until(lambda: states(scheduler).get(killed) == "TASK_KILLED", 60, f"{killed} killed")
        assert states(scheduler)[survivor] == "TASK_RUNNING"
        assert scheduler.snapshot().unreachable() == {}
        wait_until(lambda: running_on_master(faulty) == [survivor], 30, f"only {survivor} runs")
