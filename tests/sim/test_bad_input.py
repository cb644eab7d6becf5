"""Bad input, generated: every malformed call gets a 4xx with a message (never
a 5xx), and the simulator keeps serving the well-behaved subscriber."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_client import Subscriber, fast_config

from ark.sim import Cluster

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)

TEMPLATES: list[dict[str, Any]] = [
    {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}},
    {"type": "ACCEPT", "accept": {"offer_ids": [{"value": "o"}], "operations": []}},
    {
        "type": "ACCEPT",
        "accept": {
            "offer_ids": [{"value": "o"}],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [{"name": "t"}]}}],
        },
    },
    {"type": "DECLINE", "decline": {"offer_ids": [], "filters": {"refuse_seconds": 1}}},
    {"type": "KILL", "kill": {"task_id": {"value": "t"}, "agent_id": {"value": "a"}}},
    {"type": "SHUTDOWN", "shutdown": {"executor_id": {"value": "e"}, "agent_id": {"value": "a"}}},
    {
        "type": "ACKNOWLEDGE",
        "acknowledge": {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "x"},
    },
    {"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": {"value": "t"}}]}},
    {"type": "MESSAGE", "message": {"agent_id": {"value": "a"}, "executor_id": {"value": "e"}}},
    {"type": "REVIVE"},
    {"type": "SUPPRESS"},
    {"type": "REQUEST", "request": {"requests": []}},
]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(obj))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Cluster, Subscriber]]:
    with Cluster(fast_config()) as cluster:
        sub = Subscriber(cluster.url)
        sub.wait_offer()
        try:
            yield cluster, sub
        finally:
            sub.close()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data())
def test_mutated_calls_get_a_4xx_or_202(served: tuple[Cluster, Subscriber], data: Any) -> None:
    cluster, sub = served
    template = data.draw(st.sampled_from(TEMPLATES))
    if template["type"] != "SUBSCRIBE":
        template = dict(template, framework_id={"value": sub.framework_id})
    path = data.draw(st.sampled_from(_paths(template)))
    call = _replace(template, path, data.draw(json_values))
    # A raw request that reads only the head: a SUBSCRIBE that parses gets an
    # endless 200 stream, which closing the connection ends.
    probe = Subscriber(
        cluster.url,
        body=json.dumps(call).encode(),
        headers={"Mesos-Stream-Id": sub.stream_id or ""},
    )
    try:
        status = probe.status
        body = probe.body if probe.closed else b""
    finally:
        probe.close()
    if status == 200:
        assert isinstance(call, dict) and call["type"] == "SUBSCRIBE"
    else:
        assert status in (202, 400, 403), (status, body, call)
        if status != 202:
            assert body, "a 4xx must say why"
    assert not sub.closed


def test_subscriber_survived_the_fuzzing(served: tuple[Cluster, Subscriber]) -> None:
    _, sub = served
    before = len(sub.of_type("HEARTBEAT"))
    sub.wait_event("HEARTBEAT", lambda e: len(sub.of_type("HEARTBEAT")) > before + 1)
    assert not sub.closed
