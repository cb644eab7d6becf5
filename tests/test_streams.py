"""Streams: sync and async, merged into one inbox; bad items and raising streams stop alone."""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from ark import Inbox
from ark import messages as m
from ark.streams import StreamPump, reconcile_stream
from waiting import wait_until


class Note(m.Custom):
    text: str


def drain(inbox: Inbox, n: int, timeout: float = 5.0) -> list[m.Message | m.Custom]:
    out: list[m.Message | m.Custom] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        batch = inbox.drain(max_messages=n - len(out), timeout=0.05)
        out += [m.decode(b) if isinstance(b, bytes) else b for b in batch]
    return out


def test_sync_and_async_streams_merge_into_the_inbox() -> None:
    inbox = Inbox()
    pump = StreamPump(inbox)

    async def notes() -> AsyncIterator[Note]:
        for i in range(50):
            yield Note(f"async {i}")

    pump.add([Note(f"list {i}") for i in range(50)])
    pump.add(notes())
    try:
        got = drain(inbox, 100)
    finally:
        pump.stop()
    texts = [n.text for n in got if isinstance(n, Note)]
    assert sorted(texts) == sorted(
        [f"list {i}" for i in range(50)] + [f"async {i}" for i in range(50)]
    )
    # Each stream's own order is kept.
    assert [t for t in texts if t.startswith("list")] == [f"list {i}" for i in range(50)]


def test_reconcile_stream_ticks_and_stops() -> None:
    inbox = Inbox()
    pump = StreamPump(inbox)
    pump.add(reconcile_stream(0.01))
    got = drain(inbox, 3)
    pump.stop()
    assert got == [m.ReconcileTick()] * 3
    inbox.drain(max_messages=1000, timeout=0.0)
    time.sleep(0.05)  # no tick may arrive after stop: give one the chance
    assert inbox.drain(max_messages=10, timeout=0.0) == []


def test_reconcile_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        reconcile_stream(0).__anext__().send(None)


def test_a_bad_stream_stops_alone(caplog: pytest.LogCaptureFixture) -> None:
    inbox = Inbox()
    pump = StreamPump(inbox)
    good: queue.Queue[Note | None] = queue.Queue()

    def from_queue() -> Iterator[Note]:
        while (item := good.get()) is not None:
            yield item

    def raising() -> Iterator[Note]:
        yield Note("before")
        raise RuntimeError("stream broke")

    with caplog.at_level(logging.ERROR, logger="ark.streams"):
        pump.add(raising(), name="raising")
        pump.add(iter([Note("ok"), "not a message", Note("never")]), name="bad-item")  # type: ignore[list-item]
        pump.add(from_queue(), name="queue")
        good.put(Note("still going"))
        got = drain(inbox, 3)
        wait_until(lambda: "bad-item" in caplog.text, 5, "the bad item logged")
        good.put(None)
        pump.stop()
    assert sorted(n.text for n in got if isinstance(n, Note)) == ["before", "ok", "still going"]
    assert "stream raising raised" in caplog.text
    assert "stream bad-item yielded 'not a message'" in caplog.text


def test_not_a_stream() -> None:
    with pytest.raises(TypeError, match="iterable"):
        StreamPump(Inbox()).add(42)  # type: ignore[arg-type]
