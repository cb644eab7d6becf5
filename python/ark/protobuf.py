"""The Mesos v1 scheduler API in its protobuf encoding.

The message classes are built at import from the descriptor set compiled
into ``ark._core`` from ``proto/`` (Mesos's own names and field numbers, a
subset of the fields), so Rust and Python read one ``.proto`` source and
nothing generated is checked in.

Three conversions, each total on what Ark models:

- :func:`event`: serialized ``Event`` -> Ark message, the Python twin of
  ``ark._core.decode_event`` (Rust, used by the native driver) and of
  :func:`ark.wire.event` (JSON). All three agree; the tests check it.
- :func:`encode_event`: Ark message -> serialized ``Event`` (the inverse).
- :func:`to_protobuf` / :func:`to_json`: between the JSON mapping that
  :mod:`ark.wire` and the simulator use and the serialized bytes, for calls
  and events alike. JSON is Mesos's own shape: ids as ``{"value": ...}``,
  enums by name, bytes in base64, 64-bit integers as numbers.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage

from ark import _core
from ark import messages as m
from ark.wire import WireError

__all__ = [
    "CONTENT_TYPE",
    "Call",
    "Event",
    "StoreRecord",
    "as_json",
    "encode_event",
    "event",
    "message_class",
    "to_json",
    "to_protobuf",
]

CONTENT_TYPE: Final = "application/x-protobuf"

_POOL = descriptor_pool.DescriptorPool()
for _file in descriptor_pb2.FileDescriptorSet.FromString(_core.descriptor_set()).file:
    _POOL.Add(_file)


def message_class(full_name: str) -> type[ProtoMessage]:
    """The class of one message of Ark's ``.proto`` files, e.g. ``"mesos.v1.Offer"``."""
    try:
        descriptor = _POOL.FindMessageTypeByName(full_name)
    except KeyError:
        raise KeyError(f"no protobuf message {full_name!r} in Ark's .proto files") from None
    cls: type[ProtoMessage] = message_factory.GetMessageClass(descriptor)
    return cls


# Built at run time, so their fields are unknown to a type checker.
Event: Final[Any] = message_class("mesos.v1.scheduler.Event")
Call: Final[Any] = message_class("mesos.v1.scheduler.Call")
StoreRecord: Final[Any] = message_class("ark.store.Record")


# --- JSON mapping <-> bytes ---------------------------------------------------------


def to_protobuf(
    obj: Mapping[str, Any], message_type: type[ProtoMessage], *, strict: bool = True
) -> bytes:
    """Serialize a JSON-mapped message (``wire.call``'s, the simulator's).

    ``strict``: a field not in Ark's ``.proto`` subset is an error (a launch
    payload must not lose a field on the way); ``False`` drops it.

    Raises
    ------
    WireError
        A field unknown to the subset (when strict) or of the wrong type.
    """
    try:
        parsed = json_format.ParseDict(dict(obj), message_type(), ignore_unknown_fields=not strict)
    except json_format.ParseError as exc:
        raise WireError(
            f"{message_type.DESCRIPTOR.full_name}: cannot encode as protobuf: {exc}"
        ) from None
    return bytes(parsed.SerializePartialToString())


def to_json(data: bytes, message_type: type[ProtoMessage]) -> dict[str, Any]:
    """Parse serialized bytes into the JSON mapping Mesos uses.

    Raises
    ------
    WireError
        Bytes that are not a message of ``message_type``.
    """
    return as_json(_parse(data, message_type))


def _parse(data: bytes, message_type: type[ProtoMessage]) -> Any:
    try:
        return message_type.FromString(data)
    except DecodeError as exc:
        name = message_type.DESCRIPTOR.name.lower()
        raise WireError(f"{name}: not a protobuf {message_type.DESCRIPTOR.name}: {exc}") from None


def as_json(message: ProtoMessage) -> dict[str, Any]:
    """A parsed message in the JSON mapping Mesos uses (see :func:`to_json`)."""
    # json_format.MessageToDict writes 64-bit integers as strings and camel
    # case by default; Mesos's JSON has numbers and the .proto field names.
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        if field.is_repeated:
            out[field.name] = [_json_value(field, v) for v in value]
        else:
            out[field.name] = _json_value(field, value)
    return out


