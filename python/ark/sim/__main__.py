"""``ark-sim`` / ``python -m ark.sim``: run a simulated Mesos cluster until interrupted."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from ark.drivers.detector import DetectorError, parse_zk_url

from .cluster import Cluster
from .config import AgentShape, ClusterConfig, TaskBehaviour, Timing

__all__ = ["main", "parse_args"]


def _ports(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in text.split(","):
        begin, _, end = part.partition("-")
        out.append((int(begin), int(end or begin)))
    return tuple(out)


def _attributes(text: str) -> dict[str, str | float]:
    out: dict[str, str | float] = {}
    for part in filter(None, text.split(";")):
        key, _, value = part.partition(":")
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
    return out


def parse_args(argv: Sequence[str] | None = None) -> ClusterConfig:
    """Build a `ClusterConfig` from the command line (flags override ``--config``)."""
    p = argparse.ArgumentParser(prog="ark-sim", description=__doc__)
    p.add_argument("--config", help="JSON file with ClusterConfig fields")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="first master's port (default: free ports)")
    p.add_argument("--masters", type=int, help="number of masters")
    p.add_argument("--zk", help="zk://host:port/path: register masters in ZooKeeper")
    p.add_argument("--seed", type=int)
    p.add_argument("--agents", type=int, help="number of agents (one shape)")
    p.add_argument("--cpus", type=float)
    p.add_argument("--mem", type=float)
    p.add_argument("--disk", type=float)
    p.add_argument("--gpus", type=float)
    p.add_argument("--ports", type=_ports, help="port ranges, e.g. 31000-32000")
    p.add_argument("--attributes", type=_attributes, help="e.g. 'rack:r1;ssd:1'")
    p.add_argument("--heartbeat-interval", type=float)
    p.add_argument("--allocation-interval", type=float)
    p.add_argument("--update-retry-initial", type=float)
    p.add_argument("--agent-ping-timeout", type=float)
    p.add_argument("--run-seconds", type=float, help="how long tasks run (default: until killed)")
    p.add_argument("--failure-rate", type=float)
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING)

    config = ClusterConfig.from_file(a.config) if a.config else ClusterConfig()
    shape_changes = {
        k: v
        for k, v in {
            "count": a.agents,
            "cpus": a.cpus,
            "mem": a.mem,
            "disk": a.disk,
            "gpus": a.gpus,
            "ports": a.ports,
            "attributes": a.attributes,
        }.items()
        if v is not None
    }
    if shape_changes:
        base = config.agents[0] if len(config.agents) == 1 else AgentShape()
        config = config.replace(agents=(dataclasses.replace(base, **shape_changes),))
    timing_changes = {
        k: v
        for k, v in {
            "heartbeat_interval": a.heartbeat_interval,
            "allocation_interval": a.allocation_interval,
            "update_retry_initial": a.update_retry_initial,
            "agent_ping_timeout": a.agent_ping_timeout,
        }.items()
        if v is not None
    }
    if timing_changes:
        config = config.replace(timing=Timing(**{**vars(config.timing), **timing_changes}))
    if a.run_seconds is not None or a.failure_rate is not None:
        tasks = vars(config.tasks).copy()
        if a.run_seconds is not None:
            tasks["run_seconds"] = a.run_seconds
        if a.failure_rate is not None:
            tasks["failure_rate"] = a.failure_rate
        config = config.replace(tasks=TaskBehaviour(**tasks))
    top = {"host": a.host, "port": a.port, "masters": a.masters, "seed": a.seed}
    config = config.replace(**{k: v for k, v in top.items() if v is not None})
    if a.zk:
        try:
            hosts, path = parse_zk_url(a.zk)
        except DetectorError as exc:
            p.error(str(exc))
        config = config.replace(zk_hosts=hosts, zk_path=path)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cluster; print where it listens; stop on SIGINT or SIGTERM."""
    config = parse_args(argv)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with Cluster(config) as cluster:
        agents = sum(s.count for s in config.agents)
        print(f"ark-sim: {agents} agents; masters {' '.join(cluster.urls)}", flush=True)
        print(f"ark-sim: leader {cluster.url}", flush=True)
        if cluster.zk_url:
            print(f"ark-sim: ZooKeeper {cluster.zk_url}", flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
