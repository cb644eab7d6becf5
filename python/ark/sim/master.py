"""The simulated Mesos master: frameworks, offers, tasks, reconciliation.

`Master` is transport-free: the HTTP server hands it decoded calls and an
`EventSink` per subscription, and it answers with events on the sinks and a
status code per call. Everything runs on one asyncio loop, so no locks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .agents import SimAgent
from .config import Timing
from .registry import Registry
from .resources import ResourceError, Resources
from .tasks import is_terminal, make_status

__all__ = ["CallError", "EventSink", "Framework", "Master", "Offer", "Task"]

log = logging.getLogger(__name__)

# Mesos keeps this many completed tasks and frameworks for /master/state.
_MAX_COMPLETED_TASKS = 1000
_MAX_COMPLETED_FRAMEWORKS = 50

_CALLS = frozenset(
    {
        "SUBSCRIBE",
        "TEARDOWN",
        "ACCEPT",
        "DECLINE",
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "REVIVE",
        "KILL",
        "SHUTDOWN",
        "ACKNOWLEDGE",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "RECONCILE",
        "RECONCILE_OPERATIONS",
        "MESSAGE",
        "REQUEST",
        "SUPPRESS",
        "UPDATE_FRAMEWORK",
    }
)

# The field each call type carries its arguments in (absent: none needed).
_CALL_FIELDS = {
    "SUBSCRIBE": "subscribe",
    "ACCEPT": "accept",
    "DECLINE": "decline",
    "KILL": "kill",
    "SHUTDOWN": "shutdown",
    "ACKNOWLEDGE": "acknowledge",
    "RECONCILE": "reconcile",
    "MESSAGE": "message",
    "REQUEST": "request",
}


class CallError(Exception):
    """A call the master refuses: an HTTP status and Mesos's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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

    __slots__ = ("agent_id", "framework_id", "id", "resources", "timeout")

    def __init__(self, offer_id: str, framework_id: str, agent_id: str, resources: Resources):
        self.id = offer_id
        self.framework_id = framework_id
        self.agent_id = agent_id
        self.resources = resources
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

    def to_state(self) -> dict[str, Any]:
        """The task in ``/master/state``'s shape."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.info.get("name", ""),
            "framework_id": self.framework_id,
            "executor_id": "",
            "slave_id": self.agent_id,
            "agent_id": self.agent_id,
            "state": self.state,
            "resources": self.resources.to_state(),
            "statuses": [{"state": s["state"], "timestamp": s["timestamp"]} for s in self.statuses],
        }
        if "labels" in self.info:
            out["labels"] = self.info["labels"].get("labels", [])
        return out


class Framework:
    """A framework known to the master, subscribed or not."""

    def __init__(self, framework_id: str, info: dict[str, Any]) -> None:
        self.id = framework_id
        self.info = info
        self.sink: EventSink | None = None
        self.suppressed = False
        #: agent id -> time until which this framework refuses that agent.
        self.filters: dict[str, float] = {}
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


def _value(obj: Any, field: str) -> str:
    """``obj[field]["value"]`` as a non-empty string, or a 400 `CallError`."""
    inner = obj.get(field) if isinstance(obj, dict) else None
    value = inner.get("value") if isinstance(inner, dict) else None
    if not isinstance(value, str) or not value:
        raise CallError(
            400, f"Failed to validate scheduler::Call: Expecting '{field}' to be present"
        )
    return value


def _optional_value(obj: dict[str, Any], field: str) -> str | None:
    inner = obj.get(field)
    if inner is None:
        return None
    if not isinstance(inner, dict) or not isinstance(inner.get("value"), str):
        raise CallError(400, f"Failed to convert JSON into Call protobuf: bad '{field}'")
    value: str = inner["value"]
    return value


class MasterAgent:
    """The master's view of a registered agent: what is used and offered."""

    __slots__ = ("agent", "offered", "offers", "registered_time", "tasks", "used")

    def __init__(self, agent: SimAgent) -> None:
        self.agent = agent
        self.used = Resources()
        self.offered = Resources()
        self.offers: dict[str, Offer] = {}
        self.tasks: dict[tuple[str, str], Task] = {}
        self.registered_time = time.time()

    def available(self) -> Resources:
        """Resources neither used by tasks nor offered."""
        return self.agent.resources - self.used - self.offered


