"""Every message the scheduler loop accepts, as msgspec tagged unions.

Three families share the one inbox and are processed one at a time, in arrival
order:

* Mesos scheduler events (``Subscribed`` ... ``Disconnected``), already lifted
  out of the v1 wire shapes by a driver: ids are plain strings.
* Ark's own messages: timer ticks and commands (``Accept``, ``Kill`` ...), which
  user hooks and streams issue to change the framework's bookkeeping.
* User-defined messages: subclasses of :class:`Custom`.

Messages cross into the Rust core as msgpack bytes (:func:`encode`). They are
``array_like``: a struct travels as the array of its fields in declaration
order, a tagged one with its tag first (``["Rescind", "offer-1"]``). No field
names to match makes decoding several times faster on both sides (msgspec's
own advice for hot internal protocols); the Rust structs declare the same
fields in the same order.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeAlias

import msgspec

__all__ = [
    "TERMINAL_OPERATION_STATES",
    "TERMINAL_STATES",
    "Accept",
    "AcceptInverseOffers",
    "Attribute",
    "Blacklist",
    "CancelDeployment",
    "Constraint",
    "Custom",
    "CustomEnvelope",
    "Decline",
    "DeclineInverseOffers",
    "Deploy",
    "Disconnected",
    "Error",
    "Failure",
    "FrameworkMessage",
    "HealthCheck",
    "Heartbeat",
    "InverseOffer",
    "InverseOffers",
    "Kill",
    "KillPolicy",
    "Launch",
    "Message",
    "Offer",
    "Offers",
    "Operation",
    "OperationState",
    "OperationStatus",
    "OperationUpdate",
    "PodTask",
    "Reconcile",
    "ReconcileTick",
    "ReconcileTimeout",
    "Replace",
    "Request",
    "Reregistered",
    "Rescind",
    "RescindInverseOffer",
    "Reservation",
    "Resource",
    "ResumeDeployment",
    "ResumeRelease",
    "Revive",
    "SendMessage",
    "Subscribed",
    "Suppress",
    "TaskRequest",
    "TaskState",
    "TaskStatus",
    "Tick",
    "Track",
    "Unavailability",
    "UnreachableStrategy",
    "Update",
    "UpdateFramework",
    "Volume",
    "Withdraw",
    "decode",
    "encode",
]

TaskState: TypeAlias = Literal[
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_ERROR",
    "TASK_LOST",
    "TASK_DROPPED",
    "TASK_UNREACHABLE",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
    "TASK_UNKNOWN",
]

#: States after which Mesos never reports the task again (Mesos ``mesos.proto``).
#: TASK_UNREACHABLE and TASK_UNKNOWN are not terminal: the task may still run.
TERMINAL_STATES: frozenset[str] = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_ERROR",
        "TASK_LOST",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)


class Reservation(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """One level of a resource's reservation (Mesos ``Resource.ReservationInfo``).

    ``DYNAMIC`` reservations are made by RESERVE operations (and undone by
    UNRESERVE); ``STATIC`` ones by the agent's ``--resources`` flag.
    ``labels`` are ``(key, value)`` pairs, ``value`` empty when Mesos has none.
    """

    role: str
    principal: str | None = None
    labels: list[tuple[str, str]] = []
    type: Literal["STATIC", "DYNAMIC"] = "DYNAMIC"


class Resource(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, gc=False):
    """A Mesos resource: one of ``scalar``, ``ranges`` (inclusive) or ``set``.

    ``role`` is the role the resource is reserved for (its last reservation's)
    or allocated to. ``reservations`` is its reservation stack, empty when it
    is unreserved; a persistent volume is a reserved ``disk`` with a
    ``persistence_id`` (``disk.persistence.id``) mounted at ``container_path``
    (``disk.volume.container_path``, read-write).
    """

    name: str
    scalar: float | None = None
    ranges: list[tuple[int, int]] | None = None
    set: list[str] | None = None
    role: str = "*"
    reservations: list[Reservation] = []
    persistence_id: str | None = None
    container_path: str | None = None


class Attribute(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, gc=False):
    """An agent attribute: one of ``text``, ``scalar``, ``ranges`` or ``set``."""

    name: str
    text: str | None = None
    scalar: float | None = None
    ranges: list[tuple[int, int]] | None = None
    set: list[str] | None = None


class Unavailability(
    msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, gc=False
):
    """When an agent's machine is scheduled down (Mesos's ``Unavailability``).

    ``start`` in seconds since the epoch (the loop's clock, ``time.time()``);
    ``duration`` in seconds, ``None`` for a machine that does not come back.
    """

    start: float
    duration: float | None = None

    def covers(self, now: float, margin: float = 0.0) -> bool:
        """Whether the window has begun by ``now + margin`` and not ended by ``now``."""
        if self.start > now + margin:
            return False
        return self.duration is None or now < self.start + self.duration


class Offer(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, gc=False):
    """An offer of one agent's resources.

    ``role`` is the role the resources are allocated to (Mesos's
    ``Offer.allocation_info.role``): with MULTI_ROLE, one of the framework's
    roles; ``None`` from a master that does not say. ``unavailability`` is set
    when the agent's machine is scheduled for maintenance.
    """

    id: str
    agent_id: str
    hostname: str
    resources: list[Resource] = []
    attributes: list[Attribute] = []
    role: str | None = None
    unavailability: Unavailability | None = None


class InverseOffer(
    msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, gc=False
):
    """Mesos asks for an agent back: its machine goes down for ``unavailability``."""

    id: str
    agent_id: str
    unavailability: Unavailability


class TaskStatus(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A task status as Mesos sends it in an UPDATE event.

    ``uuid`` is set on updates that come from an agent and must be
    acknowledged; updates generated by the master (reconciliation answers,
    invalid offers) carry none. ``timestamp`` is the status's own time, in
    seconds since the epoch.
    """

    task_id: str
    state: TaskState
    agent_id: str | None = None
    executor_id: str | None = None
    reason: str | None = None
    source: Literal["SOURCE_MASTER", "SOURCE_AGENT", "SOURCE_EXECUTOR"] | None = None
    message: str | None = None
    uuid: bytes | None = None
    timestamp: float | None = None
    healthy: bool | None = None


OperationState: TypeAlias = Literal[
    "OPERATION_UNSUPPORTED",
    "OPERATION_PENDING",
    "OPERATION_FINISHED",
    "OPERATION_FAILED",
    "OPERATION_ERROR",
    "OPERATION_DROPPED",
    "OPERATION_UNREACHABLE",
    "OPERATION_GONE_BY_OPERATOR",
    "OPERATION_RECOVERING",
    "OPERATION_UNKNOWN",
]

#: Operation states after which Mesos never reports the operation again
#: (``mesos.proto``); OPERATION_FINISHED is the one success among them.
TERMINAL_OPERATION_STATES: frozenset[str] = frozenset(
    {
        "OPERATION_FINISHED",
        "OPERATION_FAILED",
        "OPERATION_ERROR",
        "OPERATION_DROPPED",
        "OPERATION_GONE_BY_OPERATOR",
    }
)


class OperationStatus(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """An offer operation's status, as Mesos sends it in UPDATE_OPERATION_STATUS.

    Only operations with an ``id`` get one. ``uuid`` is set on the updates an
    agent (or resource provider) sends and re-sends until acknowledged; the
    master's own (a dropped operation's OPERATION_ERROR, reconciliation
    answers) carry none. ``agent_id`` and ``resource_provider_id`` say where
    the operation ran: an acknowledgement names them.
    """

    operation_id: str
    state: OperationState
    message: str | None = None
    agent_id: str | None = None
    resource_provider_id: str | None = None
    uuid: bytes | None = None


# --- Mesos scheduler events -------------------------------------------------


class Subscribed(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    framework_id: str
    heartbeat_interval_seconds: float | None = None
    master_id: str | None = None


class Reregistered(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """pymesos's ``reregistered`` callback: same framework id, new master."""

    master_id: str | None = None


class Offers(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    offers: list[Offer]


class Rescind(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    offer_id: str


class InverseOffers(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """The INVERSE_OFFERS event: agents under maintenance that hold the framework's resources."""

    inverse_offers: list[InverseOffer]


class RescindInverseOffer(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """An inverse offer is void (the schedule changed, or the agent went)."""

    inverse_offer_id: str


class Update(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    status: TaskStatus


class OperationUpdate(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """The UPDATE_OPERATION_STATUS event: an operation with an id changed state."""

    status: OperationStatus


class FrameworkMessage(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """Data an executor sent to the scheduler (the v1 MESSAGE event)."""

    agent_id: str
    executor_id: str
    data: bytes


class Failure(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    """An agent lost (no ``executor_id``) or an executor that exited."""

    agent_id: str
    executor_id: str | None = None
    status: int | None = None


class Error(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    """The master removed the framework or refused it; it is no longer subscribed."""

    message: str


class Heartbeat(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    pass


class Disconnected(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """The subscription stream ended: every outstanding offer is void."""

    pass


# --- Ark's timers -------------------------------------------------------------


class ReconcileTick(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """Start a reconciliation unless one is running (sent by ``reconcile_stream``)."""

    pass


class ReconcileTimeout(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """A reconciliation round's timer fired; stale rounds are ignored."""

    round: int


class Tick(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Periodic clock: declines offers held longer than ``offer_hold_seconds``."""

    pass


# --- Commands -------------------------------------------------------------------


class HealthCheck(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A Mesos health check (``mesos.v1.HealthCheck``), run by the task's executor.

    ``COMMAND`` runs the shell ``command`` (exit 0 is healthy); ``HTTP`` gets
    ``scheme://127.0.0.1:port/path`` (2xx and 3xx are healthy); ``TCP``
    connects to ``127.0.0.1:port``. The first check runs ``delay_seconds``
    after the task starts, then one every ``interval_seconds``; a check that
    takes over ``timeout_seconds`` fails (0: no timeout). Failures before the
    first success within ``grace_period_seconds`` of the start are ignored;
    after ``consecutive_failures`` failures in a row the executor kills the
    task. The defaults are Mesos's. ``port`` is a plain number (not a name).
    """

    type: Literal["COMMAND", "HTTP", "TCP"]
    command: str | None = None
    port: int | None = None
    path: str | None = None
    scheme: Literal["http", "https"] | None = None
    delay_seconds: float = 15.0
    interval_seconds: float = 10.0
    timeout_seconds: float = 20.0
    consecutive_failures: int = 3
    grace_period_seconds: float = 10.0

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem is not None:
            raise ValueError(problem)

    def problem(self) -> str | None:
        """Why Mesos would refuse this check (``checks::validation::healthCheck``), or None."""
        if self.type == "COMMAND":
            if not self.command:
                return "a COMMAND health check needs a command"
            if self.port is not None or self.path is not None or self.scheme is not None:
                return "a COMMAND health check takes no port, path or scheme"
        else:
            if self.command is not None:
                return f"the {self.type} health check takes no command"
            if self.port is None or not 0 < self.port < 65536:
                return f"the {self.type} health check needs a port from 1 to 65535"
            if self.type == "TCP" and (self.path is not None or self.scheme is not None):
                return "a TCP health check takes no path or scheme"
            if self.path is not None and not self.path.startswith("/"):
                return f"the path {self.path!r} of an HTTP health check must start with '/'"
        for name in ("delay_seconds", "interval_seconds", "timeout_seconds"):
            value = getattr(self, name)
            if not 0 <= value < _MAX_SECONDS:
                return f"health check {name} must be from 0 to {_MAX_SECONDS:.0f}, not {value}"
        if not self.interval_seconds > 0:
            return "health check interval_seconds must be over 0"
        if not 0 <= self.grace_period_seconds < _MAX_SECONDS:
            return f"health check grace_period_seconds must be from 0 to {_MAX_SECONDS:.0f}"
        if not 1 <= self.consecutive_failures <= 0xFFFF_FFFF:
            return "health check consecutive_failures must be at least 1"
        return None


class KillPolicy(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """How long a killed task has between SIGTERM and SIGKILL (``mesos.v1.KillPolicy``).

    Without one, Mesos's command executor waits 3 seconds.
    """

    grace_period_seconds: float

    def __post_init__(self) -> None:
        if not 0 <= self.grace_period_seconds < _MAX_SECONDS:
            raise ValueError(
                f"kill policy grace_period_seconds must be from 0 to {_MAX_SECONDS:.0f}, "
                f"not {self.grace_period_seconds}"
            )


#: Longest duration a check or kill policy may name: a week, well inside
#: ``DurationInfo``'s int64 nanoseconds, and finite.
_MAX_SECONDS = 7 * 24 * 3600.0


class PodTask(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, gc=False):
    """One task of a pod: launched with the others, as one LAUNCH_GROUP, on one agent.

    ``payload`` is the task's other ``TaskInfo`` fields as JSON (its
    ``command``, ``labels`` ...), carried to the launch untouched.
    """

    task_id: str
    resources: list[Resource] = []
    name: str = ""
    payload: bytes = b""
    health_check: HealthCheck | None = None
    kill_policy: KillPolicy | None = None


class Launch(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, gc=False):
    """One task to launch. ``payload`` (command or executor) is carried through untouched.

    ``named_ports`` says which port each name got: each must be one of the
    launch's own ``ports``. ``health_check`` and ``kill_policy`` go into the
    ``TaskInfo`` (over any the payload sets). A launch with ``pod`` members is a pod: its
    ``task_id`` names the default executor, its ``resources`` are the
    executor's, its ``payload`` more ``ExecutorInfo`` fields, and the members
    go in one LAUNCH_GROUP (see :mod:`ark.pods`).
    """

    task_id: str
    name: str = ""
    resources: list[Resource] = []
    payload: bytes = b""
    named_ports: list[tuple[str, int]] = []
    health_check: HealthCheck | None = None
    kill_policy: KillPolicy | None = None
    pod: list[PodTask] = []


Operator: TypeAlias = Literal["EQ", "LIKE", "UNLIKE", "UNIQUE", "MAX_PER", "GROUP_BY"]


class Constraint(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A rule on an agent's ``hostname`` or one of its attributes.

    A ranges or set attribute reads as Marathon writes it: ``[1-2,4-5]``,
    ``{a,b}`` (sorted). ``EQ value``; ``LIKE`` / ``UNLIKE`` a regular
    expression matching the whole text; ``UNIQUE``: at most one task of the
    request's group per value; ``MAX_PER n``: at most ``n``; ``GROUP_BY``
    (optional ``n``, the values expected): spread the group evenly over the
    values. An agent without the attribute fails all but ``UNLIKE``.
    """

    field: str
    operator: Operator
    value: str = ""


class UnreachableStrategy(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """What to do with a task whose agent is unreachable: Marathon's ``unreachableStrategy``.

    Unreachable (TASK_UNREACHABLE) for ``inactive_after_seconds``, the task is
    replaced: a copy is requested from the matcher under the id
    ``<task_id>.<n>`` (the least ``n`` from 1 not yet used). If the old task
    comes back, the copy ``kill_selection`` names is killed: the replacement
    (``YoungestFirst``) or the old task (``OldestFirst``). Unreachable for
    ``expunge_after_seconds`` (at least ``inactive_after_seconds``), it is
    given up: if it ever comes back it is killed. Defaults are Marathon's.
    See docs/reducer.md, "Partitions".
    """

    inactive_after_seconds: float = 300.0
    expunge_after_seconds: float = 600.0
    kill_selection: Literal["YoungestFirst", "OldestFirst"] = "YoungestFirst"


class Volume(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """The persistent volume a request's task keeps its data in (docs/reducer.md).

    The matcher reserves ``size_mb`` of disk for ``role`` (the framework's; a
    MULTI_ROLE request's own ``role``) and creates the volume in the ACCEPT
    that launches the task, or, once the core knows the volume, places the
    task on the agent that holds it. ``principal`` signs the reservation.
    """

    persistence_id: str
    container_path: str
    size_mb: float
    role: str
    principal: str | None = None

    def __post_init__(self) -> None:
        if not self.persistence_id or not self.container_path:
            raise ValueError("a volume needs a persistence_id and a container_path")
        if not (0.0 < self.size_mb < float("inf")):
            raise ValueError("a volume needs a finite size_mb > 0")
        if not self.role or self.role == "*":
            raise ValueError('a volume needs a role (not "*") to reserve its disk for')


class TaskRequest(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A task to place: scalar ``resources`` (each of its role), a count of ``ports``.

    ``port_names`` asks for more ports, one per name (1 to 63 of ``a-z``,
    ``0-9``, ``-``); the launch's ``named_ports`` says which port each got.
    ``group`` scopes UNIQUE, MAX_PER and GROUP_BY, and ``agent_id`` pins the
    request to one agent. ``strategy`` places this request by ``binpack`` or
    ``spread`` instead of the cycle's (``Config.matching_strategy``).
    ``name``, ``payload``, ``health_check`` and ``kill_policy`` are carried to
    the launch untouched. ``unreachable`` replaces the task when its agent is
    unreachable (None: Ark leaves an unreachable task alone, as Mesos reports
    it). ``role`` (MULTI_ROLE) takes the request from offers allocated to that
    role only; ``None`` takes any offer.

    ``pod``: this request is a pod, its members placed together as one unit
    on one agent (the sum of their resources and ``resources``, the default
    executor's) and launched as one LAUNCH_GROUP; ``task_id`` names the pod
    (see :mod:`ark.pods`).

    ``volume`` is the persistent volume the task needs: reserved and created
    with its launch, kept across its restarts (docs/reducer.md, Stateful
    services).
    """

    task_id: str
    resources: list[Resource] = []
    ports: int = 0
    constraints: list[Constraint] = []
    group: str = ""
    agent_id: str | None = None
    name: str = ""
    payload: bytes = b""
    port_names: list[str] = []
    strategy: Literal["binpack", "spread"] | None = None
    unreachable: UnreachableStrategy | None = None
    role: str | None = None
    health_check: HealthCheck | None = None
    kill_policy: KillPolicy | None = None
    pod: list[PodTask] = []
    volume: Volume | None = None


class Request(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Ask the matcher to place these tasks on offers as they come (see docs/matching.md)."""

    tasks: list[TaskRequest]


class Withdraw(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Drop requests not yet placed; unknown ids are ignored."""

    task_ids: list[str]


class Blacklist(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    """The agents the matcher must not use from now on (replaces the previous list)."""

    agent_ids: list[str]


OperationType: TypeAlias = Literal["RESERVE", "UNRESERVE", "CREATE", "DESTROY"]


class Operation(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """An offer operation on an agent's resources, applied before the launches.

    ``RESERVE`` reserves unreserved scalars (``resources`` carry their
    ``reservations``); ``UNRESERVE`` gives reserved ones back; ``CREATE``
    makes persistent volumes of reserved ``disk`` (each with a
    ``persistence_id`` and ``container_path``); ``DESTROY`` deletes them.
    ``id`` asks Mesos for operation status updates (``Offer.Operation.id``).
    """

    type: OperationType
    resources: list[Resource]
    id: str | None = None


class Accept(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Launch tasks on offers of one agent; unused resources are refused for a while.

    ``operations`` run first, in order, on the offers' resources (see
    :class:`Operation`); the launches then use what they leave. An Accept
    with operations may launch nothing.
    """

    offer_ids: list[str]
    launches: list[Launch]
    refuse_seconds: float = 5.0
    operations: list[Operation] = []


class Decline(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    offer_ids: list[str]
    refuse_seconds: float = 5.0


class AcceptInverseOffers(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """Agree to the maintenance: the agents' resources will be free by its start.

    ``refuse_seconds`` holds back the next inverse offer of each agent.
    """

    inverse_offer_ids: list[str]
    refuse_seconds: float = 5.0


class DeclineInverseOffers(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """Refuse the maintenance (it goes ahead anyway: this only informs the operator)."""

    inverse_offer_ids: list[str]
    refuse_seconds: float = 5.0


class Kill(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    task_id: str


class Replace(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Give a task's reservation and volume up and place it afresh (dcos-commons' pod replace).

    The task (placed from a request with a ``volume``) is killed if it runs;
    its volume is destroyed and its disk unreserved when next offered; then
    its next copy is placed as a new request would be (docs/reducer.md).
    """

    task_id: str


class Track(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A task known from the store, launched by an earlier leader: reconcile it.

    Recorded as TASK_STAGING on ``agent_id`` if unknown; a known task is left
    alone. ``request``, the one it was placed from (as the store kept it),
    gives it back its group, pod, unreachable strategy and, with a volume,
    its restart on that volume (docs/reducer.md, Track).
    """

    task_id: str
    agent_id: str | None = None
    request: TaskRequest | None = None


class Reconcile(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Reconcile now: the same as a tick, asked for by the user."""

    pass


class Suppress(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    pass


class Revive(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Receive offers again, and clear the refuse filters of earlier declines."""

    pass


class SendMessage(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """Send data to an executor (the v1 MESSAGE call)."""

    agent_id: str
    executor_id: str
    data: bytes


class UpdateFramework(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """Change the framework's info without a failover (the v1 UPDATE_FRAMEWORK call).

    A part left ``None`` stays as it is. ``roles`` (MULTI_ROLE) replaces the
    roles: offers of a role left are rescinded; ``suppressed_roles`` are the
    roles not offered resources (``None``: all of them while the core has
    suppressed offers, else none); ``capabilities`` replaces the capability
    names (``"MULTI_ROLE"``, ...); ``failover_timeout`` in seconds. The driver
    keeps the new info: a later SUBSCRIBE (after a master failover) carries it.
    """

    roles: list[str] | None = None
    suppressed_roles: list[str] | None = None
    capabilities: list[str] | None = None
    failover_timeout: float | None = None


class Deploy(msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Replace the tasks of ``group`` with ``instances`` copies of ``template``, a few at a time.

    A rolling update, as Marathon's deployments (docs/reducer.md, Deployments):
    the copies are ``{template.task_id}-{k}``; at most
    ``ceil(instances * (1 + maximum_over_capacity))`` tasks of the group are up
    and at least ``floor(instances * minimum_health_capacity)`` ready at any
    time; after ``max_failures`` failed new tasks it rolls back to the
    version it replaced. ``template.group`` must be ``group``.
    """

    group: str
    template: TaskRequest
    instances: int
    minimum_health_capacity: float = 1.0
    maximum_over_capacity: float = 1.0
    max_failures: int = 3


class CancelDeployment(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """Roll back the running deployment of ``group`` to the version it replaces."""

    group: str


class ResumeDeployment(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """A deployment from the store, written by an earlier leader: taken up where it was.

    The :class:`Deploy` fields, then ``previous`` (the template it replaces),
    the ``failures`` counted so far and its ``phase``. The core sends its own
    (``Snapshot.stored_deployments``); docs/reducer.md, Deployments.
    """

    group: str
    template: TaskRequest
    instances: int
    minimum_health_capacity: float
    maximum_over_capacity: float
    max_failures: int
    previous: TaskRequest | None
    failures: int
    phase: Literal["running", "completed", "rolling-back", "rolled-back"]


class ResumeRelease(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    """A volume a :class:`Replace` was giving up when its leader changed, from the store.

    The volume is known on ``agent_id`` again (unless an offer showed it
    already), is destroyed and unreserved when next offered, and a live task
    placed on it is killed. The core sends its own
    (``Snapshot.stored_releases``); docs/reducer.md, Stateful services.
    """

    persistence_id: str
    agent_id: str
    role: str
    size: float
    container_path: str | None = None
    principal: str | None = None


# --- User messages ----------------------------------------------------------------


class Custom(msgspec.Struct, frozen=True, tag=True):
    """Base of user-defined messages: subclass it, and the loop hands them to your hook.

    The core does not look inside: a custom message crosses into Rust as a
    :class:`CustomEnvelope` that names its type by :meth:`kind`, the module
    and qualified name, so that two ``Ping`` classes of two modules never mix.
    """

    registry: ClassVar[dict[str, type[Custom]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Custom.registry[cls.kind()] = cls

    @classmethod
    def kind(cls) -> str:
        """The name this type travels under: ``module:QualifiedName``."""
        return f"{cls.__module__}:{cls.__qualname__}"


class CustomEnvelope(
    msgspec.Struct, tag=True, frozen=True, array_like=True, forbid_unknown_fields=True
):
    kind: str
    body: bytes


Message: TypeAlias = (
    Subscribed
    | Reregistered
    | Offers
    | Rescind
    | Update
    | FrameworkMessage
    | Failure
    | Error
    | Heartbeat
    | Disconnected
    | ReconcileTick
    | ReconcileTimeout
    | Tick
    | Accept
    | Decline
    | Kill
    | Replace
    | Request
    | Withdraw
    | Blacklist
    | Track
    | Reconcile
    | Suppress
    | Revive
    | SendMessage
    | UpdateFramework
    | InverseOffers
    | RescindInverseOffer
    | AcceptInverseOffers
    | DeclineInverseOffers
    | Deploy
    | ResumeDeployment
    | ResumeRelease
    | CancelDeployment
    | OperationUpdate
    | CustomEnvelope
)

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)


def encode(message: Message | Custom) -> bytes:
    """Encode a message for the inbox; a :class:`Custom` goes inside an envelope."""
    if isinstance(message, Custom):
        return _encoder.encode(CustomEnvelope(kind=message.kind(), body=_encoder.encode(message)))
    return _encoder.encode(message)


def decode(data: bytes) -> Message | Custom:
    """Decode one inbox message; a custom message comes back as the user's type.

    Raises
    ------
    msgspec.DecodeError
        If the bytes are not a known message.
    """
    message = _decoder.decode(data)
    if isinstance(message, CustomEnvelope):
        cls = Custom.registry.get(message.kind)
        if cls is None:
            raise msgspec.ValidationError(f"unknown custom message type {message.kind!r}")
        return msgspec.msgpack.decode(message.body, type=cls)
    return message
