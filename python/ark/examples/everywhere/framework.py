"""One copy of a task on every agent that is not blacklisted: the domain logic, pure.

The original library's example (``OneTaskPerSlaveStateManager``) made real.
The copies are one request group of the core (the spec's ``name``), at most
one per agent (``hostname UNIQUE``), each a copy of the running *version*:
a template ``{name}-v{n}`` whose copies are ``{name}-v{n}-{k}``.

* an offer from an agent without a copy asks the core's matcher for one
  there: a copy of the version pinned to the agent;
* a copy that ends is asked for again at once; if it failed, the core's
  launch backoff holds the group for a delay that grows with each failure in
  a row (``Config.backoff_*``, Marathon's, per group as Marathon's is per
  app), reset once a copy has run for ``Config.backoff_reset_seconds``;
  hooks need no clock;
* offers keep coming once every copy is placed (the core suppresses them
  when nothing is wanted; this framework revives, to find new agents);
* blacklisting an agent kills its copy and tells the core's matcher
  (``Blacklist``); removing it revives offers and the copy comes back;
* a copy Ark did not launch in this process (found by reconciliation after a
  restart) is adopted, and a second copy on one agent is killed;
* maintenance: run with ``Config(maintenance="drain")``, the core kills the
  copy of an agent scheduled for maintenance before its window, keeps new
  copies off it during the window (the copy asked for again waits), and
  accepts Mesos's inverse offer once the agent is empty; the copy comes
  back after the window. The agents under maintenance are in ``/state``;
* a new command is rolled out by the core's deployment (:class:`StartDeployment`,
  ``POST /deployments``): ``Deploy`` of version ``n + 1`` with one instance per
  eligible agent (active, not blacklisted), ``maximum_over_capacity`` 0 and a
  floor of all but one ready, so one agent at a time loses its old copy and
  gets a new one (the freed agent is the only one ``hostname UNIQUE``
  leaves). The core rolls it back to version ``n`` when new copies keep
  failing, or on :class:`CancelDeployment`. While it runs, the copies are the
  core's to place: the hooks only follow them, and the blacklist is frozen
  (a change would leave the deployment an agent short, forever). The first
  version is announced to the core as a deployment of no instances before
  any copy is asked for, so that every later one has a version to roll back
  to.

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
from ark.state import DeploymentRecord, VersionCount
from ark.wire import task_payload

__all__ = [
    "AddToBlacklist",
    "CancelDeployment",
    "Everywhere",
    "EverywhereManager",
    "GetBlacklist",
    "GetDeployment",
    "GetState",
    "RemoveFromBlacklist",
    "StartDeployment",
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
    #: The version the copies run (-1: not yet announced to the core), and its command.
    version: int = -1
    command: str = ""
    #: While a deployment runs: the version and command it replaces.
    rollback: tuple[int, str] | None = None
    #: The last version number given out (a rolled back one is not given twice).
    latest: int = 0


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


class StartDeployment(m.Custom, frozen=True):
    """Roll out ``command`` as a new version. Reply: the deployment, or ``{"refused": why}``."""

    command: str


class GetDeployment(m.Custom, frozen=True):
    """Reply: the version, its command and the core's view of the last deployment."""


class CancelDeployment(m.Custom, frozen=True):
    """Roll the running deployment back. Reply: the deployment, or ``{"refused": why}``."""


#: The reply to a request the state refuses (the API answers 409 Conflict).
def _refused(why: str) -> Reply:
    return Reply({"refused": why})


