"""Conformance of the v1 scheduler API over real sockets: framing, headers,
status codes and every event, on the simulator and on a real Mesos master.

Tasks carry both a real command and the simulator's labels for the same
fate, so one check drives either master's agents.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
import sim_client
from masters import Master
from sim_client import Subscriber, fast_config, request

from ark.sim import Cluster, RecordIODecoder
from waiting import wait_until

PARTITION_AWARE = {"user": "t", "name": "pa", "capabilities": [{"type": "PARTITION_AWARE"}]}
MEDIA_TYPES = {"json": "application/json", "protobuf": "application/x-protobuf"}
#: Long enough for several allocation cycles of either master (50 ms each), so
#: offers that did not come were filtered, not late.
QUIET_SECONDS = 0.5


def finishing(seconds: float, outcome: str = "TASK_FINISHED") -> dict[str, object]:
    """A task that runs ``seconds`` and ends in ``outcome`` on either master."""
    command = f"sleep {seconds}" + ("" if outcome == "TASK_FINISHED" else "; exit 1")
    return {
        "command": {"value": command},
        "labels": {
            "labels": [
                {"key": "ark.sim/duration", "value": str(seconds)},
                {"key": "ark.sim/outcome", "value": outcome},
            ]
        },
    }


@pytest.fixture(autouse=True, params=["json", "protobuf"])
def encoding(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs in both encodings of the API, as Mesos serves both."""
    monkeypatch.setattr(sim_client, "ENCODING", request.param)
    return str(request.param)


def test_subscribe_streams_recordio_in_chunks(master: Master, encoding: str) -> None:
    sub = Subscriber(master.url)
    try:
        assert sub.status == 200
        assert sub.headers["transfer-encoding"] == "chunked"
        assert sub.headers["content-type"] == MEDIA_TYPES[encoding]
        assert sub.stream_id and len(sub.stream_id) == 36
        subscribed = sub.wait_event("SUBSCRIBED")["subscribed"]
        # Mesos's interval is fixed at 15 s; the simulator's is shrunk.
        interval = 0.2 if master.is_sim else 15
        assert subscribed["heartbeat_interval_seconds"] == interval
        info = subscribed["master_info"]
        assert info["address"]["ip"] == "127.0.0.1" and info["ip"] == 16777343
        assert subscribed["framework_id"]["value"].startswith(info["id"] + "-")
        sub.wait_event("HEARTBEAT")  # The first comes at once, after SUBSCRIBED.
        if master.is_sim:
            wait_until(lambda: len(sub.of_type("HEARTBEAT")) >= 3, what="heartbeats")
        assert sub.events[0]["type"] == "SUBSCRIBED"
        if master.is_sim:
            assert sub.events[1]["type"] == "HEARTBEAT"
        # (A real master may send its first OFFERS before that HEARTBEAT.)
        # The chunks, concatenated, are exactly a RecordIO stream of the events.
        records = RecordIODecoder().feed(b"".join(sub.chunks))
        assert [sub._event(r) for r in records] == sub.events
        assert sub.error is None
    finally:
        sub.close()


def test_offers_carry_agent_resources_and_attributes(master: Master) -> None:
    sub = Subscriber(master.url)
    try:
        wait_until(lambda: len(sub.offers()) == 2, what="two offers")
        offer = sub.offers()[0]
        (agent,) = [a for a in master.agents() if a["id"] == offer["agent_id"]["value"]]
        assert offer["hostname"] == agent["hostname"]
        resources = {r["name"]: r for r in offer["resources"]}
        assert resources["cpus"]["scalar"]["value"] == agent["resources"]["cpus"]
        assert resources["mem"]["scalar"]["value"] == agent["resources"]["mem"]
        (ports,) = resources["ports"]["ranges"]["range"]
        assert f"[{ports['begin']}-{ports['end']}]" == agent["resources"]["ports"]
        attributes = {a["name"]: a for a in offer["attributes"]}
        assert attributes["rack"] == {"name": "rack", "type": "TEXT", "text": {"value": "r1"}}
        assert attributes["ssd"]["scalar"]["value"] == 1.0
        assert offer["framework_id"]["value"] == sub.framework_id
    finally:
        sub.close()


