"""Task state and resources: what the master believes of a task while its
updates wait for acknowledgement, and how kills reach it, judged on the
simulator and on a real Mesos."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from masters import Master
from sim_client import FAST, Subscriber, fast_config

from ark.sim import Cluster
from waiting import wait_until

PARTITION_AWARE = {"user": "u", "name": "pa", "capabilities": [{"type": "PARTITION_AWARE"}]}
KILLING = {"user": "u", "name": "killing", "capabilities": [{"type": "TASK_KILLING_STATE"}]}


def framework_state(master: Master, sub: Subscriber) -> dict[str, Any]:
    """This framework's entry in ``/master/state``."""
    state: dict[str, Any] = next(
        f for f in master.state()["frameworks"] if f["id"] == sub.framework_id
    )
    return state


def task_state(master: Master, sub: Subscriber, task_id: str) -> str | None:
    """The state ``/master/state`` gives ``task_id``, None if it lists no such live task."""
    tasks = framework_state(master, sub)["tasks"]
    return next((t["state"] for t in tasks if t["id"] == task_id), None)


def test_an_ended_task_frees_its_resources_before_its_updates_are_acknowledged(
    master: Master,
) -> None:
    """``Master::updateTask`` follows the update's ``latest_state``.

    The agent sends one update at a time, but each carries the task's
    latest state: once the task has ended, the master frees its resources
    although TASK_RUNNING and TASK_FINISHED wait for acknowledgement.
    """
    sub = Subscriber(master.url)
    try:
        offer = sub.wait_offer()
        sub.launch(
            offer,
            "quick",
            cpus=0.5,
            command={"value": "true"},
            labels={"labels": [{"key": "ark.sim/duration", "value": "0"}]},
        )
        starting = sub.wait_update("quick", "TASK_STARTING", timeout=30)
        assert framework_state(master, sub)["used_resources"]["cpus"] == pytest.approx(0.5)
        time.sleep(1.0)  # The task runs `true` and ends meanwhile.
        assert sub.ack(starting) == 202
        sub.wait_update("quick", "TASK_RUNNING")  # Sent with latest_state TASK_FINISHED.
        wait_until(lambda: task_state(master, sub, "quick") == "TASK_FINISHED", 30, "finished")
        assert framework_state(master, sub)["used_resources"]["cpus"] == 0
        assert "TASK_FINISHED" not in [s["state"] for s in sub.updates("quick")]
    finally:
        sub.close()


def test_a_kill_naming_another_agent_is_ignored(master: Master) -> None:
    """``Master::kill``: a KILL whose agent_id is not the task's does nothing."""
    sub = Subscriber(master.url)
    try:
        offer = sub.wait_offer()
        sub.launch(offer, "mine", command={"value": "sleep 1000"})
        sub.ack(sub.wait_update("mine", "TASK_STARTING", timeout=30))
        sub.ack(sub.wait_update("mine", "TASK_RUNNING", timeout=30))
        other = next(a["id"] for a in master.agents() if a["id"] != offer["agent_id"]["value"])
        wrong = {"task_id": {"value": "mine"}, "agent_id": {"value": other}}
        assert sub.call({"type": "KILL", "kill": wrong})[0] == 202
        time.sleep(1.0)
        assert [s["state"] for s in sub.updates("mine")] == ["TASK_STARTING", "TASK_RUNNING"]
        assert task_state(master, sub, "mine") == "TASK_RUNNING"
        right = {"task_id": {"value": "mine"}, "agent_id": offer["agent_id"]}
        assert sub.call({"type": "KILL", "kill": right})[0] == 202
        sub.wait_update("mine", "TASK_KILLED", timeout=30)
    finally:
        sub.close()


@pytest.fixture
def unanswered_uri() -> Iterator[str]:
    """An http URI whose server accepts and never answers: a fetch that never ends."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}/never"


def test_a_task_killed_while_staging_is_killed_by_its_agent(
    master: Master, unanswered_uri: str
) -> None:
    """``Slave::kill`` before the executor registers (slave.cpp).

    The agent itself answers TASK_KILLED (SOURCE_AGENT,
    REASON_TASK_KILLED_DURING_LAUNCH) and sends no TASK_KILLING, even to a
    framework with TASK_KILLING_STATE. The real agent stays staging while it
    fetches a URI that never comes; the simulator's while ``ark.sim/staging``
    says.
    """
    sub = Subscriber(master.url, KILLING)
    try:
        offer = sub.wait_offer()
        sub.launch(
            offer,
            "early",
            command={"value": "true", "uris": [{"value": unanswered_uri}]},
            labels={"labels": [{"key": "ark.sim/staging", "value": "60"}]},
        )
        wait_until(lambda: task_state(master, sub, "early") == "TASK_STAGING", 30, "staging")
        assert sub.call({"type": "KILL", "kill": {"task_id": {"value": "early"}}})[0] == 202
        killed = sub.wait_update("early", "TASK_KILLED", timeout=30)
        assert killed["source"] == "SOURCE_AGENT"
        assert killed["reason"] == "REASON_TASK_KILLED_DURING_LAUNCH"
        assert killed["message"] == "Killed before delivery to the executor"
        assert [s["state"] for s in sub.updates("early")] == ["TASK_KILLED"]
    finally:
        sub.close()


@pytest.mark.parametrize(
    ("info", "state"),
    [
        ({"user": "u", "name": "plain"}, "TASK_LOST"),
        (
            {"user": "u", "name": "pa", "capabilities": [{"type": "PARTITION_AWARE"}]},
            "TASK_DROPPED",
        ),
    ],
)
def test_an_update_for_an_invalid_offer_names_the_task_agent(
    master: Master, info: dict[str, Any], state: str
) -> None:
    """``Master::accept`` answers tasks of invalid offers with the TaskInfo's agent_id."""
    sub = Subscriber(master.url, info)
    try:
        offer = sub.wait_offer()
        assert sub.launch(dict(offer, id={"value": "no-such-offer"}), "orphan") == 202
        status = sub.wait_update("orphan", state)
        assert status["reason"] == "REASON_INVALID_OFFERS"
        assert status["agent_id"] == offer["agent_id"]
        assert status["message"] == (
            "Task launched with invalid offers: Offer no-such-offer is no longer valid"
        )
    finally:
        sub.close()


def test_a_kill_sent_during_a_partition_is_carried_out_when_the_agent_returns() -> None:
    """``Master::kill`` remembers the kill (``Slave::killedTasks``) and
    ``reconcileKnownSlave`` sends it again when the agent re-registers.

    Simulator only: a real master cannot be made to lose the network to one
    agent; this cluster's ping timeout is long enough to heal in time.
    """
    timing = dataclasses.replace(FAST, agent_ping_timeout=10.0)
    with Cluster(fast_config(timing=timing)) as cluster:
        sub = Subscriber(cluster.url)
        try:
            offer = sub.wait_offer()
            agent_id = offer["agent_id"]["value"]
            sub.launch(offer, "cut-off")
            sub.ack(sub.wait_update("cut-off", "TASK_STARTING"))
            sub.ack(sub.wait_update("cut-off", "TASK_RUNNING"))
            cluster.partition_agent(agent_id)
            assert sub.call({"type": "KILL", "kill": {"task_id": {"value": "cut-off"}}})[0] == 202
            time.sleep(0.3)
            assert "TASK_KILLED" not in [s["state"] for s in sub.updates("cut-off")]
            cluster.heal_agent(agent_id)
            assert sub.wait_update("cut-off", "TASK_KILLED")["agent_id"] == offer["agent_id"]
        finally:
            sub.close()
