"""Ark's roles on both masters: a MULTI_ROLE framework's requests go on offers
allocated to their role and are accepted in it, and UPDATE_FRAMEWORK changes
the roles of a running framework (Mesos's ``Master::updateFramework``)."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest
from masters import Master
from sim_client import Subscriber

from ark import Driver, Scheduler, StateManager
from ark import messages as m
from ark.drivers import PymesosDriver, V1Driver
from ark.wire import task_payload
from waiting import wait_until

PAYLOAD = task_payload("sleep 3600")
RESOURCES = [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32)]


class Nothing(msgspec.Struct, frozen=True):
    pass


def request(task_id: str, role: str | None) -> m.TaskRequest:
    return m.TaskRequest(task_id, RESOURCES, payload=PAYLOAD, role=role)


def driver(master: Master, roles: list[str], encoding: str) -> V1Driver:
    return V1Driver(
        master.url.removeprefix("http://"),
        {"name": "ark-roles", "user": "root", "roles": roles},
        encoding=encoding,  # type: ignore[arg-type]
    )


def scheduler(driver: Driver) -> Scheduler[Nothing]:
    return Scheduler(StateManager(), Nothing(), driver, reconcile_seconds=None)


def reason(s: Scheduler[Nothing], task_id: str) -> str:
    return s.snapshot().pending().get(task_id) or ""


def running(s: Scheduler[Nothing], task_id: str) -> bool:
    record = s.snapshot().task(task_id)
    return record is not None and record.state == "TASK_RUNNING"


def framework_state(master: Master, framework_id: str) -> dict[str, Any]:
    frameworks = master.get("/master/state")["frameworks"]
    return next(f for f in frameworks if f["id"] == framework_id)


def task_roles(master: Master, framework_id: str) -> dict[str, str]:
    """Each task's allocation role, as ``/master/state`` shows it."""
    return {t["id"]: t["role"] for t in framework_state(master, framework_id)["tasks"]}


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_requests_are_placed_and_accepted_in_their_role(master: Master, encoding: str) -> None:
    """Mesos's ``validateAllocationRole`` and ``injectAllocationInfo``: each
    offer is allocated to one of the framework's roles, and the ACCEPT's
    resources carry that role; a request of a role the framework does not
    hold waits, with the reason."""
    with scheduler(driver(master, ["web", "batch"], encoding)) as s:
        s.push(
            m.Request(
                [request("web-1", "web"), request("batch-1", "batch"), request("ops-1", "ops")]
            )
        )
        wait_until(lambda: running(s, "web-1") and running(s, "batch-1"), 30, "both running")
        framework_id = s.snapshot().framework_id
        assert framework_id is not None
        assert task_roles(master, framework_id) == {"web-1": "web", "batch-1": "batch"}
        assert reason(s, "ops-1").startswith("not offered to role ops on")


@pytest.mark.parametrize("kind", ["v1", "pymesos"])
def test_update_framework_changes_the_roles_of_a_running_framework(
    master: Master, kind: str
) -> None:
    """``Master::updateFramework``: 200 OK, the new roles at once, no failover;
    offers come for an added role. Through either driver."""
    if kind == "pymesos":
        pytest.importorskip("pymesos")
        chosen: Driver = PymesosDriver(
            master.url.removeprefix("http://"), {"name": "ark-roles", "roles": ["web"]}
        )
    else:
        chosen = driver(master, ["web"], "protobuf")
    with scheduler(chosen) as s:
        s.push(m.Request([request("batch-1", "batch")]))
        wait_until(
            lambda: reason(s, "batch-1").startswith("not offered to role batch"),
            30,
            "batch-1 pending for its role",
        )
        framework_id = s.snapshot().framework_id
        assert framework_id is not None
        s.push(m.UpdateFramework(roles=["web", "batch"], failover_timeout=3600.0))
        wait_until(lambda: running(s, "batch-1"), 30, "batch-1 running in the new role")
        state = framework_state(master, framework_id)
        assert sorted(state["roles"]) == ["batch", "web"]
        assert state["failover_timeout"] == 3600.0
        assert s.snapshot().framework_id == framework_id
        if isinstance(chosen, V1Driver):
            assert chosen.subscriptions == 0  # the first stream never ended: no failover


QUIET_SECONDS = 0.5  # Several allocation cycles of either master.
MULTI_ROLE = [{"type": "MULTI_ROLE"}]


def test_update_framework_rescinds_offers_of_a_role_left_and_suppresses_by_role(
    master: Master,
) -> None:
    """``Master::updateFramework`` rescinds the offers allocated to roles no
    longer held; ``suppressed_roles`` stops offers of those roles only."""
    info = {"user": "u", "name": "roles", "roles": ["a", "b"], "capabilities": MULTI_ROLE}
    sub = Subscriber(master.url, info)
    try:
        framework_id = sub.framework_id
        by_role = wait_until(
            lambda: (
                roles
                if {"a", "b"}
                <= set(roles := {o["allocation_info"]["role"]: o for o in sub.offers()})
                else None
            ),
            what="offers of both roles",
        )
        info["id"] = {"value": framework_id}

        def update(roles: list[str], suppressed: list[str]) -> tuple[int, bytes]:
            body = {"framework_info": dict(info, roles=roles), "suppressed_roles": suppressed}
            return sub.call({"type": "UPDATE_FRAMEWORK", "update_framework": body})

        assert update(["a"], []) == (200, b"")
        left = by_role["b"]["id"]["value"]
        sub.wait_event("RESCIND", lambda e: e["rescind"]["offer_id"]["value"] == left)
        kept = by_role["a"]["id"]["value"]
        assert kept not in {e["rescind"]["offer_id"]["value"] for e in sub.of_type("RESCIND")}

        assert update(["a", "b"], ["a"]) == (200, b"")
        ids = [{"value": kept}]
        decline = {"offer_ids": ids, "filters": {"refuse_seconds": 0}}
        assert sub.call({"type": "DECLINE", "decline": decline})[0] == 202
        seen = len(sub.offers())
        wait_until(lambda: len(sub.offers()) > seen, what="an offer after the update")
        time.sleep(QUIET_SECONDS)
        assert {o["allocation_info"]["role"] for o in sub.offers()[seen:]} == {"b"}
    finally:
        sub.close()


def test_a_launch_in_another_role_than_its_offer_is_a_task_error(master: Master) -> None:
    """The offered resources are allocated to the offer's role: resources
    allocated to another are more than available (``Master::_accept``)."""
    info = {"user": "root", "name": "roles", "roles": ["a", "b"], "capabilities": MULTI_ROLE}
    sub = Subscriber(master.url, info)
    try:
        offer = sub.wait_offer(lambda o: o["allocation_info"]["role"] == "a")
        cpus = {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}
        task = {
            "name": "t",
            "task_id": {"value": "t1"},
            "agent_id": offer["agent_id"],
            "resources": [dict(cpus, allocation_info={"role": "b"})],
            "command": {"value": "sleep 5"},
        }
        operation = {"type": "LAUNCH", "launch": {"task_infos": [task]}}
        accept = {"offer_ids": [offer["id"]], "operations": [operation]}
        assert sub.call({"type": "ACCEPT", "accept": accept})[0] == 202
        status = sub.wait_update("t1", "TASK_ERROR", reason="REASON_TASK_INVALID")
        assert status["message"].startswith(
            "Total resources cpus(allocated: b):0.1 required by task and its executor "
            "is more than available "
        )
        assert "cpus(allocated: a):" in status["message"]
    finally:
        sub.close()
