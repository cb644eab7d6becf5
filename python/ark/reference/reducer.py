"""The reducer in plain Python: the oracle of the property tests and the benchmarks' baseline.

Over 600 lines on purpose: it mirrors docs/reducer.md section by section,
and a reader holds the two side by side.

It follows ``docs/reducer.md`` transition by transition and was written from
that text alone, apart from the Rust core, so that the two agree only where
the specification makes them agree. Where the text leaves a choice open, the
choice is written down as a comment marked ``Spec reading:``.

Every handler validates everything before it mutates anything, so a message
that raises leaves the state exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ark import effects as fx
from ark import messages as m
from ark.errors import CommandRejected, MessageError
from ark.matching import AgentInfo, Existing
from ark.reference.backoff import REASON as BACKOFF_REASON
from ark.reference.backoff import Backoffs
from ark.reference.deployment import Deployments, Plan, check_deploy
from ark.reference.failover import (
    check_track,
    kept,
    restore,
    resume_deployment,
    resume_release,
)
from ark.reference.maintenance import InverseOffers
from ark.reference.matching import COUNTING, reference_match
from ark.reference.operation_feedback import OperationFeedback
from ark.reference.operations import track, volume_of
from ark.reference.pods import claimed_ids, kill_members
from ark.reference.reconcile import Reconciler
from ark.reference.resources import check_fits
from ark.reference.unreachable import Partitions, check_strategy
from ark.reference.update_framework import update_framework
from ark.reference.volumes import (
    check_volume,
    forget_agent,
    next_id,
    plan,
    release,
    view,
    waiting,
)
from ark.state import (
    AgentRecord,
    Config,
    OfferRecord,
    RequestRecord,
    StateView,
    TaskRecord,
    VolumeRecord,
)

__all__ = ["Reducer"]

#: Scalar sums may exceed what the offers hold by less than this (float rounding).
_EPSILON = 1e-9
_UUID_LENGTH = 16
_TERMINAL = m.TERMINAL_STATES
_decoder: msgspec.msgpack.Decoder[m.Message] = msgspec.msgpack.Decoder(m.Message)

_Handler = Callable[[Any, float], list[fx.Effect]]


class TaskEntry:
    """The mutable bookkeeping of one task; :meth:`Reducer.view` freezes it."""

    __slots__ = (
        "agent_id",
        "healthy",
        "message",
        "reason",
        "source",
        "state",
        "status_timestamp",
        "unreconciled",
        "updated_at",
        "uuid",
    )

    def __init__(
        self,
        state: m.TaskState,
        agent_id: str | None,
        reason: str | None,
        source: str | None,
        message: str | None,
        uuid: bytes | None,
        status_timestamp: float | None,
        updated_at: float,
    ) -> None:
        self.state = state
        self.agent_id = agent_id
        self.reason = reason
        self.source = source
        self.message = message
        self.uuid = uuid
        self.status_timestamp = status_timestamp
        self.updated_at = updated_at
        self.unreconciled = False
        self.healthy: bool | None = None


class _Agent:
    """What the offers told us about one agent."""

    __slots__ = ("active", "hostname")

    def __init__(self, hostname: str | None, active: bool) -> None:
        self.hostname = hostname
        self.active = active


class Reducer:
    """The framework's bookkeeping, stepped one message at a time.

    Parameters
    ----------
    config
        Reconciliation backoff and offer hold times; defaults if omitted.
    """

    def __init__(self, config: Config | None = None) -> None:
        self._config = config if config is not None else Config()
        if self._config.matching_strategy not in ("binpack", "spread"):
            raise MessageError(
                f"bad reducer config: matching_strategy {self._config.matching_strategy!r}"
            )
        self._framework_id: str | None = None
        self._registered = False
        self._suppressed = False
        self._error: str | None = None
        self._heartbeat_interval: float | None = None
        self._last_heartbeat_at: float | None = None
        self._agents: dict[str, _Agent] = {}
        # Outstanding offers, each with the loop time it was received at.
        self._offers: dict[str, tuple[m.Offer, float]] = {}
        self._tasks: dict[str, TaskEntry] = {}
        self._reconciliation = Reconciler(self._config)
        # Demand for the matcher, in arrival order, and what it knows.
        self._demand: list[m.TaskRequest] = []
        self._reasons: dict[str, str] = {}
        self._blacklist: list[str] = []
        self._groups: dict[str, str] = {}
        self._partitions = Partitions()
        self._backoffs = Backoffs(self._config)
        # The pod of each task launched as a pod's member.
        self._pods: dict[str, str] = {}
        try:
            self._inverse = InverseOffers(self._config)
        except ValueError as e:
            raise MessageError(f"bad reducer config: {e}") from None
        self._deployments = Deployments()
        self._volumes: dict[str, VolumeRecord] = {}
        self._reserved: dict[tuple[str, str, str], float] = {}
        # The request of each task with a volume, requested or live, under its
        # first task id: what it is placed again from when it ends.
        self._stateful: dict[str, m.TaskRequest] = {}
        # The volumes a Replace gives up: destroyed and unreserved when offered.
        self._releasing: set[str] = set()
        self._operations = OperationFeedback()
        # The request each live task the matcher placed was made from, for the store.
        self._requests: dict[str, m.TaskRequest] = {}
        self._handlers: dict[type[Any], _Handler] = {
            m.Update: self._update,
            m.Offers: self._offers_event,
            m.Rescind: self._rescind,
            m.Tick: self._tick,
            m.Heartbeat: self._heartbeat,
            m.Accept: self._accept,
            m.Decline: self._decline,
            m.Kill: self._kill,
            m.Replace: self._replace,
            m.Track: self._track,
            m.Request: self._request,
            m.Withdraw: self._withdraw,
            m.Blacklist: self._blacklist_event,
            m.Subscribed: self._subscribed,
            m.Reregistered: self._reregistered,
            m.FrameworkMessage: self._nothing,
            m.Failure: self._failure,
            m.Error: self._error_event,
            m.Disconnected: self._disconnected,
            m.ReconcileTick: self._reconcile_now,
            m.Reconcile: self._reconcile_now,
            m.ReconcileTimeout: self._reconcile_timeout,
            m.Suppress: self._suppress,
            m.Revive: self._revive,
            m.SendMessage: self._send_message,
            m.UpdateFramework: self._update_framework,
            m.InverseOffers: self._inverse_offers,
            m.RescindInverseOffer: self._rescind_inverse_offer,
            m.AcceptInverseOffers: self._answer_inverse_offers,
            m.DeclineInverseOffers: self._answer_inverse_offers,
            m.Deploy: self._deploy,
            m.CancelDeployment: self._cancel_deployment,
            m.OperationUpdate: self._operation_update,
            m.ResumeDeployment: self._resume_deployment,
            m.ResumeRelease: self._resume_release,
            m.CustomEnvelope: self._nothing,
        }

    # --- the interface ---------------------------------------------------------

    def step(self, message: m.Message | m.Custom, now: float) -> list[fx.Effect]:
        """Apply one decoded message at loop time ``now``.

        Returns
        -------
        list of Effect
            What the message asks the world to do, in order.

        Raises
        ------
        MessageError
            The message is malformed (see ``docs/reducer.md``); state unchanged.
        CommandRejected
            A well-formed command that cannot apply; state unchanged.
        """
        handler = self._handlers.get(type(message))
        if handler is None:
            if isinstance(message, m.Custom):
                # A user message given as itself rather than in its envelope:
                # it is for the user's hooks, exactly like a CustomEnvelope.
                return []
            raise MessageError(f"not a known message: {type(message).__name__}")
        return handler(message, now)

    def step_bytes(self, data: bytes, now: float) -> list[fx.Effect]:
        """Decode one msgpack message (:func:`ark.messages.encode`) and apply it.

        Raises
        ------
        MessageError
            The bytes are not a well-formed known message; state unchanged.
        CommandRejected
            As :meth:`step`.
        """
        try:
            message = _decoder.decode(data)
        except msgspec.DecodeError as e:  # ValidationError is a DecodeError
            raise MessageError(f"malformed message: {e}") from e
        return self.step(message, now)

    def requests(self, task_ids: list[str]) -> list[m.TaskRequest | None]:
        """For each id, the request its live task was placed from (a stateful
        task's first request), or None: what the store keeps beside a launch."""
        return [self._requests.get(t) for t in task_ids]

    def view(self) -> StateView:
        """The whole state as frozen values, every list sorted by id."""
        rec = self._reconciliation.view()
        return StateView(
            framework_id=self._framework_id,
            registered=self._registered,
            suppressed=self._suppressed,
            error=self._error,
            heartbeat_interval_seconds=self._heartbeat_interval,
            last_heartbeat_at=self._last_heartbeat_at,
            agents=[
                AgentRecord(agent_id, a.hostname, a.active)
                for agent_id, a in sorted(self._agents.items())
            ],
            offers=[
                OfferRecord(
                    offer_id,
                    o.agent_id,
                    o.hostname,
                    list(o.resources),
                    list(o.attributes),
                    received_at,
                )
                for offer_id, (o, received_at) in sorted(self._offers.items())
            ],
            tasks=[
                TaskRecord(
                    task_id,
                    t.state,
                    t.agent_id,
                    t.reason,
                    t.source,
                    t.message,
                    t.uuid,
                    t.status_timestamp,
                    t.updated_at,
                    t.unreconciled,
                    t.healthy,
                )
                for task_id, t in sorted(self._tasks.items())
            ],
            reconciliation=rec,
            demand=[
                RequestRecord(
                    r.task_id, self._reasons.get(r.task_id), self._backoffs.until(r.group)
                )
                for r in self._demand
            ],
            blacklist=list(self._blacklist),
            groups=sorted(self._groups.items()),
            unreachable=self._partitions.view(),
            backoffs=self._backoffs.view(),
            pods=sorted(self._pods.items()),
            inverse_offers=self._inverse.view(),
            deployments=self._deployments.view(self._tasks, self._groups, self._demand),
            volumes=[v for _, v in sorted(self._volumes.items())],
            reserved=[(*k, x) for k, x in sorted(self._reserved.items())],
            operations=self._operations.view(),
        )

    # --- Mesos events ------------------------------------------------------------

    def _subscribed(self, msg: m.Subscribed, now: float) -> list[fx.Effect]:
        return self._subscribe(msg.framework_id, msg.heartbeat_interval_seconds, now)

    def _reregistered(self, msg: m.Reregistered, now: float) -> list[fx.Effect]:
        if self._framework_id is None:
            raise MessageError("Reregistered before any framework id is known")
        return self._subscribe(self._framework_id, self._heartbeat_interval, now)

    def _subscribe(
        self, framework_id: str, heartbeat_interval: float | None, now: float
    ) -> list[fx.Effect]:
        self._framework_id = framework_id
        self._registered = True
        self._error = None
        # Spec reading: "the given value" is taken as is, so a Subscribed
        # without an interval clears a previously known one.
        self._heartbeat_interval = heartbeat_interval
        out: list[fx.Effect] = []
        if self._suppressed:
            # A new master does not remember that we suppressed offers.
            out.append(fx.Suppress())
        if self._reconciliation.explicit:
            self._reconciliation.abort()
        self._reconciliation.start(self._offers, self._tasks, now, out, self._suppressed)
        out += self._operations.reconcile()
        return out

    def _offers_event(self, msg: m.Offers, now: float) -> list[fx.Effect]:
        fresh: list[m.Offer] = []
        seen: set[str] = set()
        for offer in msg.offers:
            agent = self._agents.get(offer.agent_id)
            if agent is None:
                self._agents[offer.agent_id] = _Agent(offer.hostname, True)
            else:
                agent.hostname = offer.hostname
                agent.active = True
            for r in offer.resources:
                volume = volume_of(offer.agent_id, r)
                if volume is not None:
                    self._volumes[volume.persistence_id] = volume
            if offer.id in self._offers or offer.id in seen:
                continue
            seen.add(offer.id)
            fresh.append(offer)
        if self._reconciliation.explicit or not self._registered:
            # Offers are useless while reconciling (or void without a
            # subscription): hand them back at once with a short filter.
            declined: list[fx.Effect] = []
            if fresh:
                ids = sorted(o.id for o in fresh)
                declined.append(fx.Decline(ids, self._config.reconcile_decline_seconds))
                if self._reconciliation.explicit:
                    self._reconciliation.declined = True
            # The matcher does not run now, but it drops requests that became known.
            return declined + self._match(now)
        for offer in fresh:
            self._offers[offer.id] = (offer, now)
        releases: list[fx.Accept] = []
        if self._releasing or self._operations.stranded:
            releases = release(
                self._offers,
                self._releasing,
                self._operations,
                self._refuse_seconds(False),
            )
            for accept in releases:
                for offer_id in accept.offer_ids:
                    del self._offers[offer_id]
                self._track_sent(accept.agent_id, accept.operations)
        return [*releases, *self._match(now)]

    def _rescind(self, msg: m.Rescind, now: float) -> list[fx.Effect]:
        # An unknown id is normal: the rescind raced with our own decline.
        self._offers.pop(msg.offer_id, None)
        return []

    def _update(self, msg: m.Update, now: float) -> list[fx.Effect]:
        status = msg.status
        uuid = status.uuid
        out: list[fx.Effect] = []
        if uuid is not None:
            if len(uuid) != _UUID_LENGTH:
                raise MessageError(
                    f"update of task {status.task_id!r}: uuid has {len(uuid)} bytes, not 16"
                )
            if status.agent_id is None:
                raise MessageError(
                    f"update of task {status.task_id!r} has a uuid but no agent_id to "
                    "acknowledge it to"
                )
            # Always, whatever follows: the agent retries until acknowledged.
            out.append(fx.Acknowledge(status.agent_id, status.task_id, uuid))
        finish = self._reconciliation.answered(status.task_id)
        task = self._tasks.get(status.task_id)
        applied: tuple[m.TaskState, bool | None] | None = None
        if task is None:
            # Adopted: a task we never launched (or forgot), as Mesos reports it.
            self._tasks[status.task_id] = TaskEntry(
                status.state,
                status.agent_id,
                status.reason,
                status.source,
                status.message,
                uuid,
                status.timestamp if uuid is not None else None,
                now,
            )
            self._tasks[status.task_id].healthy = status.healthy
        elif task.state in _TERMINAL:
            if status.state not in _TERMINAL:
                # A zombie, e.g. TASK_LOST back after a partition: the first
                # terminal state stands and the task must not keep running.
                agent_id = status.agent_id if status.agent_id is not None else task.agent_id
                out.append(fx.Kill(status.task_id, agent_id))
        elif not (
            (uuid is not None and uuid == task.uuid)
            or (
                status.timestamp is not None
                and task.status_timestamp is not None
                and status.timestamp < task.status_timestamp
            )
        ):
            task.state = status.state
            task.reason = status.reason
            task.source = status.source
            task.message = status.message
            if status.agent_id is not None:
                task.agent_id = status.agent_id
            if uuid is not None:
                task.uuid = uuid
            # Only agent updates (with a uuid) date the change; see docs/reducer.md.
            if uuid is not None and status.timestamp is not None:
                task.status_timestamp = status.timestamp
            # No check result in this status: the last one stands.
            if status.healthy is not None:
                task.healthy = status.healthy
            task.updated_at = now
            task.unreconciled = False
            applied = (status.state, status.healthy)
            group = self._groups.get(status.task_id)
            if group is not None:
                self._backoffs.task_changed(group, status.state, now)
        # The group of a task a deployment follows, read before a terminal
        # state removes it from the groups.
        deployed = self._groups.get(status.task_id)
        if not self._deployments.follows(deployed):
            deployed = None
        if self._tasks[status.task_id].state in _TERMINAL:
            self._groups.pop(status.task_id, None)
            self._requests.pop(status.task_id, None)
        partitions = self._partitions
        if partitions.strategies:
            kills, withdrawn = partitions.updated(
                status.task_id, self._tasks, {r.task_id for r in self._demand}, now
            )
            out.extend(kills)
            if withdrawn is not None:
                out.extend(self._withdraw(m.Withdraw([withdrawn]), now))
        if deployed is not None:
            plan = self._deployments.updated(
                deployed,
                status.task_id,
                applied,
                self._tasks,
                self._groups,
                self._demand,
            )
            out.extend(self._carry_out(plan, now))
            out.extend(self._advance(deployed, now))
        if self._stateful:
            out.extend(self._volume_update(status.task_id, now))
        if finish:
            self._reconciliation.finish(now, out, self._suppressed)
        if self._inverse:
            # The task's agent may be empty now: drain it.
            agent = self._tasks[status.task_id].agent_id
            if agent is not None:
                out.extend(self._inverse.drain(self._tasks, agent, now))
        return out

    def _heartbeat(self, msg: m.Heartbeat, now: float) -> list[fx.Effect]:
        self._last_heartbeat_at = now
        return []

    def _nothing(self, msg: Any, now: float) -> list[fx.Effect]:
        return []

    def _failure(self, msg: m.Failure, now: float) -> list[fx.Effect]:
        if msg.executor_id is not None:
            return []
        # The agent is lost. Its tasks are left alone: Mesos reports them itself.
        agent = self._agents.get(msg.agent_id)
        if agent is not None:
            agent.active = False
        # The master rescinds the lost agent's offers; we forget them now.
        gone = [i for i, (o, _) in self._offers.items() if o.agent_id == msg.agent_id]
        for offer_id in gone:
            del self._offers[offer_id]
        return []

    def _error_event(self, msg: m.Error, now: float) -> list[fx.Effect]:
        self._error = msg.message
        return self._disconnected(m.Disconnected(), now)

    def _disconnected(self, msg: m.Disconnected, now: float) -> list[fx.Effect]:
        self._registered = False
        # Offers are void without a subscription, and no call can be sent.
        self._offers.clear()
        self._inverse.clear()
        if self._reconciliation.explicit:
            self._reconciliation.abort()
        return []

    # --- timers ------------------------------------------------------------------

    def _reconcile_now(self, msg: m.ReconcileTick | m.Reconcile, now: float) -> list[fx.Effect]:
        out: list[fx.Effect] = []
        if self._registered and not self._reconciliation.explicit:
            self._reconciliation.start(self._offers, self._tasks, now, out, self._suppressed)
            out += self._operations.reconcile()
        return out

    def _reconcile_timeout(self, msg: m.ReconcileTimeout, now: float) -> list[fx.Effect]:
        return self._reconciliation.timeout(msg.round, self._tasks, now, self._suppressed)

    def _tick(self, msg: m.Tick, now: float) -> list[fx.Effect]:
        hold = self._config.offer_hold_seconds
        expired = sorted(
            offer_id
            for offer_id, (_, received_at) in self._offers.items()
            if received_at + hold <= now
        )
        out: list[fx.Effect] = []
        if expired:
            for offer_id in expired:
                del self._offers[offer_id]
            idle = not self._demand and self._suppressed
            out.append(fx.Decline(expired, self._refuse_seconds(idle)))
        if self._partitions.unreachable:
            due = self._partitions.tick(self._tasks, {r.task_id for r in self._demand}, now)
            if due:
                # As a Request: new demand revives offers (docs/reducer.md, Partitions).
                if not self._demand:
                    self._suppressed = False
                    out.append(fx.Revive())
                self._demand.extend(due)
                self._retally_requests(due)
                out.extend(self._match(now))
        ended = self._backoffs.tick(now)
        if ended and any(r.group in ended for r in self._demand):
            # The offers declined while the group was held come back at once.
            self._suppressed = False
            out.append(fx.Revive())
        out.extend(self._inverse.drain(self._tasks, None, now))
        for group in self._deployments.active():
            out.extend(self._advance(group, now))
        return out

    def _refuse_seconds(self, idle: bool) -> float:
        # Nothing wanted: a long filter, which the Revive of new demand clears.
        c = self._config
        return c.offer_idle_refuse_seconds if idle else c.offer_refuse_seconds

    def _operation_update(self, msg: m.OperationUpdate, now: float) -> list[fx.Effect]:
        acks = self._operations.update(msg.status, self._volumes, self._reserved)
        return self._revive_to_give_back() + acks

    def _track_sent(self, agent_id: str, operations: list[m.Operation]) -> None:
        """Record what sent operations reserve and create, and those with an id."""
        self._operations.sent(agent_id, operations)
        track(self._volumes, self._reserved, agent_id, operations)

    # --- commands ------------------------------------------------------------------

    def _accept(self, msg: m.Accept, now: float) -> list[fx.Effect]:
        offer_ids = msg.offer_ids
        if not offer_ids:
            raise CommandRejected("Accept names no offer")
        if len(set(offer_ids)) != len(offer_ids):
            raise CommandRejected(f"Accept names an offer twice: {offer_ids}")
        offers: list[m.Offer] = []
        for offer_id in offer_ids:
            held = self._offers.get(offer_id)
            if held is None:
                raise CommandRejected(f"offer {offer_id!r} is not outstanding")
            offers.append(held[0])
        agent_id = offers[0].agent_id
        if any(o.agent_id != agent_id for o in offers):
            raise CommandRejected(f"offers {offer_ids} are not all of one agent")
        role = offers[0].role
        if any(o.role != role for o in offers):
            raise CommandRejected(f"offers {offer_ids} are not all allocated to one role")
        if not msg.launches and not msg.operations:
            raise CommandRejected("Accept launches no task and runs no operation")
        task_ids: set[str] = set()
        requested = {i for r in self._demand for i in claimed_ids(r)}
        for task_id in (i for launch in msg.launches for i in claimed_ids(launch)):
            if task_id in requested:
                raise CommandRejected(f"task {task_id!r} is requested from the matcher")
            if task_id in task_ids:
                raise CommandRejected(f"task {task_id!r} is launched twice")
            if task_id in self._tasks:
                raise CommandRejected(f"task {task_id!r} is already known")
            task_ids.add(task_id)
        for op in msg.operations:
            for r in op.resources if op.type == "CREATE" else []:
                known = self._volumes.get(r.persistence_id or "")
                if known is not None:
                    raise CommandRejected(f"volume {r.persistence_id!r} is on {known.agent_id}")
        check_fits(offers, msg.launches, tuple(msg.operations))

        for offer_id in offer_ids:
            del self._offers[offer_id]
        self._track_sent(agent_id, msg.operations)
        launched: list[fx.LaunchTask] = []
        for launch in msg.launches:
            self._record_launch(launch, agent_id, now)
            launched.append(
                fx.LaunchTask(
                    launch.task_id,
                    agent_id,
                    launch.name,
                    launch.resources,
                    launch.payload,
                    launch.named_ports,
                    launch.health_check,
                    launch.kill_policy,
                    launch.pod,
                )
            )
        return [
            fx.Accept(list(offer_ids), agent_id, launched, msg.refuse_seconds, role, msg.operations)
        ]

    def _decline(self, msg: m.Decline, now: float) -> list[fx.Effect]:
        offer_ids = msg.offer_ids
        if not offer_ids:
            raise CommandRejected("Decline names no offer")
        if len(set(offer_ids)) != len(offer_ids):
            raise CommandRejected(f"Decline names an offer twice: {offer_ids}")
        for offer_id in offer_ids:
            if offer_id not in self._offers:
                raise CommandRejected(f"offer {offer_id!r} is not outstanding")
        for offer_id in offer_ids:
            del self._offers[offer_id]
        return [fx.Decline(sorted(offer_ids), msg.refuse_seconds)]

    def _record_launch(self, launch: m.Launch, agent_id: str, now: float) -> list[str]:
        """Record a launch's tasks (a pod's members) as staging; their ids."""
        ids = [t.task_id for t in launch.pod] if launch.pod else [launch.task_id]
        for task_id in ids:
            self._tasks[task_id] = TaskEntry(
                "TASK_STAGING", agent_id, None, None, None, None, None, now
            )
            if launch.pod:
                self._pods[task_id] = launch.task_id
        return ids

    def _kill(self, msg: m.Kill, now: float) -> list[fx.Effect]:
        task = self._tasks.get(msg.task_id)
        if task is None:
            states = {k: (t.agent_id, t.state) for k, t in self._tasks.items()}
            kills = kill_members(msg.task_id, self._pods, states)
            if kills is not None:
                return kills
            raise CommandRejected(f"cannot kill unknown task {msg.task_id!r}")
        if task.state in _TERMINAL:
            return []
        # The record changes when the update comes, not now.
        return [fx.Kill(msg.task_id, task.agent_id)]

    # --- demand and the matcher (docs/reducer.md, docs/matching.md) --------------

    def _request(self, msg: m.Request, now: float) -> list[fx.Effect]:
        for t in msg.tasks:
            # Malformed, as a bad strategy name is when decoded: before any rejection.
            check_strategy(t)
            check_volume(t)
        ids: set[str] = set()
        for task_id in (i for t in msg.tasks for i in claimed_ids(t)):
            if task_id in ids:
                raise CommandRejected(f"task {task_id!r} appears twice in one Request")
            if task_id in self._tasks:
                raise CommandRejected(f"task {task_id!r} is already known")
            ids.add(task_id)
        if any(i in ids for r in self._demand for i in claimed_ids(r)):
            raise CommandRejected("a requested task id is already requested")
        if not msg.tasks:
            return []
        out: list[fx.Effect] = []
        if not self._demand:
            self._suppressed = False
            out.append(fx.Revive())
        self._demand.extend(msg.tasks)
        self._retally_requests(msg.tasks)
        return out + self._match(now)

    def _withdraw(self, msg: m.Withdraw, now: float) -> list[fx.Effect]:
        if not self._demand:
            return []
        gone = set(msg.task_ids)
        self._demand = [r for r in self._demand if r.task_id not in gone]
        for task_id in gone:
            self._reasons.pop(task_id, None)
            self._stateful.pop(task_id, None)
            self._deployments.retally(task_id, None, self._tasks, self._groups)
        if not self._wants_offers() and not self._suppressed:
            self._suppressed = True
            return [fx.Suppress()]
        return []

    def _blacklist_event(self, msg: m.Blacklist, now: float) -> list[fx.Effect]:
        self._blacklist = sorted(set(msg.agent_ids))
        return self._match(now)

    def _held_volumes(self, counting: set[str]) -> list[Existing]:
        # A replica whose task is down keeps its place by its volume, as
        # Marathon counts reserved resident tasks toward constraints; a
        # volume a live task runs on is counted by that task already.
        out = []
        seen: set[str] = set()
        tracked = [(t, r) for t, r in sorted(self._stateful.items())]
        for task_id, r in [*tracked, *((None, r) for r in self._demand)]:
            if r.volume is None or r.volume.persistence_id not in self._volumes:
                continue
            pid = r.volume.persistence_id
            if r.group not in counting or pid in seen:
                continue
            seen.add(pid)
            live = (
                task_id is not None
                and task_id in self._groups
                and task_id in self._tasks
                and self._tasks[task_id].agent_id is not None
            )
            if not live:
                out.append(Existing(r.group, self._volumes[pid].agent_id, pid))
        return out

    def _match(self, now: float) -> list[fx.Effect]:
        # A request whose id became known meanwhile (a Track) is not launched again.
        known = {r.task_id for r in self._demand if any(i in self._tasks for i in claimed_ids(r))}
        if known:
            self._demand = [r for r in self._demand if r.task_id not in known]
            for task_id in known:
                self._deployments.retally(task_id, None, self._tasks, self._groups)
        if (
            not self._demand
            or not self._offers
            or not self._registered
            or self._reconciliation.explicit
        ):
            return []
        held = {
            r.task_id: BACKOFF_REASON for r in self._demand if self._backoffs.holds(r.group, now)
        }
        offers = [self._offers[k][0] for k in sorted(self._offers)]
        if self._stateful or self._volumes:
            held.update(waiting(self._demand, self._volumes, self._releasing, offers))
        offered = {o.agent_id for o in offers}
        requests = [view(r, self._volumes) for r in self._demand if r.task_id not in held]
        # Only the groups a request counts need their tasks' agents.
        counting = {r.group for r in requests if any(c.operator in COUNTING for c in r.constraints)}
        existing = []
        counted_pods: set[str] = set()
        for task_id, group in sorted(self._groups.items()) if counting else ():
            if group not in counting:
                continue
            agent_id = self._tasks[task_id].agent_id
            if agent_id is None:
                continue
            # A pod counts once, however many of its members live.
            pod = self._pods.get(task_id)
            if pod is not None:
                if pod in counted_pods:
                    continue
                counted_pods.add(pod)
            existing.append(Existing(group, agent_id))
        if counting and self._volumes:
            existing.extend(self._held_volumes(counting))
        agents = [
            AgentInfo(agent_id, a.hostname)
            for agent_id, a in self._agents.items()
            if agent_id not in offered and a.hostname is not None
        ]
        # A request asks for plain resources: what is reserved, or a volume,
        # is the framework's to use by operations and its own launches.
        plain = [
            msgspec.structs.replace(
                o,
                resources=[
                    r for r in o.resources if not r.reservations and r.persistence_id is None
                ],
            )
            for o in offers
        ]
        decisions = reference_match(
            plain,
            requests,
            self._config.matching_strategy,
            # Under the drain policy, agents under maintenance are kept out.
            blacklist=self._blacklist + self._inverse.draining_agents(offers, now),
            existing=existing,
            agents=agents,
        )
        out: list[fx.Effect] = []
        placed = {launch.task_id for p in decisions.accepts for launch in p.launches}
        # Every request placed: the framework wants nothing more for now.
        refuse = self._refuse_seconds(not decisions.pending and not held)
        request_of = {r.task_id: r for r in self._demand}
        accepts: list[fx.Accept] = []
        for p in decisions.accepts:
            launches = []
            operations: list[m.Operation] = []
            for launch in p.launches:
                request = request_of[launch.task_id]
                for task_id in self._record_launch(launch, p.agent_id, now):
                    self._groups[task_id] = request.group
                    self._deployments.retally(task_id, None, self._tasks, self._groups)
                self._partitions.placed(request)
                resources = launch.resources
                volume = request.volume
                if volume is not None:
                    shown = [self._offers[o][0] for o in p.offer_ids]
                    resources, ops = plan(launch.task_id, volume, resources, self._volumes, shown)
                    operations.extend(ops)
                launches.append(
                    fx.LaunchTask(
                        launch.task_id,
                        p.agent_id,
                        launch.name,
                        resources,
                        launch.payload,
                        launch.named_ports,
                        launch.health_check,
                        launch.kill_policy,
                        launch.pod,
                    )
                )
            accepts.append(fx.Accept(p.offer_ids, p.agent_id, launches, refuse, p.role, operations))
        for accept in accepts:
            for offer_id in accept.offer_ids:
                del self._offers[offer_id]
            self._track_sent(accept.agent_id, accept.operations)
            for t in accept.launches:
                request = request_of[t.task_id]
                if request.volume is not None:
                    self._stateful.setdefault(t.task_id, request)
                self._requests.update(kept(request, self._stateful))
            out.append(accept)
        for offer_id in decisions.declines:
            del self._offers[offer_id]
        if decisions.declines:
            out.append(fx.Decline(decisions.declines, refuse))
        self._demand = [r for r in self._demand if r.task_id not in placed]
        for task_id in placed:
            self._deployments.retally(task_id, None, self._tasks, self._groups)
        self._reasons = {p.task_id: p.reason for p in decisions.pending}
        self._reasons.update(held)
        if not self._wants_offers() and not self._suppressed:
            self._suppressed = True
            out.append(fx.Suppress())
        return out

    def _wants_offers(self) -> bool:
        """To place demand, or to give back a volume or a reservation, which
        happens only when its agent is offered (a real master offers a
        suppressed framework nothing)."""
        return bool(self._demand or self._releasing or self._operations.stranded)

    def _revive_to_give_back(self) -> list[fx.Effect]:
        if self._suppressed and self._wants_offers():
            self._suppressed = False
            return [fx.Revive()]
        return []

    def _replace(self, msg: m.Replace, now: float) -> list[fx.Effect]:
        request = self._stateful.get(msg.task_id)
        if request is None or request.volume is None:
            raise CommandRejected(f"task {msg.task_id!r} has no volume to give up")
        if request.volume.persistence_id in self._volumes:
            self._releasing.add(request.volume.persistence_id)
        out = self._revive_to_give_back()
        task = self._tasks.get(msg.task_id)
        if task is not None and task.state not in _TERMINAL:
            out.append(fx.Kill(msg.task_id, task.agent_id))
        return out

    def _volume_update(self, task_id: str, now: float) -> list[fx.Effect]:
        # A task with a volume that ended without finishing is requested
        # again (docs/reducer.md, Stateful services).
        task = self._tasks.get(task_id)
        if task is None or task.state not in _TERMINAL:
            return []
        request = self._stateful.pop(task_id, None)
        if request is None or task.state == "TASK_FINISHED":
            return []
        forget_agent(task.state, task.agent_id, self._volumes, self._reserved)
        taken = {*self._tasks, *self._stateful, *(r.task_id for r in self._demand)}
        new_id = next_id(request.task_id, taken)
        out: list[fx.Effect] = []
        if not self._demand:
            self._suppressed = False
            out.append(fx.Revive())
        self._demand.append(msgspec.structs.replace(request, task_id=new_id))
        self._retally_requests(self._demand[-1:])
        self._stateful[new_id] = request
        return out + self._match(now)

    def _track(self, msg: m.Track, now: float) -> list[fx.Effect]:
        check_track(msg)
        if msg.task_id not in self._tasks:
            self._tasks[msg.task_id] = TaskEntry(
                "TASK_STAGING", msg.agent_id, None, None, None, None, None, now
            )
            restore(
                msg,
                groups=self._groups,
                pods=self._pods,
                strategies=self._partitions.strategies,
                stateful=self._stateful,
                volumes=self._volumes,
                requests=self._requests,
            )
        return []

    def _suppress(self, msg: m.Suppress, now: float) -> list[fx.Effect]:
        if self._suppressed:
            return []
        self._suppressed = True
        return [fx.Suppress()]

    def _revive(self, msg: m.Revive, now: float) -> list[fx.Effect]:
        # Always sent: it also clears the refuse filters (docs/reducer.md).
        self._suppressed = False
        return [fx.Revive()]

    def _update_framework(self, msg: m.UpdateFramework, now: float) -> list[fx.Effect]:
        return [update_framework(msg, self._suppressed)]

    # --- maintenance (docs/reducer.md, Maintenance) ------------------------------

    def _inverse_offers(self, msg: m.InverseOffers, now: float) -> list[fx.Effect]:
        return self._inverse.received(msg, self._tasks, now)

    def _rescind_inverse_offer(self, msg: m.RescindInverseOffer, now: float) -> list[fx.Effect]:
        self._inverse.rescinded(msg.inverse_offer_id)
        return []

    def _answer_inverse_offers(
        self, msg: m.AcceptInverseOffers | m.DeclineInverseOffers, now: float
    ) -> list[fx.Effect]:
        return self._inverse.answer(msg)

    # --- deployments (docs/reducer.md, Deployments) -------------------------------

    def _deploy(self, msg: m.Deploy, now: float) -> list[fx.Effect]:
        check_strategy(msg.template)
        if msg.template.pod:
            # Its copies would need their members renamed: not built.
            raise MessageError(
                f"task {msg.template.task_id!r}: a deployment's template is not a pod"
            )
        check_deploy(msg)
        self._deployments.deploy(msg)
        return self._advance(msg.group, now)

    def _resume_deployment(self, msg: m.ResumeDeployment, now: float) -> list[fx.Effect]:
        resume_deployment(self._deployments, msg)
        return []

    def _resume_release(self, msg: m.ResumeRelease, now: float) -> list[fx.Effect]:
        resume_release(msg, self._volumes, self._releasing)
        # Its task may still run: the old leader's Kill may never have gone out.
        out: list[fx.Effect] = []
        for task_id in sorted(self._stateful):
            volume = self._stateful[task_id].volume
            task = self._tasks.get(task_id)
            on_it = volume is not None and volume.persistence_id == msg.persistence_id
            if on_it and task is not None and task.state not in _TERMINAL:
                out.append(fx.Kill(task_id, task.agent_id))
        return out + self._revive_to_give_back()

    def _cancel_deployment(self, msg: m.CancelDeployment, now: float) -> list[fx.Effect]:
        plan = self._deployments.cancel(msg.group, self._tasks, self._groups, self._demand)
        return self._carry_out(plan, now) + self._advance(msg.group, now)

    def _advance(self, group: str, now: float) -> list[fx.Effect]:
        # Until reconciliation has said which tasks run, a task not yet
        # reported (a new leader's tracked ones) would look not ready.
        if not self._registered or self._reconciliation.explicit:
            return []
        return self._carry_out(
            self._deployments.advance(group, self._tasks, self._groups, self._demand), now
        )

    def _carry_out(self, plan: Plan, now: float) -> list[fx.Effect]:
        """Withdraw, kill, then request, as a deployment's step asks."""
        out: list[fx.Effect] = []
        if plan.withdraw:
            out.extend(self._withdraw(m.Withdraw(plan.withdraw), now))
        out.extend(fx.Kill(task_id, agent_id) for task_id, agent_id in plan.kills)
        if plan.launches:
            if not self._demand:
                self._suppressed = False
                out.append(fx.Revive())
            self._demand.extend(plan.launches)
            self._retally_requests(plan.launches)
            out.extend(self._match(now))
        return out

    def _retally_requests(self, requests: Sequence[m.TaskRequest]) -> None:
        if self._deployments:
            for r in requests:
                self._deployments.retally(r.task_id, r.group, self._tasks, self._groups)

    def _send_message(self, msg: m.SendMessage, now: float) -> list[fx.Effect]:
        return [fx.Message(msg.agent_id, msg.executor_id, msg.data)]
