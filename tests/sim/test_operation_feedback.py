"""Operation feedback end to end, on both masters: the core's matcher plans a
RESERVE and a CREATE with ids, Mesos reports them OPERATION_FINISHED, the
core acknowledges (a framework that takes over finds the master has
forgotten them: RECONCILE_OPERATIONS answers OPERATION_UNKNOWN), and a
reservation Mesos refuses is OPERATION_ERROR, forgotten by the core; a
RESERVE Mesos applies whose CREATE it drops is given back (UNRESERVE).
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from masters import Master
from sim_client import Subscriber
from stateful_client import (
    FRAMEWORK_INFO,
    accept,
    launch,
    operation,
    release_all,
    reserved,
    subscribe,
    volume,
    wait_task,
)

from ark import Driver, Scheduler, StateManager, Step, V1Driver, task_payload
from ark import messages as m
from ark.core import Snapshot
from ark.drivers import PymesosDriver
from ark.state import OperationRecord
from waiting import wait_until

ROLE = "db"
PRINCIPAL = "ark-opfb"


def request(task_id: str, principal: str = PRINCIPAL) -> m.TaskRequest:
    return m.TaskRequest(
        task_id,
        [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32.0)],
        payload=task_payload("sleep 3600"),
        volume=m.Volume(f"{task_id}-data", "data", 64.0, ROLE, principal=principal),
    )


class Seen(msgspec.Struct, frozen=True):
    requested: bool = False
    #: (operation id, state) as the ``operation_update`` hook saw them.
    statuses: tuple[tuple[str, str], ...] = ()


class Once(StateManager[Seen]):
    """Requests ``pg`` (a volume reserved by the framework's principal) once."""

    def registered(self, state: Seen, framework_id: str, framework: Snapshot) -> Step[Seen]:
        commands = [] if state.requested else [m.Request([request("pg")])]
        return msgspec.structs.replace(state, requested=True), commands

    def operation_update(
        self, state: Seen, status: m.OperationStatus, framework: Snapshot
    ) -> Step[Seen]:
        seen = (*state.statuses, (status.operation_id, status.state))
        return msgspec.structs.replace(state, statuses=seen), ()


@pytest.fixture
def stateful(master: Master) -> Iterator[Master]:
    yield master
    if not master.is_sim:
        master.teardown_frameworks()
        release_all(master)


def operations(scheduler: Scheduler[Seen]) -> dict[str, OperationRecord]:
    return {op.operation_id: op for op in scheduler.snapshot().view().operations}


def finished(scheduler: Scheduler[Seen], *ids: str) -> bool:
    ops = operations(scheduler)
    return all(ops.get(i) is not None and ops[i].state == "OPERATION_FINISHED" for i in ids)


@pytest.mark.parametrize("kind", ["v1", "pymesos"])
def test_planned_operations_finish_are_acknowledged_and_a_refused_one_is_forgotten(
    stateful: Master, kind: str
) -> None:
    info = {"name": "opfb", "user": "test", "role": ROLE, "principal": PRINCIPAL}
    driver: Driver
    if kind == "pymesos":
        pytest.importorskip("pymesos")
        driver = PymesosDriver(stateful.url.removeprefix("http://"), dict(info))
    else:
        driver = V1Driver(stateful.url, info)
    with Scheduler(Once(), Seen(), driver, reconcile_seconds=None) as scheduler:
        wait_until(
            lambda: finished(scheduler, "ark-reserve-pg", "ark-create-pg"),
            60,
            "RESERVE and CREATE finished",
        )
        ops = operations(scheduler)
        assert ("ark-create-pg", "OPERATION_FINISHED") in scheduler.state.statuses
        agent = ops["ark-create-pg"].agent_id
        assert agent is not None and ops["ark-reserve-pg"].agent_id == agent
        wait_until(
            lambda: (
                (t := scheduler.snapshot().task("pg")) is not None and t.state == "TASK_RUNNING"
            ),
            60,
            "pg running on its volume",
        )
        # A reservation signed by another principal: Mesos drops the RESERVE
        # and the CREATE (OPERATION_ERROR); the core forgets both.
        scheduler.push(m.Request([request("bad", principal="someone-else")]))
        wait_until(
            lambda: all(
                (op := operations(scheduler).get(i)) is not None and op.state == "OPERATION_ERROR"
                for i in ("ark-reserve-bad", "ark-create-bad")
            ),
            60,
            "the refused RESERVE and CREATE",
        )
        # Its end places it again (bad.1, ...), refused again: in any one view
        # the volume is recorded only while a CREATE of it is pending.
        view = scheduler.snapshot().view()
        pending = [
            op.operation_id
            for op in view.operations
            if op.operation_id.startswith("ark-create-bad") and op.state == "OPERATION_PENDING"
        ]
        assert ("bad-data" in {v.persistence_id for v in view.volumes}) == bool(pending)
        assert "pg-data" in {v.persistence_id for v in view.volumes}
        error = operations(scheduler)["ark-reserve-bad"].message or ""
        assert "principal" in error, error
        # The refused task is requested again: stop it.
        wait_until(lambda: scheduler.snapshot().task("bad") is not None, 30, "bad's end")
        scheduler.push(m.Withdraw([r.task_id for r in scheduler.snapshot().view().demand]))
        framework_id = scheduler.snapshot().view().framework_id
        assert framework_id is not None
        scheduler.shutdown(failover=True)

    # Taking over, a framework finds the master forgot the acknowledged operations.
    sub = Subscriber(stateful.url, info, framework_id)
    try:
        assert sub.status == 200, sub.body
        code, body = sub.call(
            {
                "type": "RECONCILE_OPERATIONS",
                "reconcile_operations": {
                    "operations": [
                        {"operation_id": {"value": "ark-create-pg"}, "agent_id": {"value": agent}}
                    ]
                },
            }
        )
        assert code == 202, body
        event = sub.wait_event(
            "UPDATE_OPERATION_STATUS",
            lambda e: (
                e["update_operation_status"]["status"]["operation_id"]["value"] == "ark-create-pg"
            ),
        )
        answer = event["update_operation_status"]["status"]
        assert answer["state"] == "OPERATION_UNKNOWN", answer
        assert "uuid" not in answer
    finally:
        sub.close()


def reserved_disk(master: Master, agent_id: str) -> float:
    """The disk reserved for the role on one agent, as the master says."""
    (agent,) = [a for a in master.state()["slaves"] if a["id"] == agent_id]
    return float(agent["reserved_resources"].get(ROLE, {}).get("disk", 0.0))


def test_a_reservation_whose_create_is_dropped_is_given_back(stateful: Master) -> None:
    """Another framework of the role runs a task on volume ``clash-data`` (in use:
    never offered). Ark, pinned to that agent, plans RESERVE + CREATE of the
    same id: Mesos applies the RESERVE and drops the CREATE ("not unique"); the
    core gives the disk back on the agent's next offer, and only its own."""
    other = subscribe(stateful, {**FRAMEWORK_INFO, "name": "other"})
    try:
        offer = other.wait_offer()
        agent = offer["agent_id"]["value"]
        held = volume(64, "clash-data")
        accept(
            other,
            offer,
            operation("RESERVE", [reserved("cpus", 0.1), reserved("disk", 64)], "r-clash"),
            operation("CREATE", [held], "c-clash"),
            launch(offer, "t-clash", [reserved("cpus", 0.1), held]),
        )
        wait_task(other, "t-clash", "TASK_RUNNING")
        assert reserved_disk(stateful, agent) == 64.0
        # It wants nothing more: a real master would keep offering it the agents.
        other.call({"type": "SUPPRESS"})
        declined = {offer["id"]["value"]}

        def hand_back() -> None:
            rest = [o["id"] for o in other.offers() if o["id"]["value"] not in declined]
            if rest:
                declined.update(i["value"] for i in rest)
                refuse = {"refuse_seconds": 3600}
                other.call({"type": "DECLINE", "decline": {"offer_ids": rest, "filters": refuse}})

        info = {"name": "opfb", "user": "test", "role": ROLE, "principal": PRINCIPAL}
        clash = msgspec.structs.replace(
            request("clash"),
            agent_id=agent,
            group="clash",
            volume=m.Volume("clash-data", "data", 64.0, ROLE, principal=PRINCIPAL),
        )
        driver = V1Driver(stateful.url, info)
        with Scheduler(StateManager(), Seen(), driver, reconcile_seconds=None) as scheduler:
            scheduler.push(m.Request([clash]))
            wait_until(
                lambda: (
                    hand_back() is None
                    and (op := operations(scheduler).get("ark-create-clash")) is not None
                    and op.state == "OPERATION_ERROR"
                ),
                60,
                "the CREATE dropped",
            )
            message = operations(scheduler)["ark-create-clash"].message or ""
            assert "not unique" in message, message
            wait_until(
                lambda: any(
                    op.operation_id.startswith("ark-unreserve-stranded-clash-")
                    and op.state == "OPERATION_FINISHED"
                    for op in operations(scheduler).values()
                ),
                60,
                "the reservation given back",
            )

            # Its end places it again (clash.1, ...) on the same agent, dropped
            # again: each waits out the group's launch backoff; stop them.
            def quiet() -> bool:
                view = scheduler.snapshot().view()
                if view.demand:
                    scheduler.push(m.Withdraw([r.task_id for r in view.demand]))
                return (
                    not view.demand
                    and not any(a == agent for a, _, _, _ in view.reserved)
                    and all(op.state != "OPERATION_PENDING" for op in view.operations)
                    and all(t.state in m.TERMINAL_STATES for t in view.tasks)
                )

            wait_until(quiet, 60, "nothing of Ark's reserved, nothing running")
            # The other framework's volume stands; nothing else is reserved there.
            wait_until(lambda: reserved_disk(stateful, agent) == 64.0, 30, "only its disk")
    finally:
        other.close()
