"""HTTP and calls, as ``Master::Http::scheduler`` (``src/master/http.cpp``) and
``validation::scheduler::call`` (``src/master/validation.cpp``) answer them,
judged on the simulator and on a real Mesos master."""

from __future__ import annotations

import base64
import time
import uuid

import pytest
from masters import HaMasters, Master
from sim_client import Subscriber, request

from waiting import wait_until

REVIVE = b'{"type": "REVIVE", "framework_id": {"value": "x"}}'
QUIET_SECONDS = 0.5  # Several allocation cycles of either master.


def post(url: str, body: bytes, headers: dict[str, str | None]) -> tuple[int, str]:
    """POST to the scheduler endpoint with exactly ``headers`` (None: left out)."""
    status, _, text = request(url, "POST", "/api/v1/scheduler", body, headers)
    return status, text.decode(errors="replace")


def test_subscribe_with_a_stream_id_is_refused(master: Master) -> None:
    """``Master::Http::scheduler``: "Subscribe calls should not include the
    'Mesos-Stream-Id' header" (scheduler_http_api_tests.cpp, SubscribeWithStreamId)."""
    sub = Subscriber(master.url, headers={"Mesos-Stream-Id": str(uuid.uuid4())})
    try:
        assert sub.status == 400
        assert b"Subscribe calls should not include the 'Mesos-Stream-Id' header" in sub.body
    finally:
        sub.close()


def test_a_missing_content_type_is_400(master: Master) -> None:
    """``Master::Http::scheduler``: no Content-Type is a BadRequest, not a 415."""
    sub = Subscriber(master.url, headers={"Content-Type": None})
    try:
        assert sub.status == 400
        assert sub.body == b"Expecting 'Content-Type' to be present"
    finally:
        sub.close()


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/x-json"]
)
def test_the_content_type_is_compared_exactly(master: Master, content_type: str) -> None:
    """``Master::Http::scheduler`` compares the header's whole value: a parameter
    or another case is a 415 (UnsupportedMediaType)."""
    status, text = post(master.url, REVIVE, {"Content-Type": content_type})
    assert status == 415
    assert text == "Expecting 'Content-Type' of application/json or application/x-protobuf"


def test_a_standby_redirects_any_method_before_refusing_it(ha_master: HaMasters) -> None:
    """``Master::Http::scheduler`` redirects from a standby before it looks at the
    method, so even a GET gets the leader's Location."""
    leader = ha_master.leader_url()
    standbys = [u for u in ha_master.urls if u != leader]
    assert len(standbys) == 2
    for url in standbys:
        for method in ("GET", "POST", "PUT"):
            status, headers, _ = request(url, method, "/api/v1/scheduler", b"{}")
            assert status == 307, (url, method)
            location = headers["Location"]
            # To the route under the master's process id, as libprocess names it.
            assert location == "//" + leader.split("//")[1] + "/master/api/v1/scheduler"
    status, headers, body = request(leader, "GET", "/master/api/v1/scheduler")
    assert status == 405 and headers["Allow"] == "POST"
    assert b"Expecting one of { 'POST' }, but received 'GET'" in body


@pytest.mark.parametrize(
    "call",
    [
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "RECONCILE_OPERATIONS",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "UPDATE_FRAMEWORK",
    ],
)
def test_calls_without_their_body_are_400(master: Master, call: str) -> None:
    """``validation::scheduler::call``: "Expecting '<field>' to be present"."""
    sub = Subscriber(master.url)
    try:
        code, text = sub.call({"type": call}, encoding="json")
        assert code == 400
        assert text.decode() == (
            f"Failed to validate scheduler::Call: Expecting '{call.lower()}' to be present"
        )
    finally:
        sub.close()


def test_inverse_offer_calls_with_a_body_are_accepted(master: Master) -> None:
    """``Master::acceptInverseOffers`` / ``declineInverseOffers`` take an empty list."""
    sub = Subscriber(master.url)
    try:
        for call in ("accept_inverse_offers", "decline_inverse_offers"):
            body = {"type": call.upper(), call: {"inverse_offer_ids": []}}
            assert sub.call(body, encoding="json")[0] == 202
    finally:
        sub.close()


def test_unknown_call_type_is_501(master: Master) -> None:
    """``Master::Http::scheduler`` answers NotImplemented to type UNKNOWN."""
    # A real Mesos 1.12 master aborts on it (a CHECK in its call metrics,
    # metrics.cpp) before answering, so only the simulator is asked.
    master.require_sim("answer type UNKNOWN (a real 1.12 master crashes on it)")
    sub = Subscriber(master.url)
    try:
        assert sub.call({"type": "UNKNOWN"}, encoding="json")[0] == 501
    finally:
        sub.close()


def test_message_with_bad_base64_is_400(master: Master) -> None:
    """stout's JSON to protobuf: "Failed to base64 decode bytes field 'data'"."""
    sub = Subscriber(master.url)
    try:
        offer = sub.wait_offer()
        message = {"agent_id": offer["agent_id"], "executor_id": {"value": "e"}, "data": "!!!"}
        code, text = sub.call({"type": "MESSAGE", "message": message}, encoding="json")
        assert code == 400
        assert b"Failed to base64 decode bytes field 'data'" in text
    finally:
        sub.close()


