"""The scheduler calls a master serves, and its answers about unknown tasks.

One handler per v1 call type (``_call_<type>``), run on a call that
`ark.sim.validation.validate` accepted from a subscribed framework.
Reconciliation answers from the master's bookkeeping; a task it does not
know is answered as Mesos does, by what it knows of the task's agent.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections import deque
from typing import Any

from .agents import MasterAgent
from .frameworks import Framework, Offer, Task, master_update, update_event
from .maintenance import Maintenance
from .operations import RESOURCE_OPERATIONS
from .resources import ResourceError, Resources, mesos_text
from .tasks import is_terminal, make_status
from .validation import (
    CallError,
    id_error,
    launched_tasks,
    offer_ids_of,
    optional_str,
    optional_value,
    refuse_seconds,
    required_value,
)

__all__ = ["CallHandlers"]

log = logging.getLogger(__name__)


class CallHandlers(Maintenance):
    """The master's call handlers; a layer of `ark.sim.master.Master`."""

    completed_frameworks: deque[Framework]

    def call(self, call: dict[str, Any], kind: str, stream_id: str | None) -> int:
        """Run a validated non-SUBSCRIBE call; return its HTTP status or raise
        `CallError` for 4xx (``Master::Http::scheduler``)."""
        framework_id = required_value(call, "framework_id")
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
        if kind == "UNKNOWN":
            # Mesos 1.12 means 501 here, but a real master aborts first on a
            # CHECK in its call metrics (metrics.cpp), so no test can ask it.
            return 501
        handler = getattr(self, "_call_" + kind.lower(), None)
        if handler is not None:
            handler(framework, call)
        return 200 if kind == "UPDATE_FRAMEWORK" else 202

    def _call_teardown(self, framework: Framework, call: dict[str, Any]) -> None:
        self._remove_framework(framework)

    def _call_revive(self, framework: Framework, call: dict[str, Any]) -> None:
        if not self._roles_valid(framework, call.get("revive")):
            return
        # No roles: all of them (``Master::revive``).
        framework.suppressed_roles -= set(_call_roles(call.get("revive")) or framework.roles)
        framework.filters.clear()
        self._schedule_allocation()

    def _call_suppress(self, framework: Framework, call: dict[str, Any]) -> None:
        if self._roles_valid(framework, call.get("suppress")):
            framework.suppressed_roles |= set(_call_roles(call.get("suppress")) or framework.roles)

    def _roles_valid(self, framework: Framework, body: Any) -> bool:
        """Whether REVIVE's or SUPPRESS's ``roles`` are all the framework's.

        Mesos's ``Master::revive``/``suppress`` drop the whole call (it is
        still answered 202) when one role is not among the subscribed ones.
        """
        roles = body.get("roles", []) if isinstance(body, dict) else []
        if not isinstance(roles, list):
            raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'roles'")
        subscribed = framework.roles
        for role in roles:
            if role not in subscribed:
                log.info("dropping call of %s: role %r is not subscribed", framework.id, role)
                return False
        return True

    def _call_update_framework(self, framework: Framework, call: dict[str, Any]) -> None:
        """``Master::updateFramework``: the new FrameworkInfo and suppressed roles at once."""
        body = call["update_framework"]
        info = dict(body["framework_info"])
        old = framework.info
        for field, default in (("user", None), ("checkpoint", False)):
            before, after = old.get(field, default), info.get(field, default)
            if before != after:
                shown = [str(v).lower() if isinstance(v, bool) else v for v in (before, after)]
                raise CallError(
                    400,
                    f"FrameworkInfo update is not valid: Updating 'FrameworkInfo.{field}' "
                    f"is unsupported; attempted to update from '{shown[0]}' to '{shown[1]}'",
                )
        if old.get("principal") != info.get("principal"):
            raise CallError(
                400,
                "FrameworkInfo update is not valid: Changing framework's principal is not allowed.",
            )
        suppressed = body.get("suppressed_roles", [])
        if not isinstance(suppressed, list) or not all(isinstance(r, str) for r in suppressed):
            raise _bad_json("suppressed_roles")
        roles = info.get("roles") if isinstance(info.get("roles"), list) else None
        roles = roles or [info.get("role", "*")]
        unknown = sorted(set(suppressed) - set(roles))
        if unknown:
            raise CallError(
                400,
                "'UpdateFramework' call is not valid: Suppressed roles "
                f"{{ {', '.join(unknown)} }} are not contained in the set of roles",
            )
        framework.info = info
        # The call says every suppressed role: the others are revived.
        framework.suppressed_roles = set(suppressed)
        # ``Master::updateFramework``: offers of the roles left are rescinded.
        for offer in list(framework.offers.values()):
            if offer.role not in roles:
                self._rescind(offer)
        if not framework.suppressed:
            self._schedule_allocation()

    def _call_decline(self, framework: Framework, call: dict[str, Any]) -> None:
        body = call["decline"]
        offer_ids = offer_ids_of(body)
        refuse = refuse_seconds(body, self.timing.default_refuse_seconds)
        for offer_id in offer_ids:
            offer = self.offers.get(offer_id)
            if offer is not None and offer.framework_id == framework.id:
                self._remove_offer(offer)
                self._filter(framework, offer.agent_id, offer.resources, refuse)

    def _call_accept(self, framework: Framework, call: dict[str, Any]) -> None:
        body = call["accept"]
        offer_ids = offer_ids_of(body)
        refuse = refuse_seconds(body, self.timing.default_refuse_seconds)
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
        elif len({o.role for o in offers if o is not None}) > 1:
            error = _mixed_roles(offer_ids, offers)
        elif len({o.agent_id for o in offers if o is not None}) > 1:
            error = "Aggregated offers must belong to one single agent"
        valid = [o for o in offers if o is not None and o.framework_id == framework.id]
        if error is not None:
            for offer in valid:
                self._remove_offer(offer)
            state = "TASK_DROPPED" if framework.partition_aware else "TASK_LOST"
            for task in launched_tasks(operations):
                framework.send(
                    master_update(
                        task["task_id"]["value"],
                        state,
                        agent_id=optional_str(task, "agent_id"),
                        reason="REASON_INVALID_OFFERS",
                        message=f"Task launched with invalid offers: {error}",
                    )
                )
            return
        agent_id = valid[0].agent_id
        master_agent = self.agents[agent_id]
        _inject_allocation_info(operations, valid[0].role)
        remaining = Resources()
        for offer in valid:
            remaining = remaining + offer.resources
            self._remove_offer(offer)
        for operation in operations:
            kind = operation.get("type")
            if kind == "LAUNCH" and operation.get("id") is not None:
                # ``Master::accept``: LAUNCH gets no operation feedback.
                for task_info in operation["launch"].get("task_infos", []):
                    self._task_error_update(
                        framework,
                        task_info,
                        "REASON_TASK_INVALID",
                        "The `id` field cannot be set on LAUNCH operations",
                    )
            elif kind == "LAUNCH":
                for task_info in operation["launch"].get("task_infos", []):
                    remaining = self._launch(
                        framework, master_agent, task_info, remaining, valid[0].role
                    )
            elif kind == "LAUNCH_GROUP":
                remaining = self._launch_group(
                    framework, master_agent, operation["launch_group"], remaining
                )
            elif kind in RESOURCE_OPERATIONS:
                remaining = self._resource_operation(framework, master_agent, operation, remaining)
            else:
                log.info("ignoring unsupported operation %r", kind)
        if not remaining.empty():
            self._filter(framework, agent_id, remaining, refuse)

    def _launch(
        self,
        framework: Framework,
        master_agent: MasterAgent,
        task_info: dict[str, Any],
        remaining: Resources,
        role: str | None = None,
    ) -> Resources:
        """Validate and launch one task of a LAUNCH; return what is left of the offers.

        ``role`` is the offers' allocation role: resources allocated to another
        are not among the offered ones (Mesos compares allocations too).

        Mesos's ``validation::task::validate`` in ``Master::_accept``: an
        invalid task gets TASK_ERROR (REASON_TASK_INVALID) and the others
        of the operation still launch.
        """
        resources, error = self._task_error(framework, master_agent, task_info)
        executor = task_info.get("executor")
        if error is None and (executor is None) == (task_info.get("command") is None):
            error = (
                "Task should have at least one (but not both) of CommandInfo or "
                "ExecutorInfo present"
            )
        if error is None and executor is not None:
            error = _executor_error(executor, framework, launch_group=False)
        if error is None:
            resources = resources + self._new_executor_resources(framework, master_agent, executor)
            offered = role or framework.role
            asked = _launch_role(task_info) or offered
            if not remaining.contains(resources) or asked != offered:
                error = (
                    f"Total resources {_mesos_text(resources, asked)} required by "
                    "task and its executor is more than available "
                    f"{_mesos_text(remaining, offered)}"
                )
        if error is not None:
            self._task_error_update(framework, task_info, "REASON_TASK_INVALID", error)
            return remaining
        self._add_task(framework, master_agent, task_info, resources)
        return remaining - resources

    def _launch_group(
        self,
        framework: Framework,
        master_agent: MasterAgent,
        group: dict[str, Any],
        remaining: Resources,
    ) -> Resources:
        """Validate and launch a LAUNCH_GROUP whole; return what is left of the offers.

        Mesos's ``validation::task::group::validate``: the first error fails
        every task of the group with TASK_ERROR (REASON_TASK_GROUP_INVALID).
        """
        executor: dict[str, Any] = group["executor"]
        tasks: list[dict[str, Any]] = group["task_group"].get("tasks", [])
        executor_resources = self._new_executor_resources(framework, master_agent, executor)
        total = executor_resources
        error = None
        for task_info in tasks:
            resources, error = self._task_error(framework, master_agent, task_info)
            if error is not None:
                error = f"Task '{task_info['task_id']['value']}' is invalid: {error}"
                break
            total = total + resources
        if error is None:
            error = _executor_error(executor, framework, launch_group=True)
        if error is None:
            error = next(
                (
                    f"The `ExecutorInfo` of task '{t['task_id']['value']}' is different "
                    f"from executor '{executor['executor_id']['value']}'"
                    for t in tasks
                    if t.get("executor") not in (None, executor)
                ),
                None,
            )
        if error is None and not remaining.contains(total):
            error = (
                f"Total resources {_mesos_text(total, framework.role)} required by task group "
                f"and its executor are more than available {_mesos_text(remaining, framework.role)}"
            )
        if error is not None:
            for task_info in tasks:
                self._task_error_update(framework, task_info, "REASON_TASK_GROUP_INVALID", error)
            return remaining
        started: list[tuple[dict[str, Any], Resources]] = []
        for task_info in tasks:
            resources = Resources.from_json(task_info.get("resources", []))
            info = dict(task_info, executor=executor)
            # The executor's resources count with the group's first task.
            started.append((info, resources + executor_resources))
            self._add_task(framework, master_agent, info, started[-1][1], start=False)
            executor_resources = Resources()
        # The agent starts the group at once, under one default executor.
        master_agent.agent.run_task_group(framework.info, started)
        return remaining - total

    def _task_error(
        self, framework: Framework, master_agent: MasterAgent, task_info: dict[str, Any]
    ) -> tuple[Resources, str | None]:
        """A task's resources and why it is invalid, or None.

        Mesos's ``task::internal::validateTask``, in its order: the id, its
        uniqueness (among live and unreachable tasks), the agent, the
        resources.
        """
        task_id: str = task_info["task_id"]["value"]
        agent_id: str = task_info["agent_id"]["value"]
        error = id_error(task_id)
        if error is not None:
            return Resources(), error
        if task_id in framework.tasks:
            return Resources(), f"Task has duplicate ID: {task_id}"
        if task_id in framework.unreachable_tasks:
            return Resources(), f"Task reuses the ID of an unreachable task: {task_id}"
        if agent_id != master_agent.agent.id:
            return Resources(), (
                f"Task uses invalid agent {agent_id} while agent "
                f"{master_agent.agent.id} is expected"
            )
        if not task_info.get("resources"):
            return Resources(), "Task uses no resources"
        try:
            return Resources.from_json(task_info["resources"]), None
        except ResourceError as exc:
            return Resources(), f"Task uses invalid resources: {exc}"

    def _new_executor_resources(
        self, framework: Framework, master_agent: MasterAgent, executor: dict[str, Any] | None
    ) -> Resources:
        """An executor's resources if it would start now, else nothing.

        As in Mesos, a task for an executor already running on the agent
        adds nothing for the executor.
        """
        if executor is None:
            return Resources()
        executor_id = (executor.get("executor_id") or {}).get("value")
        for task in master_agent.tasks.values():
            if (
                task.framework_id == framework.id
                and task.executor_id == executor_id
                and not is_terminal(task.state)
            ):
                return Resources()
        try:
            return Resources.from_json(executor.get("resources", []))
        except ResourceError:
            return Resources()  # _executor_error names the problem.

    def _task_error_update(
        self, framework: Framework, task_info: dict[str, Any], reason: str, message: str
    ) -> None:
        framework.send(
            master_update(
                task_info["task_id"]["value"],
                "TASK_ERROR",
                agent_id=task_info["agent_id"]["value"],
                reason=reason,
                message=message,
            )
        )

    def _add_task(
        self,
        framework: Framework,
        master_agent: MasterAgent,
        task_info: dict[str, Any],
        resources: Resources,
        *,
        start: bool = True,
    ) -> None:
        task_id: str = task_info["task_id"]["value"]
        info = dict(task_info)
        executor_id = ((info.get("executor") or {}).get("executor_id") or {}).get("value", task_id)
        task = Task(task_id, framework.id, master_agent.agent.id, info, resources, executor_id)
        framework.tasks[task_id] = task
        master_agent.tasks[(framework.id, task_id)] = task
        master_agent.used = master_agent.used + resources
        if start:
            master_agent.agent.run_task(framework.info, info, resources)

    def _call_kill(self, framework: Framework, call: dict[str, Any]) -> None:
        body = call["kill"]
        task_id = required_value(body, "task_id")
        agent_id = optional_value(body, "agent_id")
        task = framework.tasks.get(task_id)
        if task is None:
            # Unknown task: Mesos reconciles it so the framework learns its fate.
            self._reconcile_unknown(framework, task_id, agent_id)
            return
        if agent_id not in (None, task.agent_id):
            return  # Mesos's Master::kill ignores a KILL naming another agent.
        master_agent = self.agents.get(task.agent_id)
        if master_agent is not None:
            # Remembered: a partitioned agent misses the kill and gets it on return.
            master_agent.killed.add((framework.id, task_id))
            master_agent.agent.kill_task(framework.id, task_id)

    def _call_shutdown(self, framework: Framework, call: dict[str, Any]) -> None:
        body = call["shutdown"]
        executor_id = required_value(body, "executor_id")
        agent_id = required_value(body, "agent_id")
        master_agent = self.agents.get(agent_id)
        if master_agent is not None:
            master_agent.agent.shutdown_executor(framework.id, executor_id)

    def _call_acknowledge(self, framework: Framework, call: dict[str, Any]) -> None:
        body = call["acknowledge"]
        agent_id = required_value(body, "agent_id")
        task_id = required_value(body, "task_id")
        uuid = _uuid_of(body)
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
            master_agent.killed.discard((framework.id, task_id))
            framework.tasks.pop(task_id, None)
            framework.completed_tasks.append(task)

    def _call_reconcile(self, framework: Framework, call: dict[str, Any]) -> None:
        tasks = call["reconcile"].get("tasks", [])
        if not isinstance(tasks, list):
            raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'reconcile.tasks'")
        # Unreachable tasks are not the framework's tasks to Mesos
        # (``Framework::getTask``): implicit answers leave them out, explicit
        # ones answer by their agent, as for any task the master does not hold.
        if not tasks:
            # Implicit: the latest state of every task the master knows.
            for known in list(framework.tasks.values()):
                framework.send(update_event(self._reconcile_status(known)))
            return
        for entry in tasks:
            task_id = required_value(entry, "task_id")
            agent_id = optional_value(entry, "agent_id")
            task = framework.tasks.get(task_id)
            if task is not None:
                framework.send(update_event(self._reconcile_status(task)))
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
            # Mesos's getTaskHealth: the last status's, if it has one.
            healthy=task.statuses[-1].get("healthy") if task.statuses else None,
        )

    def _reconcile_unknown(self, framework: Framework, task_id: str, agent_id: str | None) -> None:
        unreachable_time = None
        if agent_id is not None:
            if agent_id in self.recovering:
                return  # No answer while the agent may still re-register.
            if agent_id in self.agents:
                state, message = "TASK_GONE", "Reconciliation: Task is unknown to the agent"
            elif agent_id in self.registry.unreachable:
                state, message = "TASK_UNREACHABLE", "Reconciliation: Task is unreachable"
                unreachable_time = self.registry.unreachable[agent_id]
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
            master_update(
                task_id,
                state,
                agent_id=agent_id,
                reason="REASON_RECONCILIATION",
                message=message,
                unreachable_time=unreachable_time,
            )
        )

    def _call_message(self, framework: Framework, call: dict[str, Any]) -> None:
        body = call["message"]
        agent_id = required_value(body, "agent_id")
        executor_id = required_value(body, "executor_id")
        data = body.get("data", "")
        try:
            if not isinstance(data, str):
                raise ValueError(data)
            base64.b64decode(data, validate=True)
        except (ValueError, binascii.Error):
            raise CallError(
                400,
                "Failed to convert JSON into Call protobuf: "
                "Failed to base64 decode bytes field 'data'",
            ) from None
        master_agent = self.agents.get(agent_id)
        if master_agent is not None:
            master_agent.agent.framework_message(framework.id, executor_id, data)

    def _remove_framework(self, framework: Framework) -> None:
        self.frameworks.pop(framework.id, None)
        self._drop_inverse_offers(framework.id)
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