def test_version_health_and_state(master: Master) -> None:
    status, _, body = request(master.url, "GET", "/version")
    assert status == 200
    assert all(part.isdigit() for part in json.loads(body)["version"].split("."))
    assert request(master.url, "GET", "/health")[0] == 200
    sub = Subscriber(master.url, {"user": "u", "name": "stateful"})
    try:
        sub.wait_offer()
        for path in ("/master/state", "/state"):
            status, _, body = request(master.url, "GET", path)
            assert status == 200
            state = json.loads(body)
            assert state["leader"] == state["pid"]
            assert state["activated_slaves"] == 2 and len(state["slaves"]) == 2
            assert state["slaves"][0]["resources"]["ports"].startswith("[")
            (framework,) = state["frameworks"]
            assert framework["name"] == "stateful" and framework["connected"]
            assert framework["offers"]
    finally:
        sub.close()


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({}, b"{not json", 400, "Failed to parse body into JSON: "),
        ({}, b"[1, 2]", 400, "Failed to convert JSON into Call protobuf: Expecting a JSON object"),
        ({}, b'{"type": 5}', 400, "Not expecting a JSON number for field 'type'"),
        # An unknown enum value is dropped, as protobuf's JSON parsing in stout does.
        ({}, b'{"type": "FLY"}', 400, "Expecting 'type' to be present"),
        ({}, b'{"type": "SUBSCRIBE"}', 400, "Expecting 'subscribe' to be present"),
        (
            {},
            b'{"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "x"}}}',
            400,
            "Missing required fields: subscribe.framework_info.user",
        ),
        ({}, b'{"type": "DECLINE", "decline": {}}', 400, "Expecting 'framework_id' to be present"),
        ({"Content-Type": "text/plain"}, b"{}", 415, "application/json or application/x-protobuf"),
        ({"Content-Type": "application/x-protobuf"}, b"\xff\xff", 400, "Call protobuf"),
        ({"Content-Type": "application/x-protobuf"}, b"\x10\x01\x1a\x00", 400, "Call protobuf"),
        ({}, b"\xff\xfe", 400, "Failed to parse body into JSON: "),
    ],
)
def test_bad_calls_get_4xx_with_a_message(
    master: Master, headers: dict[str, str], body: bytes, status: int, message: str
) -> None:
    got, _, text = request(master.url, "POST", "/api/v1/scheduler", body, headers)
    assert got == status
    assert message in text.decode(errors="replace")


def test_bad_input_never_disturbs_other_subscribers(master: Master) -> None:
    sub = Subscriber(master.url)
    try:
        sub.wait_event("HEARTBEAT")
        huge = b'{"type": "SUBSCRIBE", "x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
        status, _, text = request(master.url, "POST", "/api/v1/scheduler", huge)
        if master.is_sim:  # Its configured limit; Mesos reads the body and refuses the call.
            assert status == 413 and b"body size" in text
        else:
            assert status == 400
        assert request(master.url, "GET", "/api/v1/scheduler")[0] == 405
        assert request(master.url, "POST", "/api/v1/scheduler", b"\x00" * 1000)[0] == 400
        deep = b"[" * 100000 + b"]" * 100000
        assert request(master.url, "POST", "/api/v1/scheduler", deep)[0] == 400
        bad_launch = {"type": "ACCEPT", "accept": {"offer_ids": "x", "operations": []}}
        assert sub.call(bad_launch, encoding="json")[0] == 400
        assert sub.call({"type": "KILL", "kill": {"task_id": 3}}, encoding="json")[0] == 400
        ack = {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "nope"}
        code, text = sub.call({"type": "ACKNOWLEDGE", "acknowledge": ack}, encoding="json")
        assert code == 400 and b"UUID" in text
        assert sub.call({"type": "REVIVE"})[0] == 202
        if master.is_sim:  # Mesos's next heartbeat is 15 s away.
            before = len(sub.of_type("HEARTBEAT"))
            wait_until(lambda: len(sub.of_type("HEARTBEAT")) > before + 1, what="more heartbeats")
        assert not sub.closed
    finally:
        sub.close()


