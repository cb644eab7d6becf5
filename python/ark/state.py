"""The framework's bookkeeping as plain, comparable values.

:class:`StateView` is what both the Rust core and :mod:`ark.reference` produce
for the same messages, field for field: the oracle tests compare them. Every
list is sorted by its id so that two equal states are equal views.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from ark.messages import Attribute, Resource, TaskState, Unavailability

__all__ = [
    "AgentRecord",
    "BackoffRecord",
    "Config",
    "InverseOfferRecord",
    "OfferRecord",
    "Reconciliation",
    "RequestRecord",
    "StateView",
    "TaskRecord",
    "UnreachableRecord",
]


class Config(msgspec.Struct, frozen=True, kw_only=True):
    """Tuning of the reducer.

    Reconciliation round ``n`` (from 1) waits
    ``min(reconcile_cap_seconds, reconcile_base_seconds * reconcile_factor ** (n - 1))``
    before re-sending to the tasks still unanswered; after
    ``reconcile_max_rounds`` rounds the rest are reported as unreconciled.
    """

    reconcile_base_seconds: float = 2.0
    reconcile_factor: float = 2.0
    reconcile_cap_seconds: float = 60.0
    reconcile_max_rounds: int = 6
    #: Refuse filter on offers declined while reconciling: short, so they come back soon.
    reconcile_decline_seconds: float = 5.0
    #: How long an offer may stay unused before a ``Tick`` declines it.
    offer_hold_seconds: float = 5.0
    #: Refuse filter on offers declined by a ``Tick``, and by the matcher.
    offer_refuse_seconds: float = 5.0
    #: The same when nothing is wanted: the matcher's cycle left no demand,
    #: or a ``Tick`` while suppressed with no demand. New demand revives,
    #: which clears the filter.
    offer_idle_refuse_seconds: float = 300.0
    #: How the matcher places requests: ``binpack`` (few agents) or ``spread``.
    matching_strategy: Literal["binpack", "spread"] = "binpack"
    #: Launch backoff of a request group whose task failed (Marathon's
    #: ``backoffSeconds``): the first delay before the group launches again...
    backoff_seconds: float = 1.0
    #: ...multiplied by this at each further failure (``backoffFactor``)...
    backoff_factor: float = 1.15
    #: ...up to this (``maxLaunchDelaySeconds``)...
    backoff_max_seconds: float = 300.0
    #: ...and forgotten once a task of the group has run this long.
    backoff_reset_seconds: float = 60.0
    #: Inverse offers (maintenance): ``ignore`` leaves them to your hooks, as
    #: Mesos does; ``drain`` kills an agent's tasks ``maintenance_margin_seconds``
    #: before its window, places none there during it, and accepts the
    #: inverse offer once the agent is empty (docs/reducer.md, Maintenance).
    maintenance: Literal["ignore", "drain"] = "ignore"
    maintenance_margin_seconds: float = 60.0


class TaskRecord(msgspec.Struct, frozen=True, array_like=True):
    """One task as the core knows it: its last Mesos state and where it runs.

    Read from a snapshot (``scheduler.snapshot().task(task_id)``,
    ``.tasks_by_state()``, ``.records("tasks")``); immutable, a copy of the core's
    record at the snapshot's moment. ``reason``, ``source`` and ``message`` are
    those of the last status applied (Mesos's enum names, e.g.
    ``REASON_COMMAND_EXECUTOR_FAILED``, ``SOURCE_EXECUTOR``).
    """

    task_id: str
    state: TaskState
    agent_id: str | None
    reason: str | None
    source: str | None
    message: str | None
    #: uuid of the last agent update applied (master updates carry none).
    uuid: bytes | None
    #: The last applied status's own timestamp.
    status_timestamp: float | None
    #: When the record last changed (the loop's clock).
    updated_at: float
    #: Reported by reconciliation as never answering; cleared by the next update.
    unreconciled: bool
    #: The last health check result Mesos reported (None: no result yet, or
    #: no check); a status without one leaves it as it was.
    healthy: bool | None = None


class AgentRecord(msgspec.Struct, frozen=True, array_like=True):
    agent_id: str
    hostname: str | None
    active: bool


class OfferRecord(msgspec.Struct, frozen=True, array_like=True):
    offer_id: str
    agent_id: str
    hostname: str
    resources: list[Resource]
    attributes: list[Attribute]
    received_at: float


class Reconciliation(msgspec.Struct, frozen=True, array_like=True):
    phase: Literal["idle", "explicit"]
    #: Current explicit round (from 1); 0 when idle.
    round: int
    #: Tasks not yet answered in the current explicit round, sorted.
    pending: list[str]
    started_at: float | None
    #: Reconciliations that ran to the end (implicit reconciliation sent).
    completed: int
    last_completed_at: float | None


class RequestRecord(msgspec.Struct, frozen=True, array_like=True):
    """A task request not yet placed, and why (``None`` before any matching cycle)."""

    task_id: str
    reason: str | None
    #: When its group's launch backoff ends (the loop's clock), if one is set.
    delayed_until: float | None = None


class BackoffRecord(msgspec.Struct, frozen=True, array_like=True):
    """The launch backoff of one request group (see docs/reducer.md, Launch backoff)."""

    group: str
    #: The current delay, seconds: it grows at each failure of the group.
    delay: float
    #: When the group may launch again; ``None`` once a ``Tick`` saw the delay end.
    until: float | None
    #: Since when a task of the group has run with no failure since.
    stable_since: float | None


class UnreachableRecord(msgspec.Struct, frozen=True, array_like=True):
    """A task with an unreachable strategy whose agent is unreachable (docs/reducer.md, Partitions).

    ``replacement`` is the id of the copy requested in its place once it had
    been unreachable ``inactive_after_seconds``; ``expunged`` once it was
    given up (``expunge_after_seconds``): if it comes back, it is killed.
    """

    task_id: str
    #: When its TASK_UNREACHABLE came (the loop's clock).
    since: float
    replacement: str | None
    expunged: bool


class InverseOfferRecord(msgspec.Struct, frozen=True, array_like=True):
    """An outstanding inverse offer: Mesos wants the agent back for maintenance."""

    inverse_offer_id: str
    agent_id: str
    unavailability: Unavailability
    #: When it came (the loop's clock).
    received_at: float
    #: The drain policy has killed the agent's tasks for it.
    draining: bool


class StateView(msgspec.Struct, frozen=True, array_like=True):
    """The whole of the core's bookkeeping at one moment, as plain Python values.

    ``scheduler.snapshot().view()`` decodes it (O(tasks): for a quick look,
    the snapshot's own accessors read single values straight from Rust).
    ``registered`` is true from a ``Subscribed`` (or ``Reregistered``) to a
    ``Disconnected`` or ``Error``;
    ``suppressed`` while offers are suppressed; ``error`` is the last
    ``Error`` event's message; ``agents``, ``offers`` and ``tasks`` are sorted by id.
    """

    framework_id: str | None
    registered: bool
    suppressed: bool
    error: str | None
    heartbeat_interval_seconds: float | None
    last_heartbeat_at: float | None
    agents: list[AgentRecord]
    offers: list[OfferRecord]
    tasks: list[TaskRecord]
    reconciliation: Reconciliation
    #: Requests not yet placed, in arrival order.
    demand: list[RequestRecord] = []
    #: Agents the matcher does not use, sorted.
    blacklist: list[str] = []
    #: ``(task_id, group)`` of each live task the matcher placed, sorted.
    groups: list[tuple[str, str]] = []
    #: Unreachable tasks with an unreachable strategy, sorted by id.
    unreachable: list[UnreachableRecord] = []
    #: Launch backoffs of groups whose tasks failed, sorted by group.
    backoffs: list[BackoffRecord] = []
    #: The pod of each task launched as a pod's member, as (task id, pod id).
    pods: list[tuple[str, str]] = []
    #: Outstanding inverse offers (agents under maintenance), sorted by id.
    inverse_offers: list[InverseOfferRecord] = []
