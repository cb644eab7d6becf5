"""Launch backoff end to end: a crash-looping group over the simulator's real API.

Each task of the group runs briefly and fails (the simulator's
``ark.sim/outcome`` label); the hook asks for a replacement at once, and the
core's launch backoff spaces the launches: the gaps grow with the delay, and
stay well under the refuse filter because the end of a delay revives offers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import msgspec
from sim_client import fast_config

from ark import Config, Scheduler, StateManager, Step
from ark import messages as m
from ark.core import Snapshot
from ark.drivers import V1Driver
from ark.sim import Cluster
from ark.wire import task_payload
from waiting import wait_until

CRASHING = task_payload(
    "sleep 0.05; exit 1",
    labels={
        "labels": [
            {"key": "ark.sim/duration", "value": "0.05"},
            {"key": "ark.sim/outcome", "value": "TASK_FAILED"},
        ]
    },
)
LAUNCHES = 4
#: Delays 0.4, 0.8, then the cap 0.8; offers declined meanwhile are refused 5 s.
CONFIG = Config(
    backoff_seconds=0.4, backoff_factor=2.0, backoff_max_seconds=0.8, offer_refuse_seconds=5.0
)


class Runs(msgspec.Struct, frozen=True):
    requested: int = 0
    #: When each task reported TASK_RUNNING (the agent's clock), in order.
    running: tuple[float, ...] = ()


class CrashLoop(StateManager[Runs]):
    """Keeps one task of the group ``crash`` wanted, ``LAUNCHES`` times in all."""

    def offers(self, state: Runs, offers: Sequence[m.Offer], framework: Snapshot) -> Step[Runs]:
        if state.requested:
            return state, ()
        return self._want(state)

    def status_update(self, state: Runs, status: m.TaskStatus, framework: Snapshot) -> Step[Runs]:
        if status.state == "TASK_RUNNING" and status.timestamp is not None:
            state = msgspec.structs.replace(state, running=(*state.running, status.timestamp))
        if status.state == "TASK_FAILED" and state.requested < LAUNCHES:
            return self._want(state)
        return state, ()

    def _want(self, state: Runs) -> Step[Runs]:
        request = m.TaskRequest(
            f"crash-{state.requested}",
            resources=[m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32.0)],
            group="crash",
            payload=CRASHING,
        )
        return msgspec.structs.replace(state, requested=state.requested + 1), [m.Request([request])]


def test_a_crash_looping_group_is_launched_after_growing_delays() -> None:
    with Cluster(fast_config()) as cluster:
        driver = V1Driver(cluster.url.removeprefix("http://"), {"name": "crash", "user": "t"})
        with Scheduler(
            CrashLoop(), Runs(), driver, config=CONFIG, reconcile_seconds=None, tick_seconds=0.02
        ) as scheduler:
            reasons = wait_until(
                lambda: [r for r in scheduler.snapshot().pending().values() if r], 20.0
            )
            assert reasons[0].startswith("launch backoff until "), reasons
            wait_until(lambda: len(scheduler.state.running) == LAUNCHES, 30.0, "every launch")
            running = scheduler.state.running
            backoffs = scheduler.snapshot().view().backoffs
    gaps = [b - a for a, b in itertools.pairwise(running)]
    # Each launch waited its delay after the failure before it...
    assert all(gap >= delay for gap, delay in zip(gaps, [0.4, 0.8, 0.8], strict=True)), gaps
    # ...and no longer than a little: the delay's end revived the offers the
    # backoff declined with a 5 s filter.
    assert all(gap < 3.0 for gap in gaps), gaps
    assert [(b.group, b.delay) for b in backoffs] == [("crash", 0.8)]
