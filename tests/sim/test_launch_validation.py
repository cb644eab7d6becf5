"""Launch validation: what a master answers to a LAUNCH or LAUNCH_GROUP it
will not run, judged on the simulator and on a real Mesos.

Mesos's ``Master::_accept`` validates each task (``validation::task::
validate`` in src/master/validation.cpp) and answers an invalid one with
TASK_ERROR from the master; a task group fails whole. A call missing a field
that protobuf requires never gets that far: it is a 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from masters import Master
from sim_client import Subscriber

from waiting import wait_until

PARTITION_AWARE = {"user": "u", "name": "pa", "capabilities": [{"type": "PARTITION_AWARE"}]}


@pytest.fixture
def sub(master: Master) -> Iterator[Subscriber]:
    """A subscribed framework with an offer in hand."""
    subscriber = Subscriber(master.url, {"user": "u", "name": "launch-validation"})
    try:
        subscriber.wait_offer()
        yield subscriber
    finally:
        subscriber.close()


def task_info(offer: dict[str, Any], task_id: str, **fields: Any) -> dict[str, Any]:
    """A valid command TaskInfo for ``offer``; ``fields`` set to None are left out."""
    info: dict[str, Any] = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
        ],
        "command": {"value": "sleep 1000"},
    }
    info.update(fields)
    return {k: v for k, v in info.items() if v is not None}


def accept(
    sub: Subscriber, offer: dict[str, Any], *operations: dict[str, Any]
) -> tuple[int, bytes]:
    """ACCEPT ``offer`` with ``operations`` (in JSON, which can leave out required fields)."""
    body = {
        "offer_ids": [offer["id"]],
        "operations": list(operations),
        "filters": {"refuse_seconds": 0},
    }
    return sub.call({"type": "ACCEPT", "accept": body}, encoding="json")


def launch(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}


def test_a_task_needs_a_command_or_an_executor_not_both(sub: Subscriber) -> None:
    """``task::internal::validateExecutor``: exactly one of CommandInfo and ExecutorInfo."""
    offer = sub.wait_offer()
    executor = {"executor_id": {"value": "e"}, "command": {"value": "x"}}
    neither = task_info(offer, "neither", command=None)
    both = task_info(offer, "both", executor=executor)
    assert accept(sub, offer, launch(neither, both))[0] == 202
    for task_id in ("neither", "both"):
        status = sub.wait_update(task_id, "TASK_ERROR")
        assert status["reason"] == "REASON_TASK_INVALID"
        assert status["source"] == "SOURCE_MASTER"
        assert status["message"] == (
            "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
        )
        assert status["agent_id"] == offer["agent_id"]
        assert "uuid" not in status


@pytest.mark.parametrize(
    ("task_id", "message"),
    [
        ("", "ID must not be empty"),
        ("a/b", "'a/b' contains invalid characters"),
        ("tab\tbed", "'tab\tbed' contains invalid characters"),
        (".", "'.' is disallowed"),
        ("x" * 256, "ID must not be greater than 255 characters"),
    ],
)
def test_a_bad_task_id_is_task_error(sub: Subscriber, task_id: str, message: str) -> None:
    """``common::validation::validateTaskID``: ids name directories on the agent.

    Ark's simulator used to drop a task with an empty id without a word.
    """
    offer = sub.wait_offer()
    assert accept(sub, offer, launch(task_info(offer, task_id)))[0] == 202
    status = sub.wait_update(task_id, "TASK_ERROR")
    assert status["reason"] == "REASON_TASK_INVALID"
    assert status["message"] == message


def test_a_valid_task_beside_an_invalid_one_still_launches(sub: Subscriber) -> None:
    """In ``Master::_accept`` each task of a LAUNCH is validated on its own."""
    offer = sub.wait_offer()
    good = task_info(offer, "good", command={"value": "true"})
    assert accept(sub, offer, launch(task_info(offer, "bad/id"), good))[0] == 202
    sub.wait_update("bad/id", "TASK_ERROR")
    assert sub.wait_update("good", "TASK_STARTING", timeout=30)["source"] == "SOURCE_EXECUTOR"


def test_a_task_beyond_its_offer_is_task_error(sub: Subscriber) -> None:
    """``validateExecutor``'s last check, in Mesos's words."""
    offer = sub.wait_offer()
    big = task_info(
        offer, "big", resources=[{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1e6}}]
    )
    assert accept(sub, offer, launch(big))[0] == 202
    message = sub.wait_update("big", "TASK_ERROR")["message"]
    assert message.startswith("Total resources cpus(allocated: *):1000000 required by task")
    assert "is more than available" in message and "mem(allocated: *):" in message


def test_a_duplicate_task_id_is_task_error(sub: Subscriber) -> None:
    """``validateUniqueTaskID``: the second task of the same id in one LAUNCH."""
    offer = sub.wait_offer()
    assert accept(sub, offer, launch(task_info(offer, "twin"), task_info(offer, "twin")))[0] == 202
    status = sub.wait_update("twin", "TASK_ERROR")
    assert status["message"] == "Task has duplicate ID: twin"


def test_a_task_for_another_agent_is_task_error(master: Master, sub: Subscriber) -> None:
    """``validateSlaveID``: a TaskInfo's agent_id must be its offer's."""
    offer = sub.wait_offer()
    other = next(a["id"] for a in master.agents() if a["id"] != offer["agent_id"]["value"])
    stray = task_info(offer, "stray", agent_id={"value": other})
    assert accept(sub, offer, launch(stray))[0] == 202
    status = sub.wait_update("stray", "TASK_ERROR")
    assert status["message"] == (
        f"Task uses invalid agent {other} while agent {offer['agent_id']['value']} is expected"
    )
    assert status["agent_id"] == {"value": other}


@pytest.mark.parametrize(
    ("drop", "path"),
    [
        ("name", "name"),
        ("task_id", "task_id"),
        ("agent_id", "agent_id"),
        ("resource type", "resources[0].type"),
        ("resource name", "resources[0].name"),
    ],
)
def test_a_missing_required_field_refuses_the_whole_call(
    sub: Subscriber, drop: str, path: str
) -> None:
    """Protobuf's required fields, checked when Mesos parses the JSON call: a 400."""
    offer = sub.wait_offer()
    info = task_info(offer, "half")
    if drop.startswith("resource"):
        del info["resources"][0][drop.split()[1]]
    else:
        del info[drop]
    status, body = accept(sub, offer, launch(info))
    assert status == 400
    assert body.decode() == (
        "Failed to convert JSON into Call protobuf: Missing required fields: "
        f"accept.operations[0].launch.task_infos[0].{path}"
    )


