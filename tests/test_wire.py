"""The v1 JSON shapes Ark sends: named ports in a ``TaskInfo``."""

from __future__ import annotations

import json

from ark import effects as fx
from ark import messages as m
from ark.wire import task_info, task_payload


def test_named_ports_reach_discovery_and_the_environment() -> None:
    task = fx.LaunchTask(
        "t",
        "a1",
        "web",
        [m.Resource("ports", ranges=[(31000, 31001)])],
        task_payload("serve", environment={"PORT_ADMIN": "9"}),
        [("http", 31000), ("admin-ui", 31001)],
    )
    info = task_info(task, "a1")
    assert info["discovery"] == {
        "visibility": "FRAMEWORK",
        "name": "web",
        "ports": {
            "ports": [
                {"number": 31000, "name": "http", "protocol": "tcp"},
                {"number": 31001, "name": "admin-ui", "protocol": "tcp"},
            ]
        },
    }
    assert info["command"]["environment"]["variables"] == [
        {"name": "PORT_ADMIN", "value": "9"},
        {"name": "PORT_HTTP", "value": "31000"},
        {"name": "PORT_ADMIN_UI", "value": "31001"},
    ]


def test_a_payload_keeps_its_own_discovery_and_odd_shapes_do_not_break() -> None:
    mine = {"visibility": "EXTERNAL"}
    payload = json.dumps({"discovery": mine, "command": {"environment": "odd"}}).encode()
    task = fx.LaunchTask("t", "a1", "", [], payload, [("http", 1)])
    info = task_info(task, "a1")
    assert info["discovery"] == mine
    assert info["command"] == {"environment": "odd"}
    assert "discovery" not in task_info(fx.LaunchTask("t", "a1", "", [], b""), "a1")
