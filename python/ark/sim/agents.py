"""Simulated agents: their resources, the tasks they run and their status
update managers.

Over 600 lines on purpose: the agent and the master's side of its lifecycle
(registration, status updates, removal) are kept next to each other, as
Mesos keeps them in its own agent and master handlers.

An agent is the truth about its tasks. It runs each task's lifecycle
(STAGING, then STARTING, RUNNING and a terminal state on the configured
durations) and, like Mesos's status update manager, keeps each task's
updates in order, sends the oldest unacknowledged one to the leading master
and re-sends it with exponential backoff until the framework acknowledges
it. Agents outlive masters: a newly elected master learns every task from
the agents that re-register with it.

The master's side of an agent's life (registration, status updates,
unreachability, removal) is `AgentLifecycle`, at the end of this file.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import re
import time
from collections import deque
from typing import Any, Protocol

from .allocator import Allocator
from .config import AgentShape, TaskBehaviour, Timing
from .frameworks import Framework, Offer, Task, master_update, update_event
from .health import HealthChecker, kill_grace_seconds
from .pods import TaskGroup, ends_group, freed_by_end
from .registry import Registry
from .resources import Resources, split_key
from .tasks import OUTCOMES, is_terminal, make_status

__all__ = [
    "AgentLifecycle",
    "AgentTask",
    "MasterAgent",
    "MasterLink",
    "PendingUpdate",
    "SimAgent",
    "build_agents",
]

log = logging.getLogger(__name__)


class MasterLink(Protocol):
    """What an agent needs from the master it is registered with."""

    def status_update(self, agent: SimAgent, framework_id: str, status: dict[str, Any]) -> None:
        """Receive a status update (with a uuid) from ``agent``."""

    def executor_message(
        self, agent: SimAgent, framework_id: str, executor_id: str, data: str
    ) -> None:
        """Receive a message from an executor on ``agent``."""


class PendingUpdate:
    """One status update waiting for its acknowledgement."""

    __slots__ = ("status", "uuid")

    def __init__(self, status: dict[str, Any], uuid: str) -> None:
        self.status = status
        self.uuid = uuid


class AgentTask:
    """A task as its agent knows it."""

    __slots__ = (
        "backoff",
        "checker",
        "executor_id",
        "framework_id",
        "info",
        "killed_by_health_check",
        "lifecycle",
        "passing",
        "resources",
        "retry",
        "state",
        "updates",
    )

    def __init__(
        self, framework_id: str, info: dict[str, Any], resources: Resources, executor_id: str
    ) -> None:
        self.framework_id = framework_id
        self.info = info
        self.resources = resources
        self.executor_id = executor_id
        self.state = "TASK_STAGING"
        self.updates: deque[PendingUpdate] = deque()
        self.retry: asyncio.TimerHandle | None = None
        self.lifecycle: asyncio.TimerHandle | None = None
        self.backoff = 0.0
        #: The health checker while the task runs with a check (sim/health.py).
        self.checker: HealthChecker | None = None
        #: What the task's health checks answer (``Cluster.set_health``).
        self.passing = _label(info, "ark.sim/health") != "fail"
        self.killed_by_health_check = False


class SimAgent:
    """One simulated agent (``mesos-agent`` with the command executor)."""

    def __init__(
        self,
        agent_id: str,
        hostname: str,
        resources: Resources,
        attributes: dict[str, str | float],
        *,
        loop: asyncio.AbstractEventLoop,
        rng: random.Random,
        behaviour: TaskBehaviour,
        timing: Timing,
        echo_messages: bool = True,
        port: int = 5051,
    ) -> None:
        self.id = agent_id
        self.hostname = hostname
        self.port = port
        self.resources = resources
        self.attributes = attributes
        self.loop = loop
        self.rng = rng
        self.behaviour = behaviour
        self.timing = timing
        self.echo_messages = echo_messages
        #: The master this agent is registered with; None while it has none.
        self.master: MasterLink | None = None
        #: False after `kill`: the agent process and its tasks are gone.
        self.alive = True
        #: True while the network between this agent and the masters is cut.
        self.partitioned = False
        self.tasks: dict[tuple[str, str], AgentTask] = {}
        self.frameworks: dict[str, dict[str, Any]] = {}
        #: Operations with an id whose status is not acknowledged yet, by
        #: (framework id, operation id): `ark.sim.operations`.
        self.operations: dict[tuple[str, str], Any] = {}
        #: The data of each persistent volume, by persistence id: what tasks
        #: on the volume wrote (``ark.sim/volume-write``) and a later one reads.
        self.volumes: dict[str, dict[str, str]] = {}
        #: The task group of each task launched by a LAUNCH_GROUP.
        self.task_groups: dict[tuple[str, str], TaskGroup] = {}

    # -- Views -------------------------------------------------------------

    @property
    def reachable(self) -> bool:
        """Whether the masters can hear this agent."""
        return self.alive and not self.partitioned

    def attributes_json(self) -> list[dict[str, Any]]:
        """The v1 JSON ``Attribute`` list."""
        out: list[dict[str, Any]] = []
        for name, value in self.attributes.items():
            if isinstance(value, str):
                out.append({"name": name, "type": "TEXT", "text": {"value": value}})
            else:
                out.append({"name": name, "type": "SCALAR", "scalar": {"value": float(value)}})
        return out

    # -- Calls from the master ---------------------------------------------

    def run_task(
        self,
        framework_info: dict[str, Any],
        task: dict[str, Any],
        resources: Resources,
    ) -> None:
        """Start ``task`` (a v1 JSON ``TaskInfo``) for a framework."""
        if not self.reachable:
            return  # The launch message is lost in the partition, as in Mesos.
        framework_id = framework_info["id"]["value"]
        self.frameworks[framework_id] = framework_info
        task_id = task["task_id"]["value"]
        executor = task.get("executor") or {}
        executor_id = (executor.get("executor_id") or {}).get("value") or task_id
        agent_task = AgentTask(framework_id, task, resources, executor_id)
        self.tasks[(framework_id, task_id)] = agent_task
        agent_task.lifecycle = self.loop.call_later(
            _seconds_label(task, "ark.sim/staging", self.behaviour.staging_seconds),
            self._advance,
            agent_task,
            "TASK_STARTING",
        )

    def run_task_group(
        self,
        framework_info: dict[str, Any],
        tasks: list[tuple[dict[str, Any], Resources]],
    ) -> None:
        """Start the tasks of a LAUNCH_GROUP under one default executor."""
        framework_id = framework_info["id"]["value"]
        group = TaskGroup([info["task_id"]["value"] for info, _ in tasks])
        for info, resources in tasks:
            self.task_groups[(framework_id, info["task_id"]["value"])] = group
            self.run_task(framework_info, info, resources)

    def kill_task(self, framework_id: str, task_id: str) -> bool:
        """Kill a task; return False if this agent does not know it."""
        task = self.tasks.get((framework_id, task_id))
        if task is None or not self.reachable:
            return False
        if is_terminal(task.state) or task.state == "TASK_KILLING":
            return True  # Already ending: a repeated kill changes nothing.
        if task.lifecycle is not None:
            task.lifecycle.cancel()
        if task.state == "TASK_STAGING":
            # Mesos's Slave::kill before the executor registers: the agent
            # itself ends the task at once, with no TASK_KILLING.
            self._transition(
                task,
                "TASK_KILLED",
                "REASON_TASK_KILLED_DURING_LAUNCH",
                source="SOURCE_AGENT",
                message="Killed before delivery to the executor",
            )
            return True
        self._executor_kill(task)
        return True

    def _executor_kill(self, task: AgentTask) -> None:
        """The command executor's kill: TASK_KILLING if the framework takes it,
        SIGTERM, and SIGKILL after the kill policy's grace (sim/health.py)."""
        if task.checker is not None:
            task.checker.stop()
            task.checker = None
        capabilities = self.frameworks.get(task.framework_id, {}).get("capabilities", [])
        if any(c.get("type") == "TASK_KILLING_STATE" for c in capabilities):
            self._transition(task, "TASK_KILLING")
        # Mesos marks the terminal update of a task its health check killed.
        healthy = False if task.killed_by_health_check else None
        exits = _seconds_label(task.info, "ark.sim/kill", self.behaviour.kill_seconds)
        task.lifecycle = self.loop.call_later(
            min(exits, kill_grace_seconds(task.info)),
            lambda: self._transition(task, "TASK_KILLED", healthy=healthy),
        )

    def fail_task(self, framework_id: str, task_id: str) -> bool:
        """The task's process exits 1 now (TASK_FAILED, as ``_finish`` ends a
        failing one); False if this agent runs no such task."""
        task = self.tasks.get((framework_id, task_id))
        if task is None or task.state != "TASK_RUNNING" or not self.reachable:
            return False
        if task.lifecycle is not None:
            task.lifecycle.cancel()
            task.lifecycle = None
        self._transition(task, "TASK_FAILED", message="Command exited with status 1")
        return True

    def set_health(self, framework_id: str, task_id: str, passing: bool) -> None:
        """Make the task's health checks pass or fail from now on."""
        task = self.tasks.get((framework_id, task_id))
        if task is not None:
            task.passing = passing

    def _health_result(self, task: AgentTask, healthy: bool, kill: bool) -> None:
        """The executor's ``taskHealthUpdated``: a TASK_RUNNING update, then maybe a kill."""
        if task.state != "TASK_RUNNING":
            return  # Killed or ended meanwhile: Mesos's executor drops the result.
        self._transition(
            task, "TASK_RUNNING", "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED", healthy=healthy
        )
        if kill:
            task.killed_by_health_check = True
            if task.lifecycle is not None:
                task.lifecycle.cancel()
            self._executor_kill(task)

    def shutdown_executor(self, framework_id: str, executor_id: str) -> None:
        """Shut an executor down, killing its tasks (TASK_KILLED)."""
        if not self.reachable:
            return
        for task in list(self.tasks.values()):
            if (
                task.framework_id == framework_id
                and task.executor_id == executor_id
                and not is_terminal(task.state)
            ):
                if task.lifecycle is not None:
                    task.lifecycle.cancel()
                # Mesos's command executor: its task's process was sent SIGTERM.
                self._transition(
                    task, "TASK_KILLED", message="Command terminated with signal Terminated"
                )

    def shutdown_framework(self, framework_id: str) -> None:
        """Remove a torn-down framework: its tasks end and their updates are dropped."""
        for key, task in list(self.tasks.items()):
            if task.framework_id == framework_id:
                self._forget(key, task)
        self.frameworks.pop(framework_id, None)

    def acknowledge(self, framework_id: str, task_id: str, uuid: str) -> None:
        """Acknowledge the update ``uuid`` of a task; the next one is sent."""
        key = (framework_id, task_id)
        task = self.tasks.get(key)
        if task is None or not task.updates or task.updates[0].uuid != uuid:
            return  # Duplicate or stale acknowledgement: Mesos ignores these too.
        task.updates.popleft()
        if task.retry is not None:
            task.retry.cancel()
            task.retry = None
        task.backoff = 0.0
        if task.updates:
            self._send_head(task)
        elif is_terminal(task.state):
            self._forget(key, task)

    def framework_message(self, framework_id: str, executor_id: str, data: str) -> None:
        """Deliver a framework message to an executor, which echoes it back if asked to."""
        if self.echo_messages and self.reachable and self.master is not None:
            self.master.executor_message(self, framework_id, executor_id, data)

    def reconcile_unknown(self, framework_info: dict[str, Any], task_id: str) -> None:
        """The master names a task this agent does not have: it answers reliably.

        Mesos's ``Slave::reconcileTasks``: TASK_DROPPED to a PARTITION_AWARE
        framework (TASK_LOST otherwise), SOURCE_AGENT, REASON_RECONCILIATION,
        through the status update manager, so it is retried until acknowledged.
        """
        framework_id = framework_info["id"]["value"]
        if (framework_id, task_id) in self.tasks:
            return
        caps = framework_info.get("capabilities") or []
        aware = any(isinstance(c, dict) and c.get("type") == "PARTITION_AWARE" for c in caps)
        info = {"task_id": {"value": task_id}, "name": task_id}
        task = AgentTask(framework_id, info, Resources(), task_id)
        task.executor_id = ""
        self.tasks[(framework_id, task_id)] = task
        self._transition(
            task,
            "TASK_DROPPED" if aware else "TASK_LOST",
            "REASON_RECONCILIATION",
            source="SOURCE_AGENT",
            message="Reconciliation: task unknown to the agent",
        )

    # -- Faults and re-registration ----------------------------------------

    def kill(self) -> None:
        """The agent process dies with every task and pending update."""
        self.alive = False
        for key, task in list(self.tasks.items()):
            self._forget(key, task)
        self.frameworks.clear()

    def restart(self) -> None:
        """The agent process starts again, with no tasks (they died with it)."""
        self.alive = True

    def flush_updates(self) -> None:
        """Re-send every task's oldest pending update: done after (re-)registering."""
        for task in self.tasks.values():
            if task.updates:
                if task.retry is not None:
                    task.retry.cancel()
                    task.retry = None
                task.backoff = 0.0
                self._send_head(task)

    # -- Lifecycle and status update manager -------------------------------

    def _advance(self, task: AgentTask, state: str) -> None:
        task.lifecycle = None
        self._transition(task, state)
        if state == "TASK_STARTING":
            task.lifecycle = self.loop.call_later(
                self.behaviour.starting_seconds, self._advance, task, "TASK_RUNNING"
            )
        elif state == "TASK_RUNNING":
            self._write_volumes(task)
            check = task.info.get("health_check")
            if isinstance(check, dict):
                task.checker = HealthChecker(
                    check,
                    self.loop,
                    lambda: task.passing,
                    lambda healthy, kill: self._health_result(task, healthy, kill),
                )
            duration = self._duration(task)
            if duration is not None:
                task.lifecycle = self.loop.call_later(duration, self._finish, task)

    def _write_volumes(self, task: AgentTask) -> None:
        """A running task's ``ark.sim/volume-write`` label (``key=value``) is
        written into each persistent volume among its resources, and its
        ``ark.sim/volume-count`` label (``key``) adds one to that key's count
        there (a shell's ``n=$(cat key); echo $((n+1)) > key``)."""
        label = _label(task.info, "ark.sim/volume-write")
        counter = _label(task.info, "ark.sim/volume-count")
        if label is None and counter is None:
            return
        for resource_key in task.resources.scalars:
            disk = split_key(resource_key)[2] or {}
            persistence_id = (disk.get("persistence") or {}).get("id")
            if persistence_id not in self.volumes:
                continue
            data = self.volumes[persistence_id]
            if label is not None:
                key, _, value = label.partition("=")
                data[key] = value
            if counter:
                count = data.get(counter, "0")
                data[counter] = str(int(count) + 1 if count.isdigit() else 1)

    def _duration(self, task: AgentTask) -> float | None:
        if _exit_status(task.info) is not None:
            return 0.0
        label = _label(task.info, "ark.sim/duration")
        if label is not None:
            try:
                seconds = float(label)
            except ValueError:
                seconds = float("inf")
            return None if seconds == float("inf") else max(seconds, 0.0)
        b = self.behaviour
        if b.run_seconds is None:
            return None
        jitter = self.rng.random() * b.run_jitter_seconds if b.run_jitter_seconds else 0.0
        return b.run_seconds + jitter

    def _finish(self, task: AgentTask) -> None:
        task.lifecycle = None
        outcome = _label(task.info, "ark.sim/outcome")
        status = _exit_status(task.info)
        if status is not None:
            outcome = "TASK_FINISHED" if status == 0 else "TASK_FAILED"
        elif outcome not in OUTCOMES:
            failed = self.behaviour.failure_rate > 0 and (
                self.rng.random() < self.behaviour.failure_rate
            )
            outcome = "TASK_FAILED" if failed else "TASK_FINISHED"
        # As Mesos's command executor: no reason, the exit status in the message.
        message = f"Command exited with status {status or 1}" if outcome == "TASK_FAILED" else None
        self._transition(task, outcome, message=message)

    def _transition(
        self,
        task: AgentTask,
        state: str,
        reason: str | None = None,
        *,
        source: str = "SOURCE_EXECUTOR",
        message: str | None = None,
        healthy: bool | None = None,
    ) -> None:
        task.state = state
        if task.checker is not None and is_terminal(state):
            task.checker.stop()
            task.checker = None
        uuid = base64.b64encode(self.rng.getrandbits(128).to_bytes(16, "big")).decode()
        status = make_status(
            task.info["task_id"]["value"],
            state,
            agent_id=self.id,
            source=source,
            reason=reason,
            message=message,
            uuid=uuid,
            executor_id=task.executor_id or None,
            healthy=healthy,
        )
        task.updates.append(PendingUpdate(status, uuid))
        if len(task.updates) == 1:
            self._send_head(task)
        framework_id = task.framework_id
        group = self.task_groups.get((framework_id, task.info["task_id"]["value"]))
        for other in ends_group(group, state):
            self.kill_task(framework_id, other)

    def _send_head(self, task: AgentTask) -> None:
        task.retry = None
        if not task.updates:
            return
        if self.reachable and self.master is not None:
            self.master.status_update(self, task.framework_id, task.updates[0].status)
        t = self.timing
        task.backoff = (
            t.update_retry_initial
            if not task.backoff
            else min(task.backoff * 2, t.update_retry_max)
        )
        task.retry = self.loop.call_later(task.backoff, self._send_head, task)

    def _forget(self, key: tuple[str, str], task: AgentTask) -> None:
        if task.checker is not None:
            task.checker.stop()
            task.checker = None
        for handle in (task.retry, task.lifecycle):
            if handle is not None:
                handle.cancel()
        task.retry = task.lifecycle = None
        task.updates.clear()
        self.tasks.pop(key, None)
        self.task_groups.pop(key, None)


