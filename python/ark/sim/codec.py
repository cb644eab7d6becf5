"""Encoding of scheduler calls and events: the one place that knows the formats.

The master works on dicts in the v1 JSON shape. A call arrives as JSON or
protobuf (its ``Content-Type``); a subscriber's events go out in the
encoding its ``Accept`` asks for, JSON first when both are acceptable, as
Mesos chooses (``src/master/http.cpp``).
"""

from __future__ import annotations

import json
from typing import Any

from ark import protobuf
from ark.wire import WireError

__all__ = [
    "JSON",
    "PROTOBUF",
    "CodecError",
    "accepted_media_type",
    "decode_call",
    "encode_event",
    "supported_content_type",
]

JSON = "application/json"
PROTOBUF = protobuf.CONTENT_TYPE

# One encoder, reused: compact separators keep 100,000-event streams small.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class CodecError(ValueError):
    """A body that cannot be decoded as a call in its declared content type."""


def supported_content_type(media_type: str) -> bool:
    """Whether calls can be decoded from ``media_type``."""
    return media_type in (JSON, PROTOBUF)


def accepted_media_type(accept: str | None) -> str | None:
    """The encoding of a subscriber's events, by its ``Accept`` header.

    No header accepts anything. A media range with ``q=0`` refuses. ``None``
    if neither JSON nor protobuf is acceptable (a 406).
    """
    if accept is None:
        return JSON
    ranges: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges[media.lower()] = quality

    def accepts(media_type: str) -> bool:
        kind = media_type.split("/")[0] + "/*"
        for candidate in (media_type, kind, "*/*"):
            if candidate in ranges:
                return ranges[candidate] > 0
        return False

    for media_type in (JSON, PROTOBUF):
        if accepts(media_type):
            return media_type
    return None


def decode_call(body: bytes, media_type: str = JSON) -> dict[str, Any]:
    """Decode one scheduler ``Call`` into a dict in the JSON shape of v1."""
    if media_type == PROTOBUF:
        try:
            call = protobuf.Call.FromString(body)
        except Exception:  # protobuf's DecodeError, or upb's own
            raise CodecError("Failed to parse body into Call protobuf") from None
        if not call.IsInitialized():  # as C++ ParseFromString: required fields set
            raise CodecError("Failed to parse body into Call protobuf")
        return protobuf.as_json(call)
    if media_type != JSON:
        raise CodecError(f"Unsupported 'Content-Type' {media_type!r}")
    try:
        obj = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CodecError(f"Failed to parse body into JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise CodecError("Failed to convert JSON into Call protobuf: Expecting a JSON object")
    return obj


def encode_event(event: dict[str, Any], media_type: str = JSON) -> bytes:
    """Encode one scheduler ``Event`` (v1 JSON shape) for the stream.

    In protobuf, fields outside Ark's ``.proto`` subset are left out.
    """
    if media_type == PROTOBUF:
        try:
            return protobuf.to_protobuf(event, protobuf.Event, strict=False)
        except WireError as exc:
            raise CodecError(str(exc)) from None
    if media_type != JSON:
        raise CodecError(f"Unsupported media type {media_type!r}")
    return _ENCODER.encode(event).encode()
