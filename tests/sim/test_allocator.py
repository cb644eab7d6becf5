"""The allocator, on the simulator and a real Mesos: what is offered, to whom, and when.

Follows apache/mesos ``src/master/allocator/mesos/hierarchical.cpp``
(``HierarchicalAllocatorProcess``) and ``Master::revive``/``suppress``.
"""

from __future__ import annotations

import time
from typing import Any

from masters import Master
from sim_client import FAST, Subscriber, fast_config

from ark.sim import AgentShape, Cluster
from ark.sim.resources import Resources
from waiting import wait_until

INFO = {"user": "t", "name": "allocator"}
#: Runs for a second on both masters.
ONE_SECOND: dict[str, Any] = {
    "command": {"value": "sleep 1"},
    "labels": {"labels": [{"key": "ark.sim/duration", "value": "1"}]},
}


def scalar(offer: dict[str, Any], name: str) -> float:
    return sum(
        r["scalar"]["value"] for r in offer["resources"] if r["name"] == name and "scalar" in r
    )


def offers_of(sub: Subscriber, agent_id: str, after: int = 0) -> list[dict[str, Any]]:
    """Offers of ``agent_id`` in events from index ``after``."""
    return [
        o
        for e in list(sub.events)[after:]
        if e.get("type") == "OFFERS"
        for o in e["offers"]["offers"]
        if o["agent_id"]["value"] == agent_id
    ]


