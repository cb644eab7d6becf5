"""Mesos events lifted to Ark messages in plain Python, and the inverse.

The runtime has one lift per encoding, in Rust: ``ark._core.decode_event``
(protobuf and JSON), used by both drivers. These are its oracles, written
apart from it, and the differential tests hold the three to each other:

- :func:`event_from_json`: a v1 JSON ``Event`` object -> Ark message;
- :func:`event_from_protobuf`: a serialized ``Event`` -> Ark message;
- :func:`encode_event`: Ark message -> serialized ``Event`` (the inverse),
  which tests and benches use to make protobuf events.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, get_args

from ark import messages as m
from ark import protobuf as pb
from ark.protobuf import Event
from ark.wire import WireError

__all__ = ["encode_event", "event_from_json", "event_from_protobuf"]


# --- JSON object -> Ark message ------------------------------------------------------


def event_from_json(obj: Mapping[str, Any]) -> m.Message | None:
    """Lift one v1 ``Event`` into an Ark message; ``None`` for events Ark ignores.

    Raises
    ------
    WireError
        A field Ark needs is missing or of the wrong type; the message says which.
    """
    kind = _str(obj, "type", "event")
    if kind not in _MODELLED:
        # UPDATE_OPERATION_STATUS, newer.
        return None
    body = obj.get(kind.lower())
    if body is None:  # null is absent, as in the Rust lift (ark._core.decode_event)
        body = {}
    if not isinstance(body, Mapping):
        raise WireError(f"event.{kind.lower()}: expected an object, got {type(body).__name__}")
    where = f"event.{kind.lower()}"
    if kind == "SUBSCRIBED":
        master = body.get("master_info")
        if master is not None and not isinstance(master, Mapping):
            raise WireError(f"{where}.master_info: expected an object")
        return m.Subscribed(
            _id(body, "framework_id", where),
            heartbeat_interval_seconds=_opt_float(body, "heartbeat_interval_seconds", where),
            master_id=_str(master, "id", f"{where}.master_info")
            if isinstance(master, Mapping) and master.get("id") is not None
            else None,
        )
    if kind == "OFFERS":
        return m.Offers([_offer(o) for o in _list(body, "offers", where)])
    if kind == "RESCIND":
        return m.Rescind(_id(body, "offer_id", where))
    if kind == "UPDATE":
        return m.Update(_status(_obj(body, "status", where)))
    if kind == "MESSAGE":
        return m.FrameworkMessage(
            _id(body, "agent_id", where),
            _id(body, "executor_id", where),
            _bytes(body, "data", where),
        )
    if kind == "FAILURE":
        code = body.get("status")
        if code is not None and not _is_int64(code):
            raise WireError(f"{where}.status: expected an integer")
        return m.Failure(
            _id(body, "agent_id", where),
            executor_id=_id(body, "executor_id", where)
            if body.get("executor_id") is not None
            else None,
            status=code,
        )
    if kind == "ERROR":
        return m.Error(_str(body, "message", where))
    if kind == "INVERSE_OFFERS":
        return m.InverseOffers([_inverse_offer(i) for i in _list(body, "inverse_offers", where)])
    if kind == "RESCIND_INVERSE_OFFER":
        return m.RescindInverseOffer(_id(body, "inverse_offer_id", where))
    return m.Heartbeat()


def _inverse_offer(obj: object) -> m.InverseOffer:
    """One v1 ``InverseOffer`` of an agent."""
    where = "event.inverse_offers.inverse_offers"
    if not isinstance(obj, Mapping):
        raise WireError(f"{where}: expected an object")
    if obj.get("agent_id") is None:
        raise WireError(f"{where}.agent_id: missing")
    if obj.get("unavailability") is None:
        raise WireError(f"{where}.unavailability: missing")
    return m.InverseOffer(
        _id(obj, "id", where),
        _id(obj, "agent_id", where),
        _unavailability(obj, where),
    )


def _unavailability(obj: Mapping[str, Any], where: str) -> m.Unavailability:
    """``Unavailability``: ``TimeInfo`` start and ``DurationInfo``, in nanoseconds."""
    u = _obj(obj, "unavailability", where)
    where = f"{where}.unavailability"
    start = _nanoseconds(_obj(u, "start", where), f"{where}.start")
    duration = u.get("duration")
    if duration is None:
        return m.Unavailability(start / 1e9)
    if not isinstance(duration, Mapping):
        raise WireError(f"{where}.duration: expected an object")
    return m.Unavailability(start / 1e9, _nanoseconds(duration, f"{where}.duration") / 1e9)


def _nanoseconds(obj: Mapping[str, Any], where: str) -> int:
    value = obj.get("nanoseconds")
    if not _is_int64(value):
        raise WireError(f"{where}.nanoseconds: expected an integer")
    return int(value)  # type: ignore[arg-type]


def _offer(obj: object) -> m.Offer:
    """One v1 ``Offer``."""
    if not isinstance(obj, Mapping):
        raise WireError("offer: expected an object")
    return m.Offer(
        _id(obj, "id", "offer"),
        _id(obj, "agent_id", "offer"),
        _str(obj, "hostname", "offer"),
        [_resource(r) for r in _opt_list(obj, "resources", "offer")],
        [_attribute(a) for a in _opt_list(obj, "attributes", "offer")],
        _allocation_role(obj),
        _unavailability(obj, "offer") if obj.get("unavailability") is not None else None,
    )


def _allocation_role(obj: Mapping[str, Any]) -> str | None:
    """``Offer.allocation_info.role``, the role the offer is allocated to."""
    allocation = obj.get("allocation_info")
    if allocation is None:
        return None
    if not isinstance(allocation, Mapping):
        raise WireError("offer.allocation_info: expected an object")
    return _opt_str(allocation, "role", "offer.allocation_info")


def _resource(obj: object) -> m.Resource:
    """One v1 ``Resource``: scalar, ranges or set, with its role."""
    if not isinstance(obj, Mapping):
        raise WireError("resource: expected an object")
    name = _str(obj, "name", "resource")
    where = f"resource {name!r}"
    role = obj.get("role")
    allocation = obj.get("allocation_info")
    if allocation is not None and not isinstance(allocation, Mapping):
        raise WireError(f"{where}.allocation_info: expected an object")
    if role is None and allocation is not None:
        role = allocation.get("role")
    if role is not None and not isinstance(role, str):
        raise WireError(f"{where}.role: expected a string")
    value = _value(obj, where)
    return m.Resource(name, role=role or "*", **value)


def _attribute(obj: object) -> m.Attribute:
    """One v1 ``Attribute``: text, scalar, ranges or set."""
    if not isinstance(obj, Mapping):
        raise WireError("attribute: expected an object")
    name = _str(obj, "name", "attribute")
    where = f"attribute {name!r}"
    if obj.get("type") == "TEXT":
        return m.Attribute(name, text=_str(_obj(obj, "text", where), "value", where))
    return m.Attribute(name, **_value(obj, where))


def _status(obj: Mapping[str, Any]) -> m.TaskStatus:
    """One v1 ``TaskStatus``; ``uuid`` is decoded from base64."""
    where = "status"
    state = _str(obj, "state", where)
    if state not in _TASK_STATES:
        raise WireError(f"status.state: unknown task state {state!r}")
    healthy = obj.get("healthy")
    if healthy is not None and not isinstance(healthy, bool):
        raise WireError("status.healthy: expected a boolean")
    source = obj.get("source")
    if source is not None and source not in ("SOURCE_MASTER", "SOURCE_AGENT", "SOURCE_EXECUTOR"):
        raise WireError(f"status.source: unknown source {source!r}")
    return m.TaskStatus(
        _id(obj, "task_id", where),
        state,  # type: ignore[arg-type]
        agent_id=_id(obj, "agent_id", where) if obj.get("agent_id") is not None else None,
        executor_id=_id(obj, "executor_id", where) if obj.get("executor_id") is not None else None,
        reason=_opt_str(obj, "reason", where),
        source=source,
        message=_opt_str(obj, "message", where),
        uuid=_bytes(obj, "uuid", where) if obj.get("uuid") is not None else None,
        timestamp=_opt_float(obj, "timestamp", where),
        healthy=healthy,
    )


def _obj(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if not isinstance(value, Mapping):
        raise WireError(f"{where}.{key}: expected an object")
    return value


def _list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise WireError(f"{where}.{key}: expected a list")
    return value


def _is_int64(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def _opt_list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    return [] if value is None else _list(obj, key, where)


def _str(obj: Mapping[str, Any] | None, key: str, where: str) -> str:
    value = None if obj is None else obj.get(key)
    if not isinstance(value, str):
        raise WireError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def _opt_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if obj.get(key) is None else _str(obj, key, where)


def _opt_float(obj: Mapping[str, Any], key: str, where: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WireError(f"{where}.{key}: expected a number")
    return float(value)


def _id(obj: Mapping[str, Any], key: str, where: str) -> str:
    return _str(_obj(obj, key, where), "value", f"{where}.{key}")


def _bytes(obj: Mapping[str, Any], key: str, where: str) -> bytes:
    text = _str(obj, key, where)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise WireError(f"{where}.{key}: not base64") from None


def _value(obj: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The ``scalar`` / ``ranges`` / ``set`` of a resource or attribute."""
    kind = obj.get("type")
    if kind == "SCALAR":
        value = _opt_float(_obj(obj, "scalar", where), "value", f"{where}.scalar")
        if value is None:
            raise WireError(f"{where}.scalar.value: missing")
        return {"scalar": value}
    if kind == "RANGES":
        ranges = []
        for r in _list(_obj(obj, "ranges", where), "range", f"{where}.ranges"):
            if not isinstance(r, Mapping):
                raise WireError(f"{where}.ranges.range: expected objects")
            lo, hi = r.get("begin"), r.get("end")
            if not _is_int64(lo) or not _is_int64(hi):
                raise WireError(f"{where}.ranges.range: begin and end must be integers")
            ranges.append((lo, hi))
        return {"ranges": ranges}
    if kind == "SET":
        items = _list(_obj(obj, "set", where), "item", f"{where}.set")
        if not all(isinstance(i, str) for i in items):
            raise WireError(f"{where}.set.item: expected strings")
        return {"set": items}
    raise WireError(f"{where}.type: unknown value type {kind!r}")


