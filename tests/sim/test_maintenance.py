"""Maintenance on both masters: the operator's schedule, the inverse offers
it produces for frameworks on a draining agent, and the answers to them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from masters import Master
from sim_client import request
from stateful_client import FRAMEWORK_INFO, subscribe, wait_task

HOUR_NS = 3600 * 10**9


def _operator(master: Master, call: dict[str, Any]) -> tuple[int, bytes]:
    status, _, body = request(master.url, "POST", "/api/v1", json.dumps(call))
    return status, body


def _update_schedule(master: Master, schedule: dict[str, Any]) -> tuple[int, bytes]:
    return _operator(
        master,
        {
            "type": "UPDATE_MAINTENANCE_SCHEDULE",
            "update_maintenance_schedule": {"schedule": schedule},
        },
    )


@pytest.fixture
def maintained(master: Master) -> Iterator[Master]:
    """The master, whose schedule is emptied afterwards (a real one keeps it)."""
    yield master
    assert _update_schedule(master, {})[0] == 200


def _machine(master: Master, agent_id: str) -> dict[str, str]:
    """An agent's machine id: its hostname and the ip of its pid."""
    agent = {a["id"]: a for a in master.agents()}[agent_id]
    ip = agent["pid"].split("@", 1)[1].split(":", 1)[0]
    return {"hostname": agent["hostname"], "ip": ip}


def test_schedule_produces_inverse_offers_and_answers_are_recorded(maintained: Master) -> None:
    """MasterMaintenanceTest.InverseOffers: once an agent running a framework's
    task is scheduled for maintenance, the framework gets an inverse offer for
    it (INVERSE_OFFERS, with the window's unavailability), the agent's offers
    carry the unavailability, and accepting the inverse offer is the machine's
    status in GET_MAINTENANCE_STATUS."""
    sub = subscribe(maintained)
    try:
        offer = sub.wait_offer()
        agent_id = offer["agent_id"]["value"]
        assert sub.launch(offer, "busy") == 202
        wait_task(sub, "busy", "TASK_RUNNING")
        machine = _machine(maintained, agent_id)
        unavailability = {
            "start": {"nanoseconds": time.time_ns() + HOUR_NS},
            "duration": {"nanoseconds": HOUR_NS},
        }
        schedule = {"windows": [{"machine_ids": [machine], "unavailability": unavailability}]}
        assert _update_schedule(maintained, schedule) == (200, b"")

        event = sub.wait_event("INVERSE_OFFERS")
        (inverse,) = event["inverse_offers"]["inverse_offers"]
        assert inverse["agent_id"]["value"] == agent_id
        assert inverse["framework_id"]["value"] == sub.framework_id
        assert inverse["unavailability"] == unavailability
        draining = sub.wait_offer(
            lambda o: o["agent_id"]["value"] == agent_id and "unavailability" in o
        )
        assert draining["unavailability"] == unavailability

        status, body = _operator(maintained, {"type": "GET_MAINTENANCE_SCHEDULE"})
        assert status == 200
        assert json.loads(body)["get_maintenance_schedule"]["schedule"] == schedule

        code, _ = sub.call(
            {
                "type": "ACCEPT_INVERSE_OFFERS",
                "accept_inverse_offers": {"inverse_offer_ids": [inverse["id"]]},
            }
        )
        assert code == 202
        status, body = _operator(maintained, {"type": "GET_MAINTENANCE_STATUS"})
        (entry,) = json.loads(body)["get_maintenance_status"]["status"]["draining_machines"]
        assert entry["id"] == machine
        (answer,) = entry["statuses"]
        assert answer["status"] == "ACCEPT"
        assert answer["framework_id"]["value"] == sub.framework_id

        # An inverse offer that is no longer valid is ignored, as Mesos does.
        code, _ = sub.call(
            {
                "type": "DECLINE_INVERSE_OFFERS",
                "decline_inverse_offers": {"inverse_offer_ids": [{"value": "no-such-offer"}]},
            }
        )
        assert code == 202
    finally:
        sub.close()


