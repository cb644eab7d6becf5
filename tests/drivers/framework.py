"""A small real framework for the driver tests: keep N slots each running one task.

A slot whose task ends (or is reported lost after a master failover) gets a
new task with a new id; so a run ends with exactly N tasks running and no
task id is ever launched twice. A scheduler that takes over from another
starts with empty slots and adopts the tasks reconciliation reports (task
ids name their slot), killing a second task found in one slot.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from ark import StateManager, Step
from ark import messages as m
from ark.core import Snapshot
from ark.wire import task_payload

CPUS = 0.5
MEM = 64.0
PAYLOAD = task_payload("sleep 3600")


class Slots(msgspec.Struct, frozen=True):
    tasks: tuple[str | None, ...]
    launched: tuple[str, ...] = ()
    registrations: int = 0


def slots(n: int) -> Slots:
    return Slots((None,) * n)


class KeepN(StateManager[Slots]):
    def __init__(self, prefix: str = "") -> None:
        #: Makes this scheduler's task ids unique among successive leaders.
        self.prefix = prefix

    def registered(self, state: Slots, framework_id: str, framework: Snapshot) -> Step[Slots]:
        return msgspec.structs.replace(state, registrations=state.registrations + 1), ()

    def reregistered(self, state: Slots, framework: Snapshot) -> Step[Slots]:
        return msgspec.structs.replace(state, registrations=state.registrations + 1), ()

    def offers(self, state: Slots, offers: Sequence[m.Offer], framework: Snapshot) -> Step[Slots]:
        tasks, launched = list(state.tasks), list(state.launched)
        commands: list[m.Message] = []
        for offer in offers:
            have = {r.name: r.scalar or 0.0 for r in offer.resources}
            fit = int(min(have.get("cpus", 0) / CPUS, have.get("mem", 0) / MEM))
            launches = []
            for slot, task in enumerate(tasks):
                if task is None and len(launches) < fit:
                    task_id = f"slot{slot}-{self.prefix}{len(launched)}"
                    tasks[slot] = task_id
                    launched.append(task_id)
                    resources = [m.Resource("cpus", scalar=CPUS), m.Resource("mem", scalar=MEM)]
                    launches.append(m.Launch(task_id, resources=resources, payload=PAYLOAD))
            if launches:
                commands.append(m.Accept([offer.id], launches))
            else:
                commands.append(m.Decline([offer.id], refuse_seconds=0.2))
        new = msgspec.structs.replace(state, tasks=tuple(tasks), launched=tuple(launched))
        return new, commands

    def status_update(self, state: Slots, status: m.TaskStatus, framework: Snapshot) -> Step[Slots]:
        task_id = status.task_id
        if status.state in m.TERMINAL_STATES:
            if task_id not in state.tasks:
                return state, ()
            tasks = tuple(None if t == task_id else t for t in state.tasks)
            return msgspec.structs.replace(state, tasks=tasks), ()
        if task_id in state.tasks or not task_id.startswith("slot"):
            return state, ()
        slot = int(task_id[4:].split("-", 1)[0])
        if slot >= len(state.tasks) or state.tasks[slot] is not None:
            return state, [m.Kill(task_id)]
        tasks = tuple(task_id if i == slot else t for i, t in enumerate(state.tasks))
        return msgspec.structs.replace(state, tasks=tasks), ()


def running(framework: Snapshot) -> list[str]:
    return sorted(framework.tasks_by_state().get("TASK_RUNNING", []))