_TASK_STATES = frozenset(get_args(m.TaskState))
_MODELLED = frozenset(
    [
        "SUBSCRIBED",
        "OFFERS",
        "RESCIND",
        "UPDATE",
        "MESSAGE",
        "FAILURE",
        "ERROR",
        "HEARTBEAT",
        "INVERSE_OFFERS",
        "RESCIND_INVERSE_OFFER",
    ]
)


# --- Event bytes -> Ark message ------------------------------------------------------


def event_from_protobuf(data: bytes) -> m.Message | None:
    """Lift one serialized ``Event`` into an Ark message; ``None`` for events Ark ignores.

    Raises
    ------
    WireError
        Bytes that are not an ``Event``, or one missing a field Ark needs; the
        message names the field, as ``ark._core.decode_event`` does.
    """
    e = pb.parse(data, Event)
    kind = e.type
    if kind == Event.SUBSCRIBED:
        body = _pb_present(e, "subscribed", "event")
        return m.Subscribed(
            _pb_id(body.framework_id, "event.subscribed.framework_id"),
            heartbeat_interval_seconds=body.heartbeat_interval_seconds
            if body.HasField("heartbeat_interval_seconds")
            else None,
            master_id=body.master_info.id if body.HasField("master_info") else None,
        )
    if kind == Event.OFFERS:
        return m.Offers([_pb_offer(o) for o in _pb_present(e, "offers", "event").offers])
    if kind == Event.RESCIND:
        return m.Rescind(
            _pb_id(_pb_present(e, "rescind", "event").offer_id, "event.rescind.offer_id")
        )
    if kind == Event.UPDATE:
        return m.Update(_pb_status(_pb_present(e, "update", "event").status))
    if kind == Event.MESSAGE:
        body = _pb_present(e, "message", "event")
        return m.FrameworkMessage(
            _pb_id(body.agent_id, "event.message.agent_id"),
            _pb_id(body.executor_id, "event.message.executor_id"),
            body.data,
        )
    if kind == Event.FAILURE:
        body = _pb_present(e, "failure", "event")
        _pb_present(body, "agent_id", "event.failure")
        return m.Failure(
            _pb_id(body.agent_id, "event.failure.agent_id"),
            executor_id=body.executor_id.value if body.HasField("executor_id") else None,
            status=body.status if body.HasField("status") else None,
        )
    if kind == Event.ERROR:
        return m.Error(_pb_present(e, "error", "event").message)
    if kind == Event.HEARTBEAT:
        return m.Heartbeat()
    if kind == Event.INVERSE_OFFERS:
        where = "event.inverse_offers.inverse_offers"
        inverse_offers = []
        for i in _pb_present(e, "inverse_offers", "event").inverse_offers:
            _pb_present(i, "agent_id", where)
            inverse_offers.append(
                m.InverseOffer(
                    _pb_id(i.id, f"{where}.id"),
                    _pb_id(i.agent_id, f"{where}.agent_id"),
                    _pb_unavailability(i.unavailability),
                )
            )
        return m.InverseOffers(inverse_offers)
    if kind == Event.RESCIND_INVERSE_OFFER:
        body = _pb_present(e, "rescind_inverse_offer", "event")
        return m.RescindInverseOffer(
            _pb_id(body.inverse_offer_id, "event.rescind_inverse_offer.inverse_offer_id")
        )
    return None


