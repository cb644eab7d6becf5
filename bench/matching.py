"""Offer matching: one full cycle, Rust against the plain-Python reference.

50,000 pending tasks (unique-hostname groups, rack and zone constraints,
ports, and unconstrained ones) against one offer from each of 10,000
agents, bin-pack and spread; then the same count of tasks spread by
GROUP_BY over the 20 racks, each with a named port. The reference is the
naive definition (it scans every agent for every task), so it runs on a
tenth of the load: the ratio rows compare both on that same smaller cycle.

    python bench/matching.py [--agents 10000] [--tasks 50000]
"""

from __future__ import annotations

import argparse
import gc
import time

import msgspec

from ark import _core
from ark import messages as m
from ark.core import Reducer
from ark.matching import (
    Constraint,
    Strategy,
    TaskRequest,
    _encoder,
    _Input,
    match_offers,
)
from ark.reference import reference_match


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


def grouped(n: int) -> list[TaskRequest]:
    by_rack = [Constraint("rack", "GROUP_BY", "20")]
    cpus = [m.Resource("cpus", scalar=0.5)]
    return [
        TaskRequest(f"g-{i}", cpus, constraints=by_rack, group="g", port_names=["http"])
        for i in range(n)
    ]


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
    print(f"{'cycle':<50} {'ms':>10} {'placed':>8} {'pending':>8}")
    strategies: tuple[Strategy, ...] = ("binpack", "spread")
    for strategy in strategies:
        cycle((offers, reqs), (small_offers, small_reqs), strategy, "")
    grouped_full, grouped_tenth = grouped(args.tasks), grouped(args.tasks // 10)
    for strategy in strategies:
        cycle((offers, grouped_full), (small_offers, grouped_tenth), strategy, "GROUP_BY, ")
    waiting(args.tasks)


def cycle(
    full: tuple[list[m.Offer], list[TaskRequest]],
    tenth: tuple[list[m.Offer], list[TaskRequest]],
    strategy: Strategy,
    kind: str,
) -> None:
    """One strategy's rows: full size, the Rust call alone, a tenth against the reference."""
    offers, reqs = full
    seconds, d = timed(lambda: match_offers(offers, reqs, strategy))
    placed = sum(len(p.launches) for p in d.accepts)  # type: ignore[attr-defined]
    pending = len(d.pending)  # type: ignore[attr-defined]
    label = f"Rust, {kind}{strategy}, full size"
    print(f"{label:<50} {seconds * 1e3:>10.1f} {placed:>8,} {pending:>8,}")
    # The same cycle without building Python objects: msgpack in, msgpack out.
    data = _encoder.encode(_Input(offers, reqs, strategy, [], [], []))
    core_seconds, _ = timed(lambda: _core.match_offers(data))
    label = "  of which the Rust call, bytes in and out"
    print(f"{label:<50} {core_seconds * 1e3:>10.1f}")
    small_offers, small_reqs = tenth
    rust_small, d1 = timed(lambda: match_offers(small_offers, small_reqs, strategy))
    ref_small, d2 = timed(lambda: reference_match(small_offers, small_reqs, strategy))
    assert d1 == d2, "Rust and the reference disagree"
    label = f"{kind}{strategy}, a tenth ({len(small_reqs):,} x {len(small_offers):,})"
    print(f"{'Rust, ' + label:<50} {rust_small * 1e3:>10.1f}")
    print(f"{'reference, ' + label:<50} {ref_small * 1e3:>10.1f}")
    ratio = ref_small / rust_small
    print(f"ratio, {kind}{strategy}, reference / Rust on the same cycle: {ratio:,.0f}x")


def waiting(tasks: int) -> None:
    """A cycle in the core while ``tasks`` requests wait that no offer fits.

    Each new offer runs a cycle over the whole demand, which the core keeps
    between cycles: this row is the cost of lending it to the matcher.
    """
    core = Reducer()
    core.step(m.Subscribed("fw"), 0.0)
    too_big = [m.Resource("cpus", scalar=1000.0)]
    core.step(m.Request([TaskRequest(f"w-{i}", too_big) for i in range(tasks)]), 0.0)
    offer = agents(1)[0]
    cycles = 20

    def run() -> None:
        for i in range(cycles):
            core.step(m.Offers([msgspec.structs.replace(offer, id=f"o{i}")]), 1.0)

    gc.collect()
    # CPU time: the row compares builds run apart, on a machine shared with others.
    start = time.process_time()
    run()
    seconds = time.process_time() - start
    label = f"core, one offer, {tasks:,} requests waiting (CPU)"
    print(f"{label:<50} {seconds / cycles * 1e3:>10.1f} {0:>8,} {tasks:>8,}")


if __name__ == "__main__":
    main()
