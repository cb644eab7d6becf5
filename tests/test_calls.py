"""Calls encoded in Rust (``ark._core.encode_calls``, what the native driver
sends) agree with the Python shapes of :func:`ark.wire.call`, in both encodings."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ark import _core, protobuf, wire
from ark import effects as fx
from ark import messages as m
from ark.errors import MessageError

_encoder = msgspec.msgpack.Encoder()

CPUS = m.Resource("cpus", scalar=0.5)
PORTS = m.Resource("ports", ranges=[(31000, 31001)], role="web")
DISKS = m.Resource("disks", set=["a", "b"])
PAYLOAD = wire.task_payload("sleep 10", environment={"A": "1"}, labels={"labels": []})

EFFECTS: list[fx.Effect] = [
    fx.Accept(
        ["o1", "o2"],
        "a1",
        [
            fx.LaunchTask("t1", "a1", "web", [CPUS, PORTS, DISKS], PAYLOAD, []),
            fx.LaunchTask("t2", "a1", "", [CPUS], PAYLOAD, [("http-api", 31000)]),
            fx.LaunchTask("t3", "a1", "", [CPUS], b"", []),
            fx.LaunchTask(
                "t4",
                "a1",
                "",
                [CPUS],
                PAYLOAD,
                [],
                m.HealthCheck("HTTP", port=31000, path="/health", scheme="https"),
                m.KillPolicy(2.5e-9),
            ),
            fx.LaunchTask("t5", "a1", "", [CPUS], PAYLOAD, [], m.HealthCheck("TCP", port=80)),
            fx.LaunchTask(
                "t6",
                "a1",
                "",
                [CPUS],
                b"",
                [],
                m.HealthCheck("COMMAND", command="test -f ready", consecutive_failures=1),
                m.KillPolicy(0.0),
            ),
        ],
        5.0,
    ),
    # A MULTI_ROLE framework's ACCEPT: every resource says its allocation role.
    fx.Accept(["o4"], "a1", [fx.LaunchTask("t4", "a1", "", [CPUS, PORTS], b"", [])], 5.0, "web"),
    fx.Decline(["o1", "o3"], 300.0),
    fx.Kill("t1", "a1"),
    fx.Kill("t1", None),
    fx.Reconcile([fx.ReconcileTask("t1", "a1"), fx.ReconcileTask("t2", None)]),
    fx.Reconcile([]),
    fx.Acknowledge("a1", "t1", b"\x00\xff" * 8),
    fx.Suppress(),
    fx.Revive(),
    fx.Message("a1", "e1", b"hello"),
    fx.AcceptInverseOffers(["i1", "i2"], 5.0),
    fx.DeclineInverseOffers(["i3"], 3600.0),
]


def rust_calls(effects: list[fx.Effect], encoding: str) -> list[tuple[str, bytes, str]]:
    return _core.encode_calls(_encoder.encode(effects), "fw-1", encoding)  # type: ignore[arg-type]


@pytest.mark.parametrize("effect", EFFECTS, ids=lambda e: type(e).__name__)
def test_json_calls_are_wire_calls(effect: fx.Effect) -> None:
    [(kind, body, media_type)] = rust_calls([effect], "json")
    assert media_type == "application/json"
    expected = wire.call(effect, "fw-1")
    assert kind == expected["type"]
    assert json.loads(body) == expected


@pytest.mark.parametrize("effect", EFFECTS, ids=lambda e: type(e).__name__)
def test_protobuf_calls_are_wire_calls(effect: fx.Effect) -> None:
    [(_, body, media_type)] = rust_calls([effect], "protobuf")
    assert media_type == protobuf.CONTENT_TYPE
    assert protobuf.to_json(body, protobuf.Call) == protobuf.to_json(
        protobuf.to_protobuf(wire.call(effect, "fw-1"), protobuf.Call), protobuf.Call
    )


def test_a_payload_outside_the_proto_subset_goes_as_json() -> None:
    payload = json.dumps({"command": {"value": "x"}, "future_field": 1}).encode()
    effect = fx.Accept(["o1"], "a1", [fx.LaunchTask("t1", "a1", "", [CPUS], payload, [])], 5.0)
    [(_, body, media_type)] = rust_calls([effect], "protobuf")
    assert media_type == "application/json"
    assert json.loads(body) == wire.call(effect, "fw-1")


@pytest.mark.parametrize("payload", [b"[1]", b"{", b"\xff"])
def test_a_bad_payload_is_a_clear_error(payload: bytes) -> None:
    effect = fx.Accept(["o1"], "a1", [fx.LaunchTask("t1", "a1", "", [CPUS], payload, [])], 5.0)
    with pytest.raises(MessageError, match="t1"):
        rust_calls([effect], "json")


def test_scheduler_effects_are_not_calls() -> None:
    with pytest.raises(MessageError, match="not a Mesos call"):
        rust_calls([fx.Timer(1, 2.0)], "protobuf")


@given(
    task_id=st.text(min_size=1, max_size=20),
    agent_id=st.text(min_size=1, max_size=20),
    uuid=st.binary(min_size=16, max_size=16),
)
def test_any_acknowledgement_agrees(task_id: str, agent_id: str, uuid: bytes) -> None:
    effect = fx.Acknowledge(agent_id, task_id, uuid)
    [(_, body, _)] = rust_calls([effect], "json")
    assert json.loads(body) == wire.call(effect, "fw-1")
    [(_, body, _)] = rust_calls([effect], "protobuf")
    call = protobuf.Call.FromString(body)
    assert (call.acknowledge.task_id.value, call.acknowledge.uuid) == (task_id, uuid)


def test_a_sender_without_a_subscription_drops_and_counts_the_calls() -> None:
    reports: list[str] = []
    sender = _core.CallSender(reports.append)
    try:
        sender.send(_encoder.encode(EFFECTS))
        assert sender.flush(5)
        assert sender.counters()["dropped"] == len(EFFECTS)
        assert sender.counters()["written"] == 0
    finally:
        sender.close()


def test_a_sender_refuses_bytes_that_are_not_effects() -> None:
    sender = _core.CallSender(lambda line: None)
    try:
        with pytest.raises(MessageError):
            sender.send(b"\xc1 not msgpack")
        with pytest.raises(MessageError):
            sender.send(_encoder.encode([m.Tick()]))
        sender.send(_encoder.encode([fx.Revive()]))  # still usable
        assert sender.flush(5)
        assert sender.counters()["dropped"] == 1
    finally:
        sender.close()
