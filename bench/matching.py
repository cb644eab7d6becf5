"""Offer matching: one full cycle, Rust against the plain-Python reference.

50,000 pending tasks (unique-hostname groups, rack and zone constraints,
ports, and unconstrained ones) against one offer from each of 10,000
agents, bin-pack and spread. The reference is the naive definition (it
scans every agent for every task), so it runs on a tenth of the load: the
ratio row compares both on that same smaller cycle.

    python bench/matching.py [--agents 10000] [--tasks 50000]
"""

from __future__ import annotations

import argparse
import gc
import time

from ark import _core
from ark import messages as m
from ark.matching import Constraint, TaskRequest, _encoder, _Input, match_offers, reference_match


def agents(n: int) -> list[m.Offer]:
    return [
        m.Offer(
            f"offer-{i}",
            f"agent-{i:05d}",
            f"host-{i:05d}",
            [
                m.Resource("cpus", scalar=8.0),
                m.Resource("mem", scalar=32768.0),
                m.Resource("ports", ranges=[(31000, 32000)]),
            ],
            [
                m.Attribute("rack", text=f"r{i % 20}"),
                m.Attribute("zone", text=f"z{i % 3}"),
                m.Attribute("ssd", scalar=float(i % 2)),
            ],
        )
        for i in range(n)
    ]


def requests(n: int) -> list[TaskRequest]:
    unique = [Constraint("hostname", "UNIQUE")]
    racks = [Constraint("rack", "LIKE", "r1[0-9]")]
    zone = [Constraint("zone", "EQ", "z1"), Constraint("ssd", "EQ", "1")]
    small = [m.Resource("cpus", scalar=0.5), m.Resource("mem", scalar=512.0)]
    big = [m.Resource("cpus", scalar=1.0), m.Resource("mem", scalar=1024.0)]
    out = []
    for i in range(n):
        kind = i % 5
        if kind in (0, 1):
            out.append(TaskRequest(f"web-{i}", small, constraints=unique, group=f"web{i % 4}"))
        elif kind == 2:
            out.append(TaskRequest(f"rack-{i}", big, ports=2, constraints=racks, group="rack"))
        elif kind == 3:
            out.append(TaskRequest(f"zone-{i}", big, constraints=zone, group="zone"))
        else:
            out.append(TaskRequest(f"batch-{i}", [m.Resource("cpus", scalar=0.25)]))
    return out


def timed(run) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    gc.collect()
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=50_000)
    args = parser.parse_args()
    offers, reqs = agents(args.agents), requests(args.tasks)
    small_offers, small_reqs = agents(args.agents // 10), requests(args.tasks // 10)
    print(f"matching: {args.tasks:,} tasks against {args.agents:,} agents' offers")
    print(f"{'cycle':<44} {'ms':>10} {'placed':>8} {'pending':>8}")
    for strategy in ("binpack", "spread"):
        seconds, d = timed(lambda s=strategy: match_offers(offers, reqs, s))
        placed = sum(len(p.launches) for p in d.accepts)  # type: ignore[attr-defined]
        pending = len(d.pending)  # type: ignore[attr-defined]
        label = f"Rust, {strategy}, full size"
        print(f"{label:<44} {seconds * 1e3:>10.1f} {placed:>8,} {pending:>8,}")
        # The same cycle without building Python objects: msgpack in, msgpack out.
        data = _encoder.encode(_Input(offers, reqs, strategy, [], [], []))
        core_seconds, _ = timed(lambda d=data: _core.match_offers(d))
        label = "  of which the Rust call, bytes in and out"
        print(f"{label:<44} {core_seconds * 1e3:>10.1f}")
        rust_small, d1 = timed(lambda s=strategy: match_offers(small_offers, small_reqs, s))
        ref_small, d2 = timed(lambda s=strategy: reference_match(small_offers, small_reqs, s))
        assert d1 == d2, "Rust and the reference disagree"
        label = f"{strategy}, a tenth ({args.tasks // 10:,} x {args.agents // 10:,})"
        print(f"{'Rust, ' + label:<44} {rust_small * 1e3:>10.1f}")
        print(f"{'reference, ' + label:<44} {ref_small * 1e3:>10.1f}")
        print(
            f"ratio, {strategy}, reference / Rust on the same cycle: {ref_small / rust_small:,.0f}x"
        )


if __name__ == "__main__":
    main()