def _inject_allocation_info(operations: list[dict[str, Any]], role: str) -> None:
    """``protobuf::injectAllocationInfo``: a launched resource without an
    allocation gets the offers' (a MULTI_ROLE framework sets its own)."""
    for operation in operations:
        launch = operation.get("launch") if operation.get("type") == "LAUNCH" else None
        task_infos = launch.get("task_infos") if isinstance(launch, dict) else None
        for info in task_infos if isinstance(task_infos, list) else []:
            resources = info.get("resources") if isinstance(info, dict) else None
            for resource in resources if isinstance(resources, list) else []:
                if isinstance(resource, dict) and "allocation_info" not in resource:
                    resource["allocation_info"] = {"role": role}


def _launch_role(task_info: dict[str, Any]) -> str | None:
    """The allocation role a task's resources name (the first that names one)."""
    for resource in task_info.get("resources") or []:
        allocation = resource.get("allocation_info") if isinstance(resource, dict) else None
        if isinstance(allocation, dict) and isinstance(allocation.get("role"), str):
            role: str = allocation["role"]
            return role
    return None


def _mixed_roles(offer_ids: list[str], offers: list[Offer | None]) -> str:
    """``validateAllocationRole``'s error: the first offer of another role than the first's."""
    first = offers[0].role if offers[0] is not None else ""
    for offer_id, offer in zip(offer_ids, offers, strict=True):
        if offer is not None and offer.role != first:
            return (
                f"Aggregated offers must be allocated to the same role. Offer {offer_id} "
                f"uses role '{offer.role} but another is using role '{first}"
            )
    return ""


