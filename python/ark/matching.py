"""Offer matching: which pending task requests go on which offers.

:func:`match_offers` runs one cycle in Rust (the GIL released);
:func:`ark.reference.reference_match` is the same algorithm in plain Python,
the oracle of the property tests. Use it from a raw ``offers`` hook::

    decisions = match_offers(offers, requests, strategy="spread")
    return state, decisions.commands()

Agents are taken in agent-id order (offers of one agent combined). Bin-pack
puts each request, in the given order, on the first agent that can take it,
so few agents are used; spread on the first that can after the agent last
used for the same request shape, wrapping around. A request no agent can
take stays pending with the reason each agent gave.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, TypeAlias

import msgspec

from ark import _core
from ark import messages as m
from ark.decoding import decode_pausing_gc
from ark.messages import Constraint, TaskRequest

__all__ = [
    "AgentInfo",
    "Constraint",
    "Decisions",
    "Existing",
    "Pending",
    "Placement",
    "Strategy",
    "TaskRequest",
    "match_offers",
]

Strategy: TypeAlias = Literal["binpack", "spread"]


class Existing(msgspec.Struct, frozen=True, array_like=True):
    """A task of ``group`` already running on ``agent_id``, or the volume
    ``volume`` (a persistence id) of one of its requests held there: either
    counts for UNIQUE / MAX_PER / GROUP_BY, a volume for every request but
    its own."""

    group: str
    agent_id: str
    volume: str | None = None


class AgentInfo(msgspec.Struct, frozen=True, array_like=True):
    """Hostname and attributes of an agent with existing tasks but no offer now."""

    agent_id: str
    hostname: str
    attributes: list[m.Attribute] = []


class _Input(msgspec.Struct, frozen=True, array_like=True):
    offers: list[m.Offer]
    requests: list[TaskRequest]
    strategy: str
    blacklist: list[str]
    existing: list[Existing]
    agents: list[AgentInfo]


class Placement(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """Launches on one agent, using all of its offers allocated to ``role``."""

    agent_id: str
    offer_ids: list[str]
    launches: list[m.Launch]
    role: str | None = None


class Pending(msgspec.Struct, frozen=True, array_like=True, gc=False):
    task_id: str
    reason: str


class Decisions(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One cycle's outcome: accepts, offers to decline (sorted), requests left pending."""

    accepts: list[Placement]
    declines: list[str]
    pending: list[Pending]

    def commands(self, refuse_seconds: float = 5.0) -> list[m.Message]:
        """The ``Accept`` and ``Decline`` commands that carry these decisions out."""
        out: list[m.Message] = [m.Accept(p.offer_ids, p.launches) for p in self.accepts]
        if self.declines:
            out.append(m.Decline(self.declines, refuse_seconds))
        return out


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Decisions)


def match_offers(
    offers: Sequence[m.Offer],
    requests: Sequence[TaskRequest],
    strategy: Strategy = "binpack",
    *,
    blacklist: Iterable[str] = (),
    existing: Sequence[Existing] = (),
    agents: Sequence[AgentInfo] = (),
) -> Decisions:
    """One matching cycle in Rust (GIL released).

    Raises
    ------
    MessageError
        An unknown strategy or inputs that do not encode.
    """
    data = _encoder.encode(
        _Input(
            list(offers), list(requests), strategy, list(blacklist), list(existing), list(agents)
        )
    )
    return decode_pausing_gc(_decoder, _core.match_offers(data))
