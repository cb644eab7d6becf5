"""Both encodings of events: four lifts of one event agree, and nothing Ark models is lost.

An Ark message goes to a serialized ``Event`` (``ark.reference.events.encode_event``)
and back by four roads: protobuf in Rust (``ark._core.decode_event``, the
native driver's) and in Python (``ark.reference.events.event_from_protobuf``); and, through
Mesos's JSON mapping, JSON in Rust (``decode_event(..., "json")``) and in
Python (``ark.reference.events.event_from_json``). Each must give the
message it started from, and on a damaged JSON event the two JSON roads
must agree on whether it is an error.
"""

from __future__ import annotations

import json
import string

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ark import _core, wire
from ark import effects as fx
from ark import messages as m
from ark import protobuf as pb
from ark.errors import MessageError
from ark.reference import events as ref
from ark.wire import WireError

_DECODER = msgspec.msgpack.Decoder(m.Message)

ids = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=12)
texts = st.text(max_size=16)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
u63 = st.integers(min_value=0, max_value=2**63 - 1)
span = st.tuples(u63, u63)
items = st.lists(texts, max_size=3)
roles = st.sampled_from(["*", "web", "batch/prod"])

resources = st.one_of(
    st.builds(m.Resource, ids, scalar=finite, role=roles),
    st.builds(m.Resource, ids, ranges=st.lists(span, max_size=3), role=roles),
    st.builds(m.Resource, ids, set=items, role=roles),
)
attributes = st.one_of(
    st.builds(m.Attribute, ids, text=texts),
    st.builds(m.Attribute, ids, scalar=finite),
    st.builds(m.Attribute, ids, ranges=st.lists(span, max_size=3)),
    st.builds(m.Attribute, ids, set=items),
)
# Whole seconds: they go to nanoseconds and back exactly.
seconds = st.integers(0, 2**31).map(float)
unavailabilities = st.builds(m.Unavailability, seconds, st.none() | seconds)
offers = st.builds(
    m.Offer,
    ids,
    ids,
    texts,
    st.lists(resources, max_size=4),
    st.lists(attributes, max_size=3),
    st.none() | roles,
    st.none() | unavailabilities,
)
REASONS = [
    v.name
    for v in pb.message_class("mesos.v1.TaskStatus").DESCRIPTOR.enum_types_by_name["Reason"].values
]
statuses = st.builds(
    m.TaskStatus,
    ids,
    st.sampled_from(msgspec.inspect.type_info(m.TaskStatus).fields[1].type.values),  # type: ignore[attr-defined]
    agent_id=st.none() | ids,
    executor_id=st.none() | ids,
    reason=st.none() | st.sampled_from(REASONS),
    source=st.none() | st.sampled_from(["SOURCE_MASTER", "SOURCE_AGENT", "SOURCE_EXECUTOR"]),
    message=st.none() | texts,
    uuid=st.none() | st.binary(max_size=16),
    timestamp=st.none() | finite,
    healthy=st.none() | st.booleans(),
)
events = st.one_of(
    st.builds(
        m.Subscribed,
        ids,
        heartbeat_interval_seconds=st.none() | finite,
        master_id=st.none() | ids,
    ),
    st.builds(m.Offers, st.lists(offers, max_size=4)),
    st.builds(m.Rescind, ids),
    st.builds(m.Update, statuses),
    st.builds(m.FrameworkMessage, ids, ids, st.binary(max_size=32)),
    st.builds(
        m.Failure,
        ids,
        executor_id=st.none() | ids,
        status=st.none() | st.integers(-(2**31), 2**31 - 1),
    ),
    st.builds(m.Error, texts),
    st.just(m.Heartbeat()),
    st.builds(
        m.InverseOffers, st.lists(st.builds(m.InverseOffer, ids, ids, unavailabilities), max_size=3)
    ),
    st.builds(m.RescindInverseOffer, ids),
)


@given(events)
def test_every_road_back_gives_the_message_it_started_from(message: m.Message) -> None:
    data = ref.encode_event(message)
    rust = _core.decode_event(data)
    assert rust is not None
    assert rust[0] == type(message).__name__
    assert _DECODER.decode(rust[1]) == message
    assert ref.event_from_protobuf(data) == message
    obj = pb.to_json(data, pb.Event)
    assert ref.event_from_json(obj) == message
    rust_json = _core.decode_event(json.dumps(obj).encode(), "json")
    assert rust_json is not None
    assert rust_json[0] == type(message).__name__
    assert _DECODER.decode(rust_json[1]) == message


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 2**64),
    st.floats(),
    st.text(max_size=4),
    st.builds(list),
    st.builds(dict),
    st.builds(lambda: {"value": "x"}),
)


def _paths(obj: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [path] if path else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*path, i))
    return out


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _lift_json_in_python(obj: object) -> m.Message | str | None:
    try:
        # The bytes Rust reads, parsed as strictly: JSON has no Infinity or NaN.
        strict = json.loads(json.dumps(obj), parse_constant=_refuse_constant)
        return ref.event_from_json(strict)
    except (ValueError, WireError):
        return "error"


def _lift_json_in_rust(obj: object) -> m.Message | str | None:
    try:
        lifted = _core.decode_event(json.dumps(obj).encode(), "json")
    except MessageError:
        return "error"
    return None if lifted is None else _DECODER.decode(lifted[1])


@given(events, st.data())
def test_the_json_roads_agree_on_damaged_events(message: m.Message, data: st.DataObject) -> None:
    obj = pb.to_json(ref.encode_event(message), pb.Event)
    paths = _paths(obj)
    for _ in range(data.draw(st.integers(1, 2))):
        path = data.draw(st.sampled_from(paths))
        *parents, last = path
        target = obj
        for key in parents:
            target = target[key]
        if data.draw(st.booleans()) and isinstance(target, dict):
            target.pop(last, None)
        else:
            target[last] = data.draw(JUNK)
        paths = _paths(obj)
        if not paths:
            break
    assert _lift_json_in_rust(obj) == _lift_json_in_python(obj)


