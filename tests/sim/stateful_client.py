"""Raw v1 calls for reservations, persistent volumes, operation feedback and
maintenance, shared by the stateful conformance tests (Ark's core side is
not used: these check the masters' wire behaviour)."""

from __future__ import annotations

import json
import time
from typing import Any

from masters import Master
from sim_client import Subscriber, request

ROLE = "db"

#: A framework of role ``db`` that understands reservation refinement, as
#: Mesos's tests subscribe theirs (``DEFAULT_FRAMEWORK_INFO`` with a role).
FRAMEWORK_INFO: dict[str, Any] = {
    "user": "root",
    "name": "stateful-conformance",
    "roles": [ROLE],
    "capabilities": [{"type": "MULTI_ROLE"}, {"type": "RESERVATION_REFINEMENT"}],
}


def scalar(name: str, value: float, **extra: Any) -> dict[str, Any]:
    """An unreserved scalar ``Resource``."""
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}, **extra}


def reserved(name: str, value: float, role: str = ROLE, **extra: Any) -> dict[str, Any]:
    """A scalar dynamically reserved for ``role`` (the refinement format)."""
    return scalar(name, value, reservations=[{"type": "DYNAMIC", "role": role}], **extra)


def volume(size: float, persistence_id: str, role: str = ROLE) -> dict[str, Any]:
    """A persistent volume of ``size`` MB of disk reserved for ``role``."""
    return reserved(
        "disk",
        size,
        role,
        disk={
            "persistence": {"id": persistence_id},
            "volume": {"container_path": "data", "mode": "RW"},
        },
    )


def subscribe(master: Master, info: dict[str, Any] | None = None, **kw: Any) -> Subscriber:
    """A subscribed framework (``FRAMEWORK_INFO`` unless told)."""
    sub = Subscriber(master.url, dict(info or FRAMEWORK_INFO), **kw)
    assert sub.status == 200, sub.body
    return sub


def accept(sub: Subscriber, offer: dict[str, Any], *operations: dict[str, Any]) -> None:
    """ACCEPT one offer with ``operations``; the rest is refused for no time."""
    code, body = sub.call(
        {
            "type": "ACCEPT",
            "accept": {
                "offer_ids": [offer["id"]],
                "operations": list(operations),
                "filters": {"refuse_seconds": 0},
            },
        }
    )
    assert code == 202, body


def operation(
    kind: str, resources: list[dict[str, Any]], op_id: str | None = None
) -> dict[str, Any]:
    """An offer operation on resources (RESERVE, UNRESERVE, CREATE, DESTROY)."""
    field = kind.lower()
    listed = "volumes" if kind in ("CREATE", "DESTROY") else "resources"
    out: dict[str, Any] = {"type": kind, field: {listed: resources}}
    if op_id is not None:
        out["id"] = {"value": op_id}
    return out


def launch(
    offer: dict[str, Any], task_id: str, resources: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """A LAUNCH operation of one long-running command task."""
    task = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": resources,
        "command": {"value": "sleep 1000"},
        **extra,
    }
    return {"type": "LAUNCH", "launch": {"task_infos": [task]}}


def operation_statuses(sub: Subscriber, op_id: str) -> list[dict[str, Any]]:
    """Every status of operation ``op_id`` received so far."""
    return [
        e["update_operation_status"]["status"]
        for e in sub.of_type("UPDATE_OPERATION_STATUS")
        if e["update_operation_status"]["status"].get("operation_id", {}).get("value") == op_id
    ]


def wait_operation(sub: Subscriber, op_id: str, state: str, *, count: int = 1) -> dict[str, Any]:
    """The ``count``-th status of ``op_id`` in ``state``, waiting for it."""

    def nth(event: dict[str, Any]) -> bool:
        status = event["update_operation_status"]["status"]
        return status.get("operation_id", {}).get("value") == op_id and status["state"] == state

    deadline = time.monotonic() + 15
    while True:
        found = [e for e in sub.of_type("UPDATE_OPERATION_STATUS") if nth(e)]
        if len(found) >= count:
            status: dict[str, Any] = found[count - 1]["update_operation_status"]["status"]
            return status
        assert time.monotonic() < deadline, (op_id, state, operation_statuses(sub, op_id))
        time.sleep(0.02)


def has_volume(offer: dict[str, Any], persistence_id: str) -> bool:
    """Whether ``offer`` holds the persistent volume ``persistence_id``."""
    return any(
        r.get("disk", {}).get("persistence", {}).get("id") == persistence_id
        for r in offer["resources"]
    )


def reserved_in(offer: dict[str, Any]) -> list[dict[str, Any]]:
    """The reserved resources of an offer (either format)."""
    return [
        r for r in offer["resources"] if r.get("reservations") or r.get("role") not in (None, "*")
    ]


def release_all(master: Master) -> None:
    """Destroy every volume and unreserve everything, through the operator API.

    A real master keeps reservations on its agents across tests, so each
    stateful test ends by giving them back (the simulator is fresh per test).
    """
    if master.is_sim:
        return
    deadline = time.monotonic() + 20
    while True:
        left = False
        for agent in master.get("/master/slaves")["slaves"]:
            full = agent.get("reserved_resources_full") or {}
            resources = [r for rs in full.values() for r in rs]
            volumes = [r for r in resources if "disk" in r]
            plain = [r for r in resources if "disk" not in r]
            agent_id = {"value": agent["id"]}
            if volumes:
                left = True
                _operator(
                    master,
                    {
                        "type": "DESTROY_VOLUMES",
                        "destroy_volumes": {"agent_id": agent_id, "volumes": volumes},
                    },
                )
            elif plain:
                left = True
                _operator(
                    master,
                    {
                        "type": "UNRESERVE_RESOURCES",
                        "unreserve_resources": {"agent_id": agent_id, "resources": plain},
                    },
                )
        if not left:
            return
        assert time.monotonic() < deadline, "reservations left on the real agents"
        time.sleep(0.2)


def _operator(master: Master, call: dict[str, Any]) -> int:
    status, _, _ = request(master.url, "POST", "/api/v1", json.dumps(call))
    return status


def wait_task(sub: Subscriber, task_id: str, state: str) -> dict[str, Any]:
    """The first update of ``task_id`` to ``state``, acknowledging every update
    on the way (an agent sends a task's next update only after that)."""
    acked: set[str] = getattr(sub, "_stateful_acked", set())
    sub._stateful_acked = acked  # type: ignore[attr-defined]
    deadline = time.monotonic() + 15
    while True:
        for status in sub.updates():
            uuid = status.get("uuid")
            if uuid and uuid not in acked:
                acked.add(uuid)
                sub.ack(status)
        found = [s for s in sub.updates(task_id) if s["state"] == state]
        if found:
            return found[0]
        assert time.monotonic() < deadline, (task_id, state, sub.updates(task_id))
        time.sleep(0.02)