def _pb_unavailability(u: Any) -> m.Unavailability:
    start = u.start.nanoseconds / 1e9
    if u.HasField("duration"):
        return m.Unavailability(start, u.duration.nanoseconds / 1e9)
    return m.Unavailability(start)


def _pb_offer(o: Any) -> m.Offer:
    where = "event.offers.offers"
    return m.Offer(
        _pb_id(o.id, f"{where}.id"),
        _pb_id(o.agent_id, f"{where}.agent_id"),
        o.hostname,
        [_pb_resource(r) for r in o.resources],
        [_pb_attribute(a) for a in o.attributes],
        o.allocation_info.role
        if o.HasField("allocation_info") and o.allocation_info.HasField("role")
        else None,
        _pb_unavailability(o.unavailability) if o.HasField("unavailability") else None,
    )


def _pb_resource(r: Any) -> m.Resource:
    where = f"resource {r.name!r}"
    if r.HasField("role"):
        role = r.role
    elif r.HasField("allocation_info") and r.allocation_info.HasField("role"):
        role = r.allocation_info.role
    else:
        role = "*"
    if r.type == _VALUE.SCALAR:
        return m.Resource(r.name, scalar=_pb_present(r, "scalar", where).value, role=role)
    if r.type == _VALUE.RANGES:
        return m.Resource(r.name, ranges=_pb_ranges(r, where), role=role)
    if r.type == _VALUE.SET:
        return m.Resource(r.name, set=list(_pb_present(r, "set", where).item), role=role)
    raise WireError(f"{where}.type: unknown value type {_value_type_name(r.type)}")