def test_calls_need_a_subscribed_framework_and_its_stream_id(master: Master) -> None:
    info = {"user": "u", "name": "n", "failover_timeout": 60}
    sub = Subscriber(master.url, info)
    framework_id = sub.framework_id
    revive = {"type": "REVIVE", "framework_id": {"value": framework_id}}
    try:
        assert sub.call(dict(revive))[0] == 202
        code, text = sub.call(dict(revive), stream_id=None)
        assert code == 400 and b"Mesos-Stream-Id" in text
        code, text = sub.call(dict(revive), stream_id="0a0a0a0a-0000-4000-a000-000000000000")
        assert code == 400 and b"didn't match" in text
        unknown = {"type": "REVIVE", "framework_id": {"value": "nope"}}
        code, text = sub.call(unknown)
        assert code == 400 and b"cannot be found" in text
    finally:
        sub.close()
    # Disconnected but within its failover timeout: known, not subscribed.
    wait_until(lambda: not master.state()["frameworks"][0]["connected"], what="disconnect")
    code, text = sub.call(dict(revive))
    assert code == 403 and b"not subscribed" in text


def launch_and_follow(sub: Subscriber, task_id: str, **extra: object) -> dict[str, object]:
    offer = sub.wait_offer()
    assert sub.launch(offer, task_id, **extra) == 202
    return offer


def test_task_lifecycle_with_acknowledgements(master: Master) -> None:
    sub = Subscriber(master.url)
    try:
        launch_and_follow(sub, "t1", **finishing(0.05))
        for state in ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"):
            status = sub.wait_update("t1", state)
            assert status["source"] == "SOURCE_EXECUTOR"
            assert len(base64.b64decode(status["uuid"])) == 16
            assert sub.ack(status) == 202
        assert [s["state"] for s in sub.updates("t1")] == [
            "TASK_STARTING",
            "TASK_RUNNING",
            "TASK_FINISHED",
        ]

        def completed() -> bool:
            (framework,) = master.state()["frameworks"]
            return [t["id"] for t in framework["completed_tasks"]] == ["t1"]

        wait_until(completed, what="task completed")
        wait_until(
            lambda: all(s["used_resources"]["cpus"] == 0 for s in master.agents()),
            what="resources freed",
        )
    finally:
        sub.close()


def test_unacknowledged_update_is_retried_with_the_same_uuid(master: Master) -> None:
    sub = Subscriber(master.url)
    try:
        launch_and_follow(sub, "t1")
        # Mesos's agents retry after 10 s, doubling; the simulator's after 0.2 s.
        retries, timeout = (3, 10.0) if master.is_sim else (2, 20.0)
        wait_until(lambda: len(sub.updates("t1")) >= retries, timeout, what="retries")
        first, *again = sub.updates("t1")[:retries]
        assert all(s["state"] == "TASK_STARTING" for s in [first, *again])
        assert all(s["uuid"] == first["uuid"] for s in again)
        sub.ack(first)
        sub.wait_update("t1", "TASK_RUNNING")
    finally:
        sub.close()


def test_failure_rate_and_outcome_label(master: Master) -> None:
    sub = Subscriber(master.url)
    try:
        launch_and_follow(sub, "t1", **finishing(0, "TASK_FAILED"))
        for state in ("TASK_STARTING", "TASK_RUNNING"):
            sub.ack(sub.wait_update("t1", state))
        failed = sub.wait_update("t1", "TASK_FAILED")
        # Mesos's command executor gives no reason, only the exit status.
        assert "reason" not in failed
        assert failed["message"] == "Command exited with status 1"
    finally:
        sub.close()


def test_accept_of_unknown_offer_loses_the_task(master: Master) -> None:
    for info, state in (
        ({"user": "u", "name": "plain"}, "TASK_LOST"),
        (PARTITION_AWARE, "TASK_DROPPED"),
    ):
        sub = Subscriber(master.url, info)
        try:
            offer = sub.wait_offer()
            fake = dict(offer, id={"value": "no-such-offer"})
            assert sub.launch(fake, "t1") == 202
            status = sub.wait_update("t1", state)
            assert status["reason"] == "REASON_INVALID_OFFERS"
            assert status["source"] == "SOURCE_MASTER"
            assert "uuid" not in status
        finally:
            sub.close()