@pytest.mark.parametrize("uuid_value", ["nope", base64.b64encode(bytes(16)).decode()])
def test_acknowledgements_need_a_valid_uuid(master: Master, uuid_value: str) -> None:
    """``validation::scheduler::call``: "Not a valid UUID" (the nil UUID too)."""
    sub = Subscriber(master.url)
    try:
        offer = sub.wait_offer()
        ids = {"agent_id": offer["agent_id"], "uuid": uuid_value}
        calls = [
            {"type": "ACKNOWLEDGE", "acknowledge": {**ids, "task_id": {"value": "t"}}},
            {
                "type": "ACKNOWLEDGE_OPERATION_STATUS",
                "acknowledge_operation_status": {**ids, "operation_id": {"value": "op"}},
            },
        ]
        for call in calls:
            code, text = sub.call(call, encoding="json")
            assert (code, text) == (400, b"Failed to validate scheduler::Call: Not a valid UUID")
    finally:
        sub.close()


def test_reconcile_operations_answers_with_operation_status_updates(master: Master) -> None:
    """``Master::reconcileOperations``: an unknown operation is OPERATION_UNKNOWN,
    its message saying what the master knows of its agent; no uuid."""
    sub = Subscriber(master.url)
    try:
        offer = sub.wait_offer()
        operations = [
            {"operation_id": {"value": "on-agent"}, "agent_id": offer["agent_id"]},
            {"operation_id": {"value": "nowhere"}, "agent_id": {"value": "no-such-agent"}},
            {"operation_id": {"value": "no-agent"}},
        ]
        call = {"type": "RECONCILE_OPERATIONS", "reconcile_operations": {"operations": operations}}
        assert sub.call(call, encoding="json")[0] == 202
        wait_until(lambda: len(sub.of_type("UPDATE_OPERATION_STATUS")) == 3, what="answers")
        statuses = {
            e["update_operation_status"]["status"]["operation_id"]["value"]: e[
                "update_operation_status"
            ]["status"]
            for e in sub.of_type("UPDATE_OPERATION_STATUS")
        }
        assert all(s["state"] == "OPERATION_UNKNOWN" for s in statuses.values())
        assert all("uuid" not in s for s in statuses.values())
        assert statuses["on-agent"]["message"] == "Reconciliation: Operation is unknown"
        assert statuses["on-agent"]["agent_id"] == offer["agent_id"]
        assert statuses["nowhere"]["message"] == (
            "Reconciliation: Both operation and agent are unknown"
        )
        assert statuses["no-agent"]["message"] == (
            "Reconciliation: Operation is unknown and no 'agent_id' was provided"
        )
        assert "agent_id" not in statuses["no-agent"]
    finally:
        sub.close()


def framework_state(master: Master, framework_id: str) -> dict[str, object]:
    (framework,) = [f for f in master.state()["frameworks"] if f["id"] == framework_id]
    return dict(framework)


def test_update_framework_applies_the_new_info_and_suppressed_roles(master: Master) -> None:
    """``Master::updateFramework``: 200, the new FrameworkInfo at once, and the
    suppressed roles replaced (scheduler_http_api_tests.cpp, UpdateFramework*)."""
    info = {"user": "u", "name": "before", "failover_timeout": 60}
    sub = Subscriber(master.url, info)
    try:
        framework_id = sub.framework_id
        wait_until(lambda: len(sub.offers()) == 2, what="two offers")
        new_info = dict(info, name="after", id={"value": framework_id})

        def update(**body: object) -> tuple[int, bytes]:
            call = {"type": "UPDATE_FRAMEWORK", "update_framework": body}
            return sub.call(call)

        assert update(framework_info=new_info, suppressed_roles=["*"]) == (200, b"")
        assert framework_state(master, framework_id)["name"] == "after"
        ids = [o["id"] for o in sub.offers()]
        decline = {"offer_ids": ids, "filters": {"refuse_seconds": 0}}
        assert sub.call({"type": "DECLINE", "decline": decline})[0] == 202
        time.sleep(QUIET_SECONDS)  # Suppressed: nothing may come.
        assert len(sub.offers()) == 2
        # Leaving the role out of suppressed_roles revives it.
        assert update(framework_info=new_info) == (200, b"")
        wait_until(lambda: len(sub.offers()) == 4, what="offers after the update")
    finally:
        sub.close()


@pytest.mark.parametrize(
    ("change", "suppressed", "message"),
    [
        ({"id": None}, [], "'framework_id' differs from 'update_framework.framework_info.id'"),
        ({"id": {"value": "other"}}, [], "'framework_id' differs from"),
        (
            {"user": "v"},
            [],
            "Updating 'FrameworkInfo.user' is unsupported; attempted to update from 'u' to 'v'",
        ),
        (
            {"checkpoint": True},
            [],
            "Updating 'FrameworkInfo.checkpoint' is unsupported; "
            "attempted to update from 'false' to 'true'",
        ),
        ({"principal": "p"}, [], "Changing framework's principal is not allowed."),
        (
            {},
            ["other"],
            "Suppressed roles { other } are not contained in the set of roles",
        ),
    ],
)
def test_update_framework_is_validated(
    master: Master, change: dict[str, object], suppressed: list[str], message: str
) -> None:
    """``validation::framework::validateUpdate`` and the call's own checks:
    a 400 that changes nothing."""
    sub = Subscriber(master.url, {"user": "u", "name": "before"})
    try:
        framework_id = sub.framework_id
        info = {"user": "u", "name": "after", "id": {"value": framework_id}, **change}
        info = {k: v for k, v in info.items() if v is not None}
        call = {
            "type": "UPDATE_FRAMEWORK",
            "update_framework": {"framework_info": info, "suppressed_roles": suppressed},
        }
        code, text = sub.call(call, encoding="json")
        assert code == 400 and message in text.decode(), text
        assert framework_state(master, framework_id)["name"] == "before"
    finally:
        sub.close()
