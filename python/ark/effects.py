"""What a step asks the world to do: data, never network calls.

A driver turns each effect into a Mesos call (``Accept`` into ACCEPT with
LAUNCH operations, ``Reconcile`` into RECONCILE ...); ``Timer`` asks the
runtime to push a :class:`~ark.messages.ReconcileTimeout` later, and
``Unreconciled`` reports tasks whose status never came back.

Effects come out of Rust as ``array_like`` arrays, as messages go in (see
:mod:`ark.messages`).
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from ark.decoding import decode_pausing_gc
from ark.messages import HealthCheck, KillPolicy, PodTask, Resource

__all__ = [
    "Accept",
    "AcceptInverseOffers",
    "Acknowledge",
    "Decline",
    "DeclineInverseOffers",
    "Effect",
    "Kill",
    "LaunchTask",
    "Message",
    "Reconcile",
    "ReconcileTask",
    "Revive",
    "Suppress",
    "Timer",
    "Unreconciled",
    "UpdateFramework",
    "decode_effects",
]


class LaunchTask(msgspec.Struct, frozen=True, array_like=True):
    task_id: str
    agent_id: str
    name: str
    resources: list[Resource]
    payload: bytes
    #: The port each requested name got, in the request's order.
    named_ports: list[tuple[str, int]] = []
    health_check: HealthCheck | None = None
    kill_policy: KillPolicy | None = None
    #: A pod's members, launched in one LAUNCH_GROUP under the default
    #: executor that ``task_id`` names (``resources`` are the executor's).
    pod: list[PodTask] = []

    def task_ids(self) -> list[str]:
        """The tasks this launch starts: itself, or a pod's members."""
        return [t.task_id for t in self.pod] if self.pod else [self.task_id]


class ReconcileTask(msgspec.Struct, frozen=True, array_like=True):
    task_id: str
    agent_id: str | None


class Accept(msgspec.Struct, tag=True, frozen=True, array_like=True):
    offer_ids: list[str]
    agent_id: str
    launches: list[LaunchTask]
    refuse_seconds: float
    #: The role the offers are allocated to: the launches' resources carry it.
    role: str | None = None


class Decline(msgspec.Struct, tag=True, frozen=True, array_like=True):
    """Decline offers; ``offer_ids`` are sorted."""

    offer_ids: list[str]
    refuse_seconds: float


class Kill(msgspec.Struct, tag=True, frozen=True, array_like=True):
    task_id: str
    agent_id: str | None


class Reconcile(msgspec.Struct, tag=True, frozen=True, array_like=True):
    """Explicit reconciliation of ``tasks`` (sorted by id); implicit when empty."""

    tasks: list[ReconcileTask]


class Acknowledge(msgspec.Struct, tag=True, frozen=True, array_like=True):
    agent_id: str
    task_id: str
    uuid: bytes


class Suppress(msgspec.Struct, tag=True, frozen=True, array_like=True):
    pass


class Revive(msgspec.Struct, tag=True, frozen=True, array_like=True):
    pass


class Message(msgspec.Struct, tag=True, frozen=True, array_like=True):
    agent_id: str
    executor_id: str
    data: bytes


class UpdateFramework(msgspec.Struct, tag=True, frozen=True, array_like=True):
    """UPDATE_FRAMEWORK: the driver applies these parts to its FrameworkInfo.

    ``suppressed`` says whether the core has suppressed offers: without
    ``suppressed_roles``, every role is suppressed then, none otherwise.
    """

    roles: list[str] | None
    suppressed_roles: list[str] | None
    capabilities: list[str] | None
    failover_timeout: float | None
    suppressed: bool


class AcceptInverseOffers(msgspec.Struct, tag=True, frozen=True, array_like=True):
    """ACCEPT_INVERSE_OFFERS; ``inverse_offer_ids`` are sorted."""

    inverse_offer_ids: list[str]
    refuse_seconds: float


class DeclineInverseOffers(msgspec.Struct, tag=True, frozen=True, array_like=True):
    """DECLINE_INVERSE_OFFERS; ``inverse_offer_ids`` are sorted."""

    inverse_offer_ids: list[str]
    refuse_seconds: float


class Timer(msgspec.Struct, tag=True, frozen=True, array_like=True):
    """Push ``ReconcileTimeout(round)`` after ``seconds``."""

    round: int
    seconds: float


class Unreconciled(msgspec.Struct, tag=True, frozen=True, array_like=True):
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
    | UpdateFramework
    | AcceptInverseOffers
    | DeclineInverseOffers
    | Timer
    | Unreconciled
)

_effects_decoder: msgspec.msgpack.Decoder[list[Effect]] = msgspec.msgpack.Decoder(list[Effect])


def decode_effects(data: bytes) -> list[Effect]:
    """Decode the msgpack list of effects the Rust core returns."""
    return decode_pausing_gc(_effects_decoder, data)
