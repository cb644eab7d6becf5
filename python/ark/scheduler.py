"""The scheduler: one thread that steps every message, runs your hooks, and drives Mesos.

Everything that can change state is a message in one inbox: the driver's
events, timers, your streams, and :meth:`Scheduler.push` / :meth:`Scheduler.ask`
from any thread. One consumer thread takes them in arrival order:

* a run of messages no hook of yours wants is stepped by the Rust core in
  one batch, with the GIL released;
* a message a hook wants is stepped alone, then the hook runs on the state
  right after it, and the hook's commands are stepped before the next
  message: a hook's ``Kill`` lands before whatever arrived after its event.

Effects go to the driver (ACCEPT, DECLINE ...); ``Timer`` effects become
:class:`~ark.messages.ReconcileTimeout` messages when they fall due, and a
``Tick`` every ``tick_seconds`` lets the core decline offers held too long.
A failing hook, command or effect is logged with its context and the loop
goes on with the state from before it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from ark import effects as fx
from ark import messages as m
from ark._core import Inbox
from ark.core import Reducer, Snapshot
from ark.errors import ArkError, HookError, InboxClosed
from ark.metrics import Metrics
from ark.persistence import Persistence
from ark.state import Config
from ark.state_manager import Reply, StateManager, Unreconciled, apply_hook, hooked_types
from ark.store import Store
from ark.streams import Stream, StreamPump, reconcile_stream

__all__ = ["Driver", "NoReply", "Scheduler"]

log = logging.getLogger(__name__)

S = TypeVar("S")

_BATCH = 1024
_IDLE_WAIT = 0.1
_JOIN_WAIT = 10.0
# An ask travels as an ordinary custom envelope whose kind carries the ask's
# id after this separator: the core never looks inside custom messages.
_ASK = "#"


class Driver(Protocol):
    """What the scheduler needs from a Mesos driver (native v1, or the pymesos bridge)."""

    def start(self, push: Callable[[bytes], None], framework_id: str | None = None) -> None:
        """Connect and subscribe (as ``framework_id`` if given); push every event."""

    def run(self, effects: Sequence[fx.Effect]) -> None:
        """Send the calls for ``effects``; called on the loop thread, must not block long."""

    def stop(self, failover: bool) -> None:
        """Disconnect; without ``failover`` the framework is torn down (its tasks killed)."""


class NoReply(ArkError):
    """The hook handled an asked message without returning a :class:`Reply`."""


class Scheduler(Generic[S]):
    """Runs a framework: your :class:`StateManager` over Ark's bookkeeping.

    Parameters
    ----------
    manager
        Your hooks.
    state
        Your initial state (treat it as immutable: hooks return new ones).
    driver
        Connects to Mesos; see :mod:`ark.drivers`.
    config
        The core's tuning (reconciliation backoff, offer hold times).
    streams
        Your message streams, merged into the inbox (see :mod:`ark.streams`).
    reconcile_seconds
        Reconcile every so often (as the original ``reconcileProcess``);
        ``None`` for only on (re-)registration.
    tick_seconds
        How often the core may decline offers held longer than the config allows.
    """

    def __init__(
        self,
        manager: StateManager[S],
        state: S,
        driver: Driver,
        *,
        config: Config | None = None,
        streams: Iterable[Stream] = (),
        reconcile_seconds: float | None = 900.0,
        tick_seconds: float = 1.0,
        store: Store | None = None,
        on_fenced: Callable[[], None] | None = None,
    ) -> None:
        self._manager = manager
        self._state = state
        self._driver = driver
        self._core = Reducer(config)
        self._snapshot = self._core.snapshot()
        self._inbox = Inbox()
        self._pump = StreamPump(self._inbox.push)
        self._streams = list(streams)
        if reconcile_seconds is not None:
            self._streams.append(reconcile_stream(reconcile_seconds))
        self._tick_seconds = tick_seconds
        self._hooked = {t.__name__.encode() for t in hooked_types(manager)}
        self._hooked.add(b"CustomEnvelope")
        self._wants_unreconciled = type(manager).unreconciled is not StateManager.unreconciled
        # Timers: (due on the monotonic clock, sequence, encoded message).
        self._timers: list[tuple[float, int, bytes]] = []
        self._seq = itertools.count()
        self._asks: dict[int, Future[Any]] = {}
        self._ask_ids = itertools.count(1)
        self._asks_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._metrics = Metrics()
        self._persistence = Persistence(store, on_fenced)

    # --- reading ---------------------------------------------------------------

    @property
    def state(self) -> S:
        """Your state after the last message (replaced, never mutated)."""
        return self._state

    def snapshot(self) -> Snapshot:
        """Ark's bookkeeping after the last message, O(1) and immutable."""
        return self._snapshot

    @property
    def metrics(self) -> Metrics:
        """The loop's counters (see :meth:`Metrics.snapshot` and :meth:`Metrics.prometheus`)."""
        return self._metrics

    # --- writing, from any thread ---------------------------------------------------

    def push(self, message: m.Message | m.Custom) -> None:
        """Queue a message behind those already waiting.

        Raises
        ------
        InboxClosed
            The scheduler was shut down.
        """
        self._inbox.push(m.encode(message))

    def ask(self, message: m.Custom) -> Future[Any]:
        """Queue a custom message; the future holds its hook's :class:`Reply` value.

        The future fails with :class:`~ark.errors.HookError` if the hook
        raised, and with :class:`NoReply` if it returned no ``Reply``.
        """
        future: Future[Any] = Future()
        with self._asks_lock:
            ask_id = next(self._ask_ids)
            self._asks[ask_id] = future
        envelope = m.CustomEnvelope(
            kind=f"{message.kind()}{_ASK}{ask_id}", body=_encoder.encode(message)
        )
        try:
            self._inbox.push(_encoder.encode(envelope))
        except InboxClosed:
            with self._asks_lock:
                self._asks.pop(ask_id, None)
            raise
        return future

    # --- running -------------------------------------------------------------------

    def start(self) -> Scheduler[S]:
        """Start the loop thread, the streams and the driver; returns at once.

        Raises
        ------
        StoreCorrupt
            The store cannot be read: nothing is started on a guessed state.
        """
        if self._thread is not None:
            raise ArkError("the scheduler was already started")
        record = self._persistence.load()
        for intent in record.intents.values():
            self._inbox.push(m.encode(m.Track(intent.task_id, intent.agent_id)))
        self._thread = threading.Thread(target=self._loop, name="ark-scheduler", daemon=True)
        self._thread.start()
        for stream in self._streams:
            self._pump.add(stream)
        self._driver.start(self._inbox.push, record.framework_id)
        return self

    def run(self) -> None:
        """Start, and block until :meth:`shutdown` (from a hook's thread or a signal handler)."""
        self.start()
        self._stopped.wait()

    def shutdown(self, failover: bool = True) -> None:
        """Stop streams and driver, then let the loop finish what is queued.

        With ``failover`` (the default) the framework stays registered in
        Mesos and its tasks keep running, for this or another scheduler
        process to take over within the failover timeout; without it Mesos
        tears the framework down and kills every task.
        """
        self._pump.stop()
        self._driver.stop(failover)
        self._inbox.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(_JOIN_WAIT)
        self._stopped.set()

    def __enter__(self) -> Scheduler[S]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # --- the loop ------------------------------------------------------------------

    def _after(self, seconds: float, message: m.Message) -> None:
        due = time.monotonic() + seconds
        heapq.heappush(self._timers, (due, next(self._seq), m.encode(message)))

    def _loop(self) -> None:
        self._after(self._tick_seconds, m.Tick())
        while True:
            wait = _IDLE_WAIT
            if self._timers:
                wait = min(wait, max(0.0, self._timers[0][0] - time.monotonic()))
            try:
                batch = self._inbox.drain(max_messages=_BATCH, timeout=wait)
            except InboxClosed:
                break
            batch += self._due_timers()
            if batch:
                start = time.perf_counter()
                try:
                    self._process(batch)
                except Exception:
                    # A bug of Ark's own; the messages are lost but the loop is not.
                    log.exception("ark: failed to process a batch of %d messages", len(batch))
                metrics = self._metrics
                metrics.batch(time.perf_counter() - start)
                metrics.offers_held = self._snapshot.offer_count
                metrics.tasks = self._snapshot.task_count
                metrics.inbox_depth = len(self._inbox)
        self._fail_pending_asks()
        self._stopped.set()

    def _due_timers(self) -> list[bytes]:
        now = time.monotonic()
        due: list[bytes] = []
        while self._timers and self._timers[0][0] <= now:
            _, _, data = heapq.heappop(self._timers)
            due.append(data)
            if data == _TICK:
                self._after(self._tick_seconds, m.Tick())
        return due

    def _process(self, batch: list[bytes]) -> None:
        run: list[bytes] = []
        counts = self._metrics.messages
        for data in batch:
            tag = _tag(data)
            counts[tag] += 1
            if tag in self._hooked:
                self._step_run(run)
                run = []
                self._step_hooked(data)
            else:
                run.append(data)
        self._step_run(run)

    def _step_run(self, run: list[bytes]) -> None:
        if not run:
            return
        effects, errors = self._core.step_batch(run, time.time())
        for index, error in errors:
            self._metrics.rejected += 1
            log.warning("ark: message %s rejected: %s", _describe(run[index]), error)
        self._snapshot = self._core.snapshot()
        self._dispatch(effects)

    def _step_hooked(self, data: bytes) -> None:
        try:
            effects = self._core.step_bytes(data, time.time())
        except ArkError as exc:
            self._metrics.rejected += 1
            log.warning("ark: message %s rejected: %s", _describe(data), exc)
            return
        self._snapshot = self._core.snapshot()
        self._dispatch(effects)
        try:
            event, ask_id = _decode(data)
        except (ArkError, msgspec.DecodeError) as exc:
            log.warning("ark: message %s has no hook to reach: %s", _describe(data), exc)
            return
        if isinstance(event, m.Offers):
            # The hook sees only offers the core kept (not declined while
            # reconciling, not already used by the matcher).
            used = {
                offer_id
                for effect in effects
                if isinstance(effect, (fx.Decline, fx.Accept))
                for offer_id in effect.offer_ids
            }
            kept = [offer for offer in event.offers if offer.id not in used]
            if not kept:
                return
            event = m.Offers(kept)
        self._hook(event, ask_id)

    def _hook(self, event: object, ask_id: int | None = None) -> None:
        future = None
        if ask_id is not None:
            with self._asks_lock:
                future = self._asks.pop(ask_id, None)
        try:
            state, commands = apply_hook(self._manager, self._state, event, self._snapshot)
        except HookError as exc:
            self._metrics.hook_errors += 1
            log.exception("ark: %s", exc)
            if future is not None:
                future.set_exception(exc)
            return
        self._state = state
        replied = False
        for command in commands:
            if isinstance(command, Reply):
                replied = self._reply(future, command, event)
            elif isinstance(command, m.Custom):
                try:
                    self._inbox.push(m.encode(command))
                except InboxClosed:
                    log.warning("ark: %r from a hook dropped: shutting down", command)
            else:
                self._command(command, event)
        if future is not None and not replied:
            future.set_exception(
                NoReply(f"the custom hook returned no Reply for {type(event).__name__}")
            )

    def _reply(self, future: Future[Any] | None, reply: Reply, event: object) -> bool:
        if future is None:
            log.warning("ark: Reply to %s, which nobody asked: dropped", type(event).__name__)
            return False
        if not future.done():
            future.set_result(reply.value)
        return True

    def _command(self, command: m.Message, event: object) -> None:
        try:
            effects = self._core.step(command, time.time())
        except ArkError as exc:
            self._metrics.rejected += 1
            log.warning(
                "ark: command %r from the hook for %s rejected: %s",
                command,
                type(event).__name__,
                exc,
            )
            return
        self._snapshot = self._core.snapshot()
        self._dispatch(effects)

    def _dispatch(self, effects: list[fx.Effect]) -> None:
        out: list[fx.Effect] = []
        metrics = self._metrics
        for effect in effects:
            metrics.effects[type(effect).__name__] += 1
            if isinstance(effect, fx.Decline):
                metrics.offers_declined += len(effect.offer_ids)
            elif isinstance(effect, fx.Accept):
                metrics.offers_accepted += len(effect.offer_ids)
            elif isinstance(effect, fx.Reconcile):
                if effect.tasks:
                    metrics.reconcile_explicit += 1
                else:
                    metrics.reconcile_implicit += 1
            if isinstance(effect, fx.Timer):
                self._after(effect.seconds, m.ReconcileTimeout(effect.round))
            elif isinstance(effect, fx.Unreconciled):
                log.warning("ark: tasks never answered reconciliation: %s", effect.task_ids)
                if self._wants_unreconciled:
                    self._hook(Unreconciled(effect.task_ids))
            else:
                out.append(effect)
        if out and self._persistence.write(self._snapshot, out):
            try:
                self._driver.run(out)
            except Exception:
                log.exception("ark: the driver failed to run %d effects", len(out))

    def _fail_pending_asks(self) -> None:
        with self._asks_lock:
            pending, self._asks = self._asks, {}
        for future in pending.values():
            future.set_exception(InboxClosed("the scheduler shut down before answering"))