def _removal_state(framework: Framework, *, gone: bool) -> tuple[str, str]:
    """The state and reason of a task whose agent is removed (unreachable or gone)."""
    if not framework.partition_aware:
        return "TASK_LOST", "REASON_AGENT_REMOVED"
    if gone:
        return "TASK_GONE_BY_OPERATOR", "REASON_AGENT_REMOVED_BY_OPERATOR"
    return "TASK_UNREACHABLE", "REASON_AGENT_REMOVED"


def _drop_completed(framework: Framework, task_id: str) -> None:
    """Forget a completed task that came back running (MESOS-9940)."""
    kept = [t for t in framework.completed_tasks if t.id != task_id]
    if len(kept) != len(framework.completed_tasks):
        framework.completed_tasks.clear()
        framework.completed_tasks.extend(kept)


#: A shell command the simulator knows the end of: ``exit N`` exits at once,
#: as on a real agent (other commands run as the behaviour says).
_EXIT = re.compile(r"\s*exit\s+(\d{1,3})\s*;?\s*")


def _exit_status(info: dict[str, Any]) -> int | None:
    """The exit status of an ``exit N`` command, or None for any other command."""
    command = info.get("command")
    value = command.get("value") if isinstance(command, dict) else None
    found = _EXIT.fullmatch(value) if isinstance(value, str) else None
    return None if found is None else int(found.group(1)) % 256


