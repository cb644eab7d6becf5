"""Deployments in plain Python, as ``docs/reducer.md`` (Deployments) specifies them.

Marathon's rolling update of a request group: its tasks are replaced by
copies of a new template, ``{template.task_id}-{k}``, a few at a time; an old
task is killed only while the group keeps ``floor(instances *
minimum_health_capacity)`` ready tasks, and no more than ``ceil(instances * (1
+ maximum_over_capacity))`` are up. After ``max_failures`` failed new tasks
the previous version is brought back the same way. The reference twin of
``rust/src/reducer/deployment.rs``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

import msgspec

from ark import messages as m
from ark.errors import CommandRejected, MessageError
from ark.state import DeploymentRecord, VersionCount

__all__ = ["Deployments", "Plan", "is_ready", "of_version"]

Phase = Literal["running", "completed", "rolling-back", "rolled-back"]
_ACTIVE = ("running", "rolling-back")
_U32 = 2**32 - 1
#: The launch backoff's failures, and a kill for failing a health check.
_FAILURES: frozenset[str] = frozenset(
    {"TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE"}
)


class _Task(Protocol):
    """What a deployment reads of a task record."""

    state: m.TaskState
    agent_id: str | None
    healthy: bool | None


def of_version(task_id: str, template: m.TaskRequest) -> bool:
    """Whether ``task_id`` is a copy of ``template``: ``{template.task_id}-{k}``."""
    prefix = template.task_id + "-"
    rest = task_id[len(prefix) :]
    return task_id.startswith(prefix) and re.fullmatch(r"[0-9]+", rest, re.ASCII) is not None


def is_ready(task: _Task, checked: bool) -> bool:
    """The one test of readiness: running, and healthy if its version has a check."""
    if task.state != "TASK_RUNNING":
        return False
    return task.healthy is True if checked else task.healthy is not False


def check_deploy(msg: m.Deploy) -> None:
    """Raise :class:`MessageError` on the numbers Marathon's validation refuses."""

    def unit(x: float) -> bool:
        return 0.0 <= x <= 1.0

    mh, mo = msg.minimum_health_capacity, msg.maximum_over_capacity
    if not 0 <= msg.instances <= _U32:
        raise MessageError(
            f"a deployment's instances must be from 0 to 2^32-1, not {msg.instances}"
        )
    if not unit(mh) or not unit(mo):
        raise MessageError(
            f"a deployment's minimum_health_capacity ({mh}) and maximum_over_capacity ({mo}) "
            "must be from 0 to 1"
        )
    if mh == 1.0 and mo == 0.0:
        raise MessageError(
            "a deployment with minimum_health_capacity 1 and maximum_over_capacity 0 "
            "could never replace a task"
        )
    if not 1 <= msg.max_failures <= _U32:
        raise MessageError(
            f"a deployment's max_failures must be from 1 to 2^32-1, not {msg.max_failures}"
        )


class _Deployment:
    __slots__ = ("failures", "killing", "msg", "phase", "previous")

    def __init__(self, msg: m.Deploy, previous: m.TaskRequest | None) -> None:
        self.msg = msg
        self.previous = previous
        self.failures = 0
        self.phase: Phase = "running"
        self.killing: set[str] = set()

    @property
    def target(self) -> m.TaskRequest | None:
        if self.phase in ("running", "completed"):
            return self.msg.template
        return self.previous

    def checked(self, task_id: str) -> bool:
        t = self.msg.template
        if of_version(task_id, t):
            return t.health_check is not None
        p = self.previous
        return p is not None and of_version(task_id, p) and p.health_check is not None


class _Member:
    __slots__ = ("agent_id", "killing", "ready", "requested", "target", "task_id")

    def __init__(
        self,
        task_id: str,
        agent_id: str | None,
        target: bool,
        requested: bool,
        ready: bool,
        killing: bool,
    ) -> None:
        self.task_id = task_id
        self.agent_id = agent_id
        self.target = target
        self.requested = requested
        self.ready = ready
        self.killing = killing


