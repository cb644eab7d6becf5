"""Decoding the v1 scheduler API: JSON against protobuf, Python against Rust.

Two workloads, as a large cluster sends them: one OFFERS event from 10,000
agents (each offer with cpus, mem, disk, ports and three attributes), and
100,000 UPDATE events. Each road takes the event's bytes, as read off the
stream, to the bytes of its Ark message, ready for the inbox (what a driver
does per event):

- Python, JSON: ``json.loads`` + ``ark.reference.events.event_from_json``
  + msgspec encode (the reference lift);
- Python, protobuf: ``protobuf`` parse + ``ark.reference.events.event_from_protobuf``
  + encode;
- Rust, JSON and protobuf: ``ark._core.decode_event`` (the drivers'
  roads: the native driver's, and the pymesos bridge's in JSON).

The events are the same in both encodings (JSON is the protobuf's JSON
mapping). Best of ``--repeat`` runs, all in one process.

    python bench/encoding.py [--agents 10000] [--updates 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from ark import _core
from ark import messages as m
from ark import protobuf as pb
from ark.reference import events as ref


def offers_event(agents: int) -> m.Offers:
    offers = []
    for i in range(agents):
        resources = [
            m.Resource("cpus", scalar=16.0),
            m.Resource("mem", scalar=65536.0),
            m.Resource("disk", scalar=409600.0),
            m.Resource("ports", ranges=[(31000, 31999), (33000, 33999)]),
        ]
        attributes = [
            m.Attribute("rack", text=f"r{i % 40}"),
            m.Attribute("zone", text=f"z{i % 3}"),
            m.Attribute("generation", scalar=float(i % 4)),
        ]
        offers.append(
            m.Offer(f"offer-{i:06d}", f"agent-{i:06d}-S0", f"host-{i:06d}", resources, attributes)
        )
    return m.Offers(offers)


def update_events(count: int) -> list[m.Update]:
    return [
        m.Update(
            m.TaskStatus(
                f"task-{i:07d}",
                "TASK_RUNNING",
                agent_id=f"agent-{i % 10_000:06d}-S0",
                source="SOURCE_EXECUTOR",
                uuid=i.to_bytes(16, "big"),
                timestamp=1_700_000_000.0 + i,
            )
        )
        for i in range(count)
    ]


def python_json(record: bytes) -> bytes:
    message = ref.event_from_json(json.loads(record))
    assert message is not None
    return m.encode(message)


def python_protobuf(record: bytes) -> bytes:
    message = ref.event_from_protobuf(record)
    assert message is not None
    return m.encode(message)


def rust_protobuf(record: bytes) -> bytes:
    lifted = _core.decode_event(record)
    assert lifted is not None
    return lifted[1]


def rust_json(record: bytes) -> bytes:
    lifted = _core.decode_event(record, "json")
    assert lifted is not None
    return lifted[1]


def best(records: list[bytes], road: Callable[[bytes], bytes], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for record in records:
            road(record)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    workloads: dict[str, list[m.Message]] = {
        f"1 OFFERS event, {args.agents:,} agents": [offers_event(args.agents)],
        f"{args.updates:,} UPDATE events": list(update_events(args.updates)),
    }
    print(
        "| workload | JSON size | protobuf size | Python JSON | Python protobuf "
        "| Rust JSON | Rust protobuf | Rust protobuf vs Python JSON |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, messages in workloads.items():
        proto = [ref.encode_event(message) for message in messages]
        text = [json.dumps(pb.to_json(r, pb.Event), separators=(",", ":")).encode() for r in proto]
        # The roads agree before they are timed.
        for message, p, j in zip(messages[:100], proto, text, strict=False):
            expected = m.encode(message)
            assert python_json(j) == python_protobuf(p) == expected
            assert rust_json(j) == rust_protobuf(p) == expected
        py_json = best(text, python_json, args.repeat)
        py_proto = best(proto, python_protobuf, args.repeat)
        rs_json = best(text, rust_json, args.repeat)
        rs_proto = best(proto, rust_protobuf, args.repeat)
        json_mb = sum(map(len, text)) / 1e6
        proto_mb = sum(map(len, proto)) / 1e6
        print(
            f"| {name} | {json_mb:.1f} MB | {proto_mb:.1f} MB | {py_json * 1e3:,.0f} ms "
            f"| {py_proto * 1e3:,.0f} ms | {rs_json * 1e3:,.0f} ms | {rs_proto * 1e3:,.0f} ms "
            f"| {py_json / rs_proto:.1f}x |"
        )


if __name__ == "__main__":
    main()