def _label(info: dict[str, Any], key: str) -> str | None:
    labels = (info.get("labels") or {}).get("labels") or []
    for label in labels:
        if isinstance(label, dict) and label.get("key") == key:
            value = label.get("value")
            return value if isinstance(value, str) else None
    return None


def _seconds_label(info: dict[str, Any], key: str, default: float) -> float:
    """A label's value in seconds (``default`` when absent or not a number)."""
    label = _label(info, key)
    try:
        return max(float(label), 0.0) if label is not None else default
    except ValueError:
        return default


def build_agents(
    shapes: tuple[AgentShape, ...],
    *,
    id_prefix: str,
    loop: asyncio.AbstractEventLoop,
    rng: random.Random,
    behaviour: TaskBehaviour,
    timing: Timing,
    echo_messages: bool,
) -> list[SimAgent]:
    """Create the agents of ``shapes``, ids ``<id_prefix>-S0``, ``-S1``..."""
    agents: list[SimAgent] = []
    for shape in shapes:
        for _ in range(shape.count):
            n = len(agents)
            resources = Resources(
                {"cpus": shape.cpus, "mem": shape.mem, "disk": shape.disk, "gpus": shape.gpus},
                {"ports": list(shape.ports)} if shape.ports else None,
            )
            agents.append(
                SimAgent(
                    f"{id_prefix}-S{n}",
                    f"{shape.hostname_prefix}-{n}",
                    resources,
                    dict(shape.attributes),
                    loop=loop,
                    rng=rng,
                    behaviour=behaviour,
                    timing=timing,
                    echo_messages=echo_messages,
                )
            )
    return agents