def test_an_infinity_is_not_json_on_either_road() -> None:
    # Found by hypothesis: Python's json writes Infinity, which no JSON reader takes.
    obj = {"type": "", "error": float("inf")}
    assert _lift_json_in_rust(obj) == _lift_json_in_python(obj) == "error"


@given(events)
def test_json_mapping_and_bytes_round_trip(message: m.Message) -> None:
    data = ref.encode_event(message)
    assert pb.to_protobuf(pb.to_json(data, pb.Event), pb.Event) == data


def test_events_ark_does_not_model_are_none_on_every_road() -> None:
    for kind in (11, 99):  # operations, newer
        data = bytes([0x08, kind])  # field 1 (type), varint
        assert _core.decode_event(data) is None
        assert ref.event_from_protobuf(data) is None


BAD_EVENTS = {
    "garbage": b"\xff\xff\xff\xff",
    "update without its body": pb.to_protobuf({"type": "UPDATE"}, pb.Event),
    "offer without id": pb.to_protobuf(
        {
            "type": "OFFERS",
            "offers": {
                "offers": [
                    {
                        "id": {"value": ""},
                        "framework_id": {"value": "f"},
                        "agent_id": {"value": "a"},
                        "hostname": "h",
                    }
                ]
            },
        },
        pb.Event,
    ),
    "scalar resource without its scalar": pb.to_protobuf(
        {
            "type": "OFFERS",
            "offers": {
                "offers": [
                    {
                        "id": {"value": "o"},
                        "framework_id": {"value": "f"},
                        "agent_id": {"value": "a"},
                        "hostname": "h",
                        "resources": [{"name": "cpus", "type": "SCALAR"}],
                    }
                ]
            },
        },
        pb.Event,
    ),
    "failure without agent": pb.to_protobuf({"type": "FAILURE", "failure": {}}, pb.Event),
}


@pytest.mark.parametrize("name", BAD_EVENTS)
def test_a_bad_event_is_the_same_named_error_in_rust_and_python(name: str) -> None:
    data = BAD_EVENTS[name]
    with pytest.raises(MessageError) as rust:
        _core.decode_event(data)
    with pytest.raises(WireError) as python:
        ref.event_from_protobuf(data)
    where = str(python.value).split(":")[0]
    assert where in str(rust.value), (str(rust.value), str(python.value))


def test_a_newer_reason_drops_the_reason_not_the_update() -> None:
    data = ref.encode_event(m.Update(m.TaskStatus("t1", "TASK_FAILED", reason="REASON_GC_ERROR")))
    newer = data.replace(b"\x50\x04", b"\x50\x63")  # reason (field 10, varint) 4 -> 99
    assert newer != data
    expected = m.Update(m.TaskStatus("t1", "TASK_FAILED"))
    assert ref.event_from_protobuf(newer) == expected
    rust = _core.decode_event(newer)
    assert rust is not None and _DECODER.decode(rust[1]) == expected


# --- calls ----------------------------------------------------------------------------

launch = fx.LaunchTask(
    "t1",
    "a1",
    "web",
    [m.Resource("cpus", scalar=0.5), m.Resource("ports", ranges=[(31000, 31001)], role="web")],
    wire.task_payload("sleep 10", environment={"A": "1"}, labels={"labels": [{"key": "k"}]}),
)
named = fx.LaunchTask(
    "t2",
    "a1",
    "api",
    [m.Resource("ports", ranges=[(31002, 31003)])],
    wire.task_payload("serve"),
    named_ports=[("http", 31002), ("admin-ui", 31003)],
)
checked = fx.LaunchTask(
    "t3",
    "a1",
    "db",
    [m.Resource("cpus", scalar=1.0)],
    wire.task_payload("serve"),
    health_check=m.HealthCheck("COMMAND", command="test -f ready", delay_seconds=0.5),
    kill_policy=m.KillPolicy(30.0),
)
EFFECTS = [
    fx.Accept(["o1", "o2"], "a1", [launch], 5.0),
    fx.Accept(["o1"], "a1", [named], 5.0),
    fx.Accept(["o1"], "a1", [checked], 5.0),
    fx.Decline(["o3"], 30.0),
    fx.Kill("t1", "a1"),
    fx.Kill("t1", None),
    fx.Reconcile([fx.ReconcileTask("t1", "a1"), fx.ReconcileTask("t2", None)]),
    fx.Acknowledge("a1", "t1", bytes(range(16))),
    fx.Suppress(),
    fx.Revive(),
    fx.Message("a1", "e1", b"\x00hi"),
]


@pytest.mark.parametrize("effect", EFFECTS, ids=lambda e: type(e).__name__)
def test_every_call_survives_the_trip_through_protobuf(effect: fx.Effect) -> None:
    call = wire.call(effect, "fw-1")
    data = pb.to_protobuf(call, pb.Call)
    assert pb.to_json(data, pb.Call) == json.loads(json.dumps(call))


def test_a_payload_field_outside_the_subset_is_a_clear_error() -> None:
    task = fx.LaunchTask("t1", "a", "x", [], wire.task_payload("true", check={"type": "COMMAND"}))
    with pytest.raises(WireError, match="check"):
        pb.to_protobuf(wire.call(fx.Accept(["o"], "a", [task], 5.0), "f"), pb.Call)


def test_unknown_message_names_are_a_key_error() -> None:
    with pytest.raises(KeyError, match=r"mesos\.v1\.Nope"):
        pb.message_class("mesos.v1.Nope")
