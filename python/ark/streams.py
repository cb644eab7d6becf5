"""Your own message streams, merged into the scheduler's one inbox.

As in the original library, a framework passes any number of streams of
messages (custom ones, or Ark's such as :func:`reconcile_stream`); each item is
encoded and pushed into the inbox, where it waits its turn behind whatever
arrived before it. A stream is either

* an iterable (a list, a generator that blocks on a socket or a queue...),
  drained on its own daemon thread, or
* an async iterable, run on one shared asyncio loop thread, where waiting
  costs no thread.

A stream that raises, or yields something that is not a message, is logged
and stopped; the loop and the other streams go on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import TypeAlias, get_args

from ark import messages as m
from ark._core import Inbox
from ark.errors import InboxClosed

__all__ = ["Stream", "StreamPump", "reconcile_stream"]

log = logging.getLogger(__name__)

Stream: TypeAlias = Iterable[m.Message | m.Custom] | AsyncIterable[m.Message | m.Custom]

_SHUTDOWN_WAIT = 5.0


async def reconcile_stream(interval: float) -> AsyncIterator[m.ReconcileTick]:
    """A :class:`~ark.messages.ReconcileTick` every ``interval`` seconds, forever.

    The core starts a reconciliation on each tick unless one is running (and
    also on every registration), as the original ``reconcileProcess`` did.
    """
    if interval <= 0:
        raise ValueError(f"reconcile interval must be positive, got {interval}")
    while True:
        await asyncio.sleep(interval)
        yield m.ReconcileTick()


def enqueue(inbox: Inbox, message: m.Message | m.Custom) -> None:
    """Push one message: a core message encoded, a custom one as it is (the
    core never looks inside it).

    Raises
    ------
    InboxClosed
        The inbox is closed.
    """
    if isinstance(message, m.Custom):
        inbox.push_custom(message)
    else:
        inbox.push(m.encode(message))


class StreamPump:
    """Pushes every item of every stream into ``push`` until :meth:`stop`.

    Parameters
    ----------
    inbox
        Where the items go (see :func:`enqueue`); once it is closed the
        streams end quietly.
    """

    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None

    def add(self, stream: Stream, name: str | None = None) -> None:
        """Start pumping ``stream`` now."""
        label = name or getattr(stream, "__qualname__", None) or type(stream).__name__
        if isinstance(stream, AsyncIterable):
            asyncio.run_coroutine_threadsafe(self._pump_async(stream, label), self._async_loop())
        elif isinstance(stream, Iterable):
            thread = threading.Thread(
                target=self._pump_sync, args=(stream, label), name=f"ark-stream-{label}"
            )
            # Daemon: a generator blocked in its own wait cannot be interrupted.
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        else:
            raise TypeError(f"a stream is an iterable or async iterable, not {type(stream)!r}")

    def stop(self) -> None:
        """Stop every stream: async ones are cancelled; sync ones end at their next item."""
        self._stopping.set()
        loop, self._loop = self._loop, None
        if loop is not None and self._loop_thread is not None:
            loop.call_soon_threadsafe(_cancel_all, loop)
            self._loop_thread.join(_SHUTDOWN_WAIT)

    def _async_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=_run_forever, args=(loop,), name="ark-streams-async", daemon=True
            )
            thread.start()
            self._loop, self._loop_thread = loop, thread
        return self._loop

    def _put(self, item: object, label: str) -> bool:
        """Encode and push one item; False when the stream must end."""
        if self._stopping.is_set():
            return False
        if not isinstance(item, (m.Custom, *_MESSAGE_TYPES)):
            log.error("stream %s yielded %r, which is not a message: stream stopped", label, item)
            return False
        try:
            enqueue(self._inbox, item)  # type: ignore[arg-type]
        except InboxClosed:
            return False
        return True

    def _pump_sync(self, stream: Iterable[object], label: str) -> None:
        try:
            for item in stream:
                if not self._put(item, label):
                    return
        except Exception:
            log.exception("stream %s raised: stream stopped", label)
        else:
            log.info("stream %s ended", label)

    async def _pump_async(self, stream: AsyncIterable[object], label: str) -> None:
        try:
            async for item in stream:
                if not self._put(item, label):
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("stream %s raised: stream stopped", label)
        else:
            log.info("stream %s ended", label)


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()

    async def drain() -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        loop.stop()

    loop.create_task(drain())


# Envelopes are the core's wire shape; a stream yields the custom message itself.
_MESSAGE_TYPES: tuple[type, ...] = tuple(
    t for t in get_args(m.Message) if t is not m.CustomEnvelope
)