class Plan:
    """What one step of a deployment asks the reducer to do, in this order."""

    __slots__ = ("kills", "launches", "withdraw")

    def __init__(self) -> None:
        self.withdraw: list[str] = []
        self.kills: list[tuple[str, str | None]] = []
        self.launches: list[m.TaskRequest] = []


class Deployments:
    """The rolling updates of one reducer, by group."""

    def __init__(self) -> None:
        self._entries: dict[str, _Deployment] = {}

    def __bool__(self) -> bool:
        return bool(self._entries)

    def active(self) -> list[str]:
        """The groups whose deployment is in progress, sorted."""
        return sorted(g for g, d in self._entries.items() if d.phase in _ACTIVE)

    def follows(self, group: str | None) -> bool:
        return group is not None and group in self._entries

    def deploy(self, msg: m.Deploy) -> None:
        """Start a deployment (docs/reducer.md, Deploy); the caller then advances it."""
        group, template = msg.group, msg.template
        if not group:
            raise CommandRejected("a deployment needs a group: the empty group is no group")
        if template.group != group:
            raise CommandRejected(
                f"the template's group {template.group!r} is not the deployment's {group!r}"
            )
        before = self._entries.get(group)
        if before is not None and before.phase in _ACTIVE:
            raise CommandRejected(f"group {group!r} has a deployment in progress: cancel it first")
        previous = None if before is None else before.target
        if previous is not None and previous.task_id == template.task_id:
            raise CommandRejected(
                f"task id {template.task_id!r} is the running version's: "
                "a new version needs a new task id"
            )
        self._entries[group] = _Deployment(msg, previous)

    def resume(
        self, msg: m.Deploy, previous: m.TaskRequest | None, failures: int, phase: Phase
    ) -> None:
        """Take up a stored deployment (docs/reducer.md, Deployments), unless
        the group has one; the caller has checked the numbers."""
        if not msg.group or msg.template.group != msg.group:
            raise CommandRejected(
                f"a deployment of group {msg.group!r} needs a template of that group, "
                f"not {msg.template.group!r}"
            )
        if msg.group not in self._entries:
            d = _Deployment(msg, previous)
            d.failures, d.phase = failures, phase
            self._entries[msg.group] = d

    def cancel(
        self,
        group: str,
        tasks: Mapping[str, _Task],
        groups: Mapping[str, str],
        demand: Sequence[m.TaskRequest],
    ) -> Plan:
        d = self._entries.get(group)
        if d is None or d.phase != "running":
            raise CommandRejected(f"group {group!r} has no running deployment to cancel")
        return self._roll_back(group, d, tasks, groups, demand)

    def updated(
        self,
        group: str,
        task_id: str,
        applied: tuple[m.TaskState, bool | None] | None,
        tasks: Mapping[str, _Task],
        groups: Mapping[str, str],
        demand: Sequence[m.TaskRequest],
    ) -> Plan:
        """After an update of a task of ``group`` (read before it left ``groups``)."""
        d = self._entries[group]
        plan = Plan()
        if d.phase not in _ACTIVE:
            return plan
        if applied is not None:
            state, healthy = applied
            if state in m.TERMINAL_STATES:
                d.killing.discard(task_id)
            failed = state in _FAILURES or (state == "TASK_KILLED" and healthy is False)
            if d.phase == "running" and of_version(task_id, d.msg.template) and failed:
                d.failures += 1
                if d.failures >= d.msg.max_failures:
                    plan = self._roll_back(group, d, tasks, groups, demand)
        return plan

    def _roll_back(
        self,
        group: str,
        d: _Deployment,
        tasks: Mapping[str, _Task],
        groups: Mapping[str, str],
        demand: Sequence[m.TaskRequest],
    ) -> Plan:
        plan = Plan()
        if d.previous is not None:
            d.phase = "rolling-back"
            return plan
        # No version to go back to: the deployed one goes at once.
        for member in self._members(group, d, tasks, groups, demand):
            if not of_version(member.task_id, d.msg.template) or member.killing:
                continue
            if member.requested:
                plan.withdraw.append(member.task_id)
            else:
                d.killing.add(member.task_id)
                plan.kills.append((member.task_id, member.agent_id))
        d.phase = "rolled-back"
        return plan

    def _members(
        self,
        group: str,
        d: _Deployment,
        tasks: Mapping[str, _Task],
        groups: Mapping[str, str],
        demand: Sequence[m.TaskRequest],
    ) -> list[_Member]:
        target = d.target
        members = []
        for task_id, g in sorted(groups.items()):
            if g != group:
                continue
            killing = task_id in d.killing
            members.append(
                _Member(
                    task_id,
                    tasks[task_id].agent_id,
                    target is not None and of_version(task_id, target),
                    False,
                    not killing and is_ready(tasks[task_id], d.checked(task_id)),
                    killing,
                )
            )
        members.extend(
            _Member(
                r.task_id,
                None,
                target is not None and of_version(r.task_id, target),
                True,
                False,
                False,
            )
            for r in demand
            if r.group == group
        )
        return members

    def advance(
        self,
        group: str,
        tasks: Mapping[str, _Task],
        groups: Mapping[str, str],
        demand: Sequence[m.TaskRequest],
    ) -> Plan:
        """One step towards the target version (docs/reducer.md, advance)."""
        plan = Plan()
        d = self._entries.get(group)
        if d is None or d.phase not in _ACTIVE or d.target is None:
            return plan
        target = d.target
        n = d.msg.instances
        members = self._members(group, d, tasks, groups, demand)
        plan.withdraw = [x.task_id for x in members if x.requested and not x.target]
        ready = sum(x.ready for x in members)
        floor = math.floor(n * d.msg.minimum_health_capacity)
        ceiling = math.ceil(n * (1.0 + d.msg.maximum_over_capacity))
        victims = [x for x in members if not x.target and not x.requested and not x.killing]
        # Those not ready first (they serve nothing); sorted() is stable.
        for x in sorted(victims, key=lambda x: x.ready):
            if x.ready:
                if ready <= floor:
                    break
                ready -= 1
            d.killing.add(x.task_id)
            plan.kills.append((x.task_id, x.agent_id))
        target_up = sum(x.target for x in members)
        up = len(members) - len(plan.withdraw)
        wanted = max(0, min(n - target_up, ceiling - up))
        target_ready = sum(x.target and x.ready for x in members)
        if (
            not plan.withdraw
            and not plan.kills
            and wanted == 0
            and target_up == n
            and target_ready == n
            and all(x.target for x in members)
        ):
            d.phase = "completed" if d.phase == "running" else "rolled-back"
            d.killing.clear()
        requested = {r.task_id for r in demand}
        k = 0
        while len(plan.launches) < wanted:
            task_id = f"{target.task_id}-{k}"
            k += 1
            if task_id not in tasks and task_id not in requested:
                plan.launches.append(_with_task_id(target, task_id))
        return plan

    def view(
        self,
        tasks: Mapping[str, _Task],
        groups: Mapping[str, str],
        demand: Sequence[m.TaskRequest],
    ) -> list[DeploymentRecord]:
        out = []
        for group, d in sorted(self._entries.items()):
            counts = {"new": [0, 0], "old": [0, 0], "other": [0, 0]}
            for x in self._members(group, d, tasks, groups, demand):
                if of_version(x.task_id, d.msg.template):
                    c = counts["new"]
                elif d.previous is not None and of_version(x.task_id, d.previous):
                    c = counts["old"]
                else:
                    c = counts["other"]
                c[0] += 1
                c[1] += x.ready
            out.append(
                DeploymentRecord(
                    group,
                    d.msg.template.task_id,
                    None if d.previous is None else d.previous.task_id,
                    d.msg.instances,
                    d.phase,
                    d.failures,
                    VersionCount(*counts["new"]),
                    VersionCount(*counts["old"]),
                    VersionCount(*counts["other"]),
                )
            )
        return out


def _with_task_id(request: m.TaskRequest, task_id: str) -> m.TaskRequest:
    return msgspec.structs.replace(request, task_id=task_id)
