"""Ark itself against what a master does with a launch it refuses: each
invalid task ends TASK_ERROR in Ark's bookkeeping, on the simulator and on a
real Mesos, in both encodings of the v1 driver."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest
from masters import Master

from ark import Scheduler, StateManager, Step
from ark import messages as m
from ark.core import Snapshot
from ark.drivers import V1Driver
from ark.wire import task_payload
from waiting import wait_until

PAYLOAD = task_payload("sleep 3600")


class Launched(msgspec.Struct, frozen=True):
    done: bool = False


class LaunchOnce(StateManager[Launched]):
    """Launches ``task_ids`` on the first offer, declines every other."""

    def __init__(self, task_ids: Sequence[str]) -> None:
        self.task_ids = list(task_ids)

    def offers(
        self, state: Launched, offers: Sequence[m.Offer], framework: Snapshot
    ) -> Step[Launched]:
        if state.done:
            return state, [m.Decline([o.id], refuse_seconds=60) for o in offers]
        resources = [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32)]
        launches = [m.Launch(t, resources=resources, payload=PAYLOAD) for t in self.task_ids]
        first, rest = offers[0], offers[1:]
        commands: list[m.Message] = [m.Accept([first.id], launches)]
        commands += [m.Decline([o.id], refuse_seconds=60) for o in rest]
        return Launched(done=True), commands


def ark_states(
    master: Master, encoding: str, task_ids: Sequence[str], timeout: float = 30.0
) -> dict[str, str]:
    """The state Ark settles each of ``task_ids`` in after launching them."""
    driver = V1Driver(
        master.url.removeprefix("http://"),
        {"name": "ark-launch-errors", "user": "root"},
        encoding=encoding,  # type: ignore[arg-type]
    )
    with Scheduler(LaunchOnce(task_ids), Launched(), driver, reconcile_seconds=None) as scheduler:

        def settled() -> dict[str, str] | None:
            snapshot = scheduler.snapshot()
            records = {t: snapshot.task(t) for t in task_ids}
            states = {t: r.state for t, r in records.items() if r is not None}
            return states if "TASK_STAGING" not in states.values() else None

        return wait_until(settled, timeout, "every task past STAGING")


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_ark_records_task_error_for_ids_mesos_refuses(master: Master, encoding: str) -> None:
    """Ark does not check ids itself: the master's TASK_ERROR ends them."""
    states = ark_states(master, encoding, ["fine", "a/b", ".", "x" * 256])
    assert states["fine"] in ("TASK_STARTING", "TASK_RUNNING")
    assert {states[t] for t in ("a/b", ".", "x" * 256)} == {"TASK_ERROR"}


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_ark_records_task_error_for_an_empty_task_id(master: Master, encoding: str) -> None:
    """Mesos answers an empty task id with TASK_ERROR carrying ``task_id {value: ""}``."""
    states = ark_states(master, encoding, [""], timeout=5.0)
    assert states[""] == "TASK_ERROR"
