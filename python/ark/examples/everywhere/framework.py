"""One copy of a task on every agent that is not blacklisted: the domain logic, pure.

The original library's example (``OneTaskPerSlaveStateManager``) made real:

* an offer from an agent without a copy launches one there;
* a copy that ends is launched again, after a backoff that doubles with each
  failure in a row on that agent (reset once a copy has run for
  ``stable_seconds``); the backoff is Mesos's own refuse filter on that
  agent's next offer, so hooks need no clock;
* blacklisting an agent kills its copy; removing it revives offers and the
  copy comes back;
* a copy Ark did not launch in this process (found by reconciliation after a
  restart) is adopted, and a second copy on one agent is killed.

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
    backoff_seconds: float = 1.0
    backoff_cap_seconds: float = 300.0
    #: A copy that ran this long was not crash-looping: its agent's failures reset.
    stable_seconds: float = 60.0


class Everywhere(msgspec.Struct, frozen=True):
    """The framework's own state (Ark keeps the Mesos bookkeeping)."""

    #: agent id -> the task id of its copy (launched, not yet terminal).
    copies: dict[str, str] = {}
    #: agent id -> failures in a row.
    failures: dict[str, int] = {}
    #: agent id -> when its copy reported RUNNING (the agent's clock).
    running_since: dict[str, float] = {}
    #: Agents whose next offer is declined for their backoff.
    cooling: frozenset[str] = frozenset()
    blacklist: frozenset[str] = frozenset()
    launched: int = 0


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
        commands: list[Command] = []
        copies, launched, cooling = state.copies, state.launched, set(state.cooling)
        for offer in offers:
            agent = offer.agent_id
            if agent in cooling:
                cooling.discard(agent)
                commands.append(m.Decline([offer.id], self._backoff(state, agent)))
            elif agent in state.blacklist or agent in copies or not self._fits(offer):
                commands.append(m.Decline([offer.id], self.spec.refuse_seconds))
            else:
                task_id = f"{self.spec.name}-{agent}-{launched}"
                launched += 1
                copies = {**copies, agent: task_id}
                launch = m.Launch(
                    task_id, name=self.spec.name, resources=self._resources, payload=self._payload
                )
                commands.append(m.Accept([offer.id], [launch], self.spec.refuse_seconds))
        new = msgspec.structs.replace(
            state, copies=copies, launched=launched, cooling=frozenset(cooling)
        )
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
            return self._ended(state, agent, status), [m.Revive()]
        if mine is None:
            # Reconciliation found a copy launched before a restart: adopt it.
            return msgspec.structs.replace(
                state, copies={**state.copies, agent: status.task_id}
            ), ()
        if mine != status.task_id:
            return state, [m.Kill(status.task_id)]
        if status.state == "TASK_RUNNING" and status.timestamp is not None:
            since = {**state.running_since, agent: status.timestamp}
            return msgspec.structs.replace(state, running_since=since), ()
        return state, ()

    def custom(self, state: Everywhere, message: m.Custom, framework: Snapshot) -> Step[Everywhere]:
        if isinstance(message, GetState):
            return state, [Reply(self._describe(state, framework))]
        if isinstance(message, GetBlacklist):
            return state, [Reply(sorted(state.blacklist))]
        if isinstance(message, AddToBlacklist):
            agent = message.agent_id
            if agent in state.blacklist:
                return state, [Reply(False)]
            new = msgspec.structs.replace(state, blacklist=state.blacklist | {agent})
            copy = state.copies.get(agent)
            kill = [m.Kill(copy)] if copy is not None and framework.task(copy) is not None else []
            return new, [*kill, Reply(True)]
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

    def _backoff(self, state: Everywhere, agent: str) -> float:
        n = state.failures.get(agent, 1)
        delay: float = self.spec.backoff_seconds * 2.0 ** (n - 1)
        return min(self.spec.backoff_cap_seconds, delay)

    def _ended(self, state: Everywhere, agent: str, status: m.TaskStatus) -> Everywhere:
        copies = {a: t for a, t in state.copies.items() if a != agent}
        running_since = {a: t for a, t in state.running_since.items() if a != agent}
        failures = dict(state.failures)
        cooling = state.cooling
        killed_on_purpose = agent in state.blacklist and status.state == "TASK_KILLED"
        if not killed_on_purpose and status.state != "TASK_FINISHED":
            since = state.running_since.get(agent)
            stable = (
                since is not None
                and status.timestamp is not None
                and status.timestamp - since >= self.spec.stable_seconds
            )
            failures[agent] = 1 if stable else failures.get(agent, 0) + 1
            cooling = cooling | {agent}
        return msgspec.structs.replace(
            state, copies=copies, running_since=running_since, failures=failures, cooling=cooling
        )

    def _describe(self, state: Everywhere, framework: Snapshot) -> dict[str, Any]:
        view = framework.view()
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
                    "failures": state.failures.get(a.agent_id, 0),
                }
                for a in view.agents
            ],
            "tasks_by_state": framework.tasks_by_state(),
            "blacklist": sorted(state.blacklist),
            "offers_held": framework.offer_count,
        }
