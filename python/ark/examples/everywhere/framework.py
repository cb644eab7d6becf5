"""One copy of a task on every agent that is not blacklisted: the domain logic, pure.

The original library's example (``OneTaskPerSlaveStateManager``) made real:

* an offer from an agent without a copy asks the core's matcher for one
  there: a request pinned to the agent, in the agent's own group;
* a copy that ends is asked for again at once; if it failed, the core's
  launch backoff holds its agent's group for a delay that grows with each
  failure in a row (``Config.backoff_*``, Marathon's), reset once a copy has
  run for ``Config.backoff_reset_seconds``; hooks need no clock;
* offers keep coming once every copy is placed (the core suppresses them
  when nothing is wanted; this framework revives, to find new agents);
* blacklisting an agent kills its copy; removing it revives offers and the
  copy comes back;
* a copy Ark did not launch in this process (found by reconciliation after a
  restart) is adopted, and a second copy on one agent is killed;
* maintenance: run with ``Config(maintenance="drain")``, the core kills the
  copy of an agent scheduled for maintenance before its window, keeps new
  copies off it during the window (the copy asked for again waits), and
  accepts Mesos's inverse offer once the agent is empty; the copy comes
  back after the window. The agents under maintenance are in ``/state``.

The state is immutable: every hook returns a new :class:`Everywhere`, whose
dicts are copied on write and never changed in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from ark import Command, Reply, StateManager, Step
from ark import messages as m
from ark.core import Snapshot
from ark.wire import task_payload

__all__ = [
    "AddToBlacklist",
    "Everywhere",
    "EverywhereManager",
    "GetBlacklist",
    "GetState",
    "RemoveFromBlacklist",
    "TaskSpec",
]


class TaskSpec(msgspec.Struct, frozen=True, kw_only=True):
    """The task to keep on every agent."""

    name: str = "everywhere"
    command: str = "sleep 3600"
    cpus: float = 0.1
    mem: float = 32.0
    #: Refuse filter, seconds, on offers we have no use for.
    refuse_seconds: float = 30.0


class Everywhere(msgspec.Struct, frozen=True):
    """The framework's own state (Ark keeps the Mesos bookkeeping and the backoff)."""

    #: agent id -> the task id of its copy (requested or launched, not yet terminal).
    copies: dict[str, str] = {}
    blacklist: frozenset[str] = frozenset()
    launched: int = 0
    #: agent id -> its maintenance window, as the latest offer or inverse offer said.
    maintenance: dict[str, m.Unavailability] = {}


# --- the messages of the REST API ------------------------------------------------------


class GetState(m.Custom, frozen=True):
    """Reply: the scheduler's state as a JSON-ready dict."""


class GetBlacklist(m.Custom, frozen=True):
    """Reply: the blacklisted agent ids, sorted."""


class AddToBlacklist(m.Custom, frozen=True):
    """Reply: whether the blacklist changed."""

    agent_id: str


class RemoveFromBlacklist(m.Custom, frozen=True):
    """Reply: whether the blacklist changed."""

    agent_id: str


