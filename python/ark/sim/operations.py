"""Offer operations on an agent's resources: RESERVE, UNRESERVE, CREATE, DESTROY.

As Mesos's ``Master::accept`` and ``Master::_accept``: each operation of an
ACCEPT is validated (``validation::operation::validate``) and applied in
order to what is left of the offers, so a LAUNCH after a RESERVE and a
CREATE can use the reserved volume. An invalid operation is dropped alone
(``Master::drop``): the operations after it still run. The agent's total
resources change at once (``Slave::apply``); they are the agent's own and
outlive tasks, agent restarts and masters.

Operation feedback (``Offer.Operation.id``): an invalid operation gets
OPERATION_ERROR from the master, with neither uuid nor agent; an applied
one OPERATION_FINISHED from its agent, with a uuid, re-sent until the
framework acknowledges it (ACKNOWLEDGE_OPERATION_STATUS), after which the
operation is forgotten. RECONCILE_OPERATIONS answers the latest status of
the operations asked about (all the framework's when none is named), as
the real master does, without a uuid.
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

from .agents import AgentLifecycle, MasterAgent, SimAgent
from .frameworks import Framework
from .resources import ResourceError, Resources, mesos_text, resource_key, split_key
from .validation import CallError, id_error, optional_value, required_value

if TYPE_CHECKING:
    import asyncio

__all__ = ["RESOURCE_OPERATIONS", "AgentOperation", "OfferOperations", "operation_event"]

log = logging.getLogger(__name__)

#: The offer operations on resources, and the field holding each one's body.
RESOURCE_OPERATIONS = {
    "RESERVE": "reserve",
    "UNRESERVE": "unreserve",
    "CREATE": "create",
    "DESTROY": "destroy",
}

#: The field of each operation's body that lists its resources.
_RESOURCES_FIELD = {
    "RESERVE": "resources",
    "UNRESERVE": "resources",
    "CREATE": "volumes",
    "DESTROY": "volumes",
}


class _Invalid(Exception):
    """An operation Mesos drops, with its message."""


class AgentOperation:
    """An applied operation with an id, as its agent keeps it until acknowledged."""

    __slots__ = ("backoff", "framework_id", "operation_id", "retry", "status")

    def __init__(self, framework_id: str, operation_id: str, status: dict[str, Any]) -> None:
        self.framework_id = framework_id
        self.operation_id = operation_id
        self.status = status
        self.retry: asyncio.TimerHandle | None = None
        self.backoff = 0.0

    @property
    def uuid(self) -> str:
        """The base64 uuid of the status waiting for its acknowledgement."""
        value: str = self.status["uuid"]["value"]
        return value


def operation_event(status: dict[str, Any]) -> dict[str, Any]:
    """The UPDATE_OPERATION_STATUS event of ``status``."""
    return {"type": "UPDATE_OPERATION_STATUS", "update_operation_status": {"status": status}}


class OfferOperations(AgentLifecycle):
    """The master's offer operations and their feedback; a layer of `ark.sim.master.Master`."""

    def _resource_operation(
        self,
        framework: Framework,
        master_agent: MasterAgent,
        operation: dict[str, Any],
        remaining: Resources,
    ) -> Resources:
        """Validate and apply one RESERVE/UNRESERVE/CREATE/DESTROY; return what is left."""
        kind: str = operation["type"]
        operation_id = optional_value(operation, "id")
        agent = master_agent.agent
        try:
            resources = _operation_resources(operation)
            consumed, converted = self._conversion(framework, master_agent, kind, resources)
            if not remaining.contains(consumed):
                raise _Invalid(
                    f"{mesos_text(remaining, framework.role)} does not contain "
                    f"{mesos_text(consumed, framework.role)}"
                )
        except _InvalidOnAgent as exc:
            message = (
                f"{exc}; on agent {agent.id} at slave(1)@127.0.0.1:{agent.port} ({agent.hostname})"
            )
            self._drop_operation(framework, kind, operation_id, message)
            return remaining
        except _Invalid as exc:
            self._drop_operation(framework, kind, operation_id, str(exc))
            return remaining
        log.info("applying %s of %s on agent %s", kind, framework.id, agent.id)
        agent.resources = agent.resources - consumed + converted
        master_agent.resources_changed()
        if kind == "CREATE":
            for key in converted.scalars:
                agent.volumes.setdefault(_persistence_id(key), {})
        elif kind == "DESTROY":
            for key in consumed.scalars:
                agent.volumes.pop(_persistence_id(key), None)
        if operation_id is not None:
            self.loop.call_soon(_finished, agent, framework.id, operation_id)
        return remaining - consumed + converted

    def _conversion(
        self, framework: Framework, master_agent: MasterAgent, kind: str, resources: Resources
    ) -> tuple[Resources, Resources]:
        """What an operation consumes and what it makes (``getResourceConversions``),
        after Mesos's validation of it."""
        agent = master_agent.agent
        principal = framework.info.get("principal")
        keys = list(resources.scalars) + list(resources.ranges)
        consumed, converted = Resources(), Resources()
        for key in keys:
            name, reservations, disk = split_key(key)
            one = _only(resources, key)
            if kind == "RESERVE":
                if not reservations or reservations[-1]["type"] != "DYNAMIC":
                    raise _InvalidOnAgent(
                        f"Resource {mesos_text(one, None)} is not dynamically reserved"
                    )
                last = reservations[-1]
                if principal is not None and last.get("principal") != principal:
                    raise _InvalidOnAgent(
                        f"A reserve operation was attempted by authenticated principal "
                        f"'{principal}', which does not match a reserved resource in the "
                        f"request with principal '{last.get('principal', '')}'"
                        if "principal" in last
                        else f"A reserve operation was attempted by principal '{principal}', "
                        "but there is a reserved resource in the request with no principal set"
                    )
                if last["role"] not in framework.roles:
                    raise _InvalidOnAgent(
                        f"A reserve operation was attempted for a resource with role "
                        f"'{last['role']}', but the resource was allocated to role "
                        f"'{framework.role}'"
                    )
                # A volume's reservation is popped with its volume on: not offered.
                before = resource_key(name, reservations[:-1], disk)
            elif kind == "UNRESERVE":
                if not reservations or reservations[-1]["type"] != "DYNAMIC":
                    raise _InvalidOnAgent(
                        f"Resource {mesos_text(one, None)} is not dynamically reserved"
                    )
                if disk is not None:
                    raise _InvalidOnAgent(
                        f"A dynamically reserved persistent volume {mesos_text(one, None)} "
                        "cannot be unreserved directly. Please destroy the persistent volume "
                        "first then unreserve the resource"
                    )
                before, key = key, resource_key(name, reservations[:-1], None)
            elif kind == "CREATE":
                self._check_volume(framework, key, one, creating=True)
                before = resource_key(name, reservations, None)
            else:  # DESTROY
                self._check_volume(framework, key, one, creating=False)
                if not agent.resources.contains(one):
                    raise _InvalidOnAgent("Persistent volumes not found")
                if master_agent.used.contains(one):
                    raise _InvalidOnAgent("Persistent volumes in use")
                before, key = key, resource_key(name, reservations, None)
            consumed = consumed + _rekey(one, before)
            converted = converted + _rekey(one, key)
        if kind == "CREATE":
            existing = _persistence_ids(agent.resources)
            for key in resources.scalars:
                role, persistence = _volume_identity(key)
                if (role, persistence) in existing:
                    raise _InvalidOnAgent(f"Persistence ID '{persistence}' is not unique")
                existing.add((role, persistence))
        return consumed, converted

    def _check_volume(
        self, framework: Framework, key: str, one: Resources, *, creating: bool
    ) -> None:
        """Mesos's ``validateDiskInfo`` and ``validatePersistentVolume`` on one volume."""
        _, reservations, disk = split_key(key)
        persistence = (disk or {}).get("persistence")
        if disk is None or persistence is None:
            raise _InvalidOnAgent(
                f"Not a persistent volume: Resource {mesos_text(one, None)} does not have DiskInfo"
                if disk is None
                else "Not a persistent volume: 'persistence' is not set in DiskInfo"
            )
        if not reservations:
            raise _InvalidOnAgent(
                "Invalid resources: Invalid DiskInfo: "
                "Persistent volumes cannot be created from unreserved resources"
            )
        if disk.get("volume") is None:
            raise _InvalidOnAgent(
                "Invalid resources: Invalid DiskInfo: "
                "Expecting 'volume' to be set for persistent volume"
            )
        error = id_error(str(persistence.get("id", "")))
        if error is not None:
            raise _InvalidOnAgent(
                "Invalid resources: Invalid DiskInfo: "
                f"Invalid persistence ID for persistent volume: {error}"
            )
        principal = framework.info.get("principal")
        if creating and principal is not None and persistence.get("principal") != principal:
            raise _InvalidOnAgent(
                f"Create volume operation attempted by authenticated principal '{principal}', "
                "which does not match a volume in the operation with principal "
                f"'{persistence.get('principal', '')}' set in 'disk.persistence'"
                if "principal" in persistence
                else f"Create volume operation attempted by principal '{principal}', but "
                "there is a volume in the operation with no principal set in 'disk.persistence'"
            )

    def _drop_operation(
        self, framework: Framework, kind: str, operation_id: str | None, message: str
    ) -> None:
        """``Master::drop``: an operation with an id gets OPERATION_ERROR."""
        log.info("dropping %s operation of %s: %s", kind, framework.id, message)
        if operation_id is None:
            return
        framework.send(
            operation_event(
                {
                    "operation_id": {"value": operation_id},
                    "state": "OPERATION_ERROR",
                    "message": message,
                }
            )
        )

    def operation_update(self, agent: SimAgent, framework_id: str, status: dict[str, Any]) -> None:
        """An agent's operation status update, forwarded to its framework.

        The update of a removed framework is acknowledged by the master on its
        behalf (``Master::updateOperationStatus``): the agent forgets it.
        """
        if not self.leading or agent.id not in self.agents:
            return
        framework = self.frameworks.get(framework_id)
        if framework is not None:
            framework.send(operation_event(status))
        elif framework_id in self.removed_framework_ids:
            op = agent.operations.pop((framework_id, status["operation_id"]["value"]), None)
            if op is not None and op.retry is not None:
                op.retry.cancel()

    def _framework_operations(self, framework: Framework) -> list[AgentOperation]:
        return [
            op
            for master_agent in self.agents.values()
            for op in master_agent.agent.operations.values()
            if op.framework_id == framework.id
        ]

    def _call_reconcile_operations(self, framework: Framework, call: dict[str, Any]) -> None:
        """``Master::reconcileOperations``: the latest status of each operation named,
        or of every operation of the framework when none is."""
        operations = call["reconcile_operations"].get("operations", [])
        if not isinstance(operations, list):
            raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'operations'")
        known = {op.operation_id: op for op in self._framework_operations(framework)}
        if not operations:
            for op in known.values():
                framework.send(operation_event(_without_uuid(op.status)))
            return
        for entry in operations:
            operation_id = required_value(entry, "operation_id")
            agent_id = optional_value(entry, "agent_id")
            found = known.get(operation_id)
            if found is not None and agent_id in (None, found.status["agent_id"]["value"]):
                framework.send(operation_event(_without_uuid(found.status)))
                continue
            status: dict[str, Any] = {
                "operation_id": {"value": operation_id},
                "state": "OPERATION_UNKNOWN",
            }
            if agent_id is None:
                status["message"] = (
                    "Reconciliation: Operation is unknown and no 'agent_id' was provided"
                )
            else:
                status["agent_id"] = {"value": agent_id}
                status["message"] = (
                    "Reconciliation: Operation is unknown"
                    if agent_id in self.agents
                    else "Reconciliation: Both operation and agent are unknown"
                )
            framework.send(operation_event(status))

    def _call_acknowledge_operation_status(
        self, framework: Framework, call: dict[str, Any]
    ) -> None:
        """The framework acknowledges an operation's status: its agent forgets it."""
        body = call["acknowledge_operation_status"]
        uuid = _operation_uuid(body)
        agent_id = required_value(body, "agent_id")
        operation_id = required_value(body, "operation_id")
        master_agent = self.agents.get(agent_id)
        if master_agent is None:
            return
        agent = master_agent.agent
        op = agent.operations.get((framework.id, operation_id))
        if op is None or op.uuid != uuid:
            return  # Stale or duplicate: Mesos ignores these too.
        if op.retry is not None:
            op.retry.cancel()
        del agent.operations[(framework.id, operation_id)]


