"""A replicated stateful service: N replicas, each on its own persistent volume. Pure hooks.

Each replica ``i`` is a task request with a :class:`ark.messages.Volume`
(``<name>-<i>-data``); the core does the rest, as the Mesos framework SDK
(dcos-commons) does for its pods:

* placement: the matcher reserves the volume's disk, creates the volume and
  launches the replica in one ACCEPT (RESERVE, CREATE, LAUNCH), one replica
  per host (``hostname UNIQUE``). Replicas that need a new volume are
  requested in order, each once the ones before it have their volumes, and
  kept off those hosts by the core (another replica's volume counts toward
  hostname UNIQUE as its task would): see :meth:`StatefulManager._advance`;
* restart: a replica that ends without finishing is requested again by the
  core as ``<id>.1``, ``<id>.2``, ... on the agent that holds its volume,
  where it finds its data; this framework only follows the new id;
* replace (``ReplaceReplica``, or its agent gone for good): the core kills
  it, destroys its volume, unreserves the disk and places it afresh.

Scaling down kills the highest replicas and withdraws the core's restart of
them. Their volumes and reservations are **kept** (Marathon's resident tasks
do the same on scale-down): scaling up again brings replica ``i`` back on
its agent with its data. Giving a volume up is what replace is for.

The replica's command writes a marker into its volume and counts its starts
there (``starts``), then keeps running; the simulator does the same through
the ``ark.sim/volume-write`` and ``ark.sim/volume-count`` labels.

The state is immutable: every hook returns a new :class:`Stateful`.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ark import Command, Reply, StateManager, Step
from ark import messages as m
from ark.core import Snapshot
from ark.state import StateView
from ark.wire import task_payload

__all__ = [
    "GetReservations",
    "GetState",
    "ReplaceReplica",
    "Replica",
    "Scale",
    "ServiceSpec",
    "Stateful",
    "StatefulManager",
    "reservations",
]

#: Names become task ids and persistence ids: keep them to what both accept.
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


class ServiceSpec(msgspec.Struct, frozen=True, kw_only=True):
    """The service: its replicas' task, volume and role."""

    name: str = "db"
    #: The framework's role: the volume's disk is reserved for it.
    role: str = "db"
    #: Signs the reservations (the framework's principal).
    principal: str = "ark"
    cpus: float = 0.1
    mem: float = 32.0
    #: Each replica's persistent volume, MB.
    volume_mb: float = 64.0
    #: Where the volume is mounted, relative to the task's sandbox.
    container_path: str = "data"
    #: Scaling beyond this is refused.
    max_replicas: int = 20

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"name {self.name!r}: lower-case letters, digits and '-'")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.container_path):
            raise ValueError(f"container_path {self.container_path!r}: one relative path part")


class Replica(msgspec.Struct, frozen=True):
    """One replica: its current copy and what the framework has seen of it."""

    index: int
    #: The id this framework requested the replica under (the core's restarts are ``<base>.<n>``).
    base: str
    #: The current copy (requested or launched); None once scaled down and stopped.
    task_id: str | None
    #: False: scaled down, its copy being killed; its volume is kept.
    wanted: bool = True
    #: Copies seen TASK_RUNNING, this one included.
    starts: int = 0
    #: Requests made under a new base (scale up again, after a TASK_FINISHED).
    generation: int = 0
    #: The last copy counted in ``starts`` (a copy's TASK_RUNNING may come again).
    counted: str | None = None


class Stateful(msgspec.Struct, frozen=True):
    """The framework's own state (Ark keeps tasks, volumes and reservations)."""

    #: Replicas wanted.
    count: int = 3
    #: Every replica index used so far (stopped ones keep their generation).
    replicas: dict[int, Replica] = {}
    #: The first replicas were requested (at the first registration).
    started: bool = False


# --- the messages of the REST API ------------------------------------------------------


class GetState(m.Custom, frozen=True):
    """Reply: the replicas as a JSON-ready dict."""


class GetReservations(m.Custom, frozen=True):
    """Reply: per agent, what the framework holds reserved and its volumes."""


class Scale(m.Custom, frozen=True):
    """Reply: ``{"count", "changed"}``, or ``{"error"}`` if ``count`` is out of range."""

    count: int


