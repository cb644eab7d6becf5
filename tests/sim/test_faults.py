"""Faults: agents lost, partitioned and back; streams dropped; master failover."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_client import Subscriber, fast_config, request

from ark.sim import Cluster
from waiting import wait_until

PARTITION_AWARE = {"user": "t", "name": "pa", "capabilities": [{"type": "PARTITION_AWARE"}]}
PLAIN = {"user": "t", "name": "plain"}


def running_task(sub: Subscriber, task_id: str = "t1") -> str:
    """Launch ``task_id``, acknowledge it up to RUNNING; return its agent id."""
    offer = sub.wait_offer()
    assert sub.launch(offer, task_id) == 202
    sub.ack(sub.wait_update(task_id, "TASK_STARTING"))
    sub.ack(sub.wait_update(task_id, "TASK_RUNNING"))
    agent_id: str = offer["agent_id"]["value"]
    return agent_id


@pytest.mark.parametrize(
    ("info", "state"), [(PLAIN, "TASK_LOST"), (PARTITION_AWARE, "TASK_UNREACHABLE")]
)
def test_partitioned_agent_is_marked_unreachable_and_comes_back(
    cluster: Cluster, info: dict[str, object], state: str
) -> None:
    sub = Subscriber(cluster.url, info)
    try:
        agent_id = running_task(sub)
        outstanding = [o["id"]["value"] for o in sub.offers() if o["agent_id"]["value"] == agent_id]
        cluster.partition_agent(agent_id)
        lost = sub.wait_update("t1", state)
        assert lost["reason"] == "REASON_AGENT_REMOVED" and lost["source"] == "SOURCE_MASTER"
        assert sub.wait_event("FAILURE")["failure"] == {"agent_id": {"value": agent_id}}
        rescinded = {e["rescind"]["offer_id"]["value"] for e in sub.of_type("RESCIND")}
        assert set(outstanding[1:]) <= rescinded  # The first offer was used by the launch.
        assert cluster.state()["unreachable_slaves"] == 1
        # Reconciling the task while its agent is unreachable.
        tasks = [{"task_id": {"value": "t1"}, "agent_id": {"value": agent_id}}]
        sub.call({"type": "RECONCILE", "reconcile": {"tasks": tasks}})
        sub.wait_update("t1", state, reason="REASON_RECONCILIATION")
        # The agent comes back with its task, which kept running.
        cluster.heal_agent(agent_id)
        wait_until(lambda: cluster.state()["unreachable_slaves"] == 0, what="re-registration")
        sub.call({"type": "RECONCILE", "reconcile": {"tasks": tasks}})
        sub.wait_update("t1", "TASK_RUNNING", reason="REASON_RECONCILIATION")
    finally:
        sub.close()


def test_updates_during_a_short_partition_are_delivered_after_it(cluster: Cluster) -> None:
    sub = Subscriber(cluster.url)
    try:
        offer = sub.wait_offer()
        agent_id = offer["agent_id"]["value"]
        labels = {"labels": [{"key": "ark.sim/duration", "value": "0.05"}]}
        sub.launch(offer, "t1", labels=labels)
        sub.ack(sub.wait_update("t1", "TASK_STARTING"))
        cluster.run(lambda: setattr(cluster.agents[agent_id], "partitioned", True))
        # RUNNING and FINISHED happen on the agent while no update gets through.
        cluster.heal_agent(agent_id)
        sub.ack(sub.wait_update("t1", "TASK_RUNNING"))
        sub.wait_update("t1", "TASK_FINISHED")
    finally:
        sub.close()


def test_agent_marked_gone(cluster: Cluster) -> None:
    sub = Subscriber(cluster.url, PARTITION_AWARE)
    try:
        agent_id = running_task(sub)
        cluster.mark_agent_gone(agent_id)
        status = sub.wait_update("t1", "TASK_GONE_BY_OPERATOR")
        assert status["reason"] == "REASON_AGENT_REMOVED_BY_OPERATOR"
        tasks = [{"task_id": {"value": "other"}, "agent_id": {"value": agent_id}}]
        sub.call({"type": "RECONCILE", "reconcile": {"tasks": tasks}})
        sub.wait_update("other", "TASK_GONE_BY_OPERATOR", reason="REASON_RECONCILIATION")
    finally:
        sub.close()


def test_dropped_stream_and_resubscribe_keeps_tasks(cluster: Cluster) -> None:
    info = {"user": "u", "name": "n", "failover_timeout": 60}
    sub = Subscriber(cluster.url, info)
    framework_id = sub.framework_id
    try:
        running_task(sub)
        assert cluster.drop_stream(framework_id)
        wait_until(lambda: sub.closed, what="dropped")
    finally:
        sub.close()
    again = Subscriber(cluster.url, info, framework_id)
    try:
        again.call({"type": "RECONCILE", "reconcile": {"tasks": []}})
        again.wait_update("t1", "TASK_RUNNING", reason="REASON_RECONCILIATION")
    finally:
        again.close()


@pytest.fixture
def ha_cluster() -> Iterator[Cluster]:
    """Three masters elected in memory."""
    with Cluster(fast_config(masters=3)) as c:
        yield c


def test_standby_masters_redirect_to_the_leader(ha_cluster: Cluster) -> None:
    leader = ha_cluster.url
    host_port = leader.split("//")[1]
    standbys = [u for u in ha_cluster.urls if u != leader]
    assert len(standbys) == 2
    for url in standbys:
        status, headers, _ = request(url, "POST", "/api/v1/scheduler", b"{}")
        assert status == 307
        assert headers["Location"] == f"//{host_port}/master/api/v1/scheduler"
        assert request(url, "GET", "/master/state")[0] == 307
        assert request(url, "GET", "/version")[0] == 200
        sub = Subscriber(url)
        assert sub.status == 307
        sub.close()


def test_master_failover_relearns_tasks_from_agents(ha_cluster: Cluster) -> None:
    info = {"user": "u", "name": "n", "failover_timeout": 60}
    sub = Subscriber(ha_cluster.url, info)
    framework_id = sub.framework_id
    try:
        agent_id = running_task(sub)
        old = ha_cluster.url
        new = ha_cluster.failover_master()
        assert new != old
        wait_until(lambda: sub.closed, what="old master's stream gone")
        assert not sub.clean_end
    finally:
        sub.close()
    again = Subscriber(new, info, framework_id)
    try:
        assert again.framework_id == framework_id
        tasks = [{"task_id": {"value": "t1"}, "agent_id": {"value": agent_id}}]

        wait_until(ha_cluster.recovered, what="agents re-registered")
        again.call({"type": "RECONCILE", "reconcile": {"tasks": tasks}})
        status = again.wait_update("t1", "TASK_RUNNING", reason="REASON_RECONCILIATION")
        assert status["agent_id"]["value"] == agent_id
        state = ha_cluster.state()
        assert state["frameworks"][0]["id"] == framework_id
        assert state["frameworks"][0]["tasks"][0]["state"] == "TASK_RUNNING"

        # The old master came back as a standby and redirects.
        def redirects() -> bool:
            try:
                return request(old, "POST", "/api/v1/scheduler", b"{}")[0] == 307
            except ConnectionRefusedError:
                return False  # Still restarting.

        wait_until(redirects, what="old master back as standby")
    finally:
        again.close()


def test_reconcile_gets_no_answer_while_agents_recover() -> None:
    timing = fast_config().timing
    slow = fast_config(timing=type(timing)(**{**vars(timing), "agent_reregister_delay": 2.0}))
    with Cluster(slow.replace(masters=2)) as cluster:
        info = {"user": "u", "name": "n", "failover_timeout": 60}
        sub = Subscriber(cluster.url, info)
        framework_id = sub.framework_id
        agent_id = next(iter(cluster.agents))
        sub.close()
        new = cluster.failover_master()
        again = Subscriber(new, info, framework_id)
        try:
            tasks = [
                {"task_id": {"value": "a"}, "agent_id": {"value": agent_id}},
                {"task_id": {"value": "b"}},
            ]
            again.call({"type": "RECONCILE", "reconcile": {"tasks": tasks}})
            hb = len(again.of_type("HEARTBEAT"))
            wait_until(lambda: len(again.of_type("HEARTBEAT")) >= hb + 2, what="time to pass")
            assert again.updates() == []
            # Once agents are back, the same question gets answers.
            wait_until(cluster.recovered, what="recovery")
            again.call({"type": "RECONCILE", "reconcile": {"tasks": tasks}})
            again.wait_update("a", "TASK_LOST", reason="REASON_RECONCILIATION")
            again.wait_update("b", "TASK_LOST", reason="REASON_RECONCILIATION")
        finally:
            again.close()


def test_single_master_failover_restarts_it() -> None:
    with Cluster(fast_config()) as cluster:
        url = cluster.url
        assert cluster.failover_master() == url
        sub = Subscriber(url)
        try:
            sub.wait_offer()
        finally:
            sub.close()


def test_offer_timeout_rescinds() -> None:
    timing = fast_config().timing
    config = fast_config(timing=type(timing)(**{**vars(timing), "offer_timeout": 0.1}))
    with Cluster(config) as cluster:
        sub = Subscriber(cluster.url)
        try:
            first = sub.wait_offer()["id"]["value"]
            rescind = sub.wait_event(
                "RESCIND", lambda e: e["rescind"]["offer_id"]["value"] == first
            )
            assert rescind["rescind"]["offer_id"]["value"] == first
            wait_until(lambda: len(sub.offers()) > 2, what="re-offered after the rescind")
        finally:
            sub.close()


def test_failover_through_the_admin_endpoint(ha_cluster: Cluster) -> None:
    old = ha_cluster.url
    status, _, body = request(old, "POST", "/admin/fault", {"type": "FAILOVER_MASTER"})
    assert status == 200 and b"failing_over" in body

    def moved() -> bool:
        server = ha_cluster.leader_server()
        return server is not None and server.url != old

    wait_until(moved, what="a new leader")
    sub = Subscriber(ha_cluster.url)
    try:
        sub.wait_offer()
    finally:
        sub.close()
