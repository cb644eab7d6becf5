"""What a step asks the world to do: data, never network calls.

A driver turns each effect into a Mesos call (``Accept`` into ACCEPT with
LAUNCH operations, ``Reconcile`` into RECONCILE ...); ``Timer`` asks the
runtime to push a :class:`~ark.messages.ReconcileTimeout` later, and
``Unreconciled`` reports tasks whose status never came back.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from ark.messages import Resource

__all__ = [
    "LaunchTask",
    "ReconcileTask",
    "Accept",
    "Decline",
    "Kill",
    "Reconcile",
    "Acknowledge",
    "Suppress",
    "Revive",
    "Message",
    "Timer",
    "Unreconciled",
    "Effect",
    "decode_effects",
]


class _Struct(msgspec.Struct, frozen=True, array_like=True):
    """Effects come out of Rust as arrays, like messages go in (see ark.messages)."""


class LaunchTask(_Struct):
    task_id: str
    agent_id: str
    name: str
    resources: list[Resource]
    payload: bytes


class ReconcileTask(_Struct):
    task_id: str
    agent_id: str | None


class Accept(_Struct, tag=True):
    offer_ids: list[str]
    agent_id: str
    launches: list[LaunchTask]
    refuse_seconds: float


class Decline(_Struct, tag=True):
    """Decline offers; ``offer_ids`` are sorted."""

    offer_ids: list[str]
    refuse_seconds: float


class Kill(_Struct, tag=True):
    task_id: str
    agent_id: str | None


class Reconcile(_Struct, tag=True):
    """Explicit reconciliation of ``tasks`` (sorted by id); implicit when empty."""

    tasks: list[ReconcileTask]


class Acknowledge(_Struct, tag=True):
    agent_id: str
    task_id: str
    uuid: bytes


class Suppress(_Struct, tag=True):
    pass


class Revive(_Struct, tag=True):
    pass


class Message(_Struct, tag=True):
    agent_id: str
    executor_id: str
    data: bytes


class Timer(_Struct, tag=True):
    """Push ``ReconcileTimeout(round)`` after ``seconds``."""

    round: int
    seconds: float


class Unreconciled(_Struct, tag=True):
    """Tasks that never answered reconciliation (sorted); each is flagged in the state."""

    task_ids: list[str]


Effect: TypeAlias = (
    Accept
    | Decline
    | Kill
    | Reconcile
    | Acknowledge
    | Suppress
    | Revive
    | Message
    | Timer
    | Unreconciled
)

_effects_decoder: msgspec.msgpack.Decoder[list[Effect]] = msgspec.msgpack.Decoder(list[Effect])


def decode_effects(data: bytes) -> list[Effect]:
    """Decode the msgpack list of effects the Rust core returns."""
    return _effects_decoder.decode(data)
