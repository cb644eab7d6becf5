"""The scheduler: one thread that steps every message, runs your hooks, and drives Mesos.

Everything that can change state is a message in one inbox: the driver's
events, timers, your streams, and :meth:`Scheduler.push` / :meth:`Scheduler.ask`
from any thread. One consumer thread takes them in arrival order:

* messages no hook of yours wants are stepped by the Rust core with the GIL
  released, and the calls that follow from them (acknowledgements,
  declines, reconciliation, the matcher's launches ...) go from the core to
  the driver's call sender without a Python object being made;
* a message a hook wants is stepped, then the hook runs on the state right
  after it, and the hook's commands are stepped before the next message: a
  hook's ``Kill`` lands before whatever arrived after its event;
* a custom message never enters the core: it travels through the inbox as
  the object you pushed and reaches your ``custom`` hook in its turn.

``Timer`` effects become :class:`~ark.messages.ReconcileTimeout` messages
when they fall due, and a ``Tick`` every ``tick_seconds`` lets the core
decline offers held too long. With a store, launches are written to it
before the ACCEPT that makes them leaves. A failing hook, command or effect
is logged with its context and the loop goes on with the state from before it.
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

from ark import _core
from ark import effects as fx
from ark import messages as m
from ark._core import CallSender, Inbox
from ark.core import Snapshot
from ark.errors import ArkError, HookError, InboxClosed, NoReply
from ark.metrics import Metrics
from ark.persistence import Persistence
from ark.recorder import HookNote, Recorder, encode_note, encode_reply
from ark.state import Config
from ark.state_manager import Reply, StateManager, Unreconciled, apply_hook, hooked_types
from ark.store import Intent, Store
from ark.streams import Stream, StreamPump, enqueue, reconcile_stream

__all__ = ["Driver", "NoReply", "Scheduler"]

log = logging.getLogger(__name__)

S = TypeVar("S")

_BATCH = 1024
_IDLE_WAIT = 0.1
_JOIN_WAIT = 10.0


class Driver(Protocol):
    """What the scheduler needs from a Mesos driver (native v1, or the pymesos bridge)."""

    @property
    def calls(self) -> CallSender | None:
        """Where the core may send calls itself, or None to get them through :meth:`run`."""

    def start(self, inbox: Inbox, framework_id: str | None = None) -> None:
        """Connect and subscribe (as ``framework_id`` if given); push every event into ``inbox``."""

    def run(self, effects: Sequence[fx.Effect]) -> None:
        """Send the calls for ``effects``; called on the loop thread, must not block long."""

    def stop(self, failover: bool) -> None:
        """Disconnect; without ``failover`` the framework is torn down (its tasks killed)."""


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
    store
        Where the framework id and each launch are written before the call
        that depends on them (:class:`~ark.store.FileStore`,
        :class:`~ark.store.ZooKeeperStore`); loaded at :meth:`start`, so a
        restarted or newly elected scheduler subscribes with the same
        framework id and reconciles every task it may have launched. ``None``
        (the default): nothing is kept, and a restart registers a new framework.
    on_fenced
        Called (on the loop thread) once when the store refuses a write
        because another process leads now; the scheduler has stopped sending
        by then. :class:`~ark.high_availability.Standby` passes its own.
    recorder
        Record every message the loop steps, to replay it with :mod:`ark.replay`.
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
        recorder: Recorder | None = None,
    ) -> None:
        self._manager = manager
        self._state = state
        self._driver = driver
        self._config = msgspec.msgpack.encode(config or Config())
        self._core = _core.Core(self._config)
        self._recorder = recorder
        if recorder is not None:
            self._core.record(True)
        self._snapshot = Snapshot(self._core.snapshot())
        self._inbox = Inbox()
        self._pump = StreamPump(self._inbox)
        self._streams = list(streams)
        if reconcile_seconds is not None:
            self._streams.append(reconcile_stream(reconcile_seconds))
        self._tick_seconds = tick_seconds
        # A custom message encoded by hand (``m.encode``) still reaches its hook.
        self._hooked = frozenset({"CustomEnvelope", *(t.__name__ for t in hooked_types(manager))})
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
        self._on_fenced = on_fenced
        self._calling = True
        self._persistence = Persistence(store, self._store_failed)

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
        enqueue(self._inbox, message)

    def ask(self, message: m.Custom) -> Future[Any]:
        """Queue a custom message; the future holds its hook's :class:`Reply` value.

        The future fails with :class:`~ark.errors.HookError` if the hook
        raised, and with :class:`NoReply` if it returned no ``Reply``.
        """
        future: Future[Any] = Future()
        with self._asks_lock:
            ask_id = next(self._ask_ids)
            self._asks[ask_id] = future
        try:
            self._inbox.push_custom(message, ask_id)
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
            self._inbox.push(m.encode(_track(intent)))
        stored = [
            ("deployment", record.deployments, _resume_decoder),
            ("release", record.releases, _release_decoder),
        ]
        for kind, resumes, decoder in stored:
            for key, resume in resumes.items():
                try:
                    decoder.decode(resume)
                except (msgspec.DecodeError, ValueError) as exc:
                    log.warning("ark: the stored %s of %r is unreadable: %s", kind, key, exc)
                    continue
                self._inbox.push(resume)
        if self._recorder is not None:
            self._recorder.start(self._config)
        self._thread = threading.Thread(target=self._loop, name="ark-scheduler", daemon=True)
        self._thread.start()
        for stream in self._streams:
            self._pump.add(stream)
        self._driver.start(self._inbox, record.framework_id)
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

    def stop_calling(self) -> None:
        """Send Mesos nothing more, at once: calls queued and not yet written
        are dropped, and every later one too (a deposed leader; a store that
        cannot be written). The loop goes on; :meth:`shutdown` still ends it."""
        self._calling = False
        calls = self._driver.calls
        if calls is not None:
            calls.disconnect()

    def _store_failed(self) -> None:
        self.stop_calling()
        if self._on_fenced is not None:
            self._on_fenced()

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
        hold = self._persistence.enabled
        core, metrics = self._core, self._metrics
        while True:
            wait = _IDLE_WAIT
            if self._timers:
                self._push_due_timers()
                wait = min(wait, max(0.0, self._timers[0][0] - time.monotonic()))
            start = time.perf_counter()
            calls = self._calls()
            try:
                stop, effects, errors, intents, taken = core.pump(
                    self._inbox,
                    calls,
                    hooked=self._hooked,
                    hold_launches=hold,
                    max_messages=_BATCH,
                    timeout=wait,
                )
            except InboxClosed:
                break
            except ArkError:
                # A bug in the core (InternalError): that batch is lost, the loop is not.
                log.exception("ark: the core failed a batch of messages")
                continue
            if not taken:
                continue  # woke for a timer, or nothing arrived
            try:
                self._rejected(errors)
                self._snapshot = Snapshot(core.snapshot())
                self._handle(effects, intents)
                self._persistence.write_progress(self._snapshot)
                if stop is not None:
                    self._stopped_at(stop)
            except Exception:
                # A bug of Ark's own; the messages are lost but the loop is not.
                log.exception("ark: failed to process a batch of messages")
            if self._recorder is not None:
                self._recorder.write(core.take_recording())
            metrics.batch(time.perf_counter() - start)
            metrics.core = core.counters()
            metrics.offers_held = self._snapshot.offer_count
            metrics.tasks = self._snapshot.task_count
            metrics.inbox_depth = len(self._inbox)
        if self._recorder is not None:
            self._recorder.write(core.take_recording())
            self._recorder.close()
        self._fail_pending_asks()
        self._stopped.set()

    def _push_due_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, data = heapq.heappop(self._timers)
            if data == _TICK:
                self._after(self._tick_seconds, m.Tick())
            try:
                self._inbox.push(data)
            except InboxClosed:
                return

    def _rejected(self, errors: list[tuple[str, ArkError]]) -> None:
        for tag, error in errors:
            log.warning("ark: message %s rejected: %s", tag or "?", error)

    def _stopped_at(self, stop: tuple[Any, ...]) -> None:
        """Run the hook a pump stopped for."""
        if stop[0] == "custom":
            _, message, ask_id = stop
            self._metrics.custom[type(message).__name__] += 1
            self._hook(message, ask_id or None)
            return
        _, data, used = stop
        try:
            event = m.decode(data)
        except msgspec.DecodeError as exc:
            log.warning("ark: message %r has no hook to reach: %s", data[:32], exc)
            return
        if isinstance(event, m.Offers):
            # The hook sees only offers the core kept (not declined while
            # reconciling, not already used by the matcher).
            if used:
                used_ids = set(used)
                kept = [offer for offer in event.offers if offer.id not in used_ids]
                if not kept:
                    return
                event = m.Offers(kept)
        elif isinstance(event, m.Custom):
            # A custom message encoded by hand (m.encode) rather than pushed.
            self._metrics.custom[type(event).__name__] += 1
        self._hook(event)

    def _hook(self, event: object, ask_id: int | None = None) -> None:
        future = None
        if ask_id is not None:
            with self._asks_lock:
                future = self._asks.pop(ask_id, None)
        try:
            state, commands = apply_hook(self._manager, self._state, event, self._snapshot)
        except HookError as exc:
            self._note(event, [], str(exc), future is not None)
            self._metrics.hook_errors += 1
            log.exception("ark: %s", exc)
            if future is not None:
                future.set_exception(exc)
            return
        self._state = state
        self._note(event, commands, None, future is not None)
        replied = False
        for command in commands:
            if isinstance(command, Reply):
                replied = self._reply(future, command, event)
            elif isinstance(command, m.Custom):
                try:
                    self._inbox.push_custom(command)
                except InboxClosed:
                    log.warning("ark: %r from a hook dropped: shutting down", command)
            else:
                self._command(command, event)
        if future is not None and not replied:
            future.set_exception(
                NoReply(f"the custom hook returned no Reply for {type(event).__name__}")
            )

    def _note(self, event: object, commands: list[Any], error: str | None, asked: bool) -> None:
        """Record what a hook saw and returned, ahead of its commands' steps."""
        if self._recorder is None:
            return
        if isinstance(event, Unreconciled):
            source, data = "unreconciled", msgspec.msgpack.encode(event.task_ids)
        else:
            source = "custom" if isinstance(event, m.Custom) else "message"
            data = m.encode(event)  # type: ignore[arg-type]
        note = HookNote(
            source,
            data,
            [m.encode(c) for c in commands if not isinstance(c, Reply)],
            [encode_reply(c.value) for c in commands if isinstance(c, Reply)],
            error,
            asked,
        )
        self._core.note(encode_note(note), now=time.time())

    def _reply(self, future: Future[Any] | None, reply: Reply, event: object) -> bool:
        if future is None:
            log.warning("ark: Reply to %s, which nobody asked: dropped", type(event).__name__)
            return False
        if not future.done():
            future.set_result(reply.value)
        return True

    def _command(self, command: m.Message, event: object) -> None:
        try:
            _, effects, _, intents, _ = self._core.step_routed(
                m.encode(command), self._calls(), hold_launches=self._persistence.enabled
            )
        except ArkError as exc:
            log.warning(
                "ark: command %r from the hook for %s rejected: %s",
                command,
                type(event).__name__,
                exc,
            )
            return
        self._snapshot = Snapshot(self._core.snapshot())
        self._handle(effects, intents)
        self._persistence.write_progress(self._snapshot)

    def _handle(self, data: bytes, intents: list[tuple[str, str]]) -> None:
        """Carry out the effects the core left to the scheduler, and release
        the calls it held once their launches are stored."""
        effects = fx.decode_effects(data) if data != _NO_EFFECTS else []
        out: list[fx.Effect] = []
        for effect in effects:
            if isinstance(effect, fx.Timer):
                self._after(effect.seconds, m.ReconcileTimeout(effect.round))
            elif isinstance(effect, fx.Unreconciled):
                log.warning("ark: tasks never answered reconciliation: %s", effect.task_ids)
                if self._wants_unreconciled:
                    self._hook(Unreconciled(effect.task_ids))
            else:
                out.append(effect)
        calls = self._calls()
        persistence = self._persistence
        if persistence.behind(self._snapshot.framework_id):
            persistence.write(self._snapshot, [])
        if intents:
            if calls is not None and persistence.write(self._snapshot, intents):
                self._core.release(calls)
            else:
                log.critical("ark: %d calls not sent: not written ahead", self._core.discard())
        if out:
            launches = [
                (task_id, e.agent_id)
                for e in out
                if isinstance(e, fx.Accept)
                for launch in e.launches
                for task_id in launch.task_ids()
            ]
            if persistence.write(self._snapshot, launches) and self._calling:
                try:
                    self._driver.run(out)
                except Exception:
                    log.exception("ark: the driver failed to run %d effects", len(out))

    def _calls(self) -> CallSender | None:
        """Where the core sends calls; None once calling stopped (they come back as effects)."""
        return self._driver.calls if self._calling else None

    def _fail_pending_asks(self) -> None:
        with self._asks_lock:
            pending, self._asks = self._asks, {}
        for future in pending.values():
            future.set_exception(InboxClosed("the scheduler shut down before answering"))


def _track(intent: Intent) -> m.Track:
    """The Track of a stored launch, with the request it was placed from if
    that still reads (else without: the task is reconciled all the same)."""
    request = None
    if intent.request is not None:
        try:
            request = _request_decoder.decode(intent.request)
        except (msgspec.DecodeError, ValueError) as exc:
            log.warning("ark: the stored request of %s is unreadable: %s", intent.task_id, exc)
    return m.Track(intent.task_id, intent.agent_id, request)


_request_decoder = msgspec.msgpack.Decoder(m.TaskRequest)
_resume_decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(m.ResumeDeployment)
_release_decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(m.ResumeRelease)
_TICK = m.encode(m.Tick())
# What the core returns when it leaves no effect to the scheduler: an empty msgpack array.
_NO_EFFECTS = b"\x90"
