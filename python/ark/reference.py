"""A plain-Python reducer: the oracle of the property tests, the benchmarks' baseline.

It follows ``docs/reducer.md`` line by line, written apart from the Rust core
(``rust/src/reducer.rs``) so that the two agree only where the specification
makes them. It favours the obvious over the fast, but it is still the
baseline the core is measured against, so it does no needless copying.

Every method validates before it mutates: a message that raises leaves the
state exactly as it was.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import msgspec

from ark import effects as fx
from ark import messages as m
from ark.errors import CommandRejected, MessageError
from ark.state import (
    AgentRecord,
    Config,
    OfferRecord,
    Reconciliation,
    StateView,
    TaskRecord,
)

__all__ = ["Reducer"]

_EPSILON = 1e-9
_decoder: msgspec.msgpack.Decoder[m.Message] = msgspec.msgpack.Decoder(m.Message)


@dataclass(slots=True)
class _Task:
    state: str
    agent_id: str | None
    reason: str | None = None
    source: str | None = None
    message: str | None = None
    uuid: bytes | None = None
    status_timestamp: float | None = None
    updated_at: float = 0.0
    unreconciled: bool = False


@dataclass(slots=True)
class _Offer:
    offer: m.Offer
    received_at: float


@dataclass(slots=True)
class _Reconciliation:
    explicit: bool = False
    round: int = 0
    pending: set[str] = field(default_factory=set)
    started_at: float | None = None
    completed: int = 0
    last_completed_at: float | None = None


class Reducer:
    """The framework's bookkeeping, stepped in Python.

    Parameters
    ----------
    config
        Reconciliation backoff and offer hold times; defaults if omitted.
    """

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self.framework_id: str | None = None
        self.registered = False
        self.suppressed = False
        self.error: str | None = None
        self.heartbeat_interval_seconds: float | None = None
        self.last_heartbeat_at: float | None = None
        self.agents: dict[str, AgentRecord] = {}
        self.offers: dict[str, _Offer] = {}
        self.tasks: dict[str, _Task] = {}
        self.reconciliation = _Reconciliation()

    # --- entry points ---

    def step_bytes(self, data: bytes, now: float) -> list[fx.Effect]:
        """Decode one message encoded by :func:`ark.messages.encode`, then step it."""
        try:
            message = _decoder.decode(data)
        except msgspec.DecodeError as e:
            raise MessageError(f"malformed message: {e}") from None
        return self.step(message, now)

    def step(self, message: m.Message, now: float) -> list[fx.Effect]:
        """Apply one message at time ``now``; returns its effects.

        Raises
        ------
        MessageError, CommandRejected
            The message did not apply; the state is unchanged.
        """
        out: list[fx.Effect] = []
        handler = getattr(self, "_on_" + type(message).__name__, None)
        if handler is None:
            raise MessageError(f"malformed message: unknown message {type(message).__name__}")
        handler(message, now, out)
        return out

    # --- Mesos events ---

    def _on_Subscribed(self, msg: m.Subscribed, now: float, out: list[fx.Effect]) -> None:
        self._subscribe(msg.framework_id, msg.heartbeat_interval_seconds, now, out)

    def _on_Reregistered(self, msg: m.Reregistered, now: float, out: list[fx.Effect]) -> None:
        if self.framework_id is None:
            raise MessageError("malformed message: Reregistered before any framework id")
        self._subscribe(self.framework_id, self.heartbeat_interval_seconds, now, out)

    def _subscribe(
        self, framework_id: str, interval: float | None, now: float, out: list[fx.Effect]
    ) -> None:
        self.framework_id = framework_id
        self.registered = True
        self.error = None
        self.heartbeat_interval_seconds = interval
        if self.suppressed:
            out.append(fx.Suppress())
        self._abort_reconciliation()
        self._start_reconciliation(now, out)

    def _on_Offers(self, msg: m.Offers, now: float, out: list[fx.Effect]) -> None:
        decline_all = self.reconciliation.explicit or not self.registered
        fresh: list[m.Offer] = []
        seen: set[str] = set()
        for offer in msg.offers:
            self.agents[offer.agent_id] = AgentRecord(offer.agent_id, offer.hostname, True)
            if offer.id in self.offers or offer.id in seen:
                continue
            seen.add(offer.id)
            fresh.append(offer)
        if decline_all:
            if fresh:
                out.append(
                    fx.Decline(sorted(o.id for o in fresh), self.config.reconcile_decline_seconds)
                )
            return
        for offer in fresh:
            self.offers[offer.id] = _Offer(offer, now)

    def _on_Rescind(self, msg: m.Rescind, now: float, out: list[fx.Effect]) -> None:
        self.offers.pop(msg.offer_id, None)

    def _on_Update(self, msg: m.Update, now: float, out: list[fx.Effect]) -> None:
        status = msg.status
        if status.uuid is not None:
            if len(status.uuid) != 16:
                raise MessageError(f"malformed message: uuid of {len(status.uuid)} bytes")
            if status.agent_id is None:
                raise MessageError("malformed message: an update with a uuid needs agent_id")
            out.append(fx.Acknowledge(status.agent_id, status.task_id, status.uuid))
        rec = self.reconciliation
        last_answer = False
        if rec.explicit and status.task_id in rec.pending:
            rec.pending.discard(status.task_id)
            last_answer = not rec.pending
        task = self.tasks.get(status.task_id)
        if task is None:
            task = _Task(state=status.state, agent_id=None)
            self._apply(task, status, now)
            self.tasks[status.task_id] = task
        elif task.state in m.TERMINAL_STATES:
            if status.state not in m.TERMINAL_STATES:
                out.append(fx.Kill(status.task_id, status.agent_id or task.agent_id))
        else:
            duplicate = status.uuid is not None and status.uuid == task.uuid
            older = (
                status.timestamp is not None
                and task.status_timestamp is not None
                and status.timestamp < task.status_timestamp
            )
            if not (duplicate or older):
                self._apply(task, status, now)
        if last_answer:
            self._finish_reconciliation(now, out)

    @staticmethod
    def _apply(task: _Task, status: m.TaskStatus, now: float) -> None:
        task.state = status.state
        task.reason = status.reason
        task.source = status.source
        task.message = status.message
        if status.agent_id is not None:
            task.agent_id = status.agent_id
        if status.uuid is not None:
            task.uuid = status.uuid
        if status.timestamp is not None:
            task.status_timestamp = status.timestamp
        task.updated_at = now
        task.unreconciled = False

    def _on_FrameworkMessage(
        self, msg: m.FrameworkMessage, now: float, out: list[fx.Effect]
    ) -> None:
        pass

    def _on_CustomEnvelope(self, msg: m.CustomEnvelope, now: float, out: list[fx.Effect]) -> None:
        pass

    def _on_Heartbeat(self, msg: m.Heartbeat, now: float, out: list[fx.Effect]) -> None:
        self.last_heartbeat_at = now

    def _on_Failure(self, msg: m.Failure, now: float, out: list[fx.Effect]) -> None:
        if msg.executor_id is not None:
            return
        agent = self.agents.get(msg.agent_id)
        if agent is not None:
            self.agents[msg.agent_id] = AgentRecord(agent.agent_id, agent.hostname, False)
        for offer_id in [i for i, o in self.offers.items() if o.offer.agent_id == msg.agent_id]:
            del self.offers[offer_id]

    def _on_Error(self, msg: m.Error, now: float, out: list[fx.Effect]) -> None:
        self.error = msg.message
        self._disconnect()

    def _on_Disconnected(self, msg: m.Disconnected, now: float, out: list[fx.Effect]) -> None:
        self._disconnect()

    def _disconnect(self) -> None:
        self.registered = False
        self.offers.clear()
        self._abort_reconciliation()

    # --- timers ---

    def _on_ReconcileTick(self, msg: m.ReconcileTick, now: float, out: list[fx.Effect]) -> None:
        if self.registered and not self.reconciliation.explicit:
            self._start_reconciliation(now, out)

    _on_Reconcile = _on_ReconcileTick

    def _on_ReconcileTimeout(
        self, msg: m.ReconcileTimeout, now: float, out: list[fx.Effect]
    ) -> None:
        rec = self.reconciliation
        if not rec.explicit or msg.round != rec.round:
            return
        if rec.round >= self.config.reconcile_max_rounds:
            unanswered = sorted(rec.pending)
            for task_id in unanswered:
                self.tasks[task_id].unreconciled = True
            out.append(fx.Unreconciled(unanswered))
            self._finish_reconciliation(now, out)
            return
        rec.round += 1
        out.append(fx.Reconcile(self._reconcile_tasks(rec.pending)))
        out.append(fx.Timer(rec.round, self._delay(rec.round)))

    def _on_Tick(self, msg: m.Tick, now: float, out: list[fx.Effect]) -> None:
        hold = self.config.offer_hold_seconds
        expired = sorted(i for i, o in self.offers.items() if o.received_at + hold <= now)
        for offer_id in expired:
            del self.offers[offer_id]
        if expired:
            out.append(fx.Decline(expired, self.config.offer_refuse_seconds))

    # --- reconciliation ---

    def _delay(self, round: int) -> float:
        c = self.config
        return min(
            c.reconcile_cap_seconds, c.reconcile_base_seconds * c.reconcile_factor ** (round - 1)
        )

    def _reconcile_tasks(self, ids: set[str]) -> list[fx.ReconcileTask]:
        return [fx.ReconcileTask(i, self.tasks[i].agent_id) for i in sorted(ids)]

    def _start_reconciliation(self, now: float, out: list[fx.Effect]) -> None:
        if self.offers:
            out.append(fx.Decline(sorted(self.offers), self.config.reconcile_decline_seconds))
            self.offers.clear()
        live = {i for i, t in self.tasks.items() if t.state not in m.TERMINAL_STATES}
        rec = self.reconciliation
        if not live:
            out.append(fx.Reconcile([]))
            rec.completed += 1
            rec.last_completed_at = now
            return
        rec.explicit, rec.round, rec.pending, rec.started_at = True, 1, live, now
        out.append(fx.Reconcile(self._reconcile_tasks(live)))
        out.append(fx.Timer(1, self._delay(1)))

    def _finish_reconciliation(self, now: float, out: list[fx.Effect]) -> None:
        out.append(fx.Reconcile([]))
        self._abort_reconciliation()
        self.reconciliation.completed += 1
        self.reconciliation.last_completed_at = now

    def _abort_reconciliation(self) -> None:
        rec = self.reconciliation
        rec.explicit, rec.round, rec.pending, rec.started_at = False, 0, set(), None

    # --- commands ---

    def _held(self, offer_ids: list[str]) -> list[_Offer]:
        if len(set(offer_ids)) != len(offer_ids):
            raise CommandRejected("an offer is named twice")
        missing = [i for i in offer_ids if i not in self.offers]
        if missing:
            raise CommandRejected(f"offers not outstanding: {missing}")
        return [self.offers[i] for i in offer_ids]

    def _on_Accept(self, msg: m.Accept, now: float, out: list[fx.Effect]) -> None:
        if not msg.offer_ids:
            raise CommandRejected("Accept names no offer")
        if not msg.launches:
            raise CommandRejected("Accept launches no task")
        held = self._held(msg.offer_ids)
        agents = {o.offer.agent_id for o in held}
        if len(agents) != 1:
            raise CommandRejected(f"Accept combines offers of agents {sorted(agents)}")
        ids = [launch.task_id for launch in msg.launches]
        if len(set(ids)) != len(ids):
            raise CommandRejected("a task id appears twice in one Accept")
        known = [i for i in ids if i in self.tasks]
        if known:
            raise CommandRejected(f"tasks already known: {known}")
        _check_fit([r for o in held for r in o.offer.resources], msg.launches)
        (agent_id,) = agents
        for offer_id in msg.offer_ids:
            del self.offers[offer_id]
        for launch in msg.launches:
            self.tasks[launch.task_id] = _Task("TASK_STAGING", agent_id, updated_at=now)
        out.append(
            fx.Accept(
                list(msg.offer_ids),
                agent_id,
                [
                    fx.LaunchTask(t.task_id, agent_id, t.name, list(t.resources), t.payload)
                    for t in msg.launches
                ],
                msg.refuse_seconds,
            )
        )

    def _on_Decline(self, msg: m.Decline, now: float, out: list[fx.Effect]) -> None:
        if not msg.offer_ids:
            raise CommandRejected("Decline names no offer")
        self._held(msg.offer_ids)
        for offer_id in msg.offer_ids:
            del self.offers[offer_id]
        out.append(fx.Decline(sorted(msg.offer_ids), msg.refuse_seconds))

    def _on_Kill(self, msg: m.Kill, now: float, out: list[fx.Effect]) -> None:
        task = self.tasks.get(msg.task_id)
        if task is None:
            raise CommandRejected(f"no task {msg.task_id!r} to kill")
        if task.state not in m.TERMINAL_STATES:
            out.append(fx.Kill(msg.task_id, task.agent_id))

    def _on_Suppress(self, msg: m.Suppress, now: float, out: list[fx.Effect]) -> None:
        if not self.suppressed:
            self.suppressed = True
            out.append(fx.Suppress())

    def _on_Revive(self, msg: m.Revive, now: float, out: list[fx.Effect]) -> None:
        if self.suppressed:
            self.suppressed = False
            out.append(fx.Revive())

    def _on_SendMessage(self, msg: m.SendMessage, now: float, out: list[fx.Effect]) -> None:
        out.append(fx.Message(msg.agent_id, msg.executor_id, msg.data))

    # --- reading ---

    def view(self) -> StateView:
        """The whole state as plain values, every list sorted by id."""
        rec = self.reconciliation
        return StateView(
            framework_id=self.framework_id,
            registered=self.registered,
            suppressed=self.suppressed,
            error=self.error,
            heartbeat_interval_seconds=self.heartbeat_interval_seconds,
            last_heartbeat_at=self.last_heartbeat_at,
            agents=[self.agents[i] for i in sorted(self.agents)],
            offers=[
                OfferRecord(
                    i,
                    o.offer.agent_id,
                    o.offer.hostname,
                    list(o.offer.resources),
                    list(o.offer.attributes),
                    o.received_at,
                )
                for i, o in sorted(self.offers.items())
            ],
            tasks=[
                TaskRecord(
                    i,
                    t.state,  # type: ignore[arg-type]
                    t.agent_id,
                    t.reason,
                    t.source,
                    t.message,
                    t.uuid,
                    t.status_timestamp,
                    t.updated_at,
                    t.unreconciled,
                )
                for i, t in sorted(self.tasks.items())
            ],
            reconciliation=Reconciliation(
                "explicit" if rec.explicit else "idle",
                rec.round,
                sorted(rec.pending),
                rec.started_at,
                rec.completed,
                rec.last_completed_at,
            ),
        )


def _check_fit(offered: list[m.Resource], launches: list[m.Launch]) -> None:
    """Raise CommandRejected unless the launches fit in the offered resources."""
    scalars: dict[tuple[str, str], float] = {}
    ranges: dict[tuple[str, str], list[tuple[int, int]]] = {}
    items: dict[tuple[str, str], set[str]] = {}
    for r in offered:
        key = (r.name, r.role)
        if r.scalar is not None:
            scalars[key] = scalars.get(key, 0.0) + r.scalar
        if r.ranges is not None:
            ranges.setdefault(key, []).extend(r.ranges)
        if r.set is not None:
            items.setdefault(key, set()).update(r.set)
    asked: dict[tuple[str, str], float] = {}
    used_ranges: dict[tuple[str, str], list[tuple[int, int]]] = {}
    used_items: dict[tuple[str, str], list[str]] = {}
    for launch in launches:
        for r in launch.resources:
            key = (r.name, r.role)
            if r.scalar is not None:
                if r.scalar < 0:
                    raise CommandRejected(f"task {launch.task_id!r}: negative {r.name}")
                asked[key] = asked.get(key, 0.0) + r.scalar
            for lo, hi in r.ranges or []:
                if lo > hi:
                    raise CommandRejected(f"task {launch.task_id!r}: empty range [{lo}, {hi}]")
                if not any(a <= lo and hi <= b for a, b in ranges.get(key, [])):
                    raise CommandRejected(
                        f"task {launch.task_id!r}: {r.name} [{lo}, {hi}] not offered"
                    )
                used_ranges.setdefault(key, []).append((lo, hi))
            for item in r.set or []:
                if item not in items.get(key, set()):
                    raise CommandRejected(f"task {launch.task_id!r}: {r.name} {item!r} not offered")
                used_items.setdefault(key, []).append(item)
    # Every offered resource counts, asked for or not (an offer may hold a
    # negative amount, which no launch then fits in).
    for key in asked.keys() | scalars.keys():
        amount = asked.get(key, 0.0)
        if amount > scalars.get(key, 0.0) + _EPSILON:
            raise CommandRejected(f"the launches ask for {amount} {key[0]}, more than offered")
    for key, spans in used_ranges.items():
        spans.sort()
        for (_, hi), (lo, _) in itertools.pairwise(spans):
            if lo <= hi:
                raise CommandRejected(f"the launches use overlapping {key[0]} ranges")
    for key, used in used_items.items():
        if len(used) != len(set(used)):
            raise CommandRejected(f"the launches use a {key[0]} item twice")