class MasterAgent:
    """The master's view of a registered agent: what is used and offered."""

    __slots__ = (
        "_available",
        "_offered",
        "_used",
        "agent",
        "connected",
        "killed",
        "offers",
        "registered_time",
        "tasks",
    )

    def __init__(self, agent: SimAgent) -> None:
        self.agent = agent
        #: False from the agent's disconnection until it re-registers: nothing is offered.
        self.connected = True
        self._used = Resources()
        self._offered = Resources()
        # Cached: every allocation cycle asks every agent, few of them change.
        self._available: Resources | None = None
        self.offers: dict[str, Offer] = {}
        self.tasks: dict[tuple[str, str], Task] = {}
        #: Tasks a framework asked to kill, (framework id, task id): Mesos's
        #: ``Slave::killedTasks``, sent again if the agent re-registers.
        self.killed: set[tuple[str, str]] = set()
        self.registered_time = time.time()

    @property
    def used(self) -> Resources:
        """Resources of the agent's live tasks."""
        return self._used

    @used.setter
    def used(self, value: Resources) -> None:
        self._used = value
        self._available = None

    @property
    def offered(self) -> Resources:
        """Resources in the agent's outstanding offers."""
        return self._offered

    @offered.setter
    def offered(self, value: Resources) -> None:
        self._offered = value
        self._available = None

    def resources_changed(self) -> None:
        """The agent's own resources changed (an offer operation): recompute what is free."""
        self._available = None

    def available(self) -> Resources:
        """Resources neither used by tasks nor offered."""
        if self._available is None:
            self._available = self.agent.resources - self._used - self._offered
        return self._available