def _json_value(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return as_json(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        known = field.enum_type.values_by_number.get(value) if field.enum_type else None
        return value if known is None else known.name
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode()
    return value


# --- Event bytes -> Ark message ------------------------------------------------------


def event(data: bytes) -> m.Message | None:
    """Lift one serialized ``Event`` into an Ark message; ``None`` for events Ark ignores.

    Raises
    ------
    WireError
        Bytes that are not an ``Event``, or one missing a field Ark needs; the
        message names the field, as ``ark._core.decode_event`` does.
    """
    e = _parse(data, Event)
    kind = e.type
    if kind == Event.SUBSCRIBED:
        body = _present(e, "subscribed", "event")
        return m.Subscribed(
            _id(body.framework_id, "event.subscribed.framework_id"),
            heartbeat_interval_seconds=body.heartbeat_interval_seconds
            if body.HasField("heartbeat_interval_seconds")
            else None,
            master_id=body.master_info.id if body.HasField("master_info") else None,
        )
    if kind == Event.OFFERS:
        return m.Offers([_offer(o) for o in _present(e, "offers", "event").offers])
    if kind == Event.RESCIND:
        return m.Rescind(_id(_present(e, "rescind", "event").offer_id, "event.rescind.offer_id"))
    if kind == Event.UPDATE:
        return m.Update(_status(_present(e, "update", "event").status))
    if kind == Event.MESSAGE:
        body = _present(e, "message", "event")
        return m.FrameworkMessage(
            _id(body.agent_id, "event.message.agent_id"),
            _id(body.executor_id, "event.message.executor_id"),
            body.data,
        )
    if kind == Event.FAILURE:
        body = _present(e, "failure", "event")
        _present(body, "agent_id", "event.failure")
        return m.Failure(
            _id(body.agent_id, "event.failure.agent_id"),
            executor_id=body.executor_id.value if body.HasField("executor_id") else None,
            status=body.status if body.HasField("status") else None,
        )
    if kind == Event.ERROR:
        return m.Error(_present(e, "error", "event").message)
    if kind == Event.HEARTBEAT:
        return m.Heartbeat()
    return None


def _offer(o: Any) -> m.Offer:
    where = "event.offers.offers"
    return m.Offer(
        _id(o.id, f"{where}.id"),
        _id(o.agent_id, f"{where}.agent_id"),
        o.hostname,
        [_resource(r) for r in o.resources],
        [_attribute(a) for a in o.attributes],
    )


def _resource(r: Any) -> m.Resource:
    where = f"resource {r.name!r}"
    if r.HasField("role"):
        role = r.role
    elif r.HasField("allocation_info") and r.allocation_info.HasField("role"):
        role = r.allocation_info.role
    else:
        role = "*"
    if r.type == _VALUE.SCALAR:
        return m.Resource(r.name, scalar=_present(r, "scalar", where).value, role=role)
    if r.type == _VALUE.RANGES:
        return m.Resource(r.name, ranges=_ranges(r, where), role=role)
    if r.type == _VALUE.SET:
        return m.Resource(r.name, set=list(_present(r, "set", where).item), role=role)
    raise WireError(f"{where}.type: unknown value type {_value_type_name(r.type)}")


def _attribute(a: Any) -> m.Attribute:
    where = f"attribute {a.name!r}"
    if a.type == _VALUE.TEXT:
        return m.Attribute(a.name, text=_present(a, "text", where).value)
    if a.type == _VALUE.SCALAR:
        return m.Attribute(a.name, scalar=_present(a, "scalar", where).value)
    if a.type == _VALUE.RANGES:
        return m.Attribute(a.name, ranges=_ranges(a, where))
    if a.type == _VALUE.SET:
        return m.Attribute(a.name, set=list(_present(a, "set", where).item))
    raise WireError(f"{where}.type: unknown value type {_value_type_name(a.type)}")


def _ranges(value: Any, where: str) -> list[tuple[int, int]]:
    out = []
    for r in _present(value, "ranges", where).range:
        if r.begin >= 2**63 or r.end >= 2**63:
            raise WireError(f"{where}.ranges.range: beyond 2^63")
        out.append((r.begin, r.end))
    return out


def _status(s: Any) -> m.TaskStatus:
    state = _TASK_STATE.values_by_number.get(s.state)
    if state is None:
        raise WireError(f"status.state: unknown task state {s.state}")
    # A reason or source newer than this build is dropped, not the update
    # (protobuf puts an unknown enum value among the unknown fields).
    return m.TaskStatus(
        _id(s.task_id, "status.task_id"),
        state.name,  # type: ignore[arg-type]  # one of TaskState, by the .proto
        agent_id=s.agent_id.value if s.HasField("agent_id") else None,
        executor_id=s.executor_id.value if s.HasField("executor_id") else None,
        reason=_REASON.values_by_number[s.reason].name if s.HasField("reason") else None,
        source=_SOURCE.values_by_number[s.source].name if s.HasField("source") else None,
        message=s.message if s.HasField("message") else None,
        uuid=s.uuid if s.HasField("uuid") else None,
        timestamp=s.timestamp if s.HasField("timestamp") else None,
        healthy=s.healthy if s.HasField("healthy") else None,
    )


def _present(message: Any, field: str, where: str) -> Any:
    if not message.HasField(field):
        raise WireError(f"{where}.{field}: missing")
    return getattr(message, field)


def _id(value: Any, where: str) -> str:
    # A required string: protobuf cannot tell missing from empty, and Mesos
    # never sends an empty id.
    if not value.value:
        raise WireError(f"{where}.value: missing")
    return str(value.value)


def _value_type_name(number: int) -> str:
    known = _VALUE.DESCRIPTOR.enum_types_by_name["Type"].values_by_number.get(number)
    return str(number) if known is None else known.name


# --- Ark message -> Event bytes ------------------------------------------------------


def encode_event(message: m.Message) -> bytes:
    """The serialized ``Event`` that :func:`event` lifts back to ``message``.

    Raises
    ------
    ValueError
        ``message`` is not one Mesos sends (a timer tick, a request ...), or
        holds a value the protobuf cannot (a task status reason Mesos does
        not define).
    """
    e: Any = Event()
    match message:
        case m.Subscribed(framework_id, heartbeat, master_id):
            e.type = Event.SUBSCRIBED
            e.subscribed.framework_id.value = framework_id
            if heartbeat is not None:
                e.subscribed.heartbeat_interval_seconds = heartbeat
            if master_id is not None:
                # ip and port are required by Mesos; Ark keeps only the id.
                e.subscribed.master_info.id = master_id
                e.subscribed.master_info.ip = 0
                e.subscribed.master_info.port = 5050
        case m.Offers(offers):
            e.type = Event.OFFERS
            e.offers.SetInParent()
            for offer in offers:
                _fill_offer(e.offers.offers.add(), offer)
        case m.Rescind(offer_id):
            e.type = Event.RESCIND
            e.rescind.offer_id.value = offer_id
        case m.Update(status):
            e.type = Event.UPDATE
            _fill_status(e.update.status, status)
        case m.FrameworkMessage(agent_id, executor_id, data):
            e.type = Event.MESSAGE
            e.message.agent_id.value = agent_id
            e.message.executor_id.value = executor_id
            e.message.data = data
        case m.Failure(agent_id, executor_id, status):
            e.type = Event.FAILURE
            e.failure.agent_id.value = agent_id
            if executor_id is not None:
                e.failure.executor_id.value = executor_id
            if status is not None:
                e.failure.status = status
        case m.Error(text):
            e.type = Event.ERROR
            e.error.message = text
        case m.Heartbeat():
            e.type = Event.HEARTBEAT
        case _:
            raise ValueError(f"{type(message).__name__} is not a Mesos event")
    return bytes(e.SerializePartialToString())


def _fill_offer(out: Any, offer: m.Offer) -> None:
    out.id.value = offer.id
    out.framework_id.value = ""
    out.agent_id.value = offer.agent_id
    out.hostname = offer.hostname
    for r in offer.resources:
        res = out.resources.add()
        res.name = r.name
        _fill_value(res, r.scalar, r.ranges, r.set)
        if r.role != "*":
            res.allocation_info.role = r.role
    for a in offer.attributes:
        attr = out.attributes.add()
        attr.name = a.name
        if a.text is not None:
            attr.type = _VALUE.TEXT
            attr.text.value = a.text
        else:
            _fill_value(attr, a.scalar, a.ranges, a.set)


def _fill_value(
    out: Any, scalar: float | None, ranges: list[tuple[int, int]] | None, items: list[str] | None
) -> None:
    if scalar is not None:
        out.type = _VALUE.SCALAR
        out.scalar.value = scalar
    elif ranges is not None:
        out.type = _VALUE.RANGES
        out.ranges.SetInParent()
        for lo, hi in ranges:
            rng = out.ranges.range.add()
            rng.begin, rng.end = lo, hi
    elif items is not None:
        out.type = _VALUE.SET
        out.set.SetInParent()
        out.set.item.extend(items)
    else:
        raise ValueError(f"{out.name!r} has no value")


def _fill_status(out: Any, s: m.TaskStatus) -> None:
    out.task_id.value = s.task_id
    out.state = _TASK_STATE.values_by_name[s.state].number
    if s.agent_id is not None:
        out.agent_id.value = s.agent_id
    if s.executor_id is not None:
        out.executor_id.value = s.executor_id
    if s.reason is not None:
        reason = _REASON.values_by_name.get(s.reason)
        if reason is None:
            raise ValueError(f"status.reason: {s.reason!r} is not a Mesos reason")
        out.reason = reason.number
    if s.source is not None:
        out.source = _SOURCE.values_by_name[s.source].number
    if s.message is not None:
        out.message = s.message
    if s.uuid is not None:
        out.uuid = s.uuid
    if s.timestamp is not None:
        out.timestamp = s.timestamp
    if s.healthy is not None:
        out.healthy = s.healthy


_VALUE: Any = message_class("mesos.v1.Value")
_TASK_STATE = _POOL.FindEnumTypeByName("mesos.v1.TaskState")
_STATUS: Any = message_class("mesos.v1.TaskStatus")
_REASON = _STATUS.DESCRIPTOR.enum_types_by_name["Reason"]
_SOURCE = _STATUS.DESCRIPTOR.enum_types_by_name["Source"]
