"""Benchmarks of the Mesos simulator, over real sockets, in one run.

1. One OFFERS cycle for N agents (default 10,000): the allocation itself,
   and SUBSCRIBE-to-OFFERS as a subscriber sees it.
2. N x K tasks (default 100,000) launched through ACCEPT calls, and their
   TASK_STARTING updates streamed back.
3. 100,000 status updates streamed to one subscriber (an implicit
   reconciliation of every task), with the throughput.

    python bench/sim.py                      # 10,000 agents, 100,000 tasks
    python bench/sim.py --agents 500 --tasks-per-agent 4   # a smoke run
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import socket
import sys
import threading
import time
from typing import Any

from ark.sim import AgentShape, Cluster, ClusterConfig, RecordIODecoder, TaskBehaviour, Timing
from workload import wait_until


class Stream:
    """A subscriber reading the event stream on a thread, counting events."""

    def __init__(self, url: str) -> None:
        host, port = url.split("//")[1].split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=600)
        body = json.dumps(
            {
                "type": "SUBSCRIBE",
                "subscribe": {
                    "framework_info": {"user": "bench", "name": "bench", "failover_timeout": 3600}
                },
            }
        )
        self.sent = time.perf_counter()
        self.conn.request(
            "POST",
            "/api/v1/scheduler",
            body,
            {"Content-Type": "application/json", "Accept": "application/json"},
        )
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        self.stream_id = self.resp.getheader("Mesos-Stream-Id")
        self.lock = threading.Lock()
        self.offers: list[dict[str, Any]] = []
        self.offers_at: float | None = None
        self.updates = 0
        self.update_times: list[float] = []
        self.framework_id = ""
        self.subscribed = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        self.subscribed.wait(30)

    def _read(self) -> None:
        decoder = RecordIODecoder()
        while True:
            try:
                data = self.resp.read1(1 << 20)
            except (OSError, http.client.HTTPException, ValueError):
                return
            if not data:
                return
            for record in decoder.feed(data):
                event = json.loads(record)
                kind = event["type"]
                if kind == "UPDATE":
                    with self.lock:
                        self.updates += 1
                        self.update_times.append(time.perf_counter())
                elif kind == "OFFERS":
                    with self.lock:
                        self.offers.extend(event["offers"]["offers"])
                        self.offers_at = time.perf_counter()
                elif kind == "SUBSCRIBED":
                    self.framework_id = event["subscribed"]["framework_id"]["value"]
                    self.subscribed.set()


class Caller:
    """Calls on one keep-alive connection, as a driver makes them."""

    def __init__(self, url: str, framework_id: str, stream_id: str) -> None:
        host, port = url.split("//")[1].split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=600)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.framework_id = framework_id
        self.headers = {"Content-Type": "application/json", "Mesos-Stream-Id": stream_id}

    def call(self, call: dict[str, Any]) -> None:
        call["framework_id"] = {"value": self.framework_id}
        self.conn.request("POST", "/api/v1/scheduler", json.dumps(call), self.headers)
        resp = self.conn.getresponse()
        resp.read()
        assert resp.status == 202, resp.status


def launch_call(offer: dict[str, Any], tasks: int, first: int) -> dict[str, Any]:
    infos = [
        {
            "name": f"t{first + i}",
            "task_id": {"value": f"t{first + i}"},
            "agent_id": offer["agent_id"],
            "resources": [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
            ],
            "command": {"value": "true"},
        }
        for i in range(tasks)
    ]
    return {
        "type": "ACCEPT",
        "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": infos}}],
            "filters": {"refuse_seconds": 3600},
        },
    }


def main() -> None:
    # Client threads and the simulator share one GIL here: switch often, as
    # separate processes would not wait on each other.
    sys.setswitchinterval(1e-4)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--agents", type=int, default=10_000)
    p.add_argument("--tasks-per-agent", type=int, default=10)
    a = p.parse_args()
    total_tasks = a.agents * a.tasks_per_agent

    config = ClusterConfig(
        agents=(AgentShape(count=a.agents, cpus=8, mem=32768),),
        tasks=TaskBehaviour(staging_seconds=0.0, starting_seconds=3600),
        # Long intervals: each phase is measured alone, not mixed with timers.
        timing=Timing(heartbeat_interval=3600, allocation_interval=3600, update_retry_initial=3600),
        seed=1,
    )
    t0 = time.perf_counter()
    with Cluster(config) as cluster:
        print(f"cluster of {a.agents:,} agents started in {time.perf_counter() - t0:.2f} s")

        # 1. SUBSCRIBE triggers an allocation: every agent offered at once.
        stream = Stream(cluster.url)
        wait_until(lambda: len(stream.offers) >= a.agents, 600)
        assert stream.offers_at is not None
        wire = stream.offers_at - stream.sent
        print(
            f"OFFERS cycle, {a.agents:,} agents: subscribe -> {len(stream.offers):,} offers "
            f"received in {wire:.3f} s ({a.agents / wire:,.0f} offers/s)"
        )
        master = cluster.leader()
        # The allocation alone, on the loop: decline everything, allocate again.
        offers_json = list(stream.offers)
        stream.offers.clear()

        def reallocate() -> tuple[float, int]:
            for offer in list(master.offers.values()):
                master._remove_offer(offer)
            start = time.perf_counter()
            made = master.allocate()
            return time.perf_counter() - start, made

        alloc_s, made = cluster.run(reallocate)
        print(
            f"allocation alone: {made:,} offers in {alloc_s:.3f} s ({made / alloc_s:,.0f} offers/s)"
        )
        wait_until(lambda: len(stream.offers) >= a.agents, 600)

        # 2. Launch every task, a.tasks_per_agent per offer, over one keep-alive connection.
        assert stream.stream_id is not None
        caller = Caller(cluster.url, stream.framework_id, stream.stream_id)
        t1 = time.perf_counter()
        for n, offer in enumerate(stream.offers[: a.agents]):
            caller.call(launch_call(offer, a.tasks_per_agent, n * a.tasks_per_agent))
        launch_s = time.perf_counter() - t1
        wait_until(lambda: stream.updates >= total_tasks, 600)
        all_s = time.perf_counter() - t1
        print(
            f"launched {total_tasks:,} tasks in {a.agents:,} ACCEPT calls in {launch_s:.2f} s "
            f"({total_tasks / launch_s:,.0f} tasks/s); all {total_tasks:,} TASK_STARTING "
            f"updates received after {all_s:.2f} s"
        )
        del offers_json

        # 3. 100,000 updates streamed to one subscriber: implicit reconciliation.
        before = stream.updates
        t2 = time.perf_counter()
        caller.call({"type": "RECONCILE", "reconcile": {"tasks": []}})
        queued = time.perf_counter() - t2
        wait_until(lambda: stream.updates >= before + total_tasks, 600)
        stream_s = time.perf_counter() - t2
        print(
            f"streamed {total_tasks:,} status updates to one subscriber in {stream_s:.2f} s "
            f"({total_tasks / stream_s:,.0f} updates/s; master answered the call in {queued:.2f} s)"
        )
        state = cluster.state()
        running = sum(len(f["tasks"]) for f in state["frameworks"])
        print(f"/master/state: {len(state['slaves']):,} agents, {running:,} tasks")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (simulator and this client, one process): {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