def none_for(seconds: float, check: Any) -> None:
    """``check()`` stays falsy for ``seconds`` (many allocation intervals)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not check()
        time.sleep(0.02)


def launch(
    sub: Subscriber, offer: dict[str, Any], task_id: str, refuse: float, **resources: float
) -> None:
    task = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": [
            {"name": name, "type": "SCALAR", "scalar": {"value": value}}
            for name, value in resources.items()
        ],
        **ONE_SECOND,
    }
    status, body = sub.call(
        {
            "type": "ACCEPT",
            "accept": {
                "offer_ids": [offer["id"]],
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
                "filters": {"refuse_seconds": refuse},
            },
        }
    )
    assert status == 202, body


def finish(sub: Subscriber, task_id: str) -> None:
    for state in ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"):
        sub.ack(sub.wait_update(task_id, state))


def test_refuse_filter_covers_only_the_refused_resources(master: Master) -> None:
    """``RefusedOfferFilter::filter``: a filter holds back only resources it covers,
    so what a task frees later is offered at once, with the refused rest, long
    before ``refuse_seconds``."""
    sub = Subscriber(master.url, INFO)
    try:
        offer = sub.wait_offer()
        agent_id = offer["agent_id"]["value"]
        start = len(sub.events)
        launch(sub, offer, "t1", 60, cpus=1, mem=128)
        # The rest of the agent is refused for a minute...
        none_for(0.5, lambda: offers_of(sub, agent_id, start))
        finish(sub, "t1")
        # ...but the task's resources return, and with them the whole agent.
        again = wait_until(lambda: offers_of(sub, agent_id, start), timeout=10, what="re-offer")
        assert scalar(again[0], "cpus") == scalar(offer, "cpus")
    finally:
        sub.close()


def test_freed_resources_are_offered_while_another_offer_is_outstanding(master: Master) -> None:
    """``HierarchicalAllocatorProcess::allocate`` offers an agent's unallocated
    resources whatever is outstanding: a task's freed resources come in a new
    offer while the offer of the rest is still held."""
    sub = Subscriber(master.url, INFO)
    try:
        offer = sub.wait_offer()
        agent_id = offer["agent_id"]["value"]
        start = len(sub.events)
        launch(sub, offer, "t1", 0, cpus=1, mem=128)
        rest = wait_until(lambda: offers_of(sub, agent_id, start), what="the rest")[0]
        assert scalar(rest, "cpus") == scalar(offer, "cpus") - 1
        start = len(sub.events)
        finish(sub, "t1")
        freed = wait_until(lambda: offers_of(sub, agent_id, start), what="freed")[0]
        assert scalar(freed, "cpus") == 1 and scalar(freed, "mem") == 128
        rescinded = {e["rescind"]["offer_id"]["value"] for e in sub.of_type("RESCIND")}
        assert rest["id"]["value"] not in rescinded
    finally:
        sub.close()


def test_min_allocatable_resources(master: Master) -> None:
    """``HierarchicalAllocatorProcess::allocatable`` with the default
    ``--min_allocatable_resources=cpus:0.01|mem:32``: less than 0.01 cpus and 32 MB
    of mem left on an agent is not offered (its disk and ports neither)."""
    sub = Subscriber(master.url, INFO)
    try:
        offer = sub.wait_offer()
        agent_id = offer["agent_id"]["value"]
        start = len(sub.events)
        cpus, mem = scalar(offer, "cpus"), scalar(offer, "mem")
        launch(sub, offer, "t1", 0, cpus=cpus - 0.005, mem=mem - 16)
        sub.wait_update("t1", "TASK_STARTING")
        none_for(1.0, lambda: offers_of(sub, agent_id, start))
    finally:
        sub.close()


def test_suppressed_roles_at_subscription(master: Master) -> None:
    """``Master::subscribe`` passes SUBSCRIBE's ``suppressed_roles`` to the allocator:
    no offers until REVIVE. A suppressed role the framework does not have refuses
    the subscription (``validateSuppressedRoles``)."""
    call = {
        "type": "SUBSCRIBE",
        "subscribe": {"framework_info": dict(INFO, role="*"), "suppressed_roles": ["*"]},
    }
    sub = Subscriber(master.url, call=call)
    try:
        sub.wait_event("SUBSCRIBED")
        none_for(1.0, sub.offers)
        assert sub.call({"type": "REVIVE", "revive": {}})[0] == 202
        sub.wait_offer()
    finally:
        sub.close()
    call["subscribe"]["suppressed_roles"] = ["other"]
    refused = Subscriber(master.url, call=call)
    try:
        error = refused.wait_event("ERROR")["error"]["message"]
        assert "Suppressed roles" in error and "not contained in the set of roles" in error
    finally:
        refused.close()


def test_revive_and_suppress_of_a_role_not_subscribed_are_dropped(master: Master) -> None:
    """``Master::suppress``/``revive``: a role the framework is not subscribed to makes
    the master drop the whole call (answered 202): offers go on after such a SUPPRESS."""
    sub = Subscriber(master.url, INFO)
    try:
        offer = sub.wait_offer()
        agent_id = offer["agent_id"]["value"]
        assert sub.call({"type": "SUPPRESS", "suppress": {"roles": ["other"]}})[0] == 202
        start = len(sub.events)
        decline = {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 0}}
        assert sub.call({"type": "DECLINE", "decline": decline})[0] == 202
        again = wait_until(lambda: offers_of(sub, agent_id, start), what="re-offer")[0]
        # A SUPPRESS of its own role is not dropped.
        assert sub.call({"type": "SUPPRESS", "suppress": {"roles": ["*"]}})[0] == 202
        start = len(sub.events)
        decline = {"offer_ids": [again["id"]], "filters": {"refuse_seconds": 0}}
        assert sub.call({"type": "DECLINE", "decline": decline})[0] == 202
        none_for(1.0, lambda: offers_of(sub, agent_id, start))
    finally:
        sub.close()


def test_negative_refuse_seconds_means_five_seconds(master: Master) -> None:
    """``HierarchicalAllocatorProcess::recoverResources``: a negative
    ``refuse_seconds`` filters for the default, 5 s."""
    sub = Subscriber(master.url, INFO)
    try:
        offer = sub.wait_offer()
        agent_id = offer["agent_id"]["value"]
        start = len(sub.events)
        declined = time.monotonic()
        decline = {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": -1}}
        assert sub.call({"type": "DECLINE", "decline": decline})[0] == 202
        wait_until(lambda: offers_of(sub, agent_id, start), timeout=10, what="re-offer")
        assert 4.5 < time.monotonic() - declined < 8
    finally:
        sub.close()


def test_filters_survive_a_connected_frameworks_resubscription(master: Master) -> None:
    """A connected framework that subscribes again keeps its filters (only
    ``deactivateFramework``, on disconnection, clears them)."""
    info = dict(INFO, failover_timeout=60)
    sub = Subscriber(master.url, info)
    again: Subscriber | None = None
    try:
        offer = sub.wait_offer()
        agent_id = offer["agent_id"]["value"]
        decline = {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 60}}
        assert sub.call({"type": "DECLINE", "decline": decline})[0] == 202
        again = Subscriber(master.url, info, sub.framework_id)
        again.wait_event("SUBSCRIBED")
        others = [a for a in master.agents() if a["id"] != agent_id]
        if others:
            again.wait_offer()  # The other agents are offered at once.
        none_for(1.0, lambda: offers_of(again, agent_id) if again else [])
    finally:
        sub.close()
        if again is not None:
            again.close()


def test_gpu_agents_are_offered_only_to_gpu_frameworks() -> None:
    """``HierarchicalAllocatorProcess::isCapableOfReceivingAgent`` (with the default
    ``--filter_gpu_resources``): an agent with GPUs is offered only to frameworks
    with the GPU_RESOURCES capability. Simulator only: the real agents here have
    no GPUs."""
    shapes = (AgentShape(count=1, cpus=2, mem=1024, gpus=1),)
    with Cluster(fast_config(agents=shapes)) as cluster:
        plain = Subscriber(cluster.url, INFO)
        gpu = Subscriber(cluster.url, dict(INFO, capabilities=[{"type": "GPU_RESOURCES"}]))
        try:
            offer = gpu.wait_offer()
            assert scalar(offer, "gpus") == 1
            none_for(0.5, plain.offers)
        finally:
            plain.close()
            gpu.close()


def test_filter_durations() -> None:
    """``HierarchicalAllocatorProcess::recoverResources``: zero makes no filter, a
    negative value is the default 5 s, a filter lasts at least one allocation
    interval, and at most 365 days."""
    with Cluster(fast_config()) as cluster:
        sub = Subscriber(cluster.url, INFO)
        try:
            framework_id = sub.framework_id
            master = cluster.leader()

            def filtered(seconds: float) -> float | None:
                def run() -> float | None:
                    framework = master.frameworks[framework_id]
                    framework.filters.clear()
                    master._filter(framework, "agent", Resources({"cpus": 1.0}), seconds)
                    entries = framework.filters.get("agent")
                    return None if not entries else entries[0][1] - master.loop.time()

                return cluster.run(run)

            assert filtered(0) is None
            assert abs((filtered(-1) or 0) - 5.0) < 0.1
            assert abs((filtered(0.001) or 0) - FAST.allocation_interval) < 0.01
            assert abs((filtered(1e12) or 0) - 365 * 24 * 3600) < 1
        finally:
            sub.close()
