"""Pods: matched as one unit, launched as one LAUNCH_GROUP, tracked per member.

The matcher's cases run against the Rust cycle and the reference alike, and a
property test holds the two to each other on cycles mixing pods and plain
requests; the reducer's cases run on both reducers (docs/reducer.md, **Pods**).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ark.core
import ark.reference
from ark import _core, protobuf, wire
from ark import effects as fx
from ark import messages as m
from ark.errors import CommandRejected, MessageError
from ark.matching import AgentInfo, Constraint, Existing, TaskRequest, match_offers
from ark.pods import DEFAULT_EXECUTOR_RESOURCES, PodTask, pod
from ark.reference import reference_match

AGENTS = ["a1", "a2", "a3", "a4"]
MATCHERS = {"rust": match_offers, "reference": reference_match}


def cpus(x: float, role: str = "*") -> m.Resource:
    return m.Resource("cpus", scalar=x, role=role)


def mem(x: float) -> m.Resource:
    return m.Resource("mem", scalar=x)


def offer(i: int, agent: str, cpu: float, memory: float = 1024.0) -> m.Offer:
    rack = m.Attribute("rack", text=f"r{i % 2}")
    disk = m.Resource("disk", scalar=100.0)
    return m.Offer(f"o{i}", agent, f"host-{agent}", [cpus(cpu), mem(memory), disk], [rack])


def member(task_id: str, cpu: float, memory: float = 64.0) -> PodTask:
    return PodTask(task_id, [cpus(cpu), mem(memory)], name=task_id, payload=b'{"x":1}')


# --- matching ---------------------------------------------------------------------


@pytest.mark.parametrize("matcher", sorted(MATCHERS))
def test_a_pod_needs_its_members_and_its_executor_on_one_agent(matcher: str) -> None:
    # 0.4 + 0.5 + the executor's 0.1 = 1.0: fits a1 exactly, and nothing else
    # fits there after it; a2's 0.9 cpus could take each member, not the pod.
    offers = [offer(1, "a1", 1.0), offer(2, "a2", 0.9)]
    web = pod("web", [member("web.app", 0.4), member("web.proxy", 0.5)])
    small = pod("small", [member("small.app", 0.4), member("small.proxy", 0.5)])
    d = MATCHERS[matcher](offers, [web, small], "binpack")
    [placement] = d.accepts
    assert placement.agent_id == "a1"
    [launch] = placement.launches
    assert launch.task_id == "web"
    assert launch.resources == list(DEFAULT_EXECUTOR_RESOURCES)
    assert [t.task_id for t in launch.pod] == ["web.app", "web.proxy"]
    assert launch.pod == web.pod
    assert [(p.task_id, p.reason) for p in d.pending] == [
        ("small", "not enough cpus (role *) on 2 agents")
    ]
    no_disk = [m.Offer("o3", "a3", "host-a3", [cpus(4.0), mem(1024.0)])]
    d = MATCHERS[matcher](no_disk, [web], "binpack")
    assert [(p.task_id, p.reason) for p in d.pending] == [
        ("web", "not enough disk (role *) on 1 agent")
    ]


@pytest.mark.parametrize("matcher", sorted(MATCHERS))
def test_a_pod_s_needs_are_summed_per_name_and_role(matcher: str) -> None:
    offers = [offer(1, "a1", 1.0)]
    executor = [cpus(0.1)]
    fits = pod("p1", [member("p1.a", 0.45), member("p1.b", 0.45)], executor_resources=executor)
    too_big = pod("p2", [member("p2.a", 0.5), member("p2.b", 0.5)], executor_resources=executor)
    d = MATCHERS[matcher](offers, [too_big, fits], "binpack")
    assert [launch.task_id for launch in d.accepts[0].launches] == ["p1"]
    assert [(p.task_id, p.reason) for p in d.pending] == [
        ("p2", "not enough cpus (role *) on 1 agent")
    ]


@pytest.mark.parametrize("matcher", sorted(MATCHERS))
def test_a_pod_counts_once_for_its_group_s_constraints(matcher: str) -> None:
    unique = [Constraint("hostname", "UNIQUE")]
    offers = [offer(1, "a1", 4.0), offer(2, "a2", 4.0)]
    pods = [
        pod(f"p{i}", [member(f"p{i}.a", 0.5), member(f"p{i}.b", 0.5)], constraints=unique)
        for i in range(3)
    ]
    d = MATCHERS[matcher](offers, pods, "binpack", existing=[Existing("", "a2")])
    # Two members on one host do not break UNIQUE hostname: the pod is the unit.
    assert [(p.agent_id, [x.task_id for x in p.launches]) for p in d.accepts] == [("a1", ["p0"])]
    assert [p.task_id for p in d.pending] == ["p1", "p2"]


@pytest.mark.parametrize("matcher", sorted(MATCHERS))
def test_a_pod_takes_no_ports_and_its_members_resources_are_checked(matcher: str) -> None:
    offers = [offer(1, "a1", 4.0)]
    ported = pod("p1", [member("p1.a", 0.5)], ports=1)
    negative = pod("p2", [member("p2.a", -1.0)])
    d = MATCHERS[matcher](offers, [ported, negative], "binpack")
    assert [(p.task_id, p.reason) for p in d.pending] == [
        ("p1", "a pod takes no ports"),
        ("p2", "resource cpus must be a finite scalar >= 0"),
    ]


@st.composite
def cycles(draw: st.DrawFn) -> tuple[Any, ...]:
    offers = []
    for i, agent in enumerate(draw(st.lists(st.sampled_from(AGENTS), unique=True, max_size=4))):
        for j in range(draw(st.integers(1, 2))):
            resources = [
                cpus(draw(st.sampled_from([0.5, 1.0, 2.0]))),
                mem(draw(st.sampled_from([128.0, 512.0]))),
            ]
            if draw(st.booleans()):
                resources.append(m.Resource("disk", scalar=100.0))
            if draw(st.booleans()):
                resources.append(cpus(1.0, "web"))
            rack = m.Attribute("rack", text=draw(st.sampled_from(["r1", "r2"])))
            offers.append(m.Offer(f"o{i}-{j}", agent, f"host-{agent}", resources, [rack]))
    constraints = st.lists(
        st.sampled_from(
            [
                Constraint("hostname", "UNIQUE"),
                Constraint("rack", "MAX_PER", "2"),
                Constraint("rack", "GROUP_BY", "2"),
                Constraint("rack", "EQ", "r1"),
            ]
        ),
        max_size=2,
    )
    resources = st.lists(
        st.builds(
            m.Resource,
            st.sampled_from(["cpus", "mem", "disk"]),
            st.sampled_from([0.0, 0.1, 0.25, 0.5, 32.0]),
            role=st.sampled_from(["*", "*", "web"]),
        ),
        max_size=3,
    )
    requests: list[TaskRequest] = []
    for i in range(draw(st.integers(0, 8))):
        members = [
            PodTask(f"t{i}.{k}", draw(resources), payload=b"{}")
            for k in range(draw(st.integers(0, 3)))
        ]
        requests.append(
            TaskRequest(
                f"t{i}",
                draw(resources),
                ports=draw(st.sampled_from([0, 0, 1])),
                constraints=draw(constraints),
                group=draw(st.sampled_from(["g1", "g2"])),
                agent_id=draw(st.none() | st.sampled_from(AGENTS)),
                strategy=draw(st.sampled_from([None, "binpack", "spread"])),
                pod=members,
            )
        )
    existing = draw(
        st.lists(st.builds(Existing, st.sampled_from(["g1", "g2"]), st.sampled_from(AGENTS)))
    )
    return offers, requests, draw(st.sampled_from(["binpack", "spread"])), existing


@given(cycles())
def test_rust_and_reference_place_pods_alike(cycle: tuple[Any, ...]) -> None:
    offers, requests, strategy, existing = cycle
    agents = [AgentInfo(a, f"host-{a}", [m.Attribute("rack", text="r1")]) for a in AGENTS]
    kw: dict[str, Any] = {"existing": existing, "agents": agents}
    assert match_offers(offers, requests, strategy, **kw) == reference_match(
        offers, requests, strategy, **kw
    )


# --- calls ------------------------------------------------------------------------

POD_ACCEPT = fx.Accept(
    ["o1"],
    "a1",
    [
        fx.LaunchTask("t1", "a1", "", [cpus(0.5)], wire.task_payload("sleep 1"), []),
        fx.LaunchTask(
            "web",
            "a1",
            "web pod",
            list(DEFAULT_EXECUTOR_RESOURCES),
            b'{"labels":{"labels":[{"key":"k","value":"v"}]}}',
            [],
            pod=[
                PodTask("web.app", [cpus(0.5)], "app", wire.task_payload("sleep 100")),
                PodTask("web.proxy", [cpus(0.1)], payload=wire.task_payload("sleep 100")),
            ],
        ),
    ],
    5.0,
)


def rust_call(effect: fx.Effect, encoding: str) -> tuple[str, bytes, str]:
    data = msgspec.msgpack.encode([effect])
    [call] = _core.encode_calls(data, "fw-1", encoding)  # type: ignore[arg-type]
    return call  # type: ignore[no-any-return]


def test_a_pod_is_one_launch_group_under_the_default_executor() -> None:
    call = wire.call(POD_ACCEPT, "fw-1")
    launch, group = call["accept"]["operations"]
    assert launch["type"] == "LAUNCH"
    assert [t["task_id"]["value"] for t in launch["launch"]["task_infos"]] == ["t1"]
    assert group["type"] == "LAUNCH_GROUP"
    executor = group["launch_group"]["executor"]
    assert executor["type"] == "DEFAULT"
    assert executor["executor_id"] == {"value": "web"}
    assert executor["framework_id"] == {"value": "fw-1"}
    assert executor["name"] == "web pod"
    assert executor["labels"] == {"labels": [{"key": "k", "value": "v"}]}
    assert [r["name"] for r in executor["resources"]] == ["cpus", "mem", "disk"]
    tasks = group["launch_group"]["task_group"]["tasks"]
    assert [(t["task_id"]["value"], t["name"]) for t in tasks] == [
        ("web.app", "app"),
        ("web.proxy", "web.proxy"),
    ]
    assert all(t["agent_id"] == {"value": "a1"} for t in tasks)
    assert "executor" not in tasks[0]
    # The Rust encoder writes the same call, in either encoding.
    kind, body, media_type = rust_call(POD_ACCEPT, "json")
    assert (kind, media_type, json.loads(body)) == ("ACCEPT", "application/json", call)
    _, body, media_type = rust_call(POD_ACCEPT, "protobuf")
    assert media_type == protobuf.CONTENT_TYPE
    assert protobuf.to_json(body, protobuf.Call) == protobuf.to_json(
        protobuf.to_protobuf(call, protobuf.Call), protobuf.Call
    )


# --- the reducer ------------------------------------------------------------------

IMPLEMENTATIONS = {"reference": ark.reference.Reducer, "rust": ark.core.Reducer}


def subscribed(name: str) -> Any:
    r = IMPLEMENTATIONS[name]()
    r.step(m.Subscribed("fw-1"), 0.0)  # no tasks: reconciliation ends at once
    return r


def update(task_id: str, state: str) -> m.Update:
    return m.Update(m.TaskStatus(task_id, state, agent_id="a1"))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_a_placed_pod_is_tracked_per_member_and_killed_as_one(name: str) -> None:
    r = subscribed(name)
    r.step(m.Offers([offer(1, "a1", 4.0)]), 1.0)
    web = pod("web", [member("web.app", 0.5), member("web.proxy", 0.5)], group="g")
    effects = r.step(m.Request([web]), 2.0)
    [accept] = [e for e in effects if isinstance(e, fx.Accept)]
    [launch] = accept.launches
    assert (launch.task_id, launch.pod) == ("web", web.pod)
    view = r.view()
    assert [(t.task_id, t.state, t.agent_id) for t in view.tasks] == [
        ("web.app", "TASK_STAGING", "a1"),
        ("web.proxy", "TASK_STAGING", "a1"),
    ]
    assert view.pods == [("web.app", "web"), ("web.proxy", "web")]
    assert view.groups == [("web.app", "g"), ("web.proxy", "g")]
    r.step(update("web.app", "TASK_RUNNING"), 3.0)
    r.step(update("web.proxy", "TASK_FINISHED"), 3.0)
    # A Kill naming the pod kills its live members; one naming a member, that member.
    assert r.step(m.Kill("web"), 4.0) == [fx.Kill("web.app", "a1")]
    assert r.step(m.Kill("web.app"), 4.0) == [fx.Kill("web.app", "a1")]
    with pytest.raises(CommandRejected):
        r.step(m.Kill("nothing"), 4.0)
    # The default executor kills the rest: the core sees each member end.
    r.step(update("web.app", "TASK_KILLED"), 5.0)
    assert r.step(m.Kill("web"), 6.0) == []
    assert r.view().groups == []


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_a_pod_s_ids_are_claimed_once(name: str) -> None:
    r = subscribed(name)
    web = pod("web", [member("web.app", 0.5), member("web.app", 0.5)])
    with pytest.raises(CommandRejected):
        r.step(m.Request([web]), 1.0)
    r.step(m.Request([pod("web", [member("web.app", 0.5)])]), 1.0)
    with pytest.raises(CommandRejected):
        r.step(m.Request([m.TaskRequest("web.app")]), 1.0)
    assert [d.task_id for d in r.view().demand] == ["web"]


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_an_accept_may_launch_a_pod(name: str) -> None:
    r = subscribed(name)
    r.step(m.Offers([offer(1, "a1", 1.0)]), 1.0)
    too_big = m.Launch("web", resources=[cpus(0.5)], pod=[member("web.app", 0.6)])
    with pytest.raises(CommandRejected):
        r.step(m.Accept(["o1"], [too_big]), 2.0)
    launch = m.Launch("web", resources=[cpus(0.5)], pod=[member("web.app", 0.5)])
    [accept] = r.step(m.Accept(["o1"], [launch]), 2.0)
    assert isinstance(accept, fx.Accept)
    assert accept.launches[0].pod == launch.pod
    assert [t.task_id for t in r.view().tasks] == ["web.app"]
    assert r.view().pods == [("web.app", "web")]


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_a_member_s_health_check_reaches_its_launch_and_a_bad_one_is_refused(name: str) -> None:
    r = subscribed(name)
    r.step(m.Offers([offer(1, "a1", 4.0)]), 1.0)
    check = m.HealthCheck("TCP", port=8080)
    app = PodTask("web.app", [cpus(0.5)], health_check=check, kill_policy=m.KillPolicy(2.0))
    effects = r.step(m.Request([pod("web", [app])]), 2.0)
    [accept] = [e for e in effects if isinstance(e, fx.Accept)]
    assert accept.launches[0].pod == [app]
    # A malformed check (here: TCP without a port) makes the Request malformed.
    raw = msgspec.msgpack.decode(m.encode(m.Request([pod("db", [app])])))
    raw[1][0][-1][0][4] = ["TCP", None, None, None, None, 1.0, 1.0, 1.0, 1, 1.0]
    before = r.view()
    with pytest.raises(MessageError, match="needs a port"):
        r.step_bytes(msgspec.msgpack.encode(raw), 3.0)
    assert r.view() == before
