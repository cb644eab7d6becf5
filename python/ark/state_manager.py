"""Your domain logic: pure hooks over your own immutable state.

A framework author subclasses :class:`StateManager` and overrides the hooks it
cares about. Each hook receives the current user state, the event, and a
read-only :class:`~ark.core.Snapshot` of the framework's bookkeeping (tasks,
agents, offers, reconciliation), and returns the new user state and the
commands to run. Hooks never call Mesos, never lock and never block: the loop
calls them one message at a time, on its own thread, and steps their commands
into the core before the next message (so a hook's ``Kill`` is applied before
whatever arrived after the event that caused it).

Commands are the :mod:`ark.messages` commands (``Request`` tasks for the matcher,
``Withdraw``, ``Blacklist``, or by hand ``Accept``, ``Decline``, ``Kill``,
``Reconcile``, ``Suppress``, ``Revive``, ``SendMessage``,
``AcceptInverseOffers``, ``DeclineInverseOffers``...) and :class:`Reply`,
which answers the caller of :meth:`ark.Scheduler.ask` that sent the custom
message being handled.

This mirrors the original Scala library's ``SchedulerStateManager``, whose hooks
were also ``(event)(state) => (state, commands)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeAlias, TypeVar, cast, get_args

import msgspec

from ark import messages as m
from ark.core import Snapshot
from ark.errors import HookError

__all__ = [
    "Command",
    "Reply",
    "StateManager",
    "Step",
    "Unreconciled",
    "apply_hook",
    "hooked_types",
]

S = TypeVar("S")


class Reply(msgspec.Struct, frozen=True):
    """Answer the :meth:`ark.Scheduler.ask` that sent the message being handled.

    Returned from :meth:`StateManager.custom`; ignored (and logged) when the
    message was pushed without asking.
    """

    value: Any


#: What a hook may return besides the new state: the commands the loop runs
#: (events such as ``m.Heartbeat`` are not among them). Custom messages are
#: queued behind the messages already waiting, not stepped at once.
Command: TypeAlias = (
    m.Accept
    | m.Decline
    | m.Kill
    | m.Reconcile
    | m.Suppress
    | m.Revive
    | m.SendMessage
    | m.UpdateFramework
    | m.Request
    | m.Withdraw
    | m.Blacklist
    | m.Track
    | m.AcceptInverseOffers
    | m.DeclineInverseOffers
    | m.Custom
    | Reply
)

#: What every hook returns.
Step: TypeAlias = tuple[S, Sequence[Command]]


class StateManager(Generic[S]):
    """Pure hooks; every default keeps the state and returns no command.

    ``framework`` is the core's state right after the event was applied (an
    O(1) immutable snapshot). Override only what you need: messages with no
    overridden hook are stepped in Rust in batches, without calling Python.
    """

    def registered(self, state: S, framework_id: str, framework: Snapshot) -> Step[S]:
        """Subscribed to a master (first time, or after a failover of this scheduler)."""
        return state, ()

    def reregistered(self, state: S, framework: Snapshot) -> Step[S]:
        """Subscribed again to a new leading master with the same framework id."""
        return state, ()

    def status_update(self, state: S, status: m.TaskStatus, framework: Snapshot) -> Step[S]:
        """A task changed state (acknowledging it is Ark's job, not yours)."""
        return state, ()

    def offers(self, state: S, offers: Sequence[m.Offer], framework: Snapshot) -> Step[S]:
        """Raw offers, for full control: return ``Accept``/``Decline`` for them.

        Offers arriving during reconciliation are declined by the core and not
        passed here. Offers left unanswered are held until the core's hold
        time runs out, then declined.
        """
        return state, ()

    def rescinded(self, state: S, offer_id: str, framework: Snapshot) -> Step[S]:
        """An offer was withdrawn by the master."""
        return state, ()

    def inverse_offers(
        self, state: S, inverse_offers: Sequence[m.InverseOffer], framework: Snapshot
    ) -> Step[S]:
        """Mesos asks for agents back for maintenance (see docs/reducer.md, Maintenance).

        Answer with ``AcceptInverseOffers`` / ``DeclineInverseOffers``, or not
        at all (Mesos's default). Under ``Config(maintenance="drain")`` the core
        answers them itself: those it already accepted are no longer in
        ``framework``'s inverse offers.
        """
        return state, ()

    def agent_lost(self, state: S, agent_id: str, framework: Snapshot) -> Step[S]:
        """An agent was removed; its tasks' updates follow separately."""
        return state, ()

    def executor_lost(
        self, state: S, executor_id: str, agent_id: str, status: int | None, framework: Snapshot
    ) -> Step[S]:
        """An executor exited."""
        return state, ()

    def framework_message(
        self, state: S, agent_id: str, executor_id: str, data: bytes, framework: Snapshot
    ) -> Step[S]:
        """Data an executor sent to the scheduler."""
        return state, ()

    def disconnected(self, state: S, framework: Snapshot) -> Step[S]:
        """The subscription ended; the driver is reconnecting."""
        return state, ()

    def error(self, state: S, message: str, framework: Snapshot) -> Step[S]:
        """The master refused or removed the framework."""
        return state, ()

    def custom(self, state: S, message: m.Custom, framework: Snapshot) -> Step[S]:
        """One of your own messages (from a stream, a thread, or :meth:`ark.Scheduler.ask`)."""
        return state, ()

    def unreconciled(self, state: S, task_ids: Sequence[str], framework: Snapshot) -> Step[S]:
        """Tasks whose status never came back from reconciliation (flagged in the core)."""
        return state, ()


# The hook each message type reaches; the rest have none.
_HOOK_NAMES: dict[type, tuple[str, ...]] = {
    m.Subscribed: ("registered",),
    m.Reregistered: ("reregistered",),
    m.Update: ("status_update",),
    m.Offers: ("offers",),
    m.Rescind: ("rescinded",),
    m.InverseOffers: ("inverse_offers",),
    m.Failure: ("agent_lost", "executor_lost"),
    m.FrameworkMessage: ("framework_message",),
    m.Disconnected: ("disconnected",),
    m.Error: ("error",),
}


def _overrides(manager: StateManager[Any], name: str) -> bool:
    return getattr(type(manager), name) is not getattr(StateManager, name)


def hooked_types(manager: StateManager[Any]) -> frozenset[type]:
    """The message types whose hook ``manager`` overrides (custom messages always count)."""
    return frozenset(
        t for t, names in _HOOK_NAMES.items() if any(_overrides(manager, n) for n in names)
    )


def _call(h: StateManager[S], s: S, e: object, f: Snapshot) -> tuple[str, object]:
    match e:
        case m.Custom():
            return "custom", h.custom(s, e, f)
        case Unreconciled(task_ids):
            return "unreconciled", h.unreconciled(s, task_ids, f)
        case m.Subscribed(framework_id):
            return "registered", h.registered(s, framework_id, f)
        case m.Reregistered():
            return "reregistered", h.reregistered(s, f)
        case m.Update(status):
            return "status_update", h.status_update(s, status, f)
        case m.Offers(offers):
            return "offers", h.offers(s, offers, f)
        case m.Rescind(offer_id):
            return "rescinded", h.rescinded(s, offer_id, f)
        case m.InverseOffers(inverse_offers):
            return "inverse_offers", h.inverse_offers(s, inverse_offers, f)
        case m.Failure(agent_id, None):
            return "agent_lost", h.agent_lost(s, agent_id, f)
        case m.Failure(agent_id, str() as executor_id, status):
            return "executor_lost", h.executor_lost(s, executor_id, agent_id, status, f)
        case m.FrameworkMessage(agent_id, executor_id, data):
            return "framework_message", h.framework_message(s, agent_id, executor_id, data, f)
        case m.Disconnected():
            return "disconnected", h.disconnected(s, f)
        case m.Error(message):
            return "error", h.error(s, message, f)
    return "", (s, ())


def apply_hook(
    manager: StateManager[S], state: S, event: object, framework: Snapshot
) -> tuple[S, list[Command]]:
    """Run the hook for ``event`` (a message, or :class:`Unreconciled`).

    Returns
    -------
    The new state and its commands; ``(state, [])`` when no hook applies.

    Raises
    ------
    HookError
        The hook raised, or returned something that is not ``(state, commands)``
        with known commands. The caller keeps the old state.
    """
    try:
        name, result = _call(manager, state, event, framework)
    except Exception as exc:
        raise HookError(f"hook for {type(event).__name__} raised {exc!r}") from exc
    return _checked(name, event, result)


class Unreconciled(msgspec.Struct, frozen=True):
    """The event for :meth:`StateManager.unreconciled` (from the core's effect)."""

    task_ids: list[str]


def _checked(name: str, event: object, result: object) -> tuple[Any, list[Command]]:
    where = f"hook {name} on {type(event).__name__}"
    if not isinstance(result, tuple) or len(result) != 2:
        raise HookError(f"{where} returned {type(result).__name__}, not (state, commands)")
    state, commands = result
    if isinstance(commands, (str, bytes)) or not isinstance(commands, Iterable):
        raise HookError(f"{where} returned commands of type {type(commands).__name__}")
    out: list[Command] = []
    for command in commands:
        if not isinstance(command, _COMMAND_TYPES):
            raise HookError(f"{where} returned {command!r}, which is not a command")
        out.append(cast(Command, command))
    return state, out


_COMMAND_TYPES: tuple[type, ...] = get_args(Command)