_encoder = msgspec.msgpack.Encoder()
_envelope_decoder = msgspec.msgpack.Decoder(m.CustomEnvelope)
_TICK = m.encode(m.Tick())


def _tag(data: bytes) -> bytes:
    """The tag of an encoded message, read without decoding it.

    Messages are msgpack arrays whose first element is the tag string: a
    fixarray or array16 header, then a fixstr or str8.
    """
    try:
        i = 1 if data[0] & 0xF0 == 0x90 else 3
        head = data[i]
        if head & 0xE0 == 0xA0:
            return data[i + 1 : i + 1 + (head & 0x1F)]
        return data[i + 2 : i + 2 + data[i + 1]]
    except IndexError:
        return b""


def _decode(data: bytes) -> tuple[object, int | None]:
    """A hooked message as the hook gets it, and the id of the ask awaiting it."""
    if _tag(data) != b"CustomEnvelope":
        return m.decode(data), None
    envelope = _envelope_decoder.decode(data)
    kind, _, ask = envelope.kind.partition(_ASK)
    cls = m.Custom.registry.get(kind)
    if cls is None:
        raise HookError(f"unknown custom message type {kind!r}")
    return msgspec.msgpack.decode(envelope.body, type=cls), int(ask) if ask else None


def _describe(data: bytes) -> str:
    return _tag(data).decode(errors="replace") or repr(data[:32])
