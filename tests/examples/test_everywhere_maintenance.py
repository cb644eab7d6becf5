"""The example under maintenance, end to end, on the simulator and a real Mesos.

An operator schedules a window on one agent's machine (the operator API's
UPDATE_MAINTENANCE_SCHEDULE). With the core's drain policy the example's copy
there is killed before the window, no copy runs there during it, Mesos's
inverse offer is accepted (the machine's status in GET_MAINTENANCE_STATUS),
``/state`` shows the agent under maintenance, and the copy comes back after
the window.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from test_everywhere_api import Stack, real_mesos, sim, three_agents

from ark import Config
from ark import messages as m
from ark.examples.everywhere.framework import Everywhere, EverywhereManager, TaskSpec
from ark.sim import Cluster
from sim.masters import Master, _leader_url
from sim.sim_client import request
from waiting import wait_until

__all__ = ["real_mesos"]  # the fixture, imported for this module's tests

#: Kill a copy this long before its agent's window.
MARGIN = 1.0
CONFIG = Config(backoff_seconds=0.05, maintenance="drain", maintenance_margin_seconds=MARGIN)


def _operator(master: Master, call: dict[str, Any]) -> dict[str, Any] | None:
    status, _, body = request(master.url, "POST", "/api/v1", json.dumps(call))
    assert status == 200, (status, body[:300])
    return json.loads(body) if body else None


def _schedule(master: Master, windows: list[dict[str, Any]]) -> None:
    _operator(
        master,
        {
            "type": "UPDATE_MAINTENANCE_SCHEDULE",
            "update_maintenance_schedule": {"schedule": {"windows": windows}},
        },
    )


def _machine(master: Master, agent_id: str) -> dict[str, str]:
    agent = {a["id"]: a for a in master.agents()}[agent_id]
    ip = agent["pid"].split("@", 1)[1].split(":", 1)[0]
    return {"hostname": agent["hostname"], "ip": ip}


@pytest.fixture(params=["sim", "mesos"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The example with the drain policy; the schedule is emptied afterwards."""
    if request.param == "sim":
        with Cluster(three_agents()) as cluster, Stack(sim(cluster), config=CONFIG) as s:
            wait_until(s.settled, 20, "a copy on every agent")
            yield s
        return
    master = Master("mesos", _leader_url(request.getfixturevalue("real_mesos")))
    master.teardown_frameworks()
    try:
        with Stack(master, config=CONFIG) as s:
            wait_until(s.settled, 30, "a copy on every agent")
            yield s
    finally:
        _schedule(master, [])
        master.teardown_frameworks()


def test_a_copy_leaves_before_the_window_and_comes_back_after(stack: Stack) -> None:
    master = stack.master
    agent = stack.agents()[0]
    before = stack.running_by_agent()[agent]
    # Far enough ahead for the inverse offer to arrive first, on a busy machine too.
    start = time.time() + 4.0
    duration = 6.0
    unavailability = {
        "start": {"nanoseconds": int(start * 1e9)},
        "duration": {"nanoseconds": int(duration * 1e9)},
    }
    _schedule(
        master, [{"machine_ids": [_machine(master, agent)], "unavailability": unavailability}]
    )

    def shown() -> bool:
        entry = {a["id"]: a for a in stack.state()["agents"]}[agent]
        return entry["maintenance"] is not None

    wait_until(shown, 10, "the agent under maintenance in /state")
    entry = {a["id"]: a for a in stack.state()["agents"]}[agent]
    assert entry["maintenance"]["duration"] == pytest.approx(duration)
    assert agent in stack.state()["maintenance"]

    # Killed before the window starts (at start - MARGIN), and accepted once gone.
    wait_until(
        lambda: agent not in stack.master_running_by_agent(), start + 3 - time.time(), "kill"
    )
    killed = [
        t for f in master.state()["frameworks"] for t in f["tasks"] + f.get("completed_tasks", [])
    ]
    assert any(t["id"] == before and t["state"] == "TASK_KILLED" for t in killed)

    def accepted() -> bool:
        answer = _operator(master, {"type": "GET_MAINTENANCE_STATUS"})
        assert answer is not None
        draining = answer["get_maintenance_status"]["status"].get("draining_machines", [])
        statuses = [s for d in draining for s in d.get("statuses", [])]
        return any(s["status"] == "ACCEPT" for s in statuses)

    wait_until(accepted, 10, "the inverse offer accepted")

    # During the window, nothing of ours runs there.
    while time.time() < start + duration - 1.0:
        assert agent not in stack.master_running_by_agent()
        time.sleep(0.5)
    # After it, the copy comes back; every other agent kept its copy throughout.
    wait_until(
        lambda: agent in stack.master_running_by_agent(), 30, "the copy back after the window"
    )
    assert stack.master_running_by_agent()[agent] != before
    wait_until(stack.settled, 20, "a copy on every agent again")


def test_the_manager_notes_windows_from_inverse_offers_and_offers() -> None:
    manager = EverywhereManager(TaskSpec())
    window = m.Unavailability(100.0, 60.0)
    inverse = [m.InverseOffer("i1", "a1", window)]
    snapshot: Any = None  # the hook reads nothing from it
    state, commands = manager.inverse_offers(Everywhere(), inverse, snapshot)
    assert (state.maintenance, list(commands)) == ({"a1": window}, [])
    # An offer of the agent without a window: the schedule no longer names it.
    offer = m.Offer("o1", "a1", "h1", [m.Resource("cpus", scalar=0.01)])
    state = msgspec.structs.replace(state, copies={"a1": "everywhere-a1-0"})

    class Framework:
        offer_count = 0

    state, _ = manager.offers(state, [offer], Framework())  # type: ignore[arg-type]
    assert state.maintenance == {}
