"""Decoding what the Rust core returns, with the cyclic GC paused for large results."""

from __future__ import annotations

import gc
from typing import TypeVar

import msgspec

__all__ = ["decode_pausing_gc"]

T = TypeVar("T")

# Above this many bytes (about a thousand launches), decoding pauses the GC.
_LARGE = 1 << 16


def decode_pausing_gc(decoder: msgspec.msgpack.Decoder[T], data: bytes) -> T:
    """``decoder.decode(data)``, with the cyclic GC off while a large payload decodes.

    A matching cycle's launches make tens of thousands of lists, which set
    off the cyclic GC again and again, each pass walking every live object:
    at 50,000 launches that was several times the decoding itself. What the
    core returns holds no cycles. Small payloads skip the pause: it would
    cost a reducer step ~10%.
    """
    if len(data) < _LARGE:
        return decoder.decode(data)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return decoder.decode(data)
    finally:
        if enabled:
            gc.enable()