class _InvalidOnAgent(_Invalid):
    """An operation invalid on its agent: Mesos names the agent in the message."""


def _operation_resources(operation: dict[str, Any]) -> Resources:
    kind = operation["type"]
    body = operation.get(RESOURCE_OPERATIONS[kind]) or {}
    listed = body.get(_RESOURCES_FIELD[kind], [])
    try:
        resources = Resources.from_json(listed)
    except ResourceError as exc:
        raise _Invalid(f"Operation attempted with invalid resources: {exc}") from None
    if resources.empty():
        raise _InvalidOnAgent("Invalid resources: Resources cannot be empty")
    if kind == "RESERVE" and body.get("source"):
        raise _Invalid(
            "Operation attempted with invalid resources: "
            "Reservation updates are not yet implemented for the scheduler API."
        )
    return resources


def _only(resources: Resources, key: str) -> Resources:
    """The one resource of ``resources`` under ``key``."""
    return resources.filter(lambda k: k == key)


def _rekey(one: Resources, key: str) -> Resources:
    """One resource's amount under another key (another identity)."""
    scalars = {key: sum(one.scalars.values())} if one.scalars else {}
    ranges = {key: [r for rs in one.ranges.values() for r in rs]} if one.ranges else {}
    return Resources(scalars, ranges)