class EverywhereManager(StateManager[Everywhere]):
    """The hooks; ``spec`` says which task to keep everywhere."""

    def __init__(self, spec: TaskSpec | None = None) -> None:
        self.spec = spec or TaskSpec()
        self._resources = [
            m.Resource("cpus", scalar=self.spec.cpus),
            m.Resource("mem", scalar=self.spec.mem),
        ]
        self._payload = task_payload(self.spec.command)

    def offers(
        self, state: Everywhere, offers: Sequence[m.Offer], framework: Snapshot
    ) -> Step[Everywhere]:
        wanted = {
            o.agent_id
            for o in offers
            if o.agent_id not in state.blacklist
            and o.agent_id not in state.copies
            and self._fits(o)
        }
        commands: list[Command] = []
        if framework.offer_count:
            # Nothing was wanted, so the core holds these offers for us: give
            # back the ones no new copy will use, before asking for copies.
            unused = [o.id for o in offers if o.agent_id not in wanted]
            if unused:
                commands.append(m.Decline(unused, self.spec.refuse_seconds))
        # (Otherwise the core's matcher has answered them: copies asked for
        # now take the agents' next offers.)
        new = _windows(state, {o.agent_id: o.unavailability for o in offers})
        requests = []
        for agent in sorted(wanted):
            new, request = self._request(new, agent)
            requests.append(request)
        if requests:
            commands.append(m.Request(requests))
        return new, commands

    def status_update(
        self, state: Everywhere, status: m.TaskStatus, framework: Snapshot
    ) -> Step[Everywhere]:
        agent = status.agent_id
        if agent is None or not status.task_id.startswith(f"{self.spec.name}-"):
            return state, ()
        mine = state.copies.get(agent)
        if status.state in m.TERMINAL_STATES:
            if mine != status.task_id:
                return state, ()
            copies = {a: t for a, t in state.copies.items() if a != agent}
            new = msgspec.structs.replace(state, copies=copies)
            if agent in state.blacklist:
                return new, ()
            # Asked for again at once: after a failure, the core's launch
            # backoff holds the agent's group for a while.
            new, request = self._request(new, agent)
            return new, [m.Request([request])]
        if mine is None or (mine != status.task_id and framework.task(mine) is None):
            # Reconciliation found a copy launched before a restart: adopt it,
            # and withdraw the request it makes unnecessary.
            adopted = msgspec.structs.replace(state, copies={**state.copies, agent: status.task_id})
            return adopted, [m.Withdraw([mine])] if mine is not None else ()
        if mine != status.task_id:
            return state, [m.Kill(status.task_id)]
        if status.state == "TASK_RUNNING" and framework.suppressed:
            # Every copy is placed and the core stopped offers: revive them,
            # to see agents that join later.
            return state, [m.Revive()]
        return state, ()

    def inverse_offers(
        self, state: Everywhere, inverse_offers: Sequence[m.InverseOffer], framework: Snapshot
    ) -> Step[Everywhere]:
        # Answered by the core's drain policy; only noted here, for /state.
        return _windows(state, {i.agent_id: i.unavailability for i in inverse_offers}), ()

    def custom(self, state: Everywhere, message: m.Custom, framework: Snapshot) -> Step[Everywhere]:
        if isinstance(message, GetState):
            return state, [Reply(self._describe(state, framework))]
        if isinstance(message, GetBlacklist):
            return state, [Reply(sorted(state.blacklist))]
        if isinstance(message, AddToBlacklist):
            agent = message.agent_id
            if agent in state.blacklist:
                return state, [Reply(False)]
            copy = state.copies.get(agent)
            new = msgspec.structs.replace(state, blacklist=state.blacklist | {agent})
            if copy is None:
                return new, [Reply(True)]
            if framework.task(copy) is None:  # asked for, not launched yet
                copies = {a: t for a, t in state.copies.items() if a != agent}
                return msgspec.structs.replace(new, copies=copies), [
                    m.Withdraw([copy]),
                    Reply(True),
                ]
            # The copy stays ours until its terminal update: were the agent
            # taken off the list before then, a new copy would join it.
            return new, [m.Kill(copy), Reply(True)]
        if isinstance(message, RemoveFromBlacklist):
            agent = message.agent_id
            if agent not in state.blacklist:
                return state, [Reply(False)]
            new = msgspec.structs.replace(state, blacklist=state.blacklist - {agent})
            # Its offers were declined with a filter: revive to have them back now.
            return new, [m.Revive(), Reply(True)]
        return state, ()

    # --- helpers -------------------------------------------------------------------

    def _fits(self, offer: m.Offer) -> bool:
        have: dict[str, float] = {}
        for r in offer.resources:
            if r.scalar is not None:
                have[r.name] = have.get(r.name, 0.0) + r.scalar
        return have.get("cpus", 0.0) >= self.spec.cpus and have.get("mem", 0.0) >= self.spec.mem

    def _request(self, state: Everywhere, agent: str) -> tuple[Everywhere, m.TaskRequest]:
        """A copy for ``agent``, in the agent's own group: its launch backoff is its own."""
        task_id = f"{self.spec.name}-{agent}-{state.launched}"
        request = m.TaskRequest(
            task_id,
            resources=self._resources,
            group=f"{self.spec.name}@{agent}",
            agent_id=agent,
            name=self.spec.name,
            payload=self._payload,
        )
        copies = {**state.copies, agent: task_id}
        return msgspec.structs.replace(state, copies=copies, launched=state.launched + 1), request

    def _describe(self, state: Everywhere, framework: Snapshot) -> dict[str, Any]:
        view = framework.view()
        delays = {b.group: {"delay": b.delay, "until": b.until} for b in view.backoffs}
        return {
            "framework_id": framework.framework_id,
            "registered": framework.registered,
            "reconciliation": {
                "phase": framework.reconciliation_phase,
                "round": framework.reconciliation_round,
                "pending": framework.reconciliation_pending,
            },
            "agents": [
                {
                    "id": a.agent_id,
                    "hostname": a.hostname,
                    "active": a.active,
                    "blacklisted": a.agent_id in state.blacklist,
                    "task_id": state.copies.get(a.agent_id),
                    # The core's launch backoff of the agent's copies.
                    "backoff": delays.get(f"{self.spec.name}@{a.agent_id}"),
                    "maintenance": _window_json(state.maintenance.get(a.agent_id)),
                }
                for a in view.agents
            ],
            "maintenance": sorted(state.maintenance),
            "tasks_by_state": framework.tasks_by_state(),
            "blacklist": sorted(state.blacklist),
            "offers_held": framework.offer_count,
        }


def _windows(state: Everywhere, seen: dict[str, m.Unavailability | None]) -> Everywhere:
    """``state`` with the agents' windows as just seen (None: no longer scheduled)."""
    maintenance = dict(state.maintenance)
    for agent, window in seen.items():
        if window is None:
            maintenance.pop(agent, None)
        else:
            maintenance[agent] = window
    if maintenance == state.maintenance:
        return state
    return msgspec.structs.replace(state, maintenance=maintenance)


def _window_json(window: m.Unavailability | None) -> dict[str, Any] | None:
    if window is None:
        return None
    return {"start": window.start, "duration": window.duration}