def _call_roles(body: Any) -> list[str]:
    """The ``roles`` of a REVIVE or SUPPRESS (checked by ``_roles_valid``)."""
    roles = body.get("roles", []) if isinstance(body, dict) else []
    return [r for r in roles if isinstance(r, str)]


def _uuid_of(body: dict[str, Any]) -> str:
    """The ``uuid`` of an acknowledgement: 16 bytes in base64, not the nil UUID."""
    uuid = body.get("uuid")
    try:
        if not isinstance(uuid, str):
            raise ValueError(uuid)
        raw = base64.b64decode(uuid, validate=True)
        if len(raw) != 16 or not any(raw):
            raise ValueError(uuid)
    except (ValueError, binascii.Error):
        raise CallError(400, "Failed to validate scheduler::Call: Not a valid UUID") from None
    return uuid


def _bad_json(field: str) -> CallError:
    return CallError(400, f"Failed to convert JSON into Call protobuf: bad '{field}'")


def _executor_error(
    executor: dict[str, Any], framework: Framework, *, launch_group: bool
) -> str | None:
    """Why an ExecutorInfo cannot be launched, or None.

    Mesos's ``executor::internal::validate`` and, for LAUNCH_GROUP, the
    group's own checks (``task::group::internal::validateExecutor``): a
    group's executor names its framework and has a type, cpus, mem and disk.
    """
    kind = executor.get("type", "UNKNOWN")
    if kind == "DEFAULT" and executor.get("command") is not None:
        return "'ExecutorInfo.command' must not be set for 'DEFAULT' executor"
    if kind == "CUSTOM" and executor.get("command") is None:
        return "'ExecutorInfo.command' must be set for 'CUSTOM' executor"
    executor_id: str = executor["executor_id"]["value"]
    error = id_error(executor_id)
    if error is not None:
        return error
    # For LAUNCH the master fills in the framework id; a group must carry it.
    framework_id = optional_str(executor, "framework_id")
    if framework_id is None and launch_group:
        return "'ExecutorInfo.framework_id' must be set"
    if framework_id not in (None, framework.id):
        return (
            f"ExecutorInfo has an invalid FrameworkID (Actual: {framework_id} "
            f"vs Expected: {framework.id})"
        )
    try:
        resources = Resources.from_json(executor.get("resources", []))
    except ResourceError as exc:
        return f"Executor uses invalid resources: {exc}"
    if not launch_group:
        if kind not in ("CUSTOM", "UNKNOWN"):
            return "'ExecutorInfo.type' must be 'CUSTOM'"
        if executor.get("command") is None:
            return "'ExecutorInfo.command' must be set"
        return None
    if "type" not in executor:
        return "'ExecutorInfo.type' must be set"
    if kind == "UNKNOWN":
        return "Unknown executor type"
    cpus, mem = resources.scalars.get("cpus"), resources.scalars.get("mem")
    if cpus is None or cpus < _MIN_CPUS:
        return (
            f"Executor '{executor_id}' uses less CPUs ({_number(cpus)}) "
            f"than the minimum required ({_MIN_CPUS:g})"
        )
    if mem is None or mem < _MIN_MEM:
        return (
            f"Executor '{executor_id}' uses less memory ({_number(mem, 'MB')}) "
            f"than the minimum required ({_MIN_MEM:g}MB)"
        )
    if "disk" not in resources.scalars:
        return f"Executor '{executor_id}' uses no disk"
    return None


#: Mesos's ``MIN_CPUS`` and ``MIN_MEM`` (MB): the least an executor may ask for.
_MIN_CPUS = 0.01
_MIN_MEM = 32.0


def _number(value: float | None, unit: str = "") -> str:
    return "None" if value is None else f"{value:g}{unit}"


def _mesos_text(resources: Resources, role: str) -> str:
    """Resources as Mesos prints them: ``cpus(allocated: *):1; mem(allocated: *):32``."""
    return mesos_text(resources, role)
