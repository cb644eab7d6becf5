"""The ``/master/state`` endpoint: the master's state in Mesos's JSON shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .frameworks import Framework, Task
from .resources import Resources
from .tasks import is_terminal

if TYPE_CHECKING:
    from .master import Master

__all__ = ["master_state"]


def master_state(master: Master, leader_info: dict[str, Any] | None) -> dict[str, Any]:
    """The ``/master/state`` document."""
    agents = []
    for master_agent in master.agents.values():
        agent = master_agent.agent
        agents.append(
            {
                "id": agent.id,
                "pid": f"slave(1)@127.0.0.1:{agent.port}",
                "hostname": agent.hostname,
                "port": agent.port,
                "registered_time": master_agent.registered_time,
                "resources": agent.resources.to_state(),
                "used_resources": master_agent.used.to_state(),
                "offered_resources": master_agent.offered.to_state(),
                "reserved_resources": {
                    role: agent.resources.reserved(role).to_state()
                    for role in sorted(agent.resources.roles())
                },
                "unreserved_resources": agent.resources.unreserved().to_state(),
                "attributes": {
                    k: v if isinstance(v, str) else float(v) for k, v in agent.attributes.items()
                },
                "active": agent.reachable,
                "version": master.info["version"],
                # RESOURCE_PROVIDER and AGENT_OPERATION_FEEDBACK: operations on
                # the agent's resources get feedback (``Master::accept``).
                "capabilities": [
                    "MULTI_ROLE",
                    "HIERARCHICAL_ROLE",
                    "RESERVATION_REFINEMENT",
                    "RESOURCE_PROVIDER",
                    "AGENT_OPERATION_FEEDBACK",
                ],
            }
        )
    frameworks = [_framework_state(f) for f in master.frameworks.values()]
    completed = [_framework_state(f) for f in master.completed_frameworks]
    address = master.info["address"]
    leader = leader_info or master.info
    return {
        "version": master.info["version"],
        "git_sha": "",
        "git_tag": master.info["version"],
        "build_date": "",
        "build_time": 0.0,
        "build_user": "ark-sim",
        "start_time": master.start_time,
        "elected_time": master.elected_time,
        "id": master.id,
        "pid": master.info["pid"],
        "hostname": address["hostname"],
        "capabilities": ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
        "activated_slaves": sum(1 for a in master.agents.values() if a.agent.reachable),
        "deactivated_slaves": 0,
        "unreachable_slaves": len(master.registry.unreachable),
        "leader": leader["pid"],
        "leader_info": leader,
        "cluster": "ark-sim",
        "flags": {
            "heartbeat_interval": f"{master.timing.heartbeat_interval}secs",
            "allocation_interval": f"{master.timing.allocation_interval}secs",
            "agent_ping_timeout": f"{master.timing.agent_ping_timeout}secs",
        },
        "slaves": agents,
        "frameworks": frameworks,
        "completed_frameworks": completed,
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }


def _framework_state(framework: Framework) -> dict[str, Any]:
    info = framework.info
    used = Resources()
    for task in framework.tasks.values():
        if not is_terminal(task.state):
            used = used + task.resources
    offered = Resources()
    for offer in framework.offers.values():
        offered = offered + offer.resources
    return {
        "id": framework.id,
        "name": info.get("name", ""),
        "user": info.get("user", ""),
        "hostname": info.get("hostname", ""),
        "webui_url": info.get("webui_url", ""),
        "role": framework.role,
        "roles": info.get("roles", [framework.role]),
        "principal": info.get("principal", ""),
        "active": framework.connected and not framework.suppressed,
        "connected": framework.connected,
        "recovered": framework.recovered,
        "registered_time": framework.registered_time,
        "reregistered_time": framework.registered_time,
        "unregistered_time": framework.unregistered_time,
        "failover_timeout": info.get("failover_timeout", 0.0),
        "checkpoint": bool(info.get("checkpoint", False)),
        "capabilities": [c.get("type") for c in info.get("capabilities", [])],
        "resources": (used + offered).to_state(),
        "used_resources": used.to_state(),
        "offered_resources": offered.to_state(),
        "tasks": [_task_state(t) for t in framework.tasks.values()],
        "unreachable_tasks": [_task_state(t) for t in framework.unreachable_tasks.values()],
        "completed_tasks": [_task_state(t) for t in framework.completed_tasks],
        "offers": [
            {
                "id": o.id,
                "framework_id": o.framework_id,
                "slave_id": o.agent_id,
                "resources": o.resources.to_state(),
            }
            for o in framework.offers.values()
        ],
        "executors": [],
        "completed_executors": [],
    }


def _allocation_role(info: dict[str, Any]) -> str | None:
    resources = info.get("resources")
    if not isinstance(resources, list) or not resources or not isinstance(resources[0], dict):
        return None
    allocation = resources[0].get("allocation_info")
    role = allocation.get("role") if isinstance(allocation, dict) else None
    return role if isinstance(role, str) else None


def _task_state(task: Task) -> dict[str, Any]:
    """The task in ``/master/state``'s shape."""
    out: dict[str, Any] = {
        "id": task.id,
        "name": task.info.get("name", ""),
        "framework_id": task.framework_id,
        "executor_id": "",
        "slave_id": task.agent_id,
        "agent_id": task.agent_id,
        "state": task.state,
        "resources": task.resources.to_state(),
        "statuses": [{"state": s["state"], "timestamp": s["timestamp"]} for s in task.statuses],
    }
    role = _allocation_role(task.info)
    if role is not None:
        # Mesos's ``json(Task)``: the role of the first resource's allocation.
        out["role"] = role
    if "labels" in task.info:
        out["labels"] = task.info["labels"].get("labels", [])
    return out
