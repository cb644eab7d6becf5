"""Launch backoff in both reducers, against ``docs/reducer.md`` (Launch backoff).

Every expected value is worked out by hand from the specification; each case
runs against the Python reference and the Rust core.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import ark.core
import ark.reference
from ark import effects as fx
from ark import messages as m
from ark.state import BackoffRecord, Config, RequestRecord

# Delays 2, 6, 18, then the cap 20; reset after 10 s running.
CONFIG = Config(
    backoff_seconds=2.0,
    backoff_factor=3.0,
    backoff_max_seconds=20.0,
    backoff_reset_seconds=10.0,
    offer_refuse_seconds=30.0,
)
CPUS = [m.Resource("cpus", scalar=1.0)]


@pytest.fixture(params=["reference", "rust"])
def reducer(request: pytest.FixtureRequest) -> Any:
    cls = ark.reference.Reducer if request.param == "reference" else ark.core.Reducer
    r = cls(CONFIG)
    assert r.step(m.Subscribed("fw"), 0.0) == [fx.Reconcile([])]
    return r


def want(r: Any, task_id: str, now: float, group: str = "web") -> list[fx.Effect]:
    effects: list[fx.Effect] = r.step(
        m.Request([m.TaskRequest(task_id, resources=CPUS, group=group)]), now
    )
    return effects


def offer(r: Any, offer_id: str, now: float) -> list[fx.Effect]:
    effects: list[fx.Effect] = r.step(
        m.Offers([m.Offer(offer_id, "a1", "h1", [m.Resource("cpus", scalar=4.0)])]), now
    )
    return effects


def update(r: Any, task_id: str, state: str, now: float) -> list[fx.Effect]:
    effects: list[fx.Effect] = r.step(
        m.Update(m.TaskStatus(task_id, state, agent_id="a1")),  # type: ignore[arg-type]
        now,
    )
    return effects


def launched(r: Any, task_id: str, now: float, group: str = "web") -> None:
    """Request ``task_id`` and place it on a fresh offer."""
    want(r, task_id, now, group)
    effects = offer(r, f"o-{task_id}", now)
    assert [type(e) for e in effects] == [fx.Accept, fx.Suppress]


def test_a_failure_holds_the_group_until_its_delay_ends(reducer: Any) -> None:
    launched(reducer, "w1", 1.0)
    assert update(reducer, "w1", "TASK_FAILED", 10.0) == []
    assert reducer.view().backoffs == [BackoffRecord("web", 2.0, 12.0, None)]
    assert want(reducer, "w2", 10.5) == [fx.Revive()]
    # Held: the offer is declined with the short filter (something is wanted).
    assert offer(reducer, "o2", 11.0) == [fx.Decline(["o2"], 30.0)]
    assert reducer.view().demand == [RequestRecord("w2", "launch backoff", 12.0)]
    assert reducer.step(m.Tick(), 11.5) == []
    # The delay ends: REVIVE clears the filters of the offers declined meanwhile.
    assert reducer.step(m.Tick(), 12.0) == [fx.Revive()]
    assert reducer.view().backoffs == [BackoffRecord("web", 2.0, None, None)]
    assert reducer.view().demand == [RequestRecord("w2", "launch backoff", None)]
    assert [type(e) for e in offer(reducer, "o3", 12.5)] == [fx.Accept, fx.Suppress]


def test_each_failure_grows_the_delay_up_to_the_cap(reducer: Any) -> None:
    delays = []
    for n, now in enumerate([10.0, 20.0, 40.0, 80.0, 160.0]):
        launched(reducer, f"w{n}", now - 5.0)
        update(reducer, f"w{n}", "TASK_FAILED", now)
        reducer.step(m.Tick(), now + 100.0)
        delays.append(reducer.view().backoffs[0].delay)
    assert delays == [2.0, 6.0, 18.0, 20.0, 20.0]


def test_other_groups_are_not_held(reducer: Any) -> None:
    launched(reducer, "w1", 1.0)
    update(reducer, "w1", "TASK_LOST", 10.0)
    want(reducer, "d1", 10.5, group="db")
    assert [type(e) for e in offer(reducer, "o2", 11.0)] == [fx.Accept, fx.Suppress]


@pytest.mark.parametrize("state", ["TASK_FINISHED", "TASK_KILLED", "TASK_GONE_BY_OPERATOR"])
def test_ends_that_were_asked_for_do_not_back_off(reducer: Any, state: str) -> None:
    launched(reducer, "w1", 1.0)
    update(reducer, "w1", state, 10.0)
    assert reducer.view().backoffs == []


def test_the_empty_group_never_backs_off(reducer: Any) -> None:
    launched(reducer, "t1", 1.0, group="")
    update(reducer, "t1", "TASK_FAILED", 10.0)
    assert reducer.view().backoffs == []


def test_a_task_running_stably_resets_the_delay(reducer: Any) -> None:
    launched(reducer, "w1", 1.0)
    update(reducer, "w1", "TASK_FAILED", 10.0)
    launched(reducer, "w2", 12.0)
    update(reducer, "w2", "TASK_RUNNING", 13.0)
    update(reducer, "w2", "TASK_RUNNING", 14.0)  # the clock starts at the first
    assert reducer.view().backoffs == [BackoffRecord("web", 2.0, 12.0, 13.0)]
    reducer.step(m.Tick(), 22.9)
    assert reducer.view().backoffs == [BackoffRecord("web", 2.0, None, 13.0)]
    reducer.step(m.Tick(), 23.0)
    assert reducer.view().backoffs == []
    # The next failure starts again at backoff_seconds.
    update(reducer, "w2", "TASK_FAILED", 30.0)
    assert reducer.view().backoffs == [BackoffRecord("web", 2.0, 32.0, None)]


def test_a_failure_stops_the_stable_clock(reducer: Any) -> None:
    launched(reducer, "w1", 1.0)
    launched(reducer, "w2", 1.0)
    update(reducer, "w1", "TASK_FAILED", 10.0)
    update(reducer, "w2", "TASK_RUNNING", 11.0)
    launched(reducer, "w3", 13.0)
    update(reducer, "w3", "TASK_ERROR", 14.0)
    assert reducer.view().backoffs == [BackoffRecord("web", 6.0, 20.0, None)]
    reducer.step(m.Tick(), 30.0)
    assert reducer.view().backoffs == [BackoffRecord("web", 6.0, None, None)]


def test_a_reset_while_held_revives(reducer: Any) -> None:
    """The group is held (a later failure), yet a task ran stably since: the reset ends it."""
    for n in range(1, 5):
        launched(reducer, f"w{n}", 1.0)
    update(reducer, "w1", "TASK_FAILED", 10.0)  # delay 2
    update(reducer, "w3", "TASK_FAILED", 14.0)  # delay 6
    update(reducer, "w4", "TASK_FAILED", 16.0)  # delay 18: until 34
    update(reducer, "w2", "TASK_RUNNING", 17.0)
    want(reducer, "w9", 18.0)
    assert reducer.view().backoffs == [BackoffRecord("web", 18.0, 34.0, 17.0)]
    assert reducer.step(m.Tick(), 26.0) == []
    assert reducer.step(m.Tick(), 27.0) == [fx.Revive()]
    assert reducer.view().backoffs == []
    assert reducer.view().demand == [RequestRecord("w9", None, None)]


def test_snapshot_pending_shows_when_the_delay_ends() -> None:
    r = ark.core.Reducer(CONFIG)
    r.step(m.Subscribed("fw"), 0.0)
    launched(r, "w1", 1.0)
    update(r, "w1", "TASK_FAILED", 10.0)
    want(r, "w2", 10.5)
    want(r, "d1", 10.5, group="db")
    assert r.snapshot().pending() == {"w2": "launch backoff until 12.000", "d1": None}


def test_the_readme_example_prints_what_it_says(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    [block] = [b for b in blocks if "Config(backoff_seconds" in b]
    exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    said = re.search(r"print\(.*\)  # (.*)", block)
    assert said is not None
    assert capsys.readouterr().out.strip() == said.group(1)
