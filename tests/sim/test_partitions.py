"""Partitions: an agent unreachable, its tasks reconciled, then back. On the
simulator and on a real Mesos of the test's own (whose agent is stopped with
SIGSTOP, so it answers no ping while its tasks run, and resumed with SIGCONT).

Follows ``partition_tests.cpp`` and ``reconciliation_tests.cpp`` of
apache/mesos and the ``Master`` functions each check names.
"""

from __future__ import annotations

from typing import Any

import pytest
from agent_faults import FaultyMaster, faulty
from sim_client import Subscriber
from test_agent_removal import LAUNCHED, PARTITION_AWARE, PLAIN, running

from waiting import wait_until

__all__ = ["faulty"]


@pytest.fixture(autouse=True)
def _launched() -> None:
    LAUNCHED.clear()


def reconcile(sub: Subscriber, *tasks: tuple[str, str | None]) -> None:
    entries: list[dict[str, Any]] = []
    for task_id, agent_id in tasks:
        entry: dict[str, Any] = {"task_id": {"value": task_id}}
        if agent_id is not None:
            entry["agent_id"] = {"value": agent_id}
        entries.append(entry)
    assert sub.call({"type": "RECONCILE", "reconcile": {"tasks": entries}})[0] == 202


def reconciled(sub: Subscriber, task_id: str, after: int) -> dict[str, Any]:
    """The first reconciliation answer about ``task_id`` among events from index ``after``."""

    def find() -> dict[str, Any] | None:
        for event in list(sub.events)[after:]:
            if event.get("type") != "UPDATE":
                continue
            status: dict[str, Any] = event["update"]["status"]
            if status["task_id"]["value"] == task_id and status.get("reason") == (
                "REASON_RECONCILIATION"
            ):
                return status
        return None

    return wait_until(find, what=f"reconciliation of {task_id}")


def test_reconciling_tasks_of_an_unreachable_agent(faulty: FaultyMaster) -> None:
    """``Master::reconcile``: unreachable tasks are not the framework's tasks
    (``Framework::getTask``), so implicit reconciliation leaves them out; an explicit
    one without agent id answers TASK_UNKNOWN (case 6), with the agent id
    TASK_UNREACHABLE "Reconciliation: Task is unreachable" with ``unreachable_time``
    (case 4); TASK_LOST for both to a framework that is not PARTITION_AWARE."""
    aware = Subscriber(faulty.url, PARTITION_AWARE)
    plain = Subscriber(faulty.url, PLAIN)
    # TaskStatus.unreachable_time (field 14) reaches a protobuf subscriber too.
    in_protobuf = Subscriber(faulty.url, PARTITION_AWARE, encoding="protobuf")
    try:
        agent_id = running(aware, "cut")
        running(plain, "plain-cut", agent_id)
        running(in_protobuf, "protobuf-cut", agent_id)
        running(aware, "fine", other_agent(faulty, agent_id))
        faulty.partition_agent(agent_id)
        unreachable = aware.wait_update("cut", "TASK_UNREACHABLE")
        assert unreachable["reason"] == "REASON_AGENT_REMOVED"
        assert "nanoseconds" in unreachable["unreachable_time"]
        seen = in_protobuf.wait_update("protobuf-cut", "TASK_UNREACHABLE")
        assert seen["unreachable_time"] == unreachable["unreachable_time"]
        plain.wait_update("plain-cut", "TASK_LOST", reason="REASON_AGENT_REMOVED")

        start = len(aware.events)
        reconcile(aware)
        assert reconciled(aware, "fine", start)["state"] == "TASK_RUNNING"
        answered = [
            e
            for e in list(aware.events)[start:]
            if e.get("type") == "UPDATE" and e["update"]["status"]["task_id"]["value"] == "cut"
        ]
        assert answered == []

        start = len(aware.events)
        reconcile(aware, ("cut", None))
        unknown = reconciled(aware, "cut", start)
        assert unknown["state"] == "TASK_UNKNOWN", unknown
        assert unknown["message"] == "Reconciliation: Task is unknown"

        start = len(aware.events)
        reconcile(aware, ("cut", agent_id))
        status = reconciled(aware, "cut", start)
        assert status["state"] == "TASK_UNREACHABLE", status
        assert status["message"] == "Reconciliation: Task is unreachable"
        assert status["unreachable_time"] == unreachable["unreachable_time"]

        for task in (("plain-cut", None), ("plain-cut", agent_id)):
            start = len(plain.events)
            reconcile(plain, task)
            assert reconciled(plain, "plain-cut", start)["state"] == "TASK_LOST"
    finally:
        faulty.heal_agent(agent_id)
        aware.close()
        plain.close()
        in_protobuf.close()


def test_unreachable_agent_that_reregisters(faulty: FaultyMaster) -> None:
    """``Master::__reregisterSlave``: for each task an unreachable agent reports, the
    master sends its current state from SOURCE_MASTER with REASON_AGENT_REREGISTERED
    ("Unreachable agent re-reregistered"), PARTITION_AWARE or not
    (``PartitionTest.ReregisterSlavePartitionAware`` and ``...NotPartitionAware``)."""
    aware = Subscriber(faulty.url, PARTITION_AWARE)
    plain = Subscriber(faulty.url, PLAIN)
    try:
        agent_id = running(aware, "a1")
        running(plain, "p1", agent_id)
        faulty.partition_agent(agent_id)
        aware.wait_update("a1", "TASK_UNREACHABLE")
        plain.wait_update("p1", "TASK_LOST")
        faulty.heal_agent(agent_id)
        for sub, task_id in ((aware, "a1"), (plain, "p1")):
            status = sub.wait_update(
                task_id, "TASK_RUNNING", timeout=30, reason="REASON_AGENT_REREGISTERED"
            )
            assert status["source"] == "SOURCE_MASTER"
            assert status["message"] == "Unreachable agent re-reregistered"
            assert "uuid" not in status
        wait_until(lambda: faulty.unreachable() == 0, what="no agent unreachable")
        start = len(aware.events)
        reconcile(aware, ("a1", agent_id))
        assert reconciled(aware, "a1", start)["state"] == "TASK_RUNNING"
    finally:
        faulty.heal_agent(agent_id)
        aware.close()
        plain.close()


def other_agent(faulty: FaultyMaster, agent_id: str) -> str:
    others = [a["id"] for a in faulty.master.agents() if a["id"] != agent_id]
    found: str = others[0]
    return found