def test_accept_beyond_the_offer_is_task_error(master: Master) -> None:
    sub = Subscriber(master.url)
    try:
        launch_and_follow(sub, "big", cpus=64)
        status = sub.wait_update("big", "TASK_ERROR")
        assert status["reason"] == "REASON_TASK_INVALID"
        assert "is more than available" in status["message"]
        # The offer is used up: a second ACCEPT of it loses the task.
        offer = sub.offers()[0]
        sub.launch(offer, "again")
        assert sub.wait_update("again", "TASK_LOST")["reason"] == "REASON_INVALID_OFFERS"
    finally:
        sub.close()


def test_decline_filters_until_revive(master: Master) -> None:
    sub = Subscriber(master.url)
    try:
        wait_until(lambda: len(sub.offers()) == 2, what="two offers")
        ids = [o["id"] for o in sub.offers()]
        decline = {"offer_ids": ids, "filters": {"refuse_seconds": 3600}}
        assert sub.call({"type": "DECLINE", "decline": decline})[0] == 202
        time.sleep(QUIET_SECONDS)  # Several allocations: nothing may come.
        assert len(sub.offers()) == 2  # Filtered: nothing re-offered.
        assert sub.call({"type": "REVIVE"})[0] == 202
        wait_until(lambda: len(sub.offers()) == 4, what="offers after revive")
    finally:
        sub.close()


def test_suppress_stops_offers_and_revive_restarts_them(master: Master) -> None:
    sub = Subscriber(master.url)
    try:
        wait_until(lambda: len(sub.offers()) == 2, what="two offers")
        assert sub.call({"type": "SUPPRESS", "suppress": {}})[0] == 202
        ids = [o["id"] for o in sub.offers()]
        refuse0 = {"offer_ids": ids, "filters": {"refuse_seconds": 0}}
        assert sub.call({"type": "DECLINE", "decline": refuse0})[0] == 202
        time.sleep(QUIET_SECONDS)  # Several allocations: nothing may come.
        assert len(sub.offers()) == 2
        assert sub.call({"type": "REVIVE", "revive": {}})[0] == 202
        wait_until(lambda: len(sub.offers()) == 4, what="offers after revive")
    finally:
        sub.close()


def test_kill_running_task_and_unknown_task(master: Master) -> None:
    sub = Subscriber(master.url)
    try:
        launch_and_follow(sub, "t1")
        sub.ack(sub.wait_update("t1", "TASK_STARTING"))
        running = sub.wait_update("t1", "TASK_RUNNING")
        sub.ack(running)
        kill = {"task_id": {"value": "t1"}, "agent_id": running["agent_id"]}
        assert sub.call({"type": "KILL", "kill": kill})[0] == 202
        assert sub.wait_update("t1", "TASK_KILLED")["source"] == "SOURCE_EXECUTOR"
        # Killing an unknown task reconciles it.
        assert sub.call({"type": "KILL", "kill": {"task_id": {"value": "ghost"}}})[0] == 202
        lost = sub.wait_update("ghost", "TASK_LOST")
        assert lost["reason"] == "REASON_RECONCILIATION"
    finally:
        sub.close()


def test_task_killing_state_capability(master: Master) -> None:
    info = {"user": "u", "name": "k", "capabilities": [{"type": "TASK_KILLING_STATE"}]}
    sub = Subscriber(master.url, info)
    try:
        launch_and_follow(sub, "t1")
        sub.ack(sub.wait_update("t1", "TASK_STARTING"))
        sub.ack(sub.wait_update("t1", "TASK_RUNNING"))
        sub.call({"type": "KILL", "kill": {"task_id": {"value": "t1"}}})
        sub.ack(sub.wait_update("t1", "TASK_KILLING"))
        sub.wait_update("t1", "TASK_KILLED")
    finally:
        sub.close()


