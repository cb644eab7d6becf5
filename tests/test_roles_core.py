"""Roles in the core, the Rust one and the reference alike (docs/reducer.md,
**Roles**), and in the drivers' FrameworkInfo."""

from __future__ import annotations

from typing import Any

import pytest

import ark.core
import ark.reference
from ark import effects as fx
from ark import messages as m
from ark import wire
from ark.drivers.framework_info import framework_info, update_framework_call, updated
from ark.errors import CommandRejected

IMPLEMENTATIONS = {"reference": ark.reference.Reducer, "rust": ark.core.Reducer}
CPUS = [m.Resource("cpus", scalar=1.0)]


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def reducer(request: pytest.FixtureRequest) -> Any:
    r = IMPLEMENTATIONS[request.param]()
    assert r.step(m.Subscribed("fw"), 0.0) == [fx.Reconcile([])]
    return r


def offer(offer_id: str, agent: str, role: str | None) -> m.Offer:
    return m.Offer(offer_id, agent, f"h-{agent}", [m.Resource("cpus", scalar=4.0)], role=role)


def test_an_accept_answers_in_the_role_of_its_offers(reducer: Any) -> None:
    reducer.step(m.Offers([offer("o1", "a1", "web")]), 1.0)
    effects = reducer.step(m.Accept(["o1"], [m.Launch("t1", resources=CPUS)]), 2.0)
    assert [e.role for e in effects if isinstance(e, fx.Accept)] == ["web"]


def test_an_accept_of_offers_of_two_roles_is_rejected(reducer: Any) -> None:
    reducer.step(m.Offers([offer("o1", "a1", "web"), offer("o2", "a1", "batch")]), 1.0)
    before = reducer.view()
    with pytest.raises(CommandRejected):
        reducer.step(m.Accept(["o1", "o2"], [m.Launch("t1", resources=CPUS)]), 2.0)
    assert reducer.view() == before


def test_the_matcher_places_a_request_on_offers_of_its_role(reducer: Any) -> None:
    reducer.step(m.Offers([offer("o1", "a1", "web"), offer("o2", "a1", "batch")]), 1.0)
    requests = [
        m.TaskRequest("b1", CPUS, role="batch"),
        m.TaskRequest("any", CPUS),
        m.TaskRequest("ops", CPUS, role="ops"),
    ]
    effects = reducer.step(m.Request(requests), 2.0)
    accepts = {e.role: [t.task_id for t in e.launches] for e in effects if isinstance(e, fx.Accept)}
    # (a1, batch) sorts before (a1, web): bin-packing puts both there.
    assert accepts == {"batch": ["b1", "any"]}
    assert [(r.task_id, r.reason) for r in reducer.view().demand] == [
        ("ops", "not offered to role ops on 2 agents")
    ]


def test_update_framework_hands_the_change_to_the_driver(reducer: Any) -> None:
    update = m.UpdateFramework(roles=["web", "batch"], suppressed_roles=["batch"])
    assert reducer.step(update, 1.0) == [
        fx.UpdateFramework(["web", "batch"], ["batch"], None, None, False)
    ]
    reducer.step(m.Suppress(), 2.0)
    assert reducer.step(m.UpdateFramework(failover_timeout=60.0), 3.0) == [
        fx.UpdateFramework(None, None, None, 60.0, True)
    ]


@pytest.mark.parametrize(
    "update",
    [
        m.UpdateFramework(roles=[]),
        m.UpdateFramework(roles=["a", "a"]),
        m.UpdateFramework(roles=[""]),
        m.UpdateFramework(roles=["a"], suppressed_roles=["b"]),
        m.UpdateFramework(failover_timeout=-1.0),
        m.UpdateFramework(failover_timeout=float("inf")),
    ],
)
def test_a_bad_update_is_rejected(reducer: Any, update: m.UpdateFramework) -> None:
    before = reducer.view()
    with pytest.raises(CommandRejected):
        reducer.step(update, 1.0)
    assert reducer.view() == before


def test_roles_make_a_multi_role_framework() -> None:
    info = framework_info({"roles": ["web"], "capabilities": [{"type": "PARTITION_AWARE"}]})
    assert info["capabilities"] == [{"type": "PARTITION_AWARE"}, {"type": "MULTI_ROLE"}]
    # One role is not MULTI_ROLE: the default capabilities stay as they are.
    assert framework_info({"role": "web"})["capabilities"] == [{"type": "PARTITION_AWARE"}]


def test_an_update_replaces_the_parts_it_gives() -> None:
    info = framework_info({"name": "n", "role": "web"})
    new = updated(info, fx.UpdateFramework(["web", "batch"], None, None, 60.0, False))
    assert new["roles"] == ["web", "batch"] and "role" not in new
    assert new["capabilities"] == [{"type": "PARTITION_AWARE"}, {"type": "MULTI_ROLE"}]
    assert new["failover_timeout"] == 60.0 and new["name"] == "n"
    same = fx.UpdateFramework(None, None, ["PARTITION_AWARE", "MULTI_ROLE"], None, False)
    assert updated(new, same) == new


@pytest.mark.parametrize(
    ("given", "suppressed", "expected"),
    [(None, False, []), (None, True, ["web", "batch"]), (["batch"], False, ["batch"])],
)
def test_the_call_lists_every_suppressed_role(
    given: list[str] | None, suppressed: bool, expected: list[str]
) -> None:
    effect = fx.UpdateFramework(["web", "batch"], given, None, None, suppressed)
    info = updated(framework_info({"name": "n"}), effect)
    call = update_framework_call(info, "fw-1", effect)
    assert call["type"] == "UPDATE_FRAMEWORK"
    body = call["update_framework"]
    assert body["framework_info"]["id"] == {"value": "fw-1"}
    assert body["suppressed_roles"] == expected


def test_the_update_call_fits_the_protobuf_subset() -> None:
    from ark import protobuf

    effect = fx.UpdateFramework(["web"], None, None, 60.0, False)
    call = update_framework_call(updated(framework_info({}), effect), "fw-1", effect)
    decoded = protobuf.Call.FromString(protobuf.to_protobuf(call, protobuf.Call))
    assert list(decoded.update_framework.framework_info.roles) == ["web"]
    assert decoded.update_framework.framework_info.failover_timeout == 60.0


def test_a_launch_in_a_role_carries_its_allocation() -> None:
    launch = fx.LaunchTask("t1", "a1", "", CPUS, b"", [])
    call = wire.call(fx.Accept(["o1"], "a1", [launch], 5.0, "web"), "fw")
    resources = call["accept"]["operations"][0]["launch"]["task_infos"][0]["resources"]
    assert resources == [
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 1.0},
            "allocation_info": {"role": "web"},
        }
    ]
