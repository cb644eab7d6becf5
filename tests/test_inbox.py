import threading
import time

import pytest

from ark import Inbox, InboxClosed


def test_drain_returns_pushed_messages_in_order() -> None:
    inbox = Inbox()
    for i in range(5):
        inbox.push(bytes([i]))
    assert len(inbox) == 5
    assert inbox.drain(max_messages=3, timeout=0) == [b"\x00", b"\x01", b"\x02"]
    assert inbox.drain(timeout=0) == [b"\x03", b"\x04"]


def test_empty_drain_waits_for_the_timeout_then_returns_nothing() -> None:
    assert Inbox().drain(timeout=0.01) == []


def test_drain_releases_the_gil_while_it_waits() -> None:
    inbox = Inbox()
    got: list[list[bytes]] = []
    consumer = threading.Thread(target=lambda: got.append(inbox.drain(timeout=10)))
    consumer.start()
    # This thread runs Python while the consumer blocks: it could not if the
    # consumer held the GIL.
    deadline = time.monotonic() + 5
    while not consumer.is_alive() and time.monotonic() < deadline:
        pass
    inbox.push(b"hello")
    consumer.join(10)
    assert got == [[b"hello"]]


def test_close_refuses_pushes_delivers_the_rest_and_wakes_the_consumer() -> None:
    inbox = Inbox()
    inbox.push(b"last")
    inbox.close()
    assert inbox.closed
    with pytest.raises(InboxClosed):
        inbox.push(b"late")
    assert inbox.drain(timeout=0) == [b"last"]
    with pytest.raises(InboxClosed):
        inbox.drain(timeout=5)

    blocked = Inbox()
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            blocked.drain(timeout=60)
        except InboxClosed as e:
            errors.append(e)

    consumer = threading.Thread(target=consume)
    consumer.start()
    blocked.close()
    consumer.join(10)
    assert not consumer.is_alive() and len(errors) == 1


def test_four_producers_lose_nothing_and_keep_their_own_order() -> None:
    inbox = Inbox()
    per_producer = 5_000

    def produce(p: int) -> None:
        for i in range(per_producer):
            inbox.push(b"%d:%d" % (p, i))

    producers = [threading.Thread(target=produce, args=(p,)) for p in range(4)]
    for t in producers:
        t.start()
    seen: dict[int, list[int]] = {p: [] for p in range(4)}
    total = 0
    while total < 4 * per_producer:
        for m in inbox.drain(max_messages=512, timeout=5):
            p, i = m.split(b":")
            seen[int(p)].append(int(i))
            total += 1
    for t in producers:
        t.join()
    assert all(seen[p] == list(range(per_producer)) for p in range(4))