class Master:
    """One simulated master. Only the leading one serves calls."""

    def __init__(
        self,
        master_info: dict[str, Any],
        *,
        loop: asyncio.AbstractEventLoop,
        registry: Registry,
        timing: Timing,
        rng: random.Random,
        agents_by_id: dict[str, SimAgent],
    ) -> None:
        self.info = master_info
        self.id: str = master_info["id"]
        self.loop = loop
        self.registry = registry
        self.timing = timing
        self.rng = rng
        #: Every simulated agent process, registered with this master or not.
        self.all_agents = agents_by_id
        self.leading = False
        self.start_time = time.time()
        self.elected_time = 0.0
        self.frameworks: dict[str, Framework] = {}
        self.completed_frameworks: deque[Framework] = deque(maxlen=_MAX_COMPLETED_FRAMEWORKS)
        self.removed_framework_ids: set[str] = set()
        self.agents: dict[str, MasterAgent] = {}
        #: Agents in the registry that have not re-registered since this master was elected.
        self.recovering: set[str] = set()
        self.offers: dict[str, Offer] = {}
        self._framework_seq = itertools.count()
        self._offer_seq = itertools.count()
        self._stream_seq = itertools.count()
        self._allocation_timer: asyncio.TimerHandle | None = None
        self._allocation_soon: asyncio.Handle | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._unresponsive: dict[str, asyncio.TimerHandle] = {}
        #: Hooks for tests and benches: called with every OFFERS event sent.
        self.offer_listeners: list[Callable[[str, int], None]] = []

    # -- Leadership -------------------------------------------------------

    def elect(self) -> None:
        """Become the leader: recover the registry and expect agents back."""
        if self.leading:
            return
        self.leading = True
        self.elected_time = time.time()
        self.recovering = set(self.registry.admitted)
        if self.recovering:
            self._later(self.timing.agent_reregister_timeout, self._reregister_timeout)
        self._schedule_allocation()

    def crash(self) -> None:
        """Die: drop every connection and timer; the state is lost."""
        self.leading = False
        for timer in list(self._timers):
            timer.cancel()
        self._timers.clear()
        for timer in self._unresponsive.values():
            timer.cancel()
        self._unresponsive.clear()
        if self._allocation_timer is not None:
            self._allocation_timer.cancel()
        if self._allocation_soon is not None:
            self._allocation_soon.cancel()
        for framework in self.frameworks.values():
            for handle in (framework.heartbeat, framework.failover):
                if handle is not None:
                    handle.cancel()
            for offer in framework.offers.values():
                if offer.timeout is not None:
                    offer.timeout.cancel()
            if framework.sink is not None:
                framework.sink.abort()
                framework.sink = None
        for master_agent in self.agents.values():
            if master_agent.agent.master is self:
                master_agent.agent.master = None

    def _later(self, delay: float, callback: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            self._timers.discard(handle)
            callback(*args)

        handle = self.loop.call_later(delay, run)
        self._timers.add(handle)

    def new_stream_id(self) -> str:
        """A fresh ``Mesos-Stream-Id`` (a UUID, as Mesos uses)."""
        next(self._stream_seq)
        return _uuid(self.rng)

    # -- Agents -----------------------------------------------------------

    def register_agent(self, agent: SimAgent) -> None:
        """An agent (re-)registers, reporting the tasks it runs."""
        if not self.leading or agent.id in self.registry.gone or not agent.reachable:
            return
        self._cancel_unresponsive(agent.id)
        was_unreachable = agent.id in self.registry.unreachable
        self.registry.admit(agent.id)
        self.recovering.discard(agent.id)
        master_agent = self.agents.get(agent.id)
        if master_agent is None:
            master_agent = MasterAgent(agent)
            self.agents[agent.id] = master_agent
        agent.master = self
        reported: set[tuple[str, str]] = set()
        for (framework_id, task_id), agent_task in agent.tasks.items():
            reported.add((framework_id, task_id))
            framework = self.frameworks.get(framework_id)
            if framework is None:
                if framework_id in self.removed_framework_ids:
                    agent.shutdown_framework(framework_id)
                    continue
                framework = Framework(framework_id, agent.frameworks.get(framework_id, {}))
                framework.recovered = True
                self.frameworks[framework_id] = framework
            task = framework.tasks.get(task_id) or framework.unreachable_tasks.pop(task_id, None)
            if task is None:
                task = Task(
                    task_id,
                    framework_id,
                    agent.id,
                    agent_task.info,
                    agent_task.resources,
                    agent_task.executor_id,
                )
            task.state = agent_task.state
            # What the agent's status update manager holds is what reconciliation tells.
            pending = agent_task.updates
            task.update_state = pending[0].status["state"] if pending else agent_task.state
            framework.tasks[task_id] = task
            if (framework_id, task_id) not in master_agent.tasks:
                master_agent.tasks[(framework_id, task_id)] = task
                if not is_terminal(task.state):
                    master_agent.used = master_agent.used + task.resources
        # Tasks the master knew on this agent that the agent no longer has.
        for framework in self.frameworks.values():
            for table in (framework.tasks, framework.unreachable_tasks):
                for task in list(table.values()):
                    if task.agent_id != agent.id or (framework.id, task.id) in reported:
                        continue
                    self._remove_task(framework, task)
                    state = "TASK_GONE" if framework.partition_aware else "TASK_LOST"
                    framework.send(
                        _update(
                            make_status(
                                task.id,
                                state,
                                agent_id=agent.id,
                                source="SOURCE_MASTER",
                                reason="REASON_TASK_UNKNOWN",
                                message="Task is unknown to the agent",
                            )
                        )
                    )
        if was_unreachable:
            log.info("agent %s re-registered after being unreachable", agent.id)
        agent.flush_updates()
        self._schedule_allocation()

    def agent_unresponsive(self, agent_id: str) -> None:
        """Pings to ``agent_id`` go unanswered: mark it unreachable after the timeout."""
        if agent_id in self.agents and agent_id not in self._unresponsive:
            self._unresponsive[agent_id] = self.loop.call_later(
                self.timing.agent_ping_timeout, self._mark_unreachable, agent_id
            )

    def _cancel_unresponsive(self, agent_id: str) -> None:
        handle = self._unresponsive.pop(agent_id, None)
        if handle is not None:
            handle.cancel()

    def _reregister_timeout(self) -> None:
        for agent_id in list(self.recovering):
            self.registry.mark_unreachable(agent_id)
        self.recovering.clear()

    def _mark_unreachable(self, agent_id: str) -> None:
        self._unresponsive.pop(agent_id, None)
        self._remove_agent(
            agent_id,
            partition_aware_state="TASK_UNREACHABLE",
            reason="REASON_AGENT_REMOVED",
            message="Agent is unreachable",
        )
        self.registry.mark_unreachable(agent_id)

    def mark_gone(self, agent_id: str) -> None:
        """An operator marks ``agent_id`` gone (``MARK_AGENT_GONE``)."""
        self._cancel_unresponsive(agent_id)
        self._remove_agent(
            agent_id,
            partition_aware_state="TASK_GONE_BY_OPERATOR",
            reason="REASON_AGENT_REMOVED_BY_OPERATOR",
            message="Agent marked gone by the operator",
        )
        self.registry.mark_gone(agent_id)
        self.recovering.discard(agent_id)
        agent = self.all_agents.get(agent_id)
        if agent is not None:
            agent.kill()

    def _remove_agent(
        self, agent_id: str, *, partition_aware_state: str, reason: str, message: str
    ) -> None:
        master_agent = self.agents.pop(agent_id, None)
        if master_agent is None:
            return
        if master_agent.agent.master is self:
            master_agent.agent.master = None
        for offer in list(master_agent.offers.values()):
            self._rescind(offer)
        for task in list(master_agent.tasks.values()):
            framework = self.frameworks.get(task.framework_id)
            if framework is None:
                continue
            master_agent.tasks.pop((task.framework_id, task.id), None)
            framework.tasks.pop(task.id, None)
            if is_terminal(task.state):
                framework.completed_tasks.append(task)
                continue
            state = partition_aware_state if framework.partition_aware else "TASK_LOST"
            task.state = task.update_state = state
            if partition_aware_state == "TASK_UNREACHABLE":
                framework.unreachable_tasks[task.id] = task
            else:
                framework.completed_tasks.append(task)
            framework.send(
                _update(
                    make_status(
                        task.id,
                        state,
                        agent_id=agent_id,
                        source="SOURCE_MASTER",
                        reason=reason,
                        message=message,
                    )
                )
            )
        for framework in self.frameworks.values():
            framework.send({"type": "FAILURE", "failure": {"agent_id": {"value": agent_id}}})

    # -- Status updates from agents ---------------------------------------

    def status_update(self, agent: SimAgent, framework_id: str, status: dict[str, Any]) -> None:
        """An agent's status update: record it and forward it to the framework."""
        if not self.leading:
            return
        master_agent = self.agents.get(agent.id)
        framework = self.frameworks.get(framework_id)
        if master_agent is None or framework is None:
            return
        task_id = status["task_id"]["value"]
        task = master_agent.tasks.get((framework_id, task_id))
        if task is not None:
            if not is_terminal(task.state) and is_terminal(status["state"]):
                master_agent.used = master_agent.used - task.resources
            task.state = status["state"]
            if not task.statuses or task.statuses[-1]["state"] != status["state"]:
                task.statuses.append(status)
            task.status = status
        if framework.connected:
            if task is not None:
                task.update_state = status["state"]
            framework.send(_update(status))

    def executor_message(
        self, agent: SimAgent, framework_id: str, executor_id: str, data: str
    ) -> None:
        """Forward an executor's message to its framework as a MESSAGE event."""
        framework = self.frameworks.get(framework_id)
        if self.leading and framework is not None:
            framework.send(
                {
                    "type": "MESSAGE",
                    "message": {
                        "agent_id": {"value": agent.id},
                        "executor_id": {"value": executor_id},
                        "data": data,
                    },
                }
            )

    # -- Subscription -----------------------------------------------------

    def validate(self, call: dict[str, Any]) -> str:
        """Check a call's shape; return its type or raise a 400 `CallError`."""
        kind = call.get("type")
        if not isinstance(kind, str):
            raise CallError(
                400, "Failed to validate scheduler::Call: Expecting 'type' to be present"
            )
        if kind not in _CALLS:
            raise CallError(
                400, f"Failed to convert JSON into Call protobuf: unknown call type {kind!r}"
            )
        field = _CALL_FIELDS.get(kind)
        if field is not None and not isinstance(call.get(field), dict):
            raise CallError(
                400, f"Failed to validate scheduler::Call: Expecting '{field}' to be present"
            )
        if kind == "SUBSCRIBE":
            info = call["subscribe"].get("framework_info")
            if not isinstance(info, dict):
                raise CallError(
                    400,
                    "Failed to validate scheduler::Call: "
                    "Expecting 'subscribe.framework_info' to be present",
                )
            for required in ("user", "name"):
                if not isinstance(info.get(required), str):
                    raise CallError(
                        400,
                        "Failed to convert JSON into Call protobuf: "
                        f"missing required field 'framework_info.{required}'",
                    )
            _check_framework_info(info)
            call_id = _optional_value(call, "framework_id")
            info_id = _optional_value(info, "id")
            if call_id != info_id:
                raise CallError(
                    400,
                    "Failed to validate scheduler::Call: 'framework_id' differs from "
                    "'subscribe.framework_info.id'",
                )
        else:
            _value(call, "framework_id")
        if kind == "ACCEPT":
            _check_operations(call["accept"].get("operations", []))
        return kind

    def subscribe(self, call: dict[str, Any], sink: EventSink) -> None:
        """Subscribe a framework on ``sink`` (new, re-subscribing or failing over)."""
        info = dict(call["subscribe"]["framework_info"])
        framework_id = _optional_value(call, "framework_id")
        role = info.get("role", "*")
        if not isinstance(role, str) or "/" in role or role in ("", ".", ".."):
            sink.send(_error(f"Role '{role}' is invalid"))
            sink.close()
            return
        if framework_id is not None and framework_id in self.removed_framework_ids:
            sink.send(_error("Framework has been removed"))
            sink.close()
            return
        if framework_id is None:
            framework_id = f"{self.id}-{next(self._framework_seq):04d}"
        info["id"] = {"value": framework_id}
        framework = self.frameworks.get(framework_id)
        if framework is None:
            framework = Framework(framework_id, info)
            self.frameworks[framework_id] = framework
        else:
            framework.info = info
            framework.recovered = False
            if framework.sink is not None:
                framework.sink.send(_error("Framework failed over"))
                framework.sink.close()
                framework.sink = None
            for offer in list(framework.offers.values()):
                self._remove_offer(offer)
        if framework.failover is not None:
            framework.failover.cancel()
            framework.failover = None
        framework.sink = sink
        framework.suppressed = False
        framework.filters.clear()
        sink.send(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "framework_id": {"value": framework_id},
                    "heartbeat_interval_seconds": self.timing.heartbeat_interval,
                    "master_info": self.info,
                },
            }
        )
        self._heartbeat(framework, sink)
        self._schedule_allocation()

    def _heartbeat(self, framework: Framework, sink: EventSink) -> None:
        if framework.sink is not sink:
            return
        sink.send({"type": "HEARTBEAT"})
        framework.heartbeat = self.loop.call_later(
            self.timing.heartbeat_interval, self._heartbeat, framework, sink
        )

    def stream_closed(self, sink: EventSink) -> None:
        """The subscriber's connection ended: deactivate, start the failover timeout."""
        for framework in self.frameworks.values():
            if framework.sink is sink:
                self._disconnect(framework)
                return

    def _disconnect(self, framework: Framework) -> None:
        framework.sink = None
        framework.unregistered_time = time.time()
        if framework.heartbeat is not None:
            framework.heartbeat.cancel()
            framework.heartbeat = None
        for offer in list(framework.offers.values()):
            self._remove_offer(offer)
        timeout = framework.info.get("failover_timeout", 0.0)
        timeout = float(timeout) if isinstance(timeout, int | float) else 0.0
        framework.failover = self.loop.call_later(
            max(timeout, 0.0), self._failover_expired, framework
        )

    def _failover_expired(self, framework: Framework) -> None:
        framework.failover = None
        if framework.sink is None and self.frameworks.get(framework.id) is framework:
            self._remove_framework(framework)

    def drop_stream(self, framework_id: str) -> bool:
        """Fault: cut a framework's subscription connection."""
        framework = self.frameworks.get(framework_id)
        if framework is None or framework.sink is None:
            return False
        sink = framework.sink
        self._disconnect(framework)
        sink.abort()
        return True

    # -- Calls ------------------------------------------------------------

    def call(self, call: dict[str, Any], kind: str, stream_id: str | None) -> None:
        """Run a validated non-SUBSCRIBE call; raise `CallError` for 4xx."""
        framework_id = _value(call, "framework_id")
        framework = self.frameworks.get(framework_id)
        if framework is None:
            raise CallError(400, f"Framework '{framework_id}' cannot be found")
        if framework.sink is None:
            raise CallError(403, f"Framework '{framework_id}' is not subscribed")
        if stream_id is None:
            raise CallError(
                400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
            )
        if stream_id != framework.sink.stream_id:
            raise CallError(
                400,
                f"The stream ID '{stream_id}' included in this request "
                f"didn't match the stream ID currently associated with framework ID "
                f"'{framework_id}'",
            )
        handler = getattr(self, "_call_" + kind.lower(), None)
        if handler is not None:
            handler(framework, call)

    def _call_teardown(self, framework: Framework, call: dict[str, Any]) -> None:
        self._remove_framework(framework)

    def _call_revive(self, framework: Framework, call: dict[str, Any]) -> None:
        framework.suppressed = False
        framework.filters.clear()
        self._schedule_allocation()

    def _call_suppress(self, framework: Framework, call: dict[str, Any]) -> None:
        framework.suppressed = True

    def _call_decline(self, framework: Framework, call: dict[str, Any]) -> None:
        body = call["decline"]
        offer_ids = self._offer_ids(body)
        refuse = self._refuse_seconds(body)
        for offer_id in offer_ids:
            offer = self.offers.get(offer_id)
            if offer is not None and offer.framework_id == framework.id:
                self._remove_offer(offer)
                self._filter(framework, offer.agent_id, refuse)

    def _call_accept(self, framework: Framework, call: dict[str, Any]) -> None:
        body = call["accept"]
        offer_ids = self._offer_ids(body)
        refuse = self._refuse_seconds(body)
        operations = body.get("operations", [])
        if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
            raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'operations'")
        offers = [self.offers.get(i) for i in offer_ids]
        error = None
        if not offer_ids:
            error = "No offers specified"
        elif len(set(offer_ids)) != len(offer_ids):
            error = "Duplicate offers"
        elif any(o is None or o.framework_id != framework.id for o in offers):
            missing = [i for i, o in zip(offer_ids, offers, strict=True) if o is None]
            error = f"Offer {missing[0] if missing else offer_ids[0]} is no longer valid"
        elif len({o.agent_id for o in offers if o is not None}) > 1:
            error = "Aggregated offers must belong to one single agent"
        valid = [o for o in offers if o is not None and o.framework_id == framework.id]
        if error is not None:
            for offer in valid:
                self._remove_offer(offer)
            state = "TASK_DROPPED" if framework.partition_aware else "TASK_LOST"
            for task in _launched_tasks(operations):
                task_id = _task_id(task)
                if task_id is not None:
                    framework.send(
                        _update(
                            make_status(
                                task_id,
                                state,
                                agent_id=None,
                                source="SOURCE_MASTER",
                                reason="REASON_INVALID_OFFERS",
                                message=f"Task launched with invalid offers: {error}",
                            )
                        )
                    )
            return
        agent_id = valid[0].agent_id
        master_agent = self.agents[agent_id]
        remaining = Resources()
        for offer in valid:
            remaining = remaining + offer.resources
            self._remove_offer(offer)
        for operation in operations:
            kind = operation.get("type")
            if kind == "LAUNCH":
                tasks = (operation.get("launch") or {}).get("task_infos", [])
                executor = None
            elif kind == "LAUNCH_GROUP":
                group = operation.get("launch_group") or {}
                tasks = (group.get("task_group") or {}).get("tasks", [])
                executor = group.get("executor")
            else:
                # Reservations and volumes are not simulated; Mesos would apply them.
                log.info("ignoring unsupported operation %r", kind)
                continue
            if not isinstance(tasks, list):
                continue
            for task_info in tasks:
                remaining = self._launch(framework, master_agent, task_info, executor, remaining)
        if not remaining.empty():
            self._filter(framework, agent_id, refuse)

    def _launch(
        self,
        framework: Framework,
        master_agent: MasterAgent,
        task_info: Any,
        executor: Any,
        remaining: Resources,
    ) -> Resources:
        task_id = _task_id(task_info)
        if task_id is None:
            return remaining  # Nothing to answer about: it has no id.
        assert isinstance(task_info, dict)
        problem = None
        resources = Resources()
        try:
            resources = Resources.from_json(task_info.get("resources", []))
        except ResourceError as exc:
            problem = f"Task uses invalid resources: {exc}"
        if problem is not None:
            pass
        elif task_id in framework.tasks:
            problem = f"Task has duplicate ID: {task_id}"
        elif _optional_str(task_info, "agent_id") not in (None, master_agent.agent.id):
            problem = "Task uses an agent ID that differs from the offer's agent"
        elif not isinstance(task_info.get("name"), str):
            problem = "Task has no name"
        elif resources.empty():
            problem = "Task uses no resources"
        elif not remaining.contains(resources):
            problem = (
                f"Task uses more resources {resources.to_state()} than available "
                f"{remaining.to_state()}"
            )
        if problem is not None:
            framework.send(
                _update(
                    make_status(
                        task_id,
                        "TASK_ERROR",
                        agent_id=master_agent.agent.id,
                        source="SOURCE_MASTER",
                        reason="REASON_TASK_INVALID",
                        message=problem,
                    )
                )
            )
            return remaining
        info = dict(task_info)
        info["agent_id"] = {"value": master_agent.agent.id}
        if executor is not None:
            info["executor"] = executor
        executor_id = ((info.get("executor") or {}).get("executor_id") or {}).get("value", task_id)
        task = Task(task_id, framework.id, master_agent.agent.id, info, resources, executor_id)
        framework.tasks[task_id] = task
        master_agent.tasks[(framework.id, task_id)] = task
        master_agent.used = master_agent.used + resources
        master_agent.agent.run_task(framework.info, info, resources)
        return remaining - resources

    def _call_kill(self, framework: Framework, call: dict[str, Any]) -> None:
        body = call["kill"]
        task_id = _value(body, "task_id")
        agent_id = _optional_value(body, "agent_id")
        task = framework.tasks.get(task_id)
        if task is None:
            # Unknown task: Mesos reconciles it so the framework learns its fate.
            self._reconcile_unknown(framework, task_id, agent_id)
            return
        master_agent = self.agents.get(task.agent_id)
        if master_agent is not None:
            master_agent.agent.kill_task(framework.id, task_id)

    def _call_shutdown(self, framework: Framework, call: dict[str, Any]) -> None:
        body = call["shutdown"]
        executor_id = _value(body, "executor_id")
        agent_id = _value(body, "agent_id")
        master_agent = self.agents.get(agent_id)
        if master_agent is not None:
            master_agent.agent.shutdown_executor(framework.id, executor_id)

    def _call_acknowledge(self, framework: Framework, call: dict[str, Any]) -> None:
        body = call["acknowledge"]
        agent_id = _value(body, "agent_id")
        task_id = _value(body, "task_id")
        uuid = body.get("uuid")
        try:
            if not isinstance(uuid, str) or len(base64.b64decode(uuid, validate=True)) != 16:
                raise ValueError(uuid)
        except (ValueError, binascii.Error):
            raise CallError(
                400, "Failed to validate scheduler::Call: 'uuid' is not a valid UUID"
            ) from None
        master_agent = self.agents.get(agent_id)
        if master_agent is None:
            return
        master_agent.agent.acknowledge(framework.id, task_id, uuid)
        task = master_agent.tasks.get((framework.id, task_id))
        if (
            task is not None
            and is_terminal(task.state)
            and (framework.id, task_id) not in master_agent.agent.tasks
        ):
            # The terminal update is acknowledged: the task is complete.
            master_agent.tasks.pop((framework.id, task_id), None)
            framework.tasks.pop(task_id, None)
            framework.completed_tasks.append(task)

    def _call_reconcile(self, framework: Framework, call: dict[str, Any]) -> None:
        tasks = call["reconcile"].get("tasks", [])
        if not isinstance(tasks, list):
            raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'reconcile.tasks'")
        if not tasks:
            # Implicit: the latest state of every task the master knows.
            for known in list(framework.tasks.values()) + list(
                framework.unreachable_tasks.values()
            ):
                framework.send(_update(self._reconcile_status(known)))
            return
        for entry in tasks:
            task_id = _value(entry, "task_id")
            agent_id = _optional_value(entry, "agent_id")
            task = framework.tasks.get(task_id) or framework.unreachable_tasks.get(task_id)
            if task is not None:
                framework.send(_update(self._reconcile_status(task)))
            else:
                self._reconcile_unknown(framework, task_id, agent_id)

    def _reconcile_status(self, task: Task) -> dict[str, Any]:
        state = task.update_state or task.state
        return make_status(
            task.id,
            state,
            agent_id=task.agent_id,
            source="SOURCE_MASTER",
            reason="REASON_RECONCILIATION",
            message="Reconciliation: Latest task state",
        )

    def _reconcile_unknown(self, framework: Framework, task_id: str, agent_id: str | None) -> None:
        if agent_id is not None:
            if agent_id in self.recovering:
                return  # No answer while the agent may still re-register.
            if agent_id in self.agents:
                state, message = "TASK_GONE", "Reconciliation: Task is unknown to the agent"
            elif agent_id in self.registry.unreachable:
                state, message = "TASK_UNREACHABLE", "Reconciliation: Task is unreachable"
            elif agent_id in self.registry.gone:
                state, message = "TASK_GONE_BY_OPERATOR", "Reconciliation: Task is gone"
            else:
                state, message = "TASK_UNKNOWN", "Reconciliation: Task is unknown"
        else:
            if self.recovering:
                return  # Any recovering agent may still report the task.
            state, message = "TASK_UNKNOWN", "Reconciliation: Task is unknown"
        if not framework.partition_aware:
            state = "TASK_LOST"
        framework.send(
            _update(
                make_status(
                    task_id,
                    state,
                    agent_id=agent_id,
                    source="SOURCE_MASTER",
                    reason="REASON_RECONCILIATION",
                    message=message,
                )
            )
        )

    def _call_message(self, framework: Framework, call: dict[str, Any]) -> None:
        body = call["message"]
        agent_id = _value(body, "agent_id")
        executor_id = _value(body, "executor_id")
        data = body.get("data", "")
        if not isinstance(data, str):
            raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'message.data'")
        master_agent = self.agents.get(agent_id)
        if master_agent is not None:
            master_agent.agent.framework_message(framework.id, executor_id, data)

    # -- Framework removal -------------------------------------------------

    def _remove_framework(self, framework: Framework) -> None:
        self.frameworks.pop(framework.id, None)
        self.removed_framework_ids.add(framework.id)
        for handle in (framework.heartbeat, framework.failover):
            if handle is not None:
                handle.cancel()
        for offer in list(framework.offers.values()):
            self._remove_offer(offer)
        for task in list(framework.tasks.values()):
            self._remove_task(framework, task)
            task.state = "TASK_KILLED"
            framework.completed_tasks.append(task)
        for master_agent in self.agents.values():
            master_agent.agent.shutdown_framework(framework.id)
        framework.unregistered_time = time.time()
        self.completed_frameworks.append(framework)
        if framework.sink is not None:
            framework.sink.close()
            framework.sink = None

    def _remove_task(self, framework: Framework, task: Task) -> None:
        framework.tasks.pop(task.id, None)
        framework.unreachable_tasks.pop(task.id, None)
        master_agent = self.agents.get(task.agent_id)
        if (
            master_agent is not None
            and master_agent.tasks.pop((framework.id, task.id), None) is not None
            and not is_terminal(task.state)
        ):
            master_agent.used = master_agent.used - task.resources

    # -- Offers -----------------------------------------------------------

    def _offer_ids(self, body: dict[str, Any]) -> list[str]:
        ids = body.get("offer_ids", [])
        if not isinstance(ids, list):
            raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'offer_ids'")
        out = []
        for entry in ids:
            if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
                raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'offer_ids'")
            out.append(entry["value"])
        return out

    def _refuse_seconds(self, body: dict[str, Any]) -> float:
        filters = body.get("filters")
        if filters is None:
            return self.timing.default_refuse_seconds
        refuse = filters.get("refuse_seconds") if isinstance(filters, dict) else None
        if refuse is None:
            return self.timing.default_refuse_seconds
        if not isinstance(refuse, int | float) or isinstance(refuse, bool):
            raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'refuse_seconds'")
        return float(refuse)

    def _filter(self, framework: Framework, agent_id: str, seconds: float) -> None:
        if seconds > 0:
            framework.filters[agent_id] = self.loop.time() + seconds

    def _remove_offer(self, offer: Offer) -> None:
        self.offers.pop(offer.id, None)
        if offer.timeout is not None:
            offer.timeout.cancel()
        framework = self.frameworks.get(offer.framework_id)
        if framework is not None:
            framework.offers.pop(offer.id, None)
        master_agent = self.agents.get(offer.agent_id)
        if master_agent is not None and master_agent.offers.pop(offer.id, None) is not None:
            master_agent.offered = master_agent.offered - offer.resources

    def _rescind(self, offer: Offer) -> None:
        self._remove_offer(offer)
        framework = self.frameworks.get(offer.framework_id)
        if framework is not None:
            framework.send({"type": "RESCIND", "rescind": {"offer_id": {"value": offer.id}}})

    def rescind_offer(self, offer_id: str) -> bool:
        """Rescind one outstanding offer (as ``--offer_timeout`` or an operator does)."""
        offer = self.offers.get(offer_id)
        if offer is None:
            return False
        self._rescind(offer)
        return True

    def _schedule_allocation(self) -> None:
        """Allocate soon, coalescing triggers (a new framework, REVIVE, an agent).

        Resources freed otherwise (declined, unused, of ended tasks) wait for
        the next periodic cycle, as in Mesos's batch allocator.
        """
        if not self.leading or self._allocation_soon is not None:
            return
        self._allocation_soon = self.loop.call_soon(self.allocate)

    def allocate(self) -> int:
        """One allocation cycle: offer every free agent to a framework; return offers made."""
        self._allocation_soon = None
        if self._allocation_timer is not None:
            self._allocation_timer.cancel()
        if not self.leading:
            return 0
        self._allocation_timer = self.loop.call_later(
            self.timing.allocation_interval, self.allocate
        )
        now = self.loop.time()
        frameworks = [f for f in self.frameworks.values() if f.connected and not f.suppressed]
        if not frameworks:
            return 0
        # DRF-like: the framework holding the smallest share of cpus goes first.
        shares = {f.id: self._cpu_share(f) for f in frameworks}
        batches: dict[str, list[dict[str, Any]]] = {}
        count = 0
        for master_agent in self.agents.values():
            agent = master_agent.agent
            if not agent.reachable or master_agent.offers:
                continue
            # Filters first: they are cheap, resource arithmetic is not.
            best: Framework | None = None
            for framework in frameworks:
                until = framework.filters.get(agent.id)
                if until is not None:
                    if until > now:
                        continue
                    del framework.filters[agent.id]
                if best is None or shares[framework.id] < shares[best.id]:
                    best = framework
            if best is None:
                continue
            available = master_agent.available()
            if available.empty():
                continue
            offer = Offer(f"{self.id}-O{next(self._offer_seq)}", best.id, agent.id, available)
            self.offers[offer.id] = offer
            best.offers[offer.id] = offer
            master_agent.offers[offer.id] = offer
            master_agent.offered = master_agent.offered + available
            shares[best.id] += available.scalars.get("cpus", 0.0)
            if self.timing.offer_timeout is not None:
                offer.timeout = self.loop.call_later(
                    self.timing.offer_timeout, self.rescind_offer, offer.id
                )
            batches.setdefault(best.id, []).append(self._offer_json(offer, best, agent))
            count += 1
        for framework_id, offers in batches.items():
            self.frameworks[framework_id].send({"type": "OFFERS", "offers": {"offers": offers}})
            for listener in self.offer_listeners:
                listener(framework_id, len(offers))
        return count

    def _cpu_share(self, framework: Framework) -> float:
        used = sum(t.resources.scalars.get("cpus", 0.0) for t in framework.tasks.values())
        offered = sum(o.resources.scalars.get("cpus", 0.0) for o in framework.offers.values())
        return used + offered

    def _offer_json(self, offer: Offer, framework: Framework, agent: SimAgent) -> dict[str, Any]:
        role = framework.role
        return {
            "id": {"value": offer.id},
            "framework_id": {"value": framework.id},
            "agent_id": {"value": agent.id},
            "hostname": agent.hostname,
            "url": {
                "scheme": "http",
                "address": {"hostname": agent.hostname, "ip": "127.0.0.1", "port": agent.port},
                "path": "/slave(1)",
            },
            "resources": offer.resources.to_json(role),
            "attributes": agent.attributes_json(),
            "allocation_info": {"role": role},
        }

    # -- /master/state ----------------------------------------------------

    def state(self, leader_info: dict[str, Any] | None) -> dict[str, Any]:
        """The ``/master/state`` document."""
        agents = []
        for master_agent in self.agents.values():
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
                    "reserved_resources": {},
                    "unreserved_resources": agent.resources.to_state(),
                    "attributes": {
                        k: v if isinstance(v, str) else float(v)
                        for k, v in agent.attributes.items()
                    },
                    "active": agent.reachable,
                    "version": self.info["version"],
                    "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
                }
            )
        frameworks = [self._framework_state(f) for f in self.frameworks.values()]
        completed = [self._framework_state(f) for f in self.completed_frameworks]
        address = self.info["address"]
        leader = leader_info or self.info
        return {
            "version": self.info["version"],
            "git_sha": "",
            "git_tag": self.info["version"],
            "build_date": "",
            "build_time": 0.0,
            "build_user": "ark-sim",
            "start_time": self.start_time,
            "elected_time": self.elected_time,
            "id": self.id,
            "pid": self.info["pid"],
            "hostname": address["hostname"],
            "capabilities": ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
            "activated_slaves": sum(1 for a in self.agents.values() if a.agent.reachable),
            "deactivated_slaves": 0,
            "unreachable_slaves": len(self.registry.unreachable),
            "leader": leader["pid"],
            "leader_info": leader,
            "cluster": "ark-sim",
            "flags": {
                "heartbeat_interval": f"{self.timing.heartbeat_interval}secs",
                "allocation_interval": f"{self.timing.allocation_interval}secs",
                "agent_ping_timeout": f"{self.timing.agent_ping_timeout}secs",
            },
            "slaves": agents,
            "frameworks": frameworks,
            "completed_frameworks": completed,
            "orphan_tasks": [],
            "unregistered_frameworks": [],
        }

    def _framework_state(self, framework: Framework) -> dict[str, Any]:
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
            "tasks": [t.to_state() for t in framework.tasks.values()],
            "unreachable_tasks": [t.to_state() for t in framework.unreachable_tasks.values()],
            "completed_tasks": [t.to_state() for t in framework.completed_tasks],
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


