"""The Mesos v1 scheduler API in its protobuf encoding.

The message classes are built at import from the descriptor set compiled
into ``ark._core`` from ``proto/`` (Mesos's own names and field numbers, a
subset of the fields), so Rust and Python read one ``.proto`` source and
nothing generated is checked in.

Two conversions, between the JSON mapping that :mod:`ark.wire` and the
simulator use and the serialized bytes, for calls and events alike:
:func:`to_protobuf` and :func:`to_json`. JSON is Mesos's own shape: ids as
``{"value": ...}``, enums by name, bytes in base64, 64-bit integers as
numbers. Events are lifted to Ark messages in Rust
(``ark._core.decode_event``); the Python lifts that check it are in
:mod:`ark.reference.events`.
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
from ark.wire import WireError

__all__ = [
    "CONTENT_TYPE",
    "Call",
    "Event",
    "StoreRecord",
    "as_json",
    "message_class",
    "parse",
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
    return as_json(parse(data, message_type))


def parse(data: bytes, message_type: type[ProtoMessage]) -> Any:
    """Parse serialized bytes into a message of ``message_type``, or raise `WireError`."""
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
