"""Maintenance in plain Python: inverse offers, their answers and the drain policy.

Written from docs/reducer.md, **Maintenance**, apart from the Rust core
(``rust/src/reducer/maintenance.rs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ark import effects as fx
from ark import messages as m
from ark.errors import CommandRejected
from ark.state import Config, InverseOfferRecord

__all__ = ["InverseOffers"]


class _Task(Protocol):
    state: m.TaskState
    agent_id: str | None


class _Held:
    __slots__ = ("agent_id", "draining", "received_at", "unavailability")

    def __init__(self, agent_id: str, unavailability: m.Unavailability, received_at: float) -> None:
        self.agent_id = agent_id
        self.unavailability = unavailability
        self.received_at = received_at
        self.draining = False


class InverseOffers:
    """The outstanding inverse offers, and the drain policy over them."""

    def __init__(self, config: Config) -> None:
        if config.maintenance not in ("ignore", "drain"):
            raise ValueError(f"maintenance {config.maintenance!r}")
        self._drain = config.maintenance == "drain"
        self._margin = config.maintenance_margin_seconds
        self._refuse = config.offer_refuse_seconds
        self._held: dict[str, _Held] = {}

    def __bool__(self) -> bool:
        return bool(self._held)

    def received(
        self, msg: m.InverseOffers, tasks: Mapping[str, _Task], now: float
    ) -> list[fx.Effect]:
        for inverse in msg.inverse_offers:
            if inverse.id not in self._held:  # The first one of an id stands.
                self._held[inverse.id] = _Held(inverse.agent_id, inverse.unavailability, now)
        return self.drain(tasks, None, now)

    def rescinded(self, inverse_offer_id: str) -> None:
        self._held.pop(inverse_offer_id, None)

    def clear(self) -> None:
        """Disconnected: Mesos drops them unanswered and makes new ones later."""
        self._held.clear()

    def answer(self, msg: m.AcceptInverseOffers | m.DeclineInverseOffers) -> list[fx.Effect]:
        accept = isinstance(msg, m.AcceptInverseOffers)
        ids = msg.inverse_offer_ids
        if not ids:
            verb = "Accept" if accept else "Decline"
            raise CommandRejected(f"{verb}InverseOffers names no inverse offer")
        seen: set[str] = set()
        for inverse_id in ids:
            if inverse_id in seen:
                raise CommandRejected(f"inverse offer {inverse_id!r} is named twice")
            if inverse_id not in self._held:
                raise CommandRejected(f"inverse offer {inverse_id!r} is not outstanding")
            seen.add(inverse_id)
        for inverse_id in ids:
            del self._held[inverse_id]
        if accept:
            return [fx.AcceptInverseOffers(sorted(ids), msg.refuse_seconds)]
        return [fx.DeclineInverseOffers(sorted(ids), msg.refuse_seconds)]

    def drain(self, tasks: Mapping[str, _Task], agent: str | None, now: float) -> list[fx.Effect]:
        """The drain policy over the inverse offers of ``agent`` (all when None), by id."""
        if not self._drain or not self._held:
            return []
        out: list[fx.Effect] = []
        accepted: list[str] = []
        killed: set[str] = set()
        for inverse_id in sorted(self._held):
            held = self._held[inverse_id]
            if agent is not None and held.agent_id != agent:
                continue
            live = sorted(
                task_id
                for task_id, t in tasks.items()
                if t.agent_id == held.agent_id and t.state not in m.TERMINAL_STATES
            )
            if not live:
                accepted.append(inverse_id)
            elif not held.draining and held.unavailability.covers(now, self._margin):
                held.draining = True
                if held.agent_id not in killed:  # once in a pass, for several of an agent
                    killed.add(held.agent_id)
                    out.extend(fx.Kill(task_id, held.agent_id) for task_id in live)
        for inverse_id in accepted:
            del self._held[inverse_id]
        if accepted:
            out.append(fx.AcceptInverseOffers(accepted, self._refuse))
        return out

    def draining_agents(self, offers: Sequence[m.Offer], now: float) -> list[str]:
        """Agents of ``offers`` under a window that covers ``now + margin`` (drain policy)."""
        if not self._drain:
            return []
        return sorted(
            {
                o.agent_id
                for o in offers
                if o.unavailability is not None and o.unavailability.covers(now, self._margin)
            }
        )

    def view(self) -> list[InverseOfferRecord]:
        return [
            InverseOfferRecord(i, h.agent_id, h.unavailability, h.received_at, h.draining)
            for i, h in sorted(self._held.items())
        ]