class AgentLifecycle(Allocator):
    """The master's side of agents: registration, status updates, removal.

    A layer of `ark.sim.master.Master`, next to the agent it talks to.
    """

    registry: Registry
    all_agents: dict[str, SimAgent]
    recovering: set[str]
    removed_framework_ids: set[str]
    _unresponsive: dict[str, asyncio.TimerHandle]

    def register_agent(self, agent: SimAgent) -> None:
        """An agent (re-)registers, reporting the tasks it runs.

        As Mesos's ``Master::_reregisterSlave``: an agent this master did not
        have registered (unreachable, or unknown to it) makes the master send
        each reported task's state (SOURCE_MASTER, REASON_AGENT_REREGISTERED);
        a registered agent that lost tasks is asked to reconcile them
        (``reconcileKnownSlave``), and answers for each itself.
        """
        if not self.leading or agent.id in self.registry.gone or not agent.reachable:
            return
        self._cancel_unresponsive(agent.id)
        was_unreachable = agent.id in self.registry.unreachable
        was_recovering = agent.id in self.recovering
        self.registry.admit(agent.id)
        self.recovering.discard(agent.id)
        master_agent = self.agents.get(agent.id)
        known = master_agent is not None
        if master_agent is None:
            master_agent = MasterAgent(agent)
            self.agents[agent.id] = master_agent
        master_agent.connected = True
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
            if not known and not was_recovering:
                _drop_completed(framework, task_id)
                framework.send(
                    master_update(
                        task_id,
                        agent_task.state,
                        agent_id=agent.id,
                        reason="REASON_AGENT_REREGISTERED",
                        message="Unreachable agent re-reregistered"
                        if was_unreachable
                        else "Unknown agent reregistered",
                    )
                )
        if was_unreachable:
            log.info("agent %s re-registered after being unreachable", agent.id)
        agent.flush_updates()
        if known:
            for framework_id, task_id in list(master_agent.tasks):
                framework = self.frameworks.get(framework_id)
                if (framework_id, task_id) not in reported and framework is not None:
                    agent.reconcile_unknown(framework.info, task_id)
        self._kill_again(master_agent)
        self._schedule_allocation()

    def agent_disconnected(self, agent_id: str) -> None:
        """The agent's process exited (its socket closed): Mesos's ``Master::exited``.

        The agent is deactivated and its offers rescinded at once; tasks of
        frameworks that do not checkpoint are lost now (REASON_AGENT_DISCONNECTED),
        the others wait for the agent to come back or the ping timeout.
        """
        master_agent = self.agents.get(agent_id)
        if master_agent is None or not master_agent.connected:
            return
        master_agent.connected = False
        for offer in list(master_agent.offers.values()):
            self._rescind(offer)
        for task in list(master_agent.tasks.values()):
            framework = self.frameworks.get(task.framework_id)
            if framework is None or framework.info.get("checkpoint") is True:
                continue
            self._remove_task(framework, task)
            if not is_terminal(task.state):
                task.state = "TASK_LOST"
            task.update_state = "TASK_LOST"
            framework.completed_tasks.append(task)
            framework.send(
                master_update(
                    task.id,
                    "TASK_LOST",
                    agent_id=agent_id,
                    reason="REASON_AGENT_DISCONNECTED",
                    message=f"Agent {master_agent.agent.hostname} disconnected",
                )
            )

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
        """Agents that did not re-register with a new master in time are unreachable.

        The master knows none of their tasks, so it sends only FAILURE
        (``_markUnreachable`` with ``duringMasterFailover``).
        """
        for agent_id in sorted(self.recovering):
            self.registry.mark_unreachable(agent_id)
            for framework in self.frameworks.values():
                framework.send({"type": "FAILURE", "failure": {"agent_id": {"value": agent_id}}})
        self.recovering.clear()

    def _mark_unreachable(self, agent_id: str) -> None:
        self._unresponsive.pop(agent_id, None)
        if agent_id not in self.agents:
            return
        self.registry.mark_unreachable(agent_id)
        self._remove_agent(
            agent_id,
            gone=False,
            message="health check timed out",
            unreachable_time=self.registry.unreachable[agent_id],
        )

    def mark_gone(self, agent_id: str) -> None:
        """An operator marks ``agent_id`` gone (``MARK_AGENT_GONE``): Mesos's ``markGone``."""
        self._cancel_unresponsive(agent_id)
        message = "Agent has been marked gone"
        if agent_id in self.agents:
            self._remove_agent(agent_id, gone=True, message=message, unreachable_time=None)
        elif agent_id in self.registry.unreachable:
            # Its tasks are unreachable: they end now and become completed.
            for framework in self.frameworks.values():
                for task in list(framework.unreachable_tasks.values()):
                    if task.agent_id != agent_id:
                        continue
                    state, reason = _removal_state(framework, gone=True)
                    del framework.unreachable_tasks[task.id]
                    if not is_terminal(task.state):
                        task.state = state
                    task.update_state = state
                    framework.completed_tasks.append(task)
                    framework.send(
                        master_update(
                            task.id, state, agent_id=agent_id, reason=reason, message=message
                        )
                    )
        self.registry.mark_gone(agent_id)
        self.recovering.discard(agent_id)
        agent = self.all_agents.get(agent_id)
        if agent is not None:
            agent.kill()

    def _remove_agent(
        self, agent_id: str, *, gone: bool, message: str, unreachable_time: float | None
    ) -> None:
        """Mesos's ``__removeSlave``: UPDATEs for every task, then RESCINDs, then FAILURE.

        Every task the master holds for the agent gets an update, terminal
        ones whose update is not yet acknowledged too.
        """
        master_agent = self.agents.pop(agent_id, None)
        if master_agent is None:
            return
        if master_agent.agent.master is self:
            master_agent.agent.master = None
        for task in list(master_agent.tasks.values()):
            framework = self.frameworks.get(task.framework_id)
            if framework is None:
                continue
            state, reason = _removal_state(framework, gone=gone)
            master_agent.tasks.pop((task.framework_id, task.id), None)
            framework.tasks.pop(task.id, None)
            if not is_terminal(task.state):
                task.state = state
            task.update_state = state
            if gone and framework.partition_aware:
                framework.completed_tasks.append(task)
            else:
                # Mesos keeps these as unreachable tasks, TASK_LOST ones too.
                framework.unreachable_tasks[task.id] = task
            framework.send(
                master_update(
                    task.id,
                    state,
                    agent_id=agent_id,
                    reason=reason,
                    message=message,
                    unreachable_time=unreachable_time,
                )
            )
        for offer in list(master_agent.offers.values()):
            self._rescind(offer)
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
            # Mesos's Master::updateTask follows the update's ``latest_state``
            # (the agent's current state of the task), not the state of the
            # oldest unacknowledged update it carries: a task that ended
            # frees its resources at once.
            agent_task = agent.tasks.get((framework_id, task_id))
            latest = agent_task.state if agent_task is not None else status["state"]
            if not is_terminal(task.state):
                if is_terminal(latest):
                    freed = freed_by_end(task, master_agent.tasks.values())
                    master_agent.used = master_agent.used - freed
                task.state = latest
            # Master::updateTask keeps the latest status of each state: a
            # health update replaces the TASK_RUNNING before it.
            if task.statuses and task.statuses[-1]["state"] == status["state"]:
                task.statuses[-1] = status
            else:
                task.statuses.append(status)
            task.status = status
        if framework.connected:
            if task is not None:
                task.update_state = status["state"]
            framework.send(update_event(status))

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

    def _kill_again(self, master_agent: MasterAgent) -> None:
        """Kill again the tasks a re-registered agent still runs though asked to kill them.

        Mesos's ``reconcileKnownSlave``: a KILL sent while the agent was
        partitioned (not yet unreachable) was lost on the way.
        """
        agent = master_agent.agent
        master_agent.killed = {
            key
            for key in master_agent.killed
            if key in agent.tasks and not is_terminal(agent.tasks[key].state)
        }
        for framework_id, task_id in master_agent.killed:
            agent.kill_task(framework_id, task_id)

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
