"""Bad input, generated: every malformed call gets a 4xx with a message (never
a 5xx), and the master keeps serving the well-behaved subscriber; judged on
the simulator and on a real Mesos."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from masters import Master
from sim_client import Subscriber

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


def test_mutated_calls_get_a_4xx_or_202(master: Master) -> None:
    sub = Subscriber(master.url)
    sub.wait_offer()
    try:
        probe_calls(master, sub)
        # The subscriber survived: the master still serves its calls.
        assert sub.call({"type": "REVIVE"})[0] == 202
        assert not sub.closed
    finally:
        sub.close()


def probe_calls(master: Master, sub: Subscriber) -> None:
    # Fewer examples on a real master: each may register a framework there.
    examples = None if master.is_sim else 100

    @settings(
        suppress_health_check=[HealthCheck.function_scoped_fixture],
        deadline=None,
        **({} if examples is None else {"max_examples": examples}),
    )
    @given(data=st.data())
    def probe(data: Any) -> None:
        template = data.draw(st.sampled_from(TEMPLATES))
        if template["type"] != "SUBSCRIBE":
            template = dict(template, framework_id={"value": sub.framework_id})
        path = data.draw(st.sampled_from(_paths(template)))
        call = _replace(template, path, data.draw(json_values))
        if isinstance(call, dict) and call.get("type") == "UNKNOWN" and not master.is_sim:
            return  # A real Mesos 1.12 master aborts on it (see test_http_calls).
        # A raw request that reads only the head: a SUBSCRIBE that parses gets an
        # endless 200 stream, which closing the connection ends.
        headers = {} if call_type(call) == "SUBSCRIBE" else {"Mesos-Stream-Id": sub.stream_id}
        probe = Subscriber(master.url, body=json.dumps(call).encode(), headers=headers)
        try:
            status = probe.status
            body = probe.body if probe.closed else b""
        finally:
            probe.close()
        if status == 200:
            assert call_type(call) == "SUBSCRIBE"
        else:
            assert status in (202, 400, 403), (status, body, call)
            if status != 202:
                assert body, "a 4xx must say why"
        assert not sub.closed

    probe()


def call_type(call: Any) -> Any:
    return call.get("type") if isinstance(call, dict) else None