def _pb_attribute(a: Any) -> m.Attribute:
    where = f"attribute {a.name!r}"
    if a.type == _VALUE.TEXT:
        return m.Attribute(a.name, text=_pb_present(a, "text", where).value)
    if a.type == _VALUE.SCALAR:
        return m.Attribute(a.name, scalar=_pb_present(a, "scalar", where).value)
    if a.type == _VALUE.RANGES:
        return m.Attribute(a.name, ranges=_pb_ranges(a, where))
    if a.type == _VALUE.SET:
        return m.Attribute(a.name, set=list(_pb_present(a, "set", where).item))
    raise WireError(f"{where}.type: unknown value type {_value_type_name(a.type)}")


def _pb_ranges(value: Any, where: str) -> list[tuple[int, int]]:
    out = []
    for r in _pb_present(value, "ranges", where).range:
        if r.begin >= 2**63 or r.end >= 2**63:
            raise WireError(f"{where}.ranges.range: beyond 2^63")
        out.append((r.begin, r.end))
    return out


def _pb_status(s: Any) -> m.TaskStatus:
    state = _TASK_STATE.values_by_number.get(s.state)
    if state is None:
        raise WireError(f"status.state: unknown task state {s.state}")
    # A reason or source newer than this build is dropped, not the update
    # (protobuf puts an unknown enum value among the unknown fields).
    return m.TaskStatus(
        # Not _pb_id: a master answers a launch with an empty task id by a
        # TASK_ERROR whose task id is present and empty.
        str(s.task_id.value),
        state.name,  # one of TaskState, by the .proto
        agent_id=s.agent_id.value if s.HasField("agent_id") else None,
        executor_id=s.executor_id.value if s.HasField("executor_id") else None,
        reason=_REASON.values_by_number[s.reason].name if s.HasField("reason") else None,
        source=_SOURCE.values_by_number[s.source].name if s.HasField("source") else None,
        message=s.message if s.HasField("message") else None,
        uuid=s.uuid if s.HasField("uuid") else None,
        timestamp=s.timestamp if s.HasField("timestamp") else None,
        healthy=s.healthy if s.HasField("healthy") else None,
    )


