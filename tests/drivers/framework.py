"""A small real framework for the driver tests: keep N slots each running one task.

A slot whose task ends (or is reported lost after a master failover) gets a
new task with a new id; so a run ends with exactly N tasks running and no
task id is ever launched twice.
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
                    task_id = f"slot{slot}-{len(launched)}"
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
        if status.state not in m.TERMINAL_STATES or status.task_id not in state.tasks:
            return state, ()
        tasks = tuple(None if t == status.task_id else t for t in state.tasks)
        return msgspec.structs.replace(state, tasks=tasks), ()


def running(framework: Snapshot) -> list[str]:
    return sorted(framework.tasks_by_state().get("TASK_RUNNING", []))
