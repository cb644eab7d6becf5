"""Unreachable strategies in plain Python: docs/reducer.md, "Partitions".

The reference reducer owns the demand; this module owns the two maps of the
section (``strategies`` and ``unreachable``) and says what changes, the
reducer applying it to the demand.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol

import msgspec

from ark import effects as fx
from ark import messages as m
from ark.errors import MessageError
from ark.state import UnreachableRecord

__all__ = ["Partitions", "check_strategy"]


class _Task(Protocol):
    state: m.TaskState
    agent_id: str | None


class _Entry:
    __slots__ = ("expunged", "replacement", "since")

    def __init__(self, since: float) -> None:
        self.since = since
        self.replacement: str | None = None
        self.expunged = False


def check_strategy(request: m.TaskRequest) -> None:
    """Raise MessageError unless ``0 <= inactive_after_seconds <= expunge_after_seconds``.

    A pod takes no strategy: its replacement would need its members renamed too.
    """
    s = request.unreachable
    if s is None:
        return
    if request.pod:
        raise MessageError(
            f"task {request.task_id!r}: a pod takes no unreachable strategy (not supported yet)"
        )
    inactive, expunge = s.inactive_after_seconds, s.expunge_after_seconds
    # NaN fails every comparison, so it is refused here too.
    if not (0.0 <= inactive <= expunge):
        raise MessageError(
            f"task {request.task_id!r}: an unreachable strategy needs "
            f"0 <= inactive_after_seconds ({inactive}) <= expunge_after_seconds ({expunge})"
        )


class Partitions:
    """The placed tasks with a strategy, and those of them now unreachable."""

    def __init__(self) -> None:
        self.strategies: dict[str, m.TaskRequest] = {}
        self.unreachable: dict[str, _Entry] = {}

    def placed(self, request: m.TaskRequest) -> None:
        if request.unreachable is not None:
            self.strategies[request.task_id] = request

    def updated(
        self,
        task_id: str,
        tasks: Mapping[str, _Task],
        demand: Collection[str],
        now: float,
    ) -> tuple[list[fx.Effect], str | None]:
        """After an update: the effects, and a replacement to withdraw from the demand."""
        task = tasks[task_id]
        if task.state in m.TERMINAL_STATES:
            self.strategies.pop(task_id, None)
            self.unreachable.pop(task_id, None)
            return [], None
        if task.state == "TASK_UNREACHABLE":
            if task_id in self.strategies and task_id not in self.unreachable:
                self.unreachable[task_id] = _Entry(now)
            return [], None
        if task.state == "TASK_UNKNOWN":
            return [], None
        entry = self.unreachable.pop(task_id, None)
        if entry is None:
            return [], None
        if entry.expunged:
            return [fx.Kill(task_id, task.agent_id)], None
        r = entry.replacement
        if r is None:
            return [], None
        replacement = tasks.get(r)
        in_demand = r in demand
        if not in_demand and (replacement is None or replacement.state in m.TERMINAL_STATES):
            return [], None
        strategy = self.strategies[task_id].unreachable
        assert strategy is not None
        if strategy.kill_selection == "OldestFirst":
            return [fx.Kill(task_id, task.agent_id)], None
        if in_demand:
            return [], r
        assert replacement is not None
        return [fx.Kill(r, replacement.agent_id)], None

    def tick(
        self, tasks: Collection[str], demand: Collection[str], now: float
    ) -> list[m.TaskRequest]:
        """The replacements now due, in task-id order; marks the expunged."""
        out: list[m.TaskRequest] = []
        taken = set(demand)
        for task_id in sorted(self.unreachable):
            entry = self.unreachable[task_id]
            request = self.strategies[task_id]
            strategy = request.unreachable
            assert strategy is not None
            if entry.expunged:
                continue
            if entry.replacement is None and entry.since + strategy.inactive_after_seconds <= now:
                n = 1
                while f"{task_id}.{n}" in tasks or f"{task_id}.{n}" in taken:
                    n += 1
                new_id = f"{task_id}.{n}"
                taken.add(new_id)
                entry.replacement = new_id
                out.append(msgspec.structs.replace(request, task_id=new_id))
            if entry.since + strategy.expunge_after_seconds <= now:
                entry.expunged = True
        return out

    def view(self) -> list[UnreachableRecord]:
        return [
            UnreachableRecord(task_id, e.since, e.replacement, e.expunged)
            for task_id, e in sorted(self.unreachable.items())
        ]