def _persistence_id(key: str) -> str:
    disk = split_key(key)[2] or {}
    persistence_id: str = (disk.get("persistence") or {}).get("id", "")
    return persistence_id


def _volume_identity(key: str) -> tuple[str, str]:
    """A volume's role and persistence id: Mesos keeps ids unique per role and agent."""
    _, reservations, _ = split_key(key)
    return reservations[-1]["role"] if reservations else "*", _persistence_id(key)


def _persistence_ids(resources: Resources) -> set[tuple[str, str]]:
    return {
        _volume_identity(key)
        for key in resources.scalars
        if (split_key(key)[2] or {}).get("persistence") is not None
    }


def _without_uuid(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k != "uuid"}


def _operation_uuid(body: dict[str, Any]) -> str:
    """The base64 ``uuid`` of an ACKNOWLEDGE_OPERATION_STATUS: 16 bytes, not nil."""
    uuid = body.get("uuid")
    try:
        if not isinstance(uuid, str):
            raise ValueError(uuid)
        raw = base64.b64decode(uuid, validate=True)
        if len(raw) != 16 or not any(raw):
            raise ValueError(uuid)
    except ValueError:
        raise CallError(400, "Failed to validate scheduler::Call: Not a valid UUID") from None
    return uuid


# -- The agent's side: its operation status update manager -------------------


