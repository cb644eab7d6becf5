"""What a protobuf subscriber reads is what a JSON one reads: the fields of
SUBSCRIBED and OFFERS a framework may use, in both encodings, on the
simulator and on a real Mesos (``Master::Http::scheduler`` serializes one
``Event`` either way, ``src/master/http.cpp``)."""

from __future__ import annotations

from typing import Any

from masters import Master
from sim_client import Subscriber


def first_events(master: Master, encoding: str) -> tuple[dict[str, Any], dict[str, Any]]:
    sub = Subscriber(master.url, encoding=encoding)
    try:
        subscribed: dict[str, Any] = sub.wait_event("SUBSCRIBED")["subscribed"]
        return subscribed, sub.wait_offer()
    finally:
        sub.close()


def test_master_capabilities_and_offer_urls_reach_both_encodings(master: Master) -> None:
    """``MasterInfo.capabilities`` (field 9) and ``Offer.url`` (field 8, the agent's
    address: ``Master::offer`` sets it from the agent's pid)."""
    json_subscribed, json_offer = first_events(master, "json")
    pb_subscribed, pb_offer = first_events(master, "protobuf")

    capabilities = json_subscribed["master_info"]["capabilities"]
    assert [c["type"] for c in capabilities] == ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"]
    assert pb_subscribed["master_info"]["capabilities"] == capabilities

    assert json_offer["url"]["scheme"] == "http"
    assert json_offer["url"]["address"]["port"] > 0
    assert pb_offer["url"].keys() == json_offer["url"].keys()
    assert pb_offer["url"]["path"] == json_offer["url"]["path"]