def group_executor(sub: Subscriber, executor_id: str = "group-executor") -> dict[str, Any]:
    """A DEFAULT executor a task group can run under."""
    return {
        "type": "DEFAULT",
        "executor_id": {"value": executor_id},
        "framework_id": {"value": sub.framework_id},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
            {"name": "disk", "type": "SCALAR", "scalar": {"value": 32}},
        ],
    }


def launch_group(executor: dict[str, Any], *tasks: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "LAUNCH_GROUP",
        "launch_group": {"executor": executor, "task_group": {"tasks": list(tasks)}},
    }


def test_one_invalid_task_fails_its_whole_group(sub: Subscriber) -> None:
    """``task::group::validate``: the first error, for every task of the group."""
    offer = sub.wait_offer()
    group = launch_group(group_executor(sub), task_info(offer, "g1"), task_info(offer, "g/2"))
    assert accept(sub, offer, group)[0] == 202
    for task_id in ("g1", "g/2"):
        status = sub.wait_update(task_id, "TASK_ERROR")
        assert status["reason"] == "REASON_TASK_GROUP_INVALID"
        assert status["message"] == "Task 'g/2' is invalid: 'g/2' contains invalid characters"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"framework_id": None}, "'ExecutorInfo.framework_id' must be set"),
        ({"type": None}, "'ExecutorInfo.type' must be set"),
        (
            {"resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}]},
            "Executor 'group-executor' uses less memory (None) than the minimum required (32MB)",
        ),
    ],
)
def test_a_group_executor_must_be_complete(
    sub: Subscriber, change: dict[str, Any], message: str
) -> None:
    """``task::group::internal::validateExecutor``: framework id, type, cpus, mem, disk."""
    offer = sub.wait_offer()
    executor = {k: v for k, v in dict(group_executor(sub), **change).items() if v is not None}
    assert accept(sub, offer, launch_group(executor, task_info(offer, "lonely")))[0] == 202
    status = sub.wait_update("lonely", "TASK_ERROR")
    assert status["reason"] == "REASON_TASK_GROUP_INVALID"
    assert status["message"] == message


def test_reusing_the_id_of_an_unreachable_task_is_task_error(master: Master) -> None:
    """``validateUniqueTaskID`` looks among unreachable tasks too (partition_tests.cpp)."""
    cluster = master.require_sim("partition an agent")
    sub = Subscriber(master.url, PARTITION_AWARE)
    try:
        first = sub.wait_offer()
        assert accept(sub, first, launch(task_info(first, "t1")))[0] == 202
        sub.wait_update("t1", "TASK_STARTING")
        cluster.partition_agent(first["agent_id"]["value"])
        sub.wait_update("t1", "TASK_UNREACHABLE")
        other = sub.wait_offer(lambda o: o["agent_id"] != first["agent_id"])
        assert accept(sub, other, launch(task_info(other, "t1")))[0] == 202
        status = sub.wait_update("t1", "TASK_ERROR")
        assert status["message"] == "Task reuses the ID of an unreachable task: t1"
        wait_until(lambda: not cluster.state()["frameworks"][0]["tasks"], what="nothing launched")
    finally:
        sub.close()
