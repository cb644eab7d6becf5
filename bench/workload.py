"""A seeded, realistic message stream for the benchmarks.

A framework's life in one stream: it subscribes, takes offers and launches its
tasks, the tasks start and run, then a steady state of status updates (new
ones, retried duplicates, tasks ending), heartbeats, offers declined or left
to expire, rescinds, and a reconciliation now and then.

Also the benches' one way to wait for a condition (:func:`wait_until`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from ark import messages as m

TASKS_PER_OFFER = 10

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 60.0) -> T:
    """Poll ``predicate`` until truthy and return its value; `TimeoutError` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError("bench condition not reached")
        time.sleep(0.002)
    return value


def _uuid(rng: random.Random) -> bytes:
    return rng.randbytes(16)


def stream(
    messages: int,
    tasks: int,
    seed: int = 1,
    *,
    prefix: str = "",
    subscribe: bool = True,
    reconcile: bool = True,
) -> Iterator[m.Message]:
    """Yield ``messages`` messages that launch and then exercise ``tasks`` tasks.

    ``prefix`` starts every id, so that several streams can share a reducer;
    ``subscribe`` and ``reconcile`` leave out the subscription and the
    reconciliation, which only one of several streams should carry.
    """
    rng = random.Random(seed)
    agents = max(1, tasks // 100)
    cpus = m.Resource("cpus", scalar=float(TASKS_PER_OFFER))
    mem = m.Resource("mem", scalar=1024.0 * TASKS_PER_OFFER)
    task_cpus = [m.Resource("cpus", scalar=1.0), m.Resource("mem", scalar=1024.0)]
    count = 0
    offer_seq = 0

    def offer(agent: int) -> m.Offer:
        nonlocal offer_seq
        offer_seq += 1
        agent_id = f"{prefix}agent-{agent}"
        return m.Offer(f"{prefix}offer-{offer_seq}", agent_id, f"{prefix}host-{agent}", [cpus, mem])

    if subscribe:
        yield m.Subscribed("framework-1", heartbeat_interval_seconds=15.0)
        count += 1
    # Launch: one offer per batch of tasks, accepted at once.
    launched = 0
    while launched < tasks and count < messages - 1:
        o = offer(launched // TASKS_PER_OFFER % agents)
        n = min(TASKS_PER_OFFER, tasks - launched)
        yield m.Offers([o])
        yield m.Accept(
            [o.id],
            [m.Launch(f"{prefix}task-{launched + i}", resources=task_cpus) for i in range(n)],
        )
        count += 2
        launched += n
    agent_of = [f"{prefix}agent-{i // TASKS_PER_OFFER % agents}" for i in range(launched)]
    last_uuid: list[bytes | None] = [None] * launched
    ended = [False] * launched
    # Every task starts, then runs.
    for state in ("TASK_STARTING", "TASK_RUNNING"):
        for i in range(launched):
            if count >= messages:
                return
            u = _uuid(rng)
            last_uuid[i] = u
            yield m.Update(
                m.TaskStatus(
                    f"{prefix}task-{i}",
                    state,  # type: ignore[arg-type]
                    agent_id=agent_of[i],
                    source="SOURCE_EXECUTOR",
                    uuid=u,
                    timestamp=float(count),
                )
            )
            count += 1
    # Steady state.
    reconciled = False
    while count < messages:
        roll = rng.random()
        i = rng.randrange(launched) if launched else 0
        if roll < 0.70 and launched:
            if rng.random() < 0.1 and last_uuid[i] is not None:
                u = last_uuid[i]  # a retried update: acknowledged again, not applied
                state = "TASK_RUNNING"
            else:
                u = _uuid(rng)
                state = "TASK_FAILED" if rng.random() < 0.02 else "TASK_RUNNING"
                ended[i] = ended[i] or state == "TASK_FAILED"
            last_uuid[i] = u
            yield m.Update(
                m.TaskStatus(
                    f"{prefix}task-{i}",
                    state,  # type: ignore[arg-type]
                    agent_id=agent_of[i],
                    reason="REASON_COMMAND_EXECUTOR_FAILED" if state == "TASK_FAILED" else None,
                    source="SOURCE_EXECUTOR",
                    uuid=u,
                    timestamp=float(count),
                )
            )
        elif roll < 0.80:
            yield m.Heartbeat()
        elif roll < 0.90:
            batch = [offer(rng.randrange(agents)) for _ in range(rng.randint(1, 3))]
            yield m.Offers(batch)
            if rng.random() < 0.5:
                count += 1
                yield m.Decline([o.id for o in batch], refuse_seconds=30.0)
        elif roll < 0.95:
            yield m.Tick()
        elif roll < 0.99:
            yield m.Rescind(f"{prefix}offer-{rng.randrange(1, offer_seq + 1)}")
        else:
            yield m.Kill(f"{prefix}task-{i}")
        count += 1
        if reconcile and not reconciled and count >= messages * 0.6:
            # One reconciliation, answered by the master for every live task.
            reconciled = True
            yield m.ReconcileTick()
            count += 1
            for j in range(launched):
                if count >= messages:
                    return
                if not ended[j]:
                    yield m.Update(
                        m.TaskStatus(
                            f"{prefix}task-{j}",
                            "TASK_RUNNING",
                            agent_id=agent_of[j],
                            reason="REASON_RECONCILIATION",
                            source="SOURCE_MASTER",
                        )
                    )
                    count += 1


def encoded(messages: int, tasks: int, seed: int = 1, **options: str | bool) -> list[bytes]:
    """The stream, encoded for the inbox; ``options`` as for :func:`stream`."""
    return [m.encode(message) for message in stream(messages, tasks, seed, **options)]  # type: ignore[arg-type]
