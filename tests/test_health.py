"""Health checks in the core and the reference (docs/reducer.md, Health checks):
checks and kill policies ride from the request to the launch, a bad one is a
MessageError, and each task keeps the last check result Mesos reported."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from ark import Config, Reducer, reference
from ark import effects as fx
from ark import messages as m
from ark.errors import MessageError

CPUS = [m.Resource("cpus", scalar=1.0)]
CHECK = m.HealthCheck("HTTP", port=8080, path="/health", interval_seconds=2.0)
POLICY = m.KillPolicy(grace_period_seconds=30.0)
U = [bytes([i]) * 16 for i in range(4)]

both = pytest.mark.parametrize("make", [Reducer, reference.Reducer], ids=["rust", "reference"])


def healthy(r: Any, task_id: str) -> bool | None:
    [record] = [t for t in r.view().tasks if t.task_id == task_id]
    result: bool | None = record.healthy
    return result


def update(task_id: str, state: str, uuid: bytes, healthy: bool | None = None) -> m.Update:
    return m.Update(
        m.TaskStatus(task_id, state, agent_id="a1", uuid=uuid, healthy=healthy)  # type: ignore[arg-type]
    )


@both
def test_the_matcher_carries_the_check_and_the_policy_to_the_launch(make: type) -> None:
    r = make(Config())
    r.step(m.Subscribed("fw"), 0.0)
    request = m.TaskRequest("web", CPUS, health_check=CHECK, kill_policy=POLICY)
    r.step(m.Request([request, m.TaskRequest("plain", CPUS)]), 1.0)
    effects = r.step(m.Offers([m.Offer("o1", "a1", "h1", [m.Resource("cpus", scalar=4.0)])]), 2.0)
    [accept] = [e for e in effects if isinstance(e, fx.Accept)]
    web, plain = accept.launches
    assert (web.health_check, web.kill_policy) == (CHECK, POLICY)
    assert (plain.health_check, plain.kill_policy) == (None, None)


@both
def test_a_hand_made_launch_carries_them_too(make: type) -> None:
    r = make(Config())
    r.step(m.Subscribed("fw"), 0.0)
    r.step(m.Offers([m.Offer("o1", "a1", "h1", CPUS)]), 1.0)
    launch = m.Launch("t", resources=CPUS, health_check=CHECK, kill_policy=POLICY)
    [accept] = r.step(m.Accept(["o1"], [launch]), 2.0)
    assert isinstance(accept, fx.Accept)
    assert accept.launches[0].health_check == CHECK
    assert accept.launches[0].kill_policy == POLICY


@both
@pytest.mark.parametrize(
    "check",
    [["HTTP"], ["COMMAND"], ["TCP", None, 80, "/x"], ["HTTP", None, 80, "x"], ["NOPE", "true"]],
)
def test_a_check_mesos_would_refuse_is_a_message_error(make: type, check: list[Any]) -> None:
    r = make(Config())
    r.step(m.Subscribed("fw"), 0.0)
    before = r.view()
    data = msgspec.msgpack.encode(
        ["Request", [["t", [], 0, [], "", None, "", b"", [], None, check]]]
    )
    with pytest.raises(MessageError):
        r.step_bytes(data, 1.0)
    assert r.view() == before


def test_the_python_types_refuse_them_at_once() -> None:
    with pytest.raises(ValueError, match="needs a port"):
        m.HealthCheck("TCP")
    with pytest.raises(ValueError, match="must start with '/'"):
        m.HealthCheck("HTTP", port=80, path="health")
    with pytest.raises(ValueError, match="grace_period_seconds"):
        m.KillPolicy(-1.0)


@both
def test_a_task_keeps_its_last_check_result(make: type) -> None:
    """A status without ``healthy`` (TASK_KILLING here) leaves the last result."""
    r = make(Config())
    r.step(m.Subscribed("fw"), 0.0)
    r.step(m.Offers([m.Offer("o1", "a1", "h1", CPUS)]), 1.0)
    r.step(m.Accept(["o1"], [m.Launch("t", resources=CPUS, health_check=CHECK)]), 2.0)
    assert healthy(r, "t") is None
    r.step(update("t", "TASK_RUNNING", U[0]), 3.0)
    assert healthy(r, "t") is None
    r.step(update("t", "TASK_RUNNING", U[1], healthy=True), 4.0)
    assert healthy(r, "t") is True
    # A health-only change is an update like any other: applied and acknowledged.
    assert r.step(update("t", "TASK_RUNNING", U[2], healthy=False), 5.0) == [
        fx.Acknowledge("a1", "t", U[2])
    ]
    assert healthy(r, "t") is False
    r.step(update("t", "TASK_KILLING", U[3]), 6.0)
    assert healthy(r, "t") is False
    # A retried duplicate changes nothing, its healthy included.
    r.step(update("t", "TASK_KILLING", U[3], healthy=True), 7.0)
    assert healthy(r, "t") is False


@both
def test_an_adopted_task_takes_the_status_s_result(make: type) -> None:
    r = make(Config())
    r.step(m.Subscribed("fw"), 0.0)
    r.step(update("stray", "TASK_RUNNING", U[0], healthy=True), 1.0)
    assert healthy(r, "stray") is True
