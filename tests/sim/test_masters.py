"""The conformance fixture itself: both masters offer their agents."""

from __future__ import annotations

from masters import Master
from sim_client import Subscriber

from waiting import wait_until


def test_every_master_offers_each_agent(master: Master) -> None:
    agents = master.agents()
    assert len(agents) == 2
    sub = Subscriber(master.url)
    try:
        sub.wait_event("SUBSCRIBED")
        wait_until(lambda: len({o["agent_id"]["value"] for o in sub.offers()}) == 2, what="offers")
    finally:
        sub.close()
