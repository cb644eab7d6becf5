"""Operation feedback end to end, on both masters: the core's matcher plans a
RESERVE and a CREATE with ids, Mesos reports them OPERATION_FINISHED, the
core acknowledges (a framework that takes over finds the master has
forgotten them: RECONCILE_OPERATIONS answers OPERATION_UNKNOWN), and a
reservation Mesos refuses is OPERATION_ERROR, forgotten by the core.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from masters import Master
from sim_client import Subscriber
from stateful_client import release_all

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
