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

import heapq
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


class _Tally:
    """The members of an active deployment's group, counted as they change.

    So that a step of the deployment costs the same whatever the group's
    size. Derived from the reducer's state: built by a scan of the group when
    missing, dropped when its deployment ends or changes target.
    """

    __slots__ = (
        "members",
        "next",
        "others",
        "ready",
        "ready_victims",
        "ready_victims_heap",
        "stale",
        "target_ready",
        "target_up",
        "victims",
    )

    def __init__(self) -> None:
        #: task id -> (requested, target, ready, killing)
        self.members: dict[str, tuple[bool, bool, bool, bool]] = {}
        # Placed, not copies of the target, not killing: not ready, ready (and
        # the ready in task-id order: a heap, its removed ids skipped lazily).
        self.victims: set[str] = set()
        self.ready_victims: set[str] = set()
        self.ready_victims_heap: list[str] = []
        #: Requests that are not copies of the target.
        self.stale: set[str] = set()
        self.ready = 0
        self.target_up = 0
        self.target_ready = 0
        #: Members that are not copies of the target.
        self.others = 0
        #: Every copy ``{target}-{k}`` with a smaller ``k`` is known or requested.
        self.next = 0

    def set(self, task_id: str, member: tuple[bool, bool, bool, bool] | None) -> None:
        old = self.members.pop(task_id, None)
        if old is not None:
            self._count(task_id, old, -1)
        if member is not None:
            self.members[task_id] = member
            self._count(task_id, member, 1)

    def _count(self, task_id: str, member: tuple[bool, bool, bool, bool], by: int) -> None:
        requested, target, ready, killing = member
        self.ready += by * ready
        self.target_up += by * target
        self.target_ready += by * (target and ready)
        self.others += by * (not target)
        if requested:
            where = None if target else self.stale
        elif target or killing:
            where = None
        else:
            where = self.ready_victims if ready else self.victims
        if where is None:
            return
        if by > 0:
            where.add(task_id)
            if where is self.ready_victims:
                heapq.heappush(self.ready_victims_heap, task_id)
        else:
            where.discard(task_id)

    def first_ready_victim(self) -> str | None:
        heap = self.ready_victims_heap
        while heap and heap[0] not in self.ready_victims:
            heapq.heappop(heap)
        return heap[0] if heap else None


def _copy_number(task_id: str) -> int | None:
    """The ``k`` of a copy ``{version}-{k}`` as deployments number them (no leading zero)."""
    _, _, k = task_id.rpartition("-")
    if not k.isascii() or not k.isdigit() or str(int(k)) != k:
        return None
    return int(k)


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
        self._tallies: dict[str, _Tally] = {}

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
        # Counted for the deployment it replaces: counted again.
        self._tallies.pop(group, None)

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
            self.retally(task_id, None, tasks, groups)
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
        # Another target, or none: the group is counted again if need be.
        self._tallies.pop(group, None)
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

    def retally(
        self,
        task_id: str,
        requested_in: str | None,
        tasks: Mapping[str, _Task],
        groups: Mapping[str, str],
    ) -> None:
        """Count ``task_id`` again in the tally of its group, after it changed:
        requested in ``requested_in``, placed (its state, or being killed), or
        gone (withdrawn, ended). Costs the same whatever the group's size."""
        if not self._tallies:
            return
        group = requested_in if requested_in is not None else groups.get(task_id)
        tally = None if group is None else self._tallies.get(group)
        if group is not None and tally is not None:
            d = self._entries[group]
            target = d.target
            is_target = target is not None and of_version(task_id, target)
            if requested_in is not None:
                tally.set(task_id, (True, is_target, False, False))
                return
            task = tasks.get(task_id)
            if task is not None:
                killing = task_id in d.killing
                ready = not killing and is_ready(task, d.checked(task_id))
                tally.set(task_id, (False, is_target, ready, killing))
                return
        # Gone: out of whichever tally counted it.
        for tally in self._tallies.values():
            was = tally.members.get(task_id)
            if was is None:
                continue
            tally.set(task_id, None)
            # A copy withdrawn before it was launched frees its number.
            if was[0] and was[1] and task_id not in tasks:
                k = _copy_number(task_id)
                if k is not None:
                    tally.next = min(tally.next, k)

    def drifted(
        self,
        tasks: Mapping[str, _Task],
        groups: Mapping[str, str],
        demand: Sequence[m.TaskRequest],
    ) -> list[str]:
        """The groups whose tally differs from a scan of their members (for tests)."""
        out = []
        for group, tally in sorted(self._tallies.items()):
            scanned = _Tally()
            for x in self._members(group, self._entries[group], tasks, groups, demand):
                scanned.set(x.task_id, (x.requested, x.target, x.ready, x.killing))
            fields = ["members", "victims", "ready_victims", "stale", "ready", "target_up"]
            fields += ["target_ready", "others"]
            if any(getattr(tally, f) != getattr(scanned, f) for f in fields):
                out.append(group)
        return out

    def _tally(
        self,
        group: str,
        d: _Deployment,
        tasks: Mapping[str, _Task],
        groups: Mapping[str, str],
        demand: Sequence[m.TaskRequest],
    ) -> _Tally:
        tally = self._tallies.get(group)
        if tally is None:
            tally = _Tally()
            for x in self._members(group, d, tasks, groups, demand):
                tally.set(x.task_id, (x.requested, x.target, x.ready, x.killing))
            self._tallies[group] = tally
        return tally

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
        """One step towards the target version (docs/reducer.md, advance), read
        from the group's tally: its cost does not grow with the group."""
        plan = Plan()
        d = self._entries.get(group)
        if d is None or d.phase not in _ACTIVE or d.target is None:
            return plan
        target = d.target
        n = d.msg.instances
        tally = self._tally(group, d, tasks, groups, demand)
        plan.withdraw = sorted(tally.stale)
        ready = tally.ready
        floor = math.floor(n * d.msg.minimum_health_capacity)
        ceiling = math.ceil(n * (1.0 + d.msg.maximum_over_capacity))
        # Those not ready first (they serve nothing), then the ready down to the floor.
        killed = sorted(tally.victims)
        for task_id in killed:
            d.killing.add(task_id)
            self.retally(task_id, None, tasks, groups)
        while ready > floor and (victim := tally.first_ready_victim()) is not None:
            ready -= 1
            killed.append(victim)
            d.killing.add(victim)
            self.retally(victim, None, tasks, groups)
        plan.kills = [(task_id, tasks[task_id].agent_id) for task_id in killed]
        target_up = tally.target_up
        up = len(tally.members) - len(plan.withdraw)
        wanted = max(0, min(n - target_up, ceiling - up))
        if (
            not plan.withdraw
            and not plan.kills
            and wanted == 0
            and target_up == n
            and tally.target_ready == n
            and tally.others == 0
        ):
            d.phase = "completed" if d.phase == "running" else "rolled-back"
            d.killing.clear()
            del self._tallies[group]
            return plan
        # The least numbers free: the tally's ``next`` and on.
        k = tally.next
        while len(plan.launches) < wanted:
            task_id = f"{target.task_id}-{k}"
            k += 1
            if task_id not in tasks and task_id not in tally.members:
                plan.launches.append(_with_task_id(target, task_id))
        tally.next = k
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