class ReplaceReplica(m.Custom, frozen=True):
    """Reply: ``{"task_id"}`` replaced, or ``{"error", "status"}`` (404, 409)."""

    index: int


class StatefulManager(StateManager[Stateful]):
    """The hooks; ``spec`` says what each replica runs and reserves."""

    def __init__(self, spec: ServiceSpec | None = None) -> None:
        self.spec = spec or ServiceSpec()
        self._resources = [
            m.Resource("cpus", scalar=self.spec.cpus),
            m.Resource("mem", scalar=self.spec.mem),
        ]
        self._prefix = f"{self.spec.name}-"

    # --- hooks ---------------------------------------------------------------------

    def registered(self, state: Stateful, framework_id: str, framework: Snapshot) -> Step[Stateful]:
        if state.started:
            return state, ()
        new, commands = self._scale(
            msgspec.structs.replace(state, started=True), state.count, framework
        )
        return new, commands

    def status_update(
        self, state: Stateful, status: m.TaskStatus, framework: Snapshot
    ) -> Step[Stateful]:
        new, commands = self._follow(state, status, framework)
        new, requests = self._advance(new, framework)
        return new, [*commands, *requests]

    def _follow(self, state: Stateful, status: m.TaskStatus, framework: Snapshot) -> Step[Stateful]:
        """The replica's copies as the update tells them."""
        index = self._index(status.task_id)
        replica = state.replicas.get(index) if index is not None else None
        if replica is None:
            return state, ()
        terminal = status.state in m.TERMINAL_STATES
        if status.task_id != replica.task_id:
            following = replica.wanted and replica.task_id is not None and not terminal
            if following and _copy_of(status.task_id, replica.base):
                # The core's restart (or replacement) of the replica, found by its updates.
                replica = msgspec.structs.replace(replica, task_id=status.task_id)
            if status.task_id != replica.task_id:
                return state, self._stray(status, replica, framework)
        if status.state == "TASK_RUNNING" and status.task_id != replica.counted:
            replica = msgspec.structs.replace(
                replica, starts=replica.starts + 1, counted=status.task_id
            )
        if not terminal:
            return _put(state, replica), ()
        restarts = [t for t in framework.pending() if _copy_of(t, replica.base) and "." in t]
        if not replica.wanted:
            # Scaled down: stop the core's restart; the volume stays reserved.
            stopped = msgspec.structs.replace(replica, task_id=None)
            return _put(state, stopped), [m.Withdraw(restarts)] if restarts else ()
        if restarts:
            return _put(state, msgspec.structs.replace(replica, task_id=restarts[-1])), ()
        if status.state == "TASK_FINISHED":
            # The core restarts what failed, not what finished: a service runs on.
            return self._request(state, replica.index, replica, framework)
        # The core's restart is not pending: already launched, its updates will say so.
        return _put(state, replica), ()

    def _stray(self, status: m.TaskStatus, replica: Replica, framework: Snapshot) -> list[Command]:
        """A copy of the replica that is not its current one: an earlier copy's late
        news, or a restart that got placed before its withdrawal (scaled down, or of
        an earlier generation). Killed if live; when it ends, the core's restart
        of it is withdrawn."""
        if status.state not in m.TERMINAL_STATES:
            return [m.Kill(status.task_id)]
        base = status.task_id.split(".", 1)[0]
        restarts = [
            t
            for t in framework.pending()
            if _copy_of(t, base) and t != status.task_id and t != replica.task_id
        ]
        return [m.Withdraw(restarts)] if restarts else []

    def custom(self, state: Stateful, message: m.Custom, framework: Snapshot) -> Step[Stateful]:
        if isinstance(message, GetState):
            return state, [Reply(self._describe(state, framework))]
        if isinstance(message, GetReservations):
            return state, [Reply(reservations(framework.view(), self._users(state)))]
        if isinstance(message, Scale):
            if not 0 <= message.count <= self.spec.max_replicas:
                error = f"count must be between 0 and {self.spec.max_replicas}"
                return state, [Reply({"error": error})]
            changed = message.count != state.count
            new, commands = self._scale(state, message.count, framework)
            return new, [*commands, Reply({"count": message.count, "changed": changed})]
        if isinstance(message, ReplaceReplica):
            return state, self._replace(state, message.index, framework)
        return state, ()

    # --- scaling and replacing -----------------------------------------------------

    def _scale(
        self, state: Stateful, count: int, framework: Snapshot
    ) -> tuple[Stateful, list[Command]]:
        new = msgspec.structs.replace(state, count=count)
        commands: list[Command] = []
        for index in range(count):
            replica = new.replicas.get(index)
            if replica is not None and not replica.wanted and replica.task_id is not None:
                # Still being stopped: wanted again, the core's restart brings it back.
                new = _put(new, msgspec.structs.replace(replica, wanted=True))
        for index, replica in sorted(new.replicas.items()):
            if index < count or not replica.wanted or replica.task_id is None:
                continue
            record = framework.task(replica.task_id)
            if record is None or record.state in m.TERMINAL_STATES:
                # Requested, not launched (or between a copy's end and its restart).
                pending = [t for t in framework.pending() if _copy_of(t, replica.base)]
                commands.append(m.Withdraw(pending or [replica.task_id]))
                new = _put(new, msgspec.structs.replace(replica, wanted=False, task_id=None))
            else:
                commands.append(m.Kill(replica.task_id))
                new = _put(new, msgspec.structs.replace(replica, wanted=False))
        new, requests = self._advance(new, framework)
        return new, [*commands, *requests]

    def _advance(self, state: Stateful, framework: Snapshot) -> tuple[Stateful, list[Command]]:
        """Request the missing replicas in order, one new volume at a time.

        A replica that needs a new volume is requested only once every
        replica before it has its volume. The core counts another replica's
        volume toward hostname UNIQUE as if its task ran there, so a fresh
        volume never lands where another replica's data is and a replica
        restarting on its volume finds its host free. The Mesos SDK deploys
        a service's pods serially by default, and Kubernetes' StatefulSets
        create pods in order, for the same kind of reason.
        A replica whose volume is kept (scaled down before) is requested at once.
        """
        if sum(1 for r in state.replicas.values() if r.wanted) >= state.count:
            return state, []
        volumes = {v.persistence_id for v in framework.view().volumes}
        requests: list[m.TaskRequest] = []
        for index in range(state.count):
            replica = state.replicas.get(index)
            has_volume = f"{self.spec.name}-{index}-data" in volumes
            if replica is None or not replica.wanted:
                state, request = self._new_request(state, index, replica, framework)
                requests.append(request)
            if not has_volume:
                break  # the next waits for this one's volume
        return state, [m.Request(requests)] if requests else []

    def _replace(self, state: Stateful, index: int, framework: Snapshot) -> list[Command]:
        """The core's Replace of the replica's live copy; an error reply if it has none."""
        replica = state.replicas.get(index)
        if index < state.count and (replica is None or not replica.wanted):
            error = f"replica {index} is not requested yet: replicas get new volumes in order"
            return [Reply({"error": error, "status": 409})]
        if replica is None or not replica.wanted:
            return [Reply({"error": f"no replica {index}", "status": 404})]
        record = framework.task(replica.task_id) if replica.task_id is not None else None
        if record is None or record.state in m.TERMINAL_STATES:
            why = _pending_reason(framework, replica.task_id) or "not placed yet"
            error = f"replica {index} has no launched copy to replace ({replica.task_id}: {why})"
            return [Reply({"error": error, "status": 409})]
        return [m.Replace(record.task_id), Reply({"index": index, "task_id": record.task_id})]

    def _request(
        self, state: Stateful, index: int, replica: Replica | None, framework: Snapshot
    ) -> tuple[Stateful, list[Command]]:
        new, request = self._new_request(state, index, replica, framework)
        return new, [m.Request([request])]

    def _new_request(
        self, state: Stateful, index: int, replica: Replica | None, framework: Snapshot
    ) -> tuple[Stateful, m.TaskRequest]:
        """A request for replica ``index``, under a base id never used before."""
        generation = 0 if replica is None else replica.generation + 1
        base = f"{self._prefix}{index}" + (f"-g{generation}" if generation else "")
        starts = 0 if replica is None else replica.starts
        fresh = Replica(index, base, base, starts=starts, generation=generation)
        return _put(state, fresh), self._task_request(index, base)

    def _task_request(self, index: int, task_id: str) -> m.TaskRequest:
        spec = self.spec
        replica = f"{spec.name}-{index}"
        path = spec.container_path
        # Real Mesos runs the command; the simulator reads the labels.
        command = (
            f"echo {replica} > {path}/marker"
            f" && n=$(cat {path}/starts 2>/dev/null || echo 0)"
            f" && echo $((n + 1)) > {path}/starts"
            " && exec sleep 86400"
        )
        labels = {
            "labels": [
                {"key": "ark.sim/volume-write", "value": f"marker={replica}"},
                {"key": "ark.sim/volume-count", "value": "starts"},
            ]
        }
        return m.TaskRequest(
            task_id,
            self._resources,
            payload=task_payload(command, labels=labels),
            name=replica,
            group=spec.name,
            constraints=[m.Constraint("hostname", "UNIQUE")],
            volume=m.Volume(f"{replica}-data", path, spec.volume_mb, spec.role, spec.principal),
        )

    # --- reading ---------------------------------------------------------------------

    def _index(self, task_id: str) -> int | None:
        if not task_id.startswith(self._prefix):
            return None
        digits = re.match(r"\d+", task_id[len(self._prefix) :])
        return int(digits.group()) if digits else None

    def _users(self, state: Stateful) -> dict[str, str]:
        """persistence id -> the replica's current copy."""
        return {
            f"{self.spec.name}-{i}-data": r.task_id
            for i, r in state.replicas.items()
            if r.task_id is not None
        }

    def _describe(self, state: Stateful, framework: Snapshot) -> dict[str, Any]:
        volumes = {v.persistence_id: v.agent_id for v in framework.view().volumes}
        replicas = []
        for index, replica in sorted(state.replicas.items()):
            if not replica.wanted and replica.task_id is None:
                continue
            record = framework.task(replica.task_id) if replica.task_id is not None else None
            persistence_id = f"{self.spec.name}-{index}-data"
            replicas.append(
                {
                    "index": index,
                    "task_id": replica.task_id,
                    "agent_id": record.agent_id if record is not None else None,
                    "state": record.state if record is not None else "PENDING",
                    "pending": None
                    if record is not None
                    else _pending_reason(framework, replica.task_id),
                    "wanted": replica.wanted,
                    "volume": {
                        "persistence_id": persistence_id,
                        "agent_id": volumes.get(persistence_id),
                    },
                    "restarts": max(replica.starts - 1, 0),
                }
            )
        return {
            "framework_id": framework.framework_id,
            "registered": framework.registered,
            "count": state.count,
            "replicas": replicas,
            "tasks_by_state": framework.tasks_by_state(),
        }


