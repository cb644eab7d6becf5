"""Encoding of scheduler calls and events: the one place that knows JSON.

Protobuf (``application/x-protobuf``) will be added here, behind the same
two functions, so the server and the master never see bytes of a format.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "JSON",
    "PROTOBUF",
    "CodecError",
    "decode_call",
    "encode_event",
    "supported_content_type",
]

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
RECORDIO = "application/recordio"

# One encoder, reused: compact separators keep 100,000-event streams small.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class CodecError(ValueError):
    """A body that cannot be decoded as a call in its declared content type."""


def supported_content_type(media_type: str) -> bool:
    """Whether calls can be decoded from ``media_type`` (JSON only for now)."""
    return media_type == JSON


def decode_call(body: bytes, media_type: str = JSON) -> dict[str, Any]:
    """Decode one scheduler ``Call`` into a dict in the JSON shape of v1."""
    if media_type != JSON:
        raise CodecError(f"Unsupported 'Content-Type' {media_type!r}")
    try:
        call = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CodecError(f"Failed to parse JSON: {exc}") from None
    if not isinstance(call, dict):
        raise CodecError("Failed to convert JSON into Call protobuf: expecting a JSON object")
    return call


def encode_event(event: dict[str, Any], media_type: str = JSON) -> bytes:
    """Encode one scheduler ``Event`` (v1 JSON shape) for the stream."""
    if media_type != JSON:
        raise CodecError(f"Unsupported media type {media_type!r}")
    return _ENCODER.encode(event).encode()
