"""The benchmark master speaks Mesos: Ark's own driver and scheduler, in both
encodings, against the real ``ark-bench-master`` binary (built on first use)."""

from __future__ import annotations

import importlib.util
import re
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ark import Scheduler, StateManager
from ark import messages as m
from ark.core import Snapshot
from ark.drivers import V1Driver
from waiting import wait_until


def _load_bench_master() -> ModuleType:
    # Loaded from its file: bench/ on sys.path would shadow the tests' `sim`
    # namespace package with bench/sim.py.
    path = Path(__file__).resolve().parents[2] / "bench" / "bench_master.py"
    spec = importlib.util.spec_from_file_location("bench_master", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_master"] = module
    spec.loader.exec_module(module)
    return module


BenchMaster = _load_bench_master().BenchMaster

ENCODINGS = ["protobuf", "json"]


@pytest.fixture
def master() -> Iterator[BenchMaster]:
    with BenchMaster.start(heartbeat_seconds=0.2) as harness:
        yield harness


class Quiet(StateManager[int]):
    """No hooks: Ark acknowledges every update itself."""


def subscribed(master: BenchMaster, encoding: str) -> Callable[[], bool]:
    """Subscribed, and Ark's first reconciliation (implicit: it knows no task) is in."""

    def done() -> bool:
        stats = master.stats()
        return stats["stream_encoding"] == encoding and stats["reconcile_calls"] >= 1

    return done


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_storm_is_acknowledged_once_each_by_ark(master: BenchMaster, encoding: Any) -> None:
    driver = V1Driver(master.url, {"name": "storm"}, encoding=encoding)
    with Scheduler(Quiet(), 0, driver, reconcile_seconds=None) as scheduler:
        wait_until(subscribed(master, encoding), 30)
        master.storm(2000)
        stats = master.wait(lambda s: s["acks_ok"] >= 2000, timeout=60.0)
        wait_until(lambda: scheduler.snapshot().task_count == 2000, 30)
    assert stats["updates_sent"] == 2000
    assert stats["acks_duplicate"] == stats["acks_bad_uuid"] == stats["acks_unknown"] == 0
    assert stats["unknown_calls"] == stats["bad_stream_id"] == 0
    assert stats["calls_by_type"]["ACKNOWLEDGE"] == 2000
    assert stats["first_update_at"] <= stats["last_ack_at"]
    assert 0.0 <= stats["cpu_seconds"] < stats["wall_seconds"] * 2


def test_a_paced_storm_takes_its_time(master: BenchMaster) -> None:
    driver = V1Driver(master.url, {"name": "paced"})
    with Scheduler(Quiet(), 0, driver, reconcile_seconds=None):
        wait_until(subscribed(master, "protobuf"), 30)
        master.storm(300, rate=1000.0)
        stats = master.wait(lambda s: s["acks_ok"] >= 300, timeout=60.0)
    # 300 updates at 1,000 a second: the last one leaves about 0.3 s after the first.
    assert stats["last_ack_at"] - stats["first_update_at"] >= 0.25
    assert stats["acks_duplicate"] == stats["acks_bad_uuid"] == stats["unknown_calls"] == 0


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_ark_launches_on_its_offers_and_acknowledges_the_launches(
    master: BenchMaster, encoding: Any
) -> None:
    driver = V1Driver(master.url, {"name": "launch"}, encoding=encoding)
    small = [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32.0)]
    with Scheduler(Quiet(), 0, driver, reconcile_seconds=None) as scheduler:
        wait_until(subscribed(master, encoding), 30)
        wait_until(lambda: scheduler.snapshot().reconciliation_phase == "idle", 30)
        scheduler.push(m.Request([m.TaskRequest(f"t-{i}", resources=small) for i in range(200)]))
        master.offers(agents=50, cpus=1.0, mem=1024.0, disk=100.0, ports=10, per_event=20)
        stats = master.wait(lambda s: s["launches"] >= 200 and s["acks_ok"] >= 200)
        # Every offer is answered: used by an ACCEPT, or declined.
        stats = master.wait(lambda s: s["offers_accepted"] + s["offers_declined"] == 50)
    assert stats["launches"] == 200
    assert stats["offers_reused"] == 0
    assert stats["acks_duplicate"] == stats["acks_bad_uuid"] == stats["acks_unknown"] == 0
    assert stats["unknown_calls"] == 0
    assert stats["last_accept_at"] is not None


def test_reconciliation_is_answered_for_known_and_unknown_tasks(master: BenchMaster) -> None:
    master.tasks(3, agents=2)
    driver = V1Driver(master.url, {"name": "reconcile"})
    with Scheduler(Quiet(), 0, driver, reconcile_seconds=None) as scheduler:
        wait_until(subscribed(master, "protobuf"), 30)
        scheduler.push(m.Track("task-1", "agent-1"))
        scheduler.push(m.Track("ghost", "agent-0"))
        scheduler.push(m.Reconcile())
        wait_until(lambda: master.stats()["reconcile_tasks"] >= 2, 30)
        wait_until(lambda: _state(scheduler.snapshot(), "ghost") == "TASK_LOST", 30)
        wait_until(lambda: _state(scheduler.snapshot(), "task-1") == "TASK_RUNNING", 30)
    assert master.stats()["unknown_calls"] == 0


def _state(snapshot: Snapshot, task_id: str) -> str | None:
    record = snapshot.task(task_id)
    return None if record is None else record.state


# --- the HTTP contract, byte by byte --------------------------------------------------


def _exchange(address: str, data: bytes, until: bytes, timeout: float = 10.0) -> bytes:
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(data)
        received = b""
        while until not in received:
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def _post(path: str, body: bytes = b"", headers: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def test_pipelined_requests_are_answered_in_order(master: BenchMaster) -> None:
    requests = (
        b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n"
        + _post("/api/v1/scheduler", b'{"type":"REVIVE"}', "Content-Type: application/json\r\n")
        + _post("/api/v1/scheduler", b"{not json", "Content-Type: application/json\r\n")
        + b"GET /bench/stats HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    received = _exchange(master.address, requests, b'"wall_seconds"')
    # Bodies end with no newline: each status line follows the last body directly.
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", received)
    # REVIVE without a stream id: 400; the body that is not JSON: 400 and unknown.
    assert statuses == [b"200", b"400", b"400", b"200"]
    assert b'"1.12.0"' in received
    stats = master.stats()
    assert stats["unknown_calls"] == 1
    assert stats["bad_stream_id"] == 1


def test_a_second_subscribe_fails_the_first_over(master: BenchMaster) -> None:
    first = V1Driver(master.url, {"name": "one"}, encoding="json")
    with Scheduler(Quiet(), 0, first, reconcile_seconds=None):
        wait_until(subscribed(master, "json"), 30)
        framework_id = master.stats()["framework_id"]
        second = V1Driver(master.url, {"name": "two"}, framework_id=framework_id)
        with Scheduler(Quiet(), 0, second, reconcile_seconds=None):
            wait_until(subscribed(master, "protobuf"), 30)
            wait_until(lambda: first.error == "Framework failed over", 30)
            assert master.stats()["framework_id"] == framework_id
            assert master.stats()["subscribes"] == 2
