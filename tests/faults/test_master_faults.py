"""A master that goes silent, answers badly or slowly, or tears its stream.

The example framework (one copy on every agent) runs in this process,
through a :class:`FaultProxy` to the simulator; each fault comes and goes
once the copies run, and the checker must hold at the end.
"""

from __future__ import annotations

import http.server
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from checker import wait_for_steady
from proxy import FaultProxy
from scheduler_process import SPEC

from ark import Scheduler
from ark import messages as m
from ark.drivers import V1Driver
from ark.examples.everywhere.framework import Everywhere, EverywhereManager
from ark.recordio import frame
from ark.reference import events as ref
from ark.sim import Cluster
from sim.sim_client import FAST
from waiting import wait_until

#: The driver's watchdog: this many heartbeat intervals without an event.
MISSES = 3.0


@pytest.fixture
def scheduler(master_proxy: FaultProxy) -> Iterator[Scheduler[Everywhere]]:
    driver = V1Driver(
        master_proxy.address,
        {"name": "everywhere-faults", "user": "test"},
        backoff_seconds=0.05,
        backoff_cap_seconds=0.5,
        heartbeat_misses=MISSES,
        connect_timeout=2.0,
    )
    with Scheduler(
        EverywhereManager(SPEC), Everywhere(), driver, reconcile_seconds=1.0
    ) as scheduler:
        yield scheduler


def steady(cluster: Cluster, timeout: float = 20.0) -> None:
    found = wait_for_steady(cluster, timeout)
    assert not found, found


def kill_every_copy(cluster: Cluster) -> None:
    """Kill and restart every agent: each copy ends and is launched again."""
    for agent in cluster.state()["slaves"]:
        cluster.kill_agent(agent["id"])
        cluster.restart_agent(agent["id"])


def subscriptions(scheduler: Scheduler[Everywhere]) -> int:
    return scheduler._driver.subscriptions  # type: ignore[attr-defined, no-any-return]


def test_a_silent_partition_is_noticed_within_the_watchdog_bound(
    cluster: Cluster, master_proxy: FaultProxy, scheduler: Scheduler[Everywhere]
) -> None:
    steady(cluster)
    framework_id = scheduler.snapshot().framework_id
    master_proxy.silence()
    silenced = time.monotonic()
    wait_until(lambda: subscriptions(scheduler) == 1, 5, "the stream given up")
    noticed = time.monotonic() - silenced
    # Counted from the last event (a heartbeat at most an interval or so
    # before the silence): noticed after 3 intervals without one, not long after.
    interval = FAST.heartbeat_interval
    assert (MISSES - 2) * interval <= noticed < MISSES * interval + 1.0
    time.sleep(1.0)  # re-subscriptions go nowhere meanwhile
    master_proxy.heal()
    wait_until(lambda: scheduler.snapshot().registered, 10, "subscribed again")
    wait_until(lambda: scheduler.snapshot().reconciliation_phase == "idle", 10, "reconciled")
    steady(cluster)
    assert scheduler.snapshot().framework_id == framework_id


@pytest.mark.parametrize("status", [500, 503])
def test_calls_answered_with_errors_are_repaired_by_reconciliation(
    cluster: Cluster, master_proxy: FaultProxy, scheduler: Scheduler[Everywhere], status: int
) -> None:
    steady(cluster)
    # The relaunches meet the sick master.
    kill_every_copy(cluster)
    master_proxy.answer(status)
    time.sleep(2.0)
    refused = scheduler._driver.calls.counters()["refused"]  # type: ignore[attr-defined]
    assert refused > 0, "no call met the fault"
    assert scheduler._thread is not None and scheduler._thread.is_alive()
    master_proxy.heal()
    steady(cluster, 30)


def test_calls_answered_after_5_seconds(
    cluster: Cluster, master_proxy: FaultProxy, scheduler: Scheduler[Everywhere]
) -> None:
    steady(cluster)
    kill_every_copy(cluster)
    master_proxy.delay(5.0, calls_only=True)
    time.sleep(5.5)
    master_proxy.heal()
    steady(cluster, 30)


def test_a_stream_cut_mid_record(
    cluster: Cluster, master_proxy: FaultProxy, scheduler: Scheduler[Everywhere]
) -> None:
    steady(cluster)
    master_proxy.cut()
    wait_until(lambda: subscriptions(scheduler) >= 1, 5, "the cut stream ended")
    master_proxy.heal()
    wait_until(lambda: scheduler.snapshot().reconciliation_phase == "idle", 10, "reconciled")
    steady(cluster)


class _TornMaster(http.server.BaseHTTPRequestHandler):
    """Answers each SUBSCRIBE with the next of :attr:`streams`, then closes."""

    protocol_version = "HTTP/1.1"
    streams: ClassVar[list[bytes]] = []
    served: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        n = len(self.served)
        self.served.append(n)
        body = self.streams[min(n, len(self.streams) - 1)]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Mesos-Stream-Id", f"s{n}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


def test_a_stream_closed_mid_record_or_with_a_torn_length(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribed = frame(ref.encode_event(m.Subscribed("fw-torn")))
    update = frame(ref.encode_event(m.Update(m.TaskStatus("t1", "TASK_RUNNING"))))
    monkeypatch.setattr(
        _TornMaster,
        "streams",
        [
            subscribed + update[: len(update) // 2],  # closed mid-record
            subscribed + b"12x\n" + update,  # a torn RecordIO length
            subscribed + b"99999999999999999999\n",  # a length beyond any record
            subscribed + update,
        ],
    )
    monkeypatch.setattr(_TornMaster, "served", [])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TornMaster)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = V1Driver(f"127.0.0.1:{server.server_address[1]}", {"name": "t"}, backoff_seconds=0.01)
    try:
        with (
            caplog.at_level(logging.WARNING, logger="ark.drivers.v1"),
            Scheduler(EverywhereManager(SPEC), Everywhere(), driver, reconcile_seconds=None) as s,
        ):
            wait_until(lambda: s.snapshot().task("t1") is not None, 10, "t1 seen")
            assert len(_TornMaster.served) >= 4
            assert s._thread is not None and s._thread.is_alive()
    finally:
        server.shutdown()
        server.server_close()
    ended = [r.getMessage() for r in caplog.records if "ended:" in r.getMessage()]
    assert len(ended) >= 3, ended