def _finished(agent: SimAgent, framework_id: str, operation_id: str) -> None:
    """The agent applied the operation: OPERATION_FINISHED, kept until acknowledged."""
    uuid = base64.b64encode(agent.rng.getrandbits(128).to_bytes(16, "big")).decode()
    status = {
        "operation_id": {"value": operation_id},
        "state": "OPERATION_FINISHED",
        "uuid": {"value": uuid},
        "agent_id": {"value": agent.id},
    }
    op = AgentOperation(framework_id, operation_id, status)
    old = agent.operations.pop((framework_id, operation_id), None)
    if old is not None and old.retry is not None:
        old.retry.cancel()
    agent.operations[(framework_id, operation_id)] = op
    _send(agent, op)


def _send(agent: SimAgent, op: AgentOperation) -> None:
    """Send the status to the master, and again with backoff until acknowledged."""
    op.retry = None
    if agent.operations.get((op.framework_id, op.operation_id)) is not op:
        return
    master = agent.master
    if agent.reachable and isinstance(master, OfferOperations):
        master.operation_update(agent, op.framework_id, op.status)
        if agent.operations.get((op.framework_id, op.operation_id)) is not op:
            return  # Acknowledged by the master.
    t = agent.timing
    op.backoff = (
        t.update_retry_initial if not op.backoff else min(op.backoff * 2, t.update_retry_max)
    )
    op.retry = agent.loop.call_later(op.backoff, _send, agent, op)