class EverywhereManager(StateManager[Everywhere]):
    """The hooks; ``spec`` says which task to keep everywhere."""

    def __init__(self, spec: TaskSpec | None = None) -> None:
        self.spec = spec or TaskSpec()
        self._resources = [
            m.Resource("cpus", scalar=self.spec.cpus),
            m.Resource("mem", scalar=self.spec.mem),
        ]
        self._unique = [m.Constraint("hostname", "UNIQUE")]

    def offers(
        self, state: Everywhere, offers: Sequence[m.Offer], framework: Snapshot
    ) -> Step[Everywhere]:
        state = self._followed(state, framework)
        wanted = {
            o.agent_id
            for o in offers
            if o.agent_id not in state.blacklist
            and o.agent_id not in state.copies
            and state.rollback is None  # a deployment places the copies itself
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
        new, asked = self._requests(new, sorted(wanted), framework)
        return new, commands + asked

    def status_update(
        self, state: Everywhere, status: m.TaskStatus, framework: Snapshot
    ) -> Step[Everywhere]:
        state = self._followed(state, framework)
        agent = status.agent_id
        if agent is None or not status.task_id.startswith(f"{self.spec.name}-"):
            return state, ()
        mine = state.copies.get(agent)
        if status.state in m.TERMINAL_STATES:
            if mine != status.task_id:
                return state, ()
            copies = {a: t for a, t in state.copies.items() if a != agent}
            new = msgspec.structs.replace(state, copies=copies)
            if agent in state.blacklist or state.rollback is not None:
                return new, ()  # (a deployment replaces its copies itself)
            # Asked for again at once: after a failure, the core's launch
            # backoff holds the group for a while.
            return self._requests(new, [agent], framework)
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
        state = self._followed(state, framework)
        if isinstance(message, StartDeployment):
            return self._deploy(state, message.command, framework)
        if isinstance(message, GetDeployment):
            return state, [Reply(self._deployment(state, framework))]
        if isinstance(message, CancelDeployment):
            record = framework.deployments().get(self.spec.name)
            if state.rollback is None or record is None or record.state != "running":
                return state, [_refused("no deployment is running")]
            return state, [m.CancelDeployment(self.spec.name), Reply(self._deployment(state))]
        if isinstance(message, (AddToBlacklist, RemoveFromBlacklist)) and state.rollback:
            return state, [_refused("a deployment is running: the blacklist waits for its end")]
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
            # The core's matcher keeps the group's copies off it too.
            told = m.Blacklist(sorted(new.blacklist))
            if copy is None:
                return new, [told, Reply(True)]
            if framework.task(copy) is None:  # asked for, not launched yet
                copies = {a: t for a, t in state.copies.items() if a != agent}
                return msgspec.structs.replace(new, copies=copies), [
                    told,
                    m.Withdraw([copy]),
                    Reply(True),
                ]
            # The copy stays ours until its terminal update: were the agent
            # taken off the list before then, a new copy would join it.
            return new, [told, m.Kill(copy), Reply(True)]
        if isinstance(message, RemoveFromBlacklist):
            agent = message.agent_id
            if agent not in state.blacklist:
                return state, [Reply(False)]
            new = msgspec.structs.replace(state, blacklist=state.blacklist - {agent})
            # Its offers were declined with a filter: revive to have them back now.
            return new, [m.Blacklist(sorted(new.blacklist)), m.Revive(), Reply(True)]
        return state, ()

    # --- helpers -------------------------------------------------------------------

    def _fits(self, offer: m.Offer) -> bool:
        have: dict[str, float] = {}
        for r in offer.resources:
            if r.scalar is not None:
                have[r.name] = have.get(r.name, 0.0) + r.scalar
        return have.get("cpus", 0.0) >= self.spec.cpus and have.get("mem", 0.0) >= self.spec.mem

    def _template(self, version: int, command: str) -> m.TaskRequest:
        """Version ``version`` of the copies: any agent, one per agent."""
        return m.TaskRequest(
            f"{self.spec.name}-v{version}",
            resources=self._resources,
            constraints=self._unique,
            group=self.spec.name,
            name=self.spec.name,
            payload=task_payload(command),
        )

    def _announced(self, state: Everywhere) -> tuple[Everywhere, list[Command]]:
        """``state`` with its first version told to the core, before any copy.

        As a deployment of no instances, done at once: the first real
        deployment then has a version to roll back to.
        """
        if state.version >= 0:
            return state, []
        command = self.spec.command
        first = m.Deploy(self.spec.name, self._template(0, command), instances=0)
        return msgspec.structs.replace(state, version=0, command=command), [first]

    def _requests(
        self, state: Everywhere, agents: Sequence[str], framework: Snapshot
    ) -> tuple[Everywhere, list[Command]]:
        """Copies of the running version pinned to ``agents``, as one Request."""
        if not agents:
            return state, []
        state, commands = self._announced(state)
        template = self._template(state.version, state.command)
        copies, k = dict(state.copies), state.launched
        requests = []
        taken = set(copies.values())
        for agent in agents:
            # ``{version}-{k}``, an id no task had: a copy the core counts as the version's.
            task_id = f"{template.task_id}-{k}"
            while task_id in taken or framework.task(task_id) is not None:
                k += 1
                task_id = f"{template.task_id}-{k}"
            k += 1
            copies[agent] = task_id
            requests.append(msgspec.structs.replace(template, task_id=task_id, agent_id=agent))
        new = msgspec.structs.replace(state, copies=copies, launched=k)
        return new, [*commands, m.Request(requests)]

    def _deploy(self, state: Everywhere, command: str, framework: Snapshot) -> Step[Everywhere]:
        if state.rollback is not None:
            return state, [_refused("a deployment is running: cancel it first")]
        eligible = [
            a.agent_id
            for a in framework.view().agents
            if a.active and a.agent_id not in state.blacklist
        ]
        n = len(eligible)
        if n == 0:
            return state, [_refused("no agent to deploy to")]
        state, commands = self._announced(state)
        # The copies asked for and not placed are the old version's: the
        # deployment withdraws them, and places every new copy itself.
        copies = {a: t for a, t in state.copies.items() if framework.task(t) is not None}
        new = msgspec.structs.replace(
            state,
            copies=copies,
            version=state.latest + 1,
            latest=state.latest + 1,
            command=command,
            rollback=(state.version, state.command),
        )
        deploy = m.Deploy(
            self.spec.name,
            self._template(new.version, command),
            instances=n,
            # floor(n * (n - 0.5) / n) = n - 1 ready at least, and never more
            # than n up: one agent at a time changes version.
            minimum_health_capacity=(n - 0.5) / n,
            maximum_over_capacity=0.0,
        )
        return new, [*commands, deploy, Reply(self._deployment(new))]

    def _followed(self, state: Everywhere, framework: Snapshot) -> Everywhere:
        """``state`` once the core's deployment, if one ran, has ended: the version
        the core kept (the previous one if it rolled back) is the running one."""
        if state.rollback is None:
            return state
        record = framework.deployments().get(self.spec.name)
        if record is not None and record.state in ("running", "rolling-back"):
            return state
        if record is not None and record.state == "rolled-back":
            version, command = state.rollback
            return msgspec.structs.replace(state, version=version, command=command, rollback=None)
        return msgspec.structs.replace(state, rollback=None)

    def _deployment(self, state: Everywhere, framework: Snapshot | None = None) -> dict[str, Any]:
        """The version and, with ``framework``, the core's view of the last deployment."""
        out: dict[str, Any] = {
            "version": f"{self.spec.name}-v{state.version}",
            "command": state.command or self.spec.command,
            "deploying": state.rollback is not None,
        }
        if state.rollback is not None:
            out["previous"] = {
                "version": f"{self.spec.name}-v{state.rollback[0]}",
                "command": state.rollback[1],
            }
        if framework is not None:
            record = framework.deployments().get(self.spec.name)
            out["deployment"] = None if record is None else _record_json(record)
        return out

    def _describe(self, state: Everywhere, framework: Snapshot) -> dict[str, Any]:
        view = framework.view()
        backoff = next(
            (
                {"delay": b.delay, "until": b.until}
                for b in view.backoffs
                if b.group == self.spec.name
            ),
            None,
        )
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
                    "maintenance": _window_json(state.maintenance.get(a.agent_id)),
                }
                for a in view.agents
            ],
            # The core's launch backoff of the copies' group.
            "backoff": backoff,
            "version": f"{self.spec.name}-v{state.version}",
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


def _record_json(record: DeploymentRecord) -> dict[str, Any]:
    def count(c: VersionCount) -> dict[str, int]:
        return {"up": c.up, "ready": c.ready}

    return {
        "version": record.version,
        "previous": record.previous,
        "instances": record.instances,
        "state": record.state,
        "failures": record.failures,
        "new": count(record.new),
        "old": count(record.old),
        "other": count(record.other),
    }