def _pb_present(message: Any, field: str, where: str) -> Any:
    if not message.HasField(field):
        raise WireError(f"{where}.{field}: missing")
    return getattr(message, field)


def _pb_id(value: Any, where: str) -> str:
    # A required string: protobuf cannot tell missing from empty, and Mesos
    # sends an empty one only as a TASK_ERROR's task id (see _pb_status).
    if not value.value:
        raise WireError(f"{where}.value: missing")
    return str(value.value)


def _value_type_name(number: int) -> str:
    known = _VALUE.DESCRIPTOR.enum_types_by_name["Type"].values_by_number.get(number)
    return str(number) if known is None else known.name


# --- Ark message -> Event bytes ------------------------------------------------------


def encode_event(message: m.Message) -> bytes:
    """The serialized ``Event`` that :func:`event_from_protobuf` lifts back to ``message``.

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
        case m.InverseOffers(inverse_offers):
            e.type = Event.INVERSE_OFFERS
            e.inverse_offers.SetInParent()
            for inverse in inverse_offers:
                out = e.inverse_offers.inverse_offers.add()
                out.id.value = inverse.id
                out.framework_id.value = ""
                out.agent_id.value = inverse.agent_id
                _fill_unavailability(out.unavailability, inverse.unavailability)
        case m.RescindInverseOffer(inverse_offer_id):
            e.type = Event.RESCIND_INVERSE_OFFER
            e.rescind_inverse_offer.inverse_offer_id.value = inverse_offer_id
        case _:
            raise ValueError(f"{type(message).__name__} is not a Mesos event")
    return bytes(e.SerializePartialToString())


def _fill_unavailability(out: Any, u: m.Unavailability) -> None:
    # Rounded to the nanosecond: seconds that came from nanoseconds go back exactly.
    out.start.nanoseconds = round(u.start * 1e9)
    if u.duration is not None:
        out.duration.nanoseconds = round(u.duration * 1e9)


def _fill_offer(out: Any, offer: m.Offer) -> None:
    out.id.value = offer.id
    out.framework_id.value = ""
    out.agent_id.value = offer.agent_id
    out.hostname = offer.hostname
    if offer.unavailability is not None:
        _fill_unavailability(out.unavailability, offer.unavailability)
    if offer.role is not None:
        out.allocation_info.role = offer.role
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


_VALUE: Any = pb.message_class("mesos.v1.Value")
_STATUS: Any = pb.message_class("mesos.v1.TaskStatus")
_TASK_STATE = _STATUS.DESCRIPTOR.fields_by_name["state"].enum_type
_REASON = _STATUS.DESCRIPTOR.enum_types_by_name["Reason"]
_SOURCE = _STATUS.DESCRIPTOR.enum_types_by_name["Source"]