def _bad(field: str) -> CallError:
    return CallError(400, f"Failed to convert JSON into Call protobuf: bad '{field}'")


def _check_framework_info(info: dict[str, Any]) -> None:
    """Reject the FrameworkInfo fields of a wrong JSON type, as protobuf parsing does."""
    types: dict[str, type | tuple[type, ...]] = {
        "role": str,
        "hostname": str,
        "principal": str,
        "webui_url": str,
        "checkpoint": bool,
        "failover_timeout": (int, float),
        "roles": list,
        "capabilities": list,
        "labels": dict,
    }
    for field, kind in types.items():
        value = info.get(field)
        if value is not None and (
            not isinstance(value, kind) or (field == "failover_timeout" and isinstance(value, bool))
        ):
            raise _bad(f"framework_info.{field}")
    if not all(isinstance(r, str) for r in info.get("roles") or []):
        raise _bad("framework_info.roles")
    for capability in info.get("capabilities") or []:
        if not isinstance(capability, dict) or not isinstance(capability.get("type"), str):
            raise _bad("framework_info.capabilities")


def _check_operations(operations: Any) -> None:
    """Reject ACCEPT operations of a wrong JSON shape before anything changes."""
    if not isinstance(operations, list):
        raise _bad("accept.operations")
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("type"), str):
            raise _bad("accept.operations")
        kind = operation["type"]
        if kind == "LAUNCH":
            launch = operation.get("launch")
            if not isinstance(launch, dict):
                raise _bad("operations.launch")
            tasks = launch.get("task_infos", [])
        elif kind == "LAUNCH_GROUP":
            group = operation.get("launch_group")
            if not isinstance(group, dict) or not isinstance(group.get("task_group", {}), dict):
                raise _bad("operations.launch_group")
            executor = group.get("executor")
            if executor is not None and not isinstance(executor, dict):
                raise _bad("operations.launch_group.executor")
            tasks = group.get("task_group", {}).get("tasks", [])
        else:
            continue
        if not isinstance(tasks, list):
            raise _bad("operations.task_infos")
        for task in tasks:
            if not isinstance(task, dict):
                raise _bad("operations.task_infos")
            for field in ("executor", "labels", "command", "container"):
                if task.get(field) is not None and not isinstance(task[field], dict):
                    raise _bad(f"task_info.{field}")
            labels = (task.get("labels") or {}).get("labels", [])
            if not isinstance(labels, list):
                raise _bad("task_info.labels")
            executor_id = (task.get("executor") or {}).get("executor_id")
            if executor_id is not None and not isinstance(executor_id, dict):
                raise _bad("task_info.executor.executor_id")


