"""Agents lost and removed, on the simulator and a real Mesos (a master of the
test's own, whose agents are killed): what frameworks are told, and in what order.

Each check names the Mesos function it follows (apache/mesos
``src/master/master.cpp``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from agent_faults import FaultyMaster, faulty
from sim_client import FAST, Subscriber, fast_config

from ark.sim import Cluster
from waiting import wait_until

__all__ = ["faulty"]

PARTITION_AWARE = {"user": "t", "name": "pa", "capabilities": [{"type": "PARTITION_AWARE"}]}
PLAIN = {"user": "t", "name": "plain"}
#: Runs until killed, on both masters.
FOREVER: dict[str, Any] = {
    "command": {"value": "sleep 1000"},
    "labels": {"labels": [{"key": "ark.sim/duration", "value": "inf"}]},
}
#: Ends at once, on both masters.
AT_ONCE: dict[str, Any] = {
    "command": {"value": "true"},
    "labels": {"labels": [{"key": "ark.sim/duration", "value": "0"}]},
}


#: Offers used by a launch in the running test.
LAUNCHED: set[str] = set()


@pytest.fixture(autouse=True)
def _launched() -> None:
    LAUNCHED.clear()


def running(sub: Subscriber, task_id: str, agent_id: str | None = None) -> str:
    """Launch ``task_id`` (running until killed), acknowledge it to RUNNING; its agent id."""
    offer = sub.wait_offer(
        lambda o: agent_id in (None, o["agent_id"]["value"]) and o["id"]["value"] not in LAUNCHED
    )
    LAUNCHED.add(offer["id"]["value"])
    assert sub.launch(offer, task_id, **FOREVER) == 202
    sub.ack(sub.wait_update(task_id, "TASK_STARTING"))
    sub.ack(sub.wait_update(task_id, "TASK_RUNNING"))
    found: str = offer["agent_id"]["value"]
    return found


def outstanding_offer(subs: list[Subscriber], agent_id: str) -> tuple[Subscriber, str]:
    """An offer of ``agent_id`` no launch used (the rest of its resources)."""
    used = LAUNCHED

    def find() -> tuple[Subscriber, str] | None:
        for sub in subs:
            for offer in sub.offers():
                offer_id: str = offer["id"]["value"]
                if offer["agent_id"]["value"] == agent_id and offer_id not in used:
                    return sub, offer_id
        return None

    return wait_until(find, what=f"an offer of {agent_id}")


def index_of(sub: Subscriber, kind: str, where: Any = lambda e: True) -> int:
    for i, event in enumerate(list(sub.events)):
        if event.get("type") == kind and where(event):
            return i
    raise AssertionError(f"no {kind} event")


def test_killed_agent_is_a_disconnection(faulty: FaultyMaster) -> None:
    """``Master::exited`` then ``removeFramework(Slave*, Framework*)``: the agent is
    deactivated (its offers rescinded) and the tasks of a framework that does not
    checkpoint are TASK_LOST at once, REASON_AGENT_DISCONNECTED, partition-aware or
    not; the agent is marked unreachable (FAILURE) only after the ping timeout."""
    plain = Subscriber(faulty.url, PLAIN)
    aware = Subscriber(faulty.url, PARTITION_AWARE)
    try:
        agent_id = running(plain, "p1")
        running(aware, "a1", agent_id)
        offered, offer_id = outstanding_offer([plain, aware], agent_id)
        faulty.kill_agent(agent_id)
        for sub, task_id in ((plain, "p1"), (aware, "a1")):
            lost = sub.wait_update(task_id, "TASK_LOST")
            assert lost["reason"] == "REASON_AGENT_DISCONNECTED", lost
            assert lost["source"] == "SOURCE_MASTER"
            assert lost["message"] == f"Agent {faulty.hostname(agent_id)} disconnected"
            assert lost["agent_id"] == {"value": agent_id}
        offered.wait_event("RESCIND", lambda e: e["rescind"]["offer_id"]["value"] == offer_id)
        # Lost before the agent is: the FAILURE waits for the ping timeout.
        for sub in (plain, aware):
            failure = sub.wait_event("FAILURE")
            assert failure["failure"] == {"agent_id": {"value": agent_id}}
            assert index_of(sub, "UPDATE") < index_of(sub, "FAILURE")
            reasons = {s.get("reason") for s in sub.updates()}
            assert "REASON_TASK_UNKNOWN" not in reasons
    finally:
        plain.close()
        aware.close()


def test_checkpointing_framework_keeps_its_tasks_until_the_agent_is_unreachable(
    faulty: FaultyMaster,
) -> None:
    """``Master::exited``: a checkpointing framework's tasks wait for the agent; after
    the ping timeout ``__removeSlave`` sends TASK_UNREACHABLE (REASON_AGENT_REMOVED,
    "health check timed out", with ``unreachable_time``) for every task the master
    holds, a terminal one whose update is unacknowledged too; then RESCINDs, then
    FAILURE."""
    info = dict(PARTITION_AWARE, checkpoint=True)
    sub = Subscriber(faulty.url, info)
    try:
        agent_id = running(sub, "long")
        offer = sub.wait_offer(
            lambda o: o["agent_id"]["value"] == agent_id and o["id"]["value"] not in LAUNCHED
        )
        LAUNCHED.add(offer["id"]["value"])
        assert sub.launch(offer, "done", **AT_ONCE) == 202
        sub.ack(sub.wait_update("done", "TASK_STARTING"))
        sub.ack(sub.wait_update("done", "TASK_RUNNING"))
        sub.wait_update("done", "TASK_FINISHED")  # Never acknowledged.
        faulty.kill_agent(agent_id)
        for task_id in ("long", "done"):
            status = sub.wait_update(task_id, "TASK_UNREACHABLE")
            assert status["reason"] == "REASON_AGENT_REMOVED", status
            assert status["message"] == "health check timed out"
            assert status["source"] == "SOURCE_MASTER"
            assert status["unreachable_time"]["nanoseconds"] > 0
        sub.wait_event("FAILURE")
        failure = index_of(sub, "FAILURE")
        updates = [
            i
            for i, e in enumerate(list(sub.events))
            if e.get("type") == "UPDATE" and e["update"]["status"]["state"] == "TASK_UNREACHABLE"
        ]
        assert max(updates) < failure
        rescinds = [i for i, e in enumerate(list(sub.events)) if e.get("type") == "RESCIND"]
        assert all(max(updates) < i < failure for i in rescinds if i > min(updates))
        assert not [s for s in sub.updates("long") if s["state"] == "TASK_LOST"]
    finally:
        sub.close()


def test_unreachable_agent_marked_gone(faulty: FaultyMaster) -> None:
    """``Master::markGone`` of an unreachable agent: TASK_GONE_BY_OPERATOR
    (REASON_AGENT_REMOVED_BY_OPERATOR) to a PARTITION_AWARE framework, TASK_LOST
    (REASON_AGENT_REMOVED) to others, "Agent has been marked gone"; the tasks move
    from unreachable to completed."""
    plain = Subscriber(faulty.url, dict(PLAIN, checkpoint=True))
    aware = Subscriber(faulty.url, dict(PARTITION_AWARE, checkpoint=True))
    agent_id = ""
    try:
        agent_id = running(plain, "p1")
        running(aware, "a1", agent_id)
        faulty.partition_agent(agent_id)
        aware.wait_update("a1", "TASK_UNREACHABLE")
        plain.wait_update("p1", "TASK_LOST")
        faulty.mark_gone(agent_id)
        gone = aware.wait_update("a1", "TASK_GONE_BY_OPERATOR")
        assert gone["reason"] == "REASON_AGENT_REMOVED_BY_OPERATOR"
        assert gone["message"] == "Agent has been marked gone"
        lost = plain.wait_event(
            "UPDATE", lambda e: e["update"]["status"].get("message") == "Agent has been marked gone"
        )["update"]["status"]
        assert (lost["state"], lost["reason"]) == ("TASK_LOST", "REASON_AGENT_REMOVED")
        frameworks = {f["id"]: f for f in faulty.master.state()["frameworks"]}
        for sub, task_id in ((plain, "p1"), (aware, "a1")):
            framework = frameworks[sub.framework_id]
            assert task_id in {t["id"] for t in framework["completed_tasks"]}
            assert task_id not in {t["id"] for t in framework.get("unreachable_tasks", [])}
    finally:
        if agent_id:
            faulty.heal_agent(agent_id)
        plain.close()
        aware.close()


def test_registered_agent_marked_gone(faulty: FaultyMaster) -> None:
    """``Master::markGone`` of a registered agent, through ``__removeSlave`` without
    an unreachable time: TASK_GONE_BY_OPERATOR to a PARTITION_AWARE framework, then
    FAILURE."""
    sub = Subscriber(faulty.url, PARTITION_AWARE)
    try:
        agent_id = running(sub, "a1")
        faulty.mark_gone(agent_id)
        gone = sub.wait_update("a1", "TASK_GONE_BY_OPERATOR")
        assert gone["reason"] == "REASON_AGENT_REMOVED_BY_OPERATOR"
        assert "unreachable_time" not in gone
        sub.wait_event("FAILURE")
        assert index_of(sub, "UPDATE", _state("TASK_GONE_BY_OPERATOR")) < index_of(sub, "FAILURE")
    finally:
        sub.close()


def _state(state: str) -> Any:
    return lambda e: e["update"]["status"]["state"] == state


def test_agents_missing_after_a_failover_produce_failure() -> None:
    """``Master::_markUnreachable`` during a failover (``duringMasterFailover``): an
    agent that does not re-register within ``agent_reregister_timeout`` is lost,
    and frameworks get FAILURE (no task updates: the new master knows no tasks).
    Simulator only: a real one needs three masters and ZooKeeper to fail over."""
    timing = dataclasses.replace(FAST, agent_reregister_timeout=0.5)
    info = dict(PARTITION_AWARE, failover_timeout=60)
    with Cluster(fast_config(timing=timing)) as cluster:
        sub = Subscriber(cluster.url, info)
        framework_id = sub.framework_id
        try:
            agent_id = running(sub, "a1")
            cluster.run(lambda: setattr(cluster.agents[agent_id], "partitioned", True))
            url = cluster.failover_master()
        finally:
            sub.close()
        again = Subscriber(url, info, framework_id)
        try:
            failure = again.wait_event("FAILURE")
            assert failure["failure"] == {"agent_id": {"value": agent_id}}
            wait_until(lambda: cluster.state()["unreachable_slaves"] == 1, what="unreachable")
        finally:
            again.close()