@pytest.mark.parametrize(
    ("info", "registered_agent", "unknown_agent"),
    [
        ({"user": "u", "name": "plain"}, "TASK_LOST", "TASK_LOST"),
        (PARTITION_AWARE, "TASK_GONE", "TASK_UNKNOWN"),
    ],
)
def test_reconciliation_answers(
    master: Master, info: dict[str, object], registered_agent: str, unknown_agent: str
) -> None:
    agent_id = master.agents()[0]["id"]
    sub = Subscriber(master.url, info)
    try:
        launch_and_follow(sub, "known")
        sub.ack(sub.wait_update("known", "TASK_STARTING"))
        sub.ack(sub.wait_update("known", "TASK_RUNNING"))
        tasks = [
            {"task_id": {"value": "known"}},
            {"task_id": {"value": "on-agent"}, "agent_id": {"value": agent_id}},
            {"task_id": {"value": "nowhere"}, "agent_id": {"value": "no-such-agent"}},
            {"task_id": {"value": "no-agent"}},
        ]
        assert sub.call({"type": "RECONCILE", "reconcile": {"tasks": tasks}})[0] == 202
        answers = {
            "known": "TASK_RUNNING",
            "on-agent": registered_agent,
            "nowhere": unknown_agent,
            "no-agent": unknown_agent,
        }
        for task_id, state in answers.items():
            status = sub.wait_update(task_id, state, reason="REASON_RECONCILIATION")
            assert status["source"] == "SOURCE_MASTER"
            assert "uuid" not in status
        # Implicit: every task the master knows, once.
        before = len(sub.updates("known"))
        assert sub.call({"type": "RECONCILE", "reconcile": {"tasks": []}})[0] == 202
        wait_until(lambda: len(sub.updates("known")) == before + 1, what="implicit answer")
    finally:
        sub.close()


def test_message_is_echoed_by_the_executor(master: Master) -> None:
    sub = Subscriber(master.url)
    try:
        offer = launch_and_follow(sub, "t1")
        data = base64.b64encode(b"hello").decode()
        message = {"agent_id": offer["agent_id"], "executor_id": {"value": "t1"}, "data": data}
        assert sub.call({"type": "MESSAGE", "message": message})[0] == 202
        request_call = {"type": "REQUEST", "request": {"requests": []}}
        assert sub.call(request_call)[0] == 202
        # Mesos's command executor ignores messages; the simulator's echoes them.
        master.require_sim("have an executor echo a framework message")
        echoed = sub.wait_event("MESSAGE")["message"]
        assert echoed["data"] == data and echoed["executor_id"] == {"value": "t1"}
    finally:
        sub.close()


def test_shutdown_executor_kills_its_tasks(master: Master) -> None:
    sub = Subscriber(master.url)
    try:
        offer = launch_and_follow(sub, "t1")
        sub.ack(sub.wait_update("t1", "TASK_STARTING"))
        sub.ack(sub.wait_update("t1", "TASK_RUNNING"))
        shutdown = {"agent_id": offer["agent_id"], "executor_id": {"value": "t1"}}
        assert sub.call({"type": "SHUTDOWN", "shutdown": shutdown})[0] == 202
        killed = sub.wait_update("t1", "TASK_KILLED")
        assert "reason" not in killed and killed["source"] == "SOURCE_EXECUTOR"
    finally:
        sub.close()


def test_second_subscribe_fails_over_the_first(master: Master) -> None:
    info = {"user": "u", "name": "n", "failover_timeout": 60}
    first = Subscriber(master.url, info)
    second = None
    try:
        framework_id = first.framework_id
        second = Subscriber(master.url, info, framework_id)
        assert second.framework_id == framework_id
        error = first.wait_event("ERROR")
        assert error["error"]["message"] == "Framework failed over"
        wait_until(lambda: first.closed, what="old stream closed")
        assert first.clean_end
        assert first.call({"type": "REVIVE"})[0] == 400  # The old stream id is stale.
        assert second.call({"type": "REVIVE"})[0] == 202
    finally:
        first.close()
        if second is not None:
            second.close()