def reservations(view: StateView, users: dict[str, str] | None = None) -> dict[str, Any]:
    """Per agent: what the framework holds reserved (``view.reserved``, by role
    and resource) and its volumes, each with the task id ``users`` gives it."""
    users = users or {}
    agents: dict[str, dict[str, Any]] = {}

    def agent(agent_id: str) -> dict[str, Any]:
        return agents.setdefault(agent_id, {"agent_id": agent_id, "reserved": {}, "volumes": []})

    hostnames = {a.agent_id: a.hostname for a in view.agents}
    for agent_id, name, role, amount in view.reserved:
        reserved = agent(agent_id)["reserved"].setdefault(role, {})
        reserved[name] = reserved.get(name, 0.0) + amount
    for v in view.volumes:
        agent(v.agent_id)["volumes"].append(
            {
                "persistence_id": v.persistence_id,
                "size_mb": v.size,
                "role": v.role,
                "container_path": v.container_path,
                "principal": v.principal,
                "task_id": users.get(v.persistence_id),
            }
        )
    for agent_id, entry in agents.items():
        entry["hostname"] = hostnames.get(agent_id)
    return {"agents": [agents[a] for a in sorted(agents)]}


def _put(state: Stateful, replica: Replica) -> Stateful:
    return msgspec.structs.replace(state, replicas={**state.replicas, replica.index: replica})


def _copy_of(task_id: str, base: str) -> bool:
    """``task_id`` is ``base`` or the core's restart of it, ``<base>.<n>``."""
    return task_id == base or (
        task_id.startswith(f"{base}.") and task_id[len(base) + 1 :].isdigit()
    )


def _pending_reason(framework: Snapshot, task_id: str | None) -> str | None:
    if task_id is None:
        return None
    return framework.pending().get(task_id, "not requested")
