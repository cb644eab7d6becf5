"""What the master knows of each framework: its subscription, offers and tasks."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any, Protocol

from .resources import Resources
from .tasks import make_status

__all__ = [
    "EventSink",
    "Framework",
    "Offer",
    "Task",
    "error_event",
    "master_update",
    "update_event",
]

# Mesos keeps this many completed tasks per framework for /master/state.
_MAX_COMPLETED_TASKS = 1000


class EventSink(Protocol):
    """One subscriber's event stream, as the transport provides it."""

    stream_id: str
    #: Seconds every event is held back (the "delay events" fault).
    delay: float

    def send(self, event: dict[str, Any]) -> None:
        """Queue ``event`` (v1 JSON shape) for the subscriber."""

    def close(self) -> None:
        """End the stream cleanly."""

    def abort(self) -> None:
        """Drop the connection, as a crashed master or a network fault does."""


class Offer:
    """An outstanding offer of one agent's resources to one framework."""

    __slots__ = ("agent_id", "framework_id", "id", "resources", "role", "timeout")

    def __init__(
        self,
        offer_id: str,
        framework_id: str,
        agent_id: str,
        resources: Resources,
        role: str = "*",
    ):
        self.id = offer_id
        self.framework_id = framework_id
        self.agent_id = agent_id
        self.resources = resources
        #: The role the resources are allocated to (``Offer.allocation_info``).
        self.role = role
        self.timeout: asyncio.TimerHandle | None = None


class Task:
    """A task as the master knows it."""

    __slots__ = (
        "agent_id",
        "executor_id",
        "framework_id",
        "id",
        "info",
        "resources",
        "state",
        "status",
        "statuses",
        "update_state",
    )

    def __init__(
        self,
        task_id: str,
        framework_id: str,
        agent_id: str,
        info: dict[str, Any],
        resources: Resources,
        executor_id: str,
        state: str = "TASK_STAGING",
    ) -> None:
        self.id = task_id
        self.framework_id = framework_id
        self.agent_id = agent_id
        self.info = info
        self.resources = resources
        self.executor_id = executor_id
        #: Latest state the master heard of.
        self.state = state
        #: State of the latest update forwarded to the framework (Mesos's
        #: ``status_update_state``): what reconciliation answers.
        self.update_state: str | None = None
        self.status: dict[str, Any] | None = None
        self.statuses: list[dict[str, Any]] = []


class Framework:
    """A framework known to the master, subscribed or not."""

    def __init__(self, framework_id: str, info: dict[str, Any]) -> None:
        self.id = framework_id
        self.info = info
        self.sink: EventSink | None = None
        #: Roles not offered resources (SUPPRESS, or ``suppressed_roles``).
        self.suppressed_roles: set[str] = set()
        #: Turns of the roles offered to, so that each role gets offers.
        self.role_turn = 0
        #: agent id -> refused resources of that agent, each with the time it ends.
        self.filters: dict[str, list[tuple[Resources, float]]] = {}
        self.offers: dict[str, Offer] = {}
        self.tasks: dict[str, Task] = {}
        self.unreachable_tasks: dict[str, Task] = {}
        self.completed_tasks: deque[Task] = deque(maxlen=_MAX_COMPLETED_TASKS)
        self.heartbeat: asyncio.TimerHandle | None = None
        self.failover: asyncio.TimerHandle | None = None
        self.registered_time = time.time()
        self.unregistered_time = 0.0
        #: Learnt from a re-registering agent, not subscribed since.
        self.recovered = False

    @property
    def connected(self) -> bool:
        """Whether a subscription stream is open."""
        return self.sink is not None

    @property
    def partition_aware(self) -> bool:
        """Whether the framework has the PARTITION_AWARE capability."""
        return _has_capability(self.info, "PARTITION_AWARE")

    @property
    def suppressed(self) -> bool:
        """Whether every role is suppressed: the allocator offers the framework nothing."""
        return set(self.roles) <= self.suppressed_roles

    def next_role(self) -> str:
        """The role of the framework's next offer: its unsuppressed roles in turn."""
        active = [r for r in self.roles if r not in self.suppressed_roles]
        role = active[self.role_turn % len(active)]
        self.role_turn += 1
        return role

    @property
    def roles(self) -> list[str]:
        """The framework's roles (``roles`` with MULTI_ROLE, else ``[role]``)."""
        roles = self.info.get("roles")
        if isinstance(roles, list) and roles:
            return [r for r in roles if isinstance(r, str)]
        return [self.role]

    def has_capability(self, name: str) -> bool:
        """Whether the framework's info lists the capability ``name``."""
        return _has_capability(self.info, name)

    @property
    def role(self) -> str:
        """The framework's (first) role."""
        roles = self.info.get("roles")
        if isinstance(roles, list) and roles and isinstance(roles[0], str):
            return roles[0]
        role = self.info.get("role")
        return role if isinstance(role, str) else "*"

    def send(self, event: dict[str, Any]) -> None:
        """Send ``event`` if subscribed; drop it otherwise (as Mesos does)."""
        if self.sink is not None:
            self.sink.send(event)


def _has_capability(info: dict[str, Any], name: str) -> bool:
    caps = info.get("capabilities")
    return isinstance(caps, list) and any(
        isinstance(c, dict) and c.get("type") == name for c in caps
    )


def update_event(status: dict[str, Any]) -> dict[str, Any]:
    return {"type": "UPDATE", "update": {"status": status}}


def error_event(message: str) -> dict[str, Any]:
    return {"type": "ERROR", "error": {"message": message}}


def master_update(
    task_id: str,
    state: str,
    *,
    agent_id: str | None,
    reason: str,
    message: str,
    unreachable_time: float | None = None,
) -> dict[str, Any]:
    """The UPDATE event of a status the master itself makes (``SOURCE_MASTER``)."""
    return update_event(
        make_status(
            task_id,
            state,
            agent_id=agent_id,
            source="SOURCE_MASTER",
            reason=reason,
            message=message,
            unreachable_time=unreachable_time,
        )
    )