def test_a_resubscribed_framework_gets_a_new_inverse_offer(maintained: Master) -> None:
    """``Master::deactivate`` drops a disconnected framework's inverse offers
    unanswered; once it subscribes again it is asked again."""
    info = dict(FRAMEWORK_INFO, failover_timeout=60.0)
    sub = subscribe(maintained, info)
    framework_id = sub.framework_id
    again = None
    try:
        offer = sub.wait_offer()
        assert sub.launch(offer, "stays") == 202
        wait_task(sub, "stays", "TASK_RUNNING")
        window = {
            "machine_ids": [_machine(maintained, offer["agent_id"]["value"])],
            "unavailability": {"start": {"nanoseconds": time.time_ns() + HOUR_NS}},
        }
        assert _update_schedule(maintained, {"windows": [window]})[0] == 200
        first = sub.wait_event("INVERSE_OFFERS")["inverse_offers"]["inverse_offers"][0]
        sub.close()
        again = subscribe(
            maintained, dict(info, id={"value": framework_id}), framework_id=framework_id
        )
        event = again.wait_event("INVERSE_OFFERS")
        (second,) = event["inverse_offers"]["inverse_offers"]
        assert second["agent_id"] == first["agent_id"] and second["id"] != first["id"]
    finally:
        sub.close()
        if again is not None:
            again.call({"type": "TEARDOWN"})
            again.close()


def test_a_framework_without_resources_there_gets_no_inverse_offer(maintained: Master) -> None:
    """``generateInverseOffers`` asks only frameworks with resources offered or
    used on the agent: a suppressed framework with none gets nothing."""
    sub = subscribe(maintained, dict(FRAMEWORK_INFO, name="idle"))
    try:
        sub.wait_offer()
        code, _ = sub.call({"type": "SUPPRESS", "suppress": {}})
        assert code == 202
        time.sleep(0.3)  # Offers outstanding when suppressed stay: decline them.
        ids = [o["id"] for o in sub.offers()]
        code, _ = sub.call({"type": "DECLINE", "decline": {"offer_ids": ids}})
        assert code == 202
        agent_id = maintained.agents()[0]["id"]
        window = {
            "machine_ids": [_machine(maintained, agent_id)],
            "unavailability": {"start": {"nanoseconds": time.time_ns()}},
        }
        assert _update_schedule(maintained, {"windows": [window]})[0] == 200
        time.sleep(1.0)
        assert not sub.of_type("INVERSE_OFFERS")
    finally:
        sub.close()


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        (
            [{"machine_ids": [{"hostname": "a", "ip": "127.0.0.1"}]}] * 2,
            'Machine \'{"hostname":"a","ip":"127.0.0.1"}\' appears more than once in the schedule',
        ),
        ([{"machine_ids": []}], "List of machines in the maintenance window is empty"),
        ([{"machine_ids": [{}]}], "Both 'hostname' and 'ip' for a machine are empty"),
    ],
)
def test_invalid_schedules_are_refused(
    maintained: Master, windows: list[dict[str, Any]], message: str
) -> None:
    """MasterMaintenanceTest.UpdateSchedule: ``maintenance::validation::schedule``
    refuses a machine in two windows, an empty window and an empty machine id,
    through the operator API and ``/master/maintenance/schedule`` alike."""
    schedule = {"windows": [dict(w, unavailability={"start": {"nanoseconds": 1}}) for w in windows]}
    assert _update_schedule(maintained, schedule) == (400, message.encode())
    status, _, body = request(
        maintained.url, "POST", "/master/maintenance/schedule", json.dumps(schedule)
    )
    assert (status, body) == (400, message.encode())


def test_stateful_events_survive_protobuf() -> None:
    """The ``.proto`` subset carries what these features send: an inverse
    offer, an offer's unavailability, an operation status with its uuid."""
    from ark import protobuf
    from ark.sim import codec

    unavailability = {"start": {"nanoseconds": 5}, "duration": {"nanoseconds": 7}}
    inverse = {
        "id": {"value": "O1"},
        "framework_id": {"value": "F"},
        "agent_id": {"value": "S0"},
        "unavailability": unavailability,
    }
    status = {
        "operation_id": {"value": "op"},
        "state": "OPERATION_FINISHED",
        "uuid": {"value": "AAECAwQFBgcICQoLDA0ODw=="},
        "agent_id": {"value": "S0"},
    }
    offer = {
        "id": {"value": "O2"},
        "framework_id": {"value": "F"},
        "agent_id": {"value": "S0"},
        "hostname": "agent-0",
        "unavailability": unavailability,
    }
    events = [
        {"type": "OFFERS", "offers": {"offers": [offer]}},
        {"type": "INVERSE_OFFERS", "inverse_offers": {"inverse_offers": [inverse]}},
        {"type": "UPDATE_OPERATION_STATUS", "update_operation_status": {"status": status}},
    ]
    for event in events:
        encoded = codec.encode_event(event, codec.PROTOBUF)
        assert protobuf.to_json(encoded, protobuf.Event) == event