def _update(status: dict[str, Any]) -> dict[str, Any]:
    return {"type": "UPDATE", "update": {"status": status}}


def _error(message: str) -> dict[str, Any]:
    return {"type": "ERROR", "error": {"message": message}}


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _task_id(task: Any) -> str | None:
    if not isinstance(task, dict):
        return None
    inner = task.get("task_id")
    value = inner.get("value") if isinstance(inner, dict) else None
    return value if isinstance(value, str) and value else None


def _optional_str(obj: dict[str, Any], field: str) -> str | None:
    inner = obj.get(field)
    value = inner.get("value") if isinstance(inner, dict) else None
    return value if isinstance(value, str) else None


def _launched_tasks(operations: Iterable[dict[str, Any]]) -> list[Any]:
    tasks: list[Any] = []
    for operation in operations:
        if operation.get("type") == "LAUNCH":
            found = (operation.get("launch") or {}).get("task_infos", [])
        elif operation.get("type") == "LAUNCH_GROUP":
            group = operation.get("launch_group") or {}
            found = (group.get("task_group") or {}).get("tasks", [])
        else:
            continue
        if isinstance(found, list):
            tasks.extend(found)
    return tasks


def master_info(
    master_id: str, host: str, port: int, version: str, hostname: str | None = None
) -> dict[str, Any]:
    """A JSON ``MasterInfo`` as real masters publish it (in ZooKeeper too)."""
    octets = [int(x) for x in host.split(".")] if host.count(".") == 3 else [127, 0, 0, 1]
    # MasterInfo.ip is the IPv4 address in network byte order read as a
    # little-endian uint32 (127.0.0.1 -> 16777343), as Mesos writes it.
    ip = int.from_bytes(bytes(octets), "little")
    name = hostname or host
    return {
        "id": master_id,
        "ip": ip,
        "port": port,
        "pid": f"master@{host}:{port}",
        "hostname": name,
        "version": version,
        "address": {"hostname": name, "ip": host, "port": port},
        "capabilities": [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}],
    }