def test_teardown_removes_the_framework(master: Master) -> None:
    sub = Subscriber(master.url)
    try:
        launch_and_follow(sub, "t1")
        sub.wait_update("t1", "TASK_STARTING")
        framework_id = sub.framework_id
        assert sub.call({"type": "TEARDOWN"})[0] == 202
        wait_until(lambda: sub.closed, what="stream closed")
        state = master.state()
        assert state["frameworks"] == []
        assert framework_id in [f["id"] for f in state["completed_frameworks"]]
        again = Subscriber(master.url, framework_id=framework_id)
        try:
            assert again.wait_event("ERROR")["error"]["message"] == "Framework has been removed"
            wait_until(lambda: again.closed, what="refused stream closed")
        finally:
            again.close()
    finally:
        sub.close()


def test_subscribe_with_an_invalid_role_gets_an_error_event(master: Master) -> None:
    sub = Subscriber(master.url, {"user": "u", "name": "n", "role": "-bad"})
    try:
        assert sub.status == 200
        assert "role" in sub.wait_event("ERROR")["error"]["message"].lower()
        wait_until(lambda: sub.closed, what="stream end")
    finally:
        sub.close()


def test_admin_fault_endpoint(master: Master) -> None:
    master.require_sim("serve its own /admin/fault endpoint")
    sub = Subscriber(master.url, {"user": "u", "name": "n", "failover_timeout": 60})
    try:
        framework_id = sub.framework_id
        status, _, body = request(
            master.url,
            "POST",
            "/admin/fault",
            {"type": "DROP_STREAM", "framework_id": framework_id},
        )
        assert status == 200 and json.loads(body) == {"dropped": True}
        wait_until(lambda: sub.closed, what="dropped stream")
        assert not sub.clean_end
        status, _, body = request(master.url, "POST", "/admin/fault", {"type": "NOPE"})
        assert status == 400 and b"unknown fault" in body
        bad_agent = {"type": "KILL_AGENT", "agent_id": "nope"}
        assert request(master.url, "POST", "/admin/fault", bad_agent)[0] == 400
    finally:
        sub.close()
    again = Subscriber(master.url, {"user": "u", "name": "n"}, framework_id)
    try:
        assert again.framework_id == framework_id
    finally:
        again.close()


def test_delay_events(master: Master) -> None:
    cluster = master.require_sim("hold events back")
    sub = Subscriber(master.url)
    try:
        sub.wait_event("HEARTBEAT")
        cluster.delay_events(0.5)
        count = len(sub.events)
        sub.call({"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": {"value": "x"}}]}})
        start = time.monotonic()
        sub.wait_update("x", "TASK_LOST")
        assert time.monotonic() - start >= 0.4
        assert len(sub.events) > count
    finally:
        sub.close()


def test_framework_removed_after_failover_timeout(master: Master) -> None:
    sub = Subscriber(master.url, {"user": "u", "name": "n", "failover_timeout": 0.1})
    framework_id = sub.framework_id
    sub.close()

    def removed() -> bool:
        return framework_id in [f["id"] for f in master.state()["completed_frameworks"]]

    wait_until(removed, what="framework removal")


def test_seeded_runs_are_reproducible() -> None:
    def ids() -> tuple[str, list[str]]:
        with Cluster(fast_config(seed=42)) as c:
            sub = Subscriber(c.url)
            try:
                return sub.framework_id, sorted(c.agents)
            finally:
                sub.close()

    assert ids() == ids()


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/x-protobuf, application/json", "application/json"),
        ("application/x-protobuf", "application/x-protobuf"),
        ("application/json;q=0, application/*", "application/x-protobuf"),
        ("text/plain", None),
        ("application/json;q=0, application/x-protobuf;q=0", None),
    ],
)
def test_the_stream_is_in_the_encoding_accept_allows_json_first(
    master: Master, accept: str | None, media_type: str | None
) -> None:
    # As Mesos: JSON when acceptable, else protobuf, else 406; the call's own
    # encoding does not matter.
    sub = Subscriber(master.url, headers={"Accept": accept})
    try:
        if media_type is None:
            assert sub.status == 406
            assert b"Expecting 'Accept' to allow" in sub.body
        else:
            assert sub.status == 200
            assert sub.headers["content-type"] == media_type
    finally:
        sub.close()
