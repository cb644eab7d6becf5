"""Scale: 10,000 agents offered in one allocation cycle, in one process."""

from __future__ import annotations

import time

from sim_client import Subscriber

from ark.sim import AgentShape, Cluster, ClusterConfig, Timing
from waiting import wait_until


def test_ten_thousand_agents_in_one_offers_event() -> None:
    config = ClusterConfig(
        agents=(AgentShape(count=10_000),),
        timing=Timing(heartbeat_interval=60, allocation_interval=60),
    )
    with Cluster(config) as cluster:
        start = time.monotonic()
        sub = Subscriber(cluster.url)
        try:
            wait_until(lambda: len(sub.offers()) == 10_000, timeout=60, what="10,000 offers")
            assert len(sub.of_type("OFFERS")) == 1
            assert len({o["agent_id"]["value"] for o in sub.offers()}) == 10_000
            assert time.monotonic() - start < 30
        finally:
            sub.close()
