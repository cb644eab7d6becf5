"""Offer matching: the Rust matcher against the plain-Python reference, and invariants."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ark import messages as m
from ark.errors import MessageError
from ark.matching import (
    AgentInfo,
    Constraint,
    Decisions,
    Existing,
    Pending,
    TaskRequest,
    match_offers,
)
from ark.reference import reference_match
from ark.reference.pattern import compile_like

AGENTS = [f"a{i}" for i in range(6)]
RACKS = ["r1", "r2", "r3"]
ROLES = ["*", "web"]

ZONES = ["a", "b", "c"]
slot_ranges = st.tuples(st.integers(1, 3), st.integers(1, 5))

# Pieces of patterns in and out of the dialect of docs/matching.md: patterns
# made of them must be refused by both implementations or read alike.
PIECES = [
    *["r", "1", "2", "h", "-", "_", "é", " ", ".", ".*", "|", "(", ")", "(?:", "^", "$"],
    *["*", "+", "?", "*?", "*+", "{2}", "{1,}", "{0,2}", "{", "}", "{,1}", "]", "&&"],
    *[r"\d", r"\w", r"\s", r"\D", r"\W", r"\S", r"\.", r"\-", r"\$", "\\\\", r"\n", r"\r"],
    *[r"\x72", r"\u0031", r"\uD800", r"\A", r"\Z", r"\z", r"\b", r"\1", r"\p{L}", r"\Q", "\\"],
    *["[12]", "[^1]", "[r-t]", "[t-r]", r"[\d-]", "[-r]", "[a-b-c]", "[]", "[^]", "[[:alpha:]]"],
    *["[a&&b]", "[", "(?=r)", "(?!r)", "(?i)", "(?<n>r)", "r{1001}", "(r{40}){30}"],
]
patterns = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)
set_patterns = st.sampled_from(
    [r"\{.*\}", r".*[{,]b[,}].*", r"\{a,b\}", r"\[1-[0-9]+.*", "(", "[[:alpha:]]"]
)


@st.composite
def offers(draw: st.DrawFn) -> list[m.Offer]:
    out = []
    for i, agent in enumerate(draw(st.lists(st.sampled_from(AGENTS), unique=True, max_size=6))):
        attrs = [m.Attribute("rack", text=draw(st.sampled_from(RACKS)))]
        if draw(st.booleans()):
            attrs.append(m.Attribute("ssd", scalar=float(draw(st.integers(0, 2)))))
        if draw(st.booleans()):
            attrs.append(
                m.Attribute("zones", set=draw(st.lists(st.sampled_from(ZONES), max_size=3)))
            )
        if draw(st.booleans()):
            attrs.append(m.Attribute("slots", ranges=draw(st.lists(slot_ranges, max_size=2))))
        for j in range(draw(st.integers(1, 2))):
            resources = [
                m.Resource("cpus", scalar=draw(st.sampled_from([0.5, 1.0, 2.0, 4.0]))),
                m.Resource("mem", scalar=draw(st.sampled_from([256.0, 1024.0]))),
            ]
            if draw(st.booleans()):
                resources.append(m.Resource("cpus", scalar=1.0, role="web"))
            if draw(st.booleans()):
                lo = draw(st.integers(31000, 31010))
                resources.append(m.Resource("ports", ranges=[(lo, lo + draw(st.integers(0, 4)))]))
            # MULTI_ROLE: an agent's offers may be allocated to different roles.
            role = draw(st.sampled_from([None, None, "web", "batch"]))
            out.append(m.Offer(f"o{i}-{j}", agent, f"host-{agent}", resources, attrs, role))
    return out


constraints = st.one_of(
    st.builds(Constraint, st.just("rack"), st.just("EQ"), st.sampled_from(RACKS)),
    st.builds(Constraint, st.just("ssd"), st.just("EQ"), st.sampled_from(["1", "2.0", "x"])),
    st.builds(Constraint, st.sampled_from(["rack", "hostname"]), st.just("LIKE"), patterns),
    st.builds(Constraint, st.just("rack"), st.just("UNLIKE"), patterns),
    st.builds(
        Constraint,
        st.sampled_from(["zones", "slots"]),
        st.just("EQ"),
        st.sampled_from(["{a}", "{a,b}", "{}", "[1-2]", "[1-3,2-2]", "a"]),
    ),
    st.builds(
        Constraint,
        st.sampled_from(["zones", "slots"]),
        st.sampled_from(["LIKE", "UNLIKE"]),
        set_patterns,
    ),
    st.builds(
        Constraint,
        st.sampled_from(["hostname", "rack", "ssd", "zones", "slots"]),
        st.just("UNIQUE"),
    ),
    st.builds(
        Constraint,
        st.sampled_from(["hostname", "rack", "zones"]),
        st.just("MAX_PER"),
        st.sampled_from(["0", "1", "2", "x"]),
    ),
    st.builds(
        Constraint,
        st.sampled_from(["hostname", "rack", "zones"]),
        st.just("GROUP_BY"),
        st.sampled_from(["", "2", "3", "x"]),
    ),
)


@st.composite
def requests(draw: st.DrawFn) -> list[TaskRequest]:
    out = []
    for i in range(draw(st.integers(0, 12))):
        resources = [m.Resource("cpus", scalar=draw(st.sampled_from([0.25, 0.5, 1.0, 3.0])))]
        if draw(st.booleans()):
            resources.append(m.Resource("mem", scalar=draw(st.sampled_from([128.0, 512.0]))))
        if draw(st.booleans()):
            resources.append(m.Resource("cpus", scalar=0.5, role="web"))
        out.append(
            TaskRequest(
                f"t{i}",
                resources,
                ports=draw(st.integers(0, 3)),
                constraints=draw(st.lists(constraints, max_size=2)),
                group=draw(st.sampled_from(["g1", "g2"])),
                agent_id=draw(st.none() | st.sampled_from(AGENTS)),
                name=f"task {i}",
                payload=b"p",
                port_names=draw(
                    st.lists(st.sampled_from(["http", "admin", "x_y", ""]), max_size=2)
                ),
                strategy=draw(st.sampled_from([None, None, "binpack", "spread"])),
                role=(role := draw(st.sampled_from([None, None, "web", "batch"]))),
                volume=draw(st.none() | st.just(volume(f"v{i}", role))),
            )
        )
    return out


def volume(pid: str, role: str | None) -> m.Volume:
    return m.Volume(pid, "data", 64.0, role or "db")


#: Tasks running, and volumes of the groups' requests held (some the
#: requests' own, "v<i>" being request i's): each volume held once.
existing = st.lists(
    st.builds(
        Existing,
        st.sampled_from(["g1", "g2"]),
        st.sampled_from(AGENTS),
        st.none() | st.sampled_from([f"v{i}" for i in range(8)]),
    ),
    max_size=4,
    unique_by=lambda e: e.volume or object(),
)


cycle = st.tuples(
    offers(),
    requests(),
    st.sampled_from(["binpack", "spread"]),
    st.lists(st.sampled_from(AGENTS), max_size=2),
    existing,
)


def run(args: tuple) -> tuple[Decisions, Decisions]:  # type: ignore[type-arg]
    offered, reqs, strategy, blacklist, existing = args
    agents = [
        AgentInfo(a, f"host-{a}", [m.Attribute("rack", text="r1"), m.Attribute("zones", set=["a"])])
        for a in AGENTS
    ]
    kw = {"blacklist": blacklist, "existing": existing, "agents": agents}
    return (
        match_offers(offered, reqs, strategy, **kw),
        reference_match(offered, reqs, strategy, **kw),
    )


@given(cycle)
def test_rust_and_reference_decide_the_same(args: tuple) -> None:  # type: ignore[type-arg]
    rust, reference = run(args)
    assert rust == reference


group_by = st.builds(
    Constraint,
    st.sampled_from(["hostname", "rack", "zones"]),
    st.just("GROUP_BY"),
    st.sampled_from(["", "1", "2", "3", "6"]),
)


@st.composite
def spread_requests(draw: st.DrawFn) -> list[TaskRequest]:
    """Many small requests, mostly GROUP_BY: its refusals come and go within a cycle."""
    return [
        TaskRequest(
            f"t{i}",
            [m.Resource("cpus", scalar=draw(st.sampled_from([0.25, 0.5, 1.0])))],
            constraints=draw(st.lists(group_by | constraints, min_size=1, max_size=2)),
            group=draw(st.sampled_from(["g1", "g2"])),
            strategy=draw(st.sampled_from([None, "binpack", "spread"])),
            agent_id=draw(st.sampled_from([None, None, None, *AGENTS])),
            volume=draw(st.none() | st.just(volume(f"v{i}", None))),
        )
        for i in range(draw(st.integers(0, 25)))
    ]


@given(
    st.tuples(
        offers(),
        spread_requests(),
        st.sampled_from(["binpack", "spread"]),
        st.lists(st.sampled_from(AGENTS), max_size=1),
        existing,
    )
)
def test_rust_and_reference_agree_on_group_by(args: tuple) -> None:  # type: ignore[type-arg]
    rust, reference = run(args)
    assert rust == reference


@given(cycle)
def test_decisions_respect_offers_and_constraints(args: tuple) -> None:  # type: ignore[type-arg]
    offered, reqs, _, blacklist, _ = args
    decisions, _ = run(args)
    by_id = {r.task_id: r for r in reqs}
    # Every offer is answered exactly once: accepted with its agent's others, or declined.
    used = [o for p in decisions.accepts for o in p.offer_ids] + decisions.declines
    assert sorted(used) == sorted(o.id for o in offered)
    # Every request is placed or pending, once.
    placed = [launch.task_id for p in decisions.accepts for launch in p.launches]
    pending = [p.task_id for p in decisions.pending]
    assert sorted(placed + pending) == sorted(by_id)
    for p in decisions.accepts:
        mine = [o for o in offered if o.id in p.offer_ids]
        assert {o.agent_id for o in mine} == {p.agent_id}
        assert p.agent_id not in blacklist
        have: Counter[tuple[str, str]] = Counter()
        ports: set[int] = set()
        for o in mine:
            for r in o.resources:
                if r.scalar is not None:
                    have[(r.name, r.role)] += r.scalar
                if r.name == "ports" and r.ranges:
                    ports |= {x for lo, hi in r.ranges for x in range(lo, hi + 1)}
        need: Counter[tuple[str, str]] = Counter()
        taken: list[int] = []
        for launch in p.launches:
            request = by_id[launch.task_id]
            assert request.agent_id in (None, p.agent_id)
            for r in launch.resources:
                if r.scalar is not None:
                    need[(r.name, r.role)] += r.scalar
                if r.ranges:
                    taken += [x for lo, hi in r.ranges for x in range(lo, hi + 1)]
            attrs = {a.name: a for a in mine[0].attributes}
            for c in request.constraints:
                if c.operator == "EQ" and c.field == "rack":
                    assert attrs["rack"].text == c.value
                if c.operator == "LIKE" and c.field == "rack":
                    like = compile_like(c.value)
                    assert like is not None and like.fullmatch(attrs["rack"].text or "")
        for key, amount in need.items():
            assert amount - have[key] < 1e-9, (key, amount, have[key])
        assert len(taken) == len(set(taken)) and set(taken) <= ports


@given(st.integers(1, 6), st.integers(0, 6), st.sampled_from(["binpack", "spread"]))
def test_one_per_agent_fits_whenever_there_are_agents(
    agents: int, tasks: int, strategy: str
) -> None:
    """UNIQUE hostname with enough free agents: nothing is left pending."""
    offered = [
        m.Offer(f"o{i}", f"a{i}", f"h{i}", [m.Resource("cpus", scalar=1.0)]) for i in range(agents)
    ]
    unique = [Constraint("hostname", "UNIQUE")]
    reqs = [
        TaskRequest(f"t{i}", [m.Resource("cpus", scalar=1.0)], constraints=unique)
        for i in range(tasks)
    ]
    decisions = match_offers(offered, reqs, strategy)  # type: ignore[arg-type]
    assert len(decisions.pending) == max(0, tasks - agents)
    assert all(len(p.launches) == 1 for p in decisions.accepts)


def test_pending_requests_say_why() -> None:
    offered = [
        m.Offer(
            "o1", "a1", "h1", [m.Resource("cpus", scalar=1.0)], [m.Attribute("rack", text="r1")]
        )
    ]
    reqs = [
        TaskRequest("big", [m.Resource("cpus", scalar=2.0)]),
        TaskRequest(
            "rack", [m.Resource("cpus", scalar=0.1)], constraints=[Constraint("rack", "EQ", "r2")]
        ),
        TaskRequest("bad", constraints=[Constraint("rack", "MAX_PER", "many")]),
        TaskRequest("spread", constraints=[Constraint("rack", "GROUP_BY", "-1")]),
    ]
    decisions = match_offers(offered, reqs)
    assert [(p.task_id, p.reason) for p in decisions.pending] == [
        ("big", "not enough cpus (role *) on 1 agent"),
        ("rack", "constraint rack EQ r2 on 1 agent"),
        ("bad", 'MAX_PER needs a count, got "many"'),
        ("spread", 'GROUP_BY needs a count or nothing, got "-1"'),
    ]
    assert decisions == reference_match(offered, reqs)
    assert match_offers([], reqs[:1]).pending[0].reason == "no offers"


def test_set_and_range_attributes_read_as_marathon_writes_them() -> None:
    def agent(i: int, zones: list[str], slots: list[tuple[int, int]]) -> m.Offer:
        attrs = [m.Attribute("zones", set=zones), m.Attribute("slots", ranges=slots)]
        return m.Offer(f"o{i}", f"a{i}", f"h{i}", [m.Resource("cpus", scalar=4.0)], attrs)

    offered = [agent(0, ["b", "a"], [(4, 5), (1, 2)]), agent(1, ["c"], []), agent(2, [], [(1, 2)])]

    def placed(*constraints: Constraint, n: int = 1) -> list[str]:
        reqs = [TaskRequest(f"t{i}", constraints=list(constraints)) for i in range(n)]
        decisions = match_offers(offered, reqs)
        assert decisions == reference_match(offered, reqs)
        return [p.agent_id for p in decisions.accepts for _ in p.launches]

    assert placed(Constraint("zones", "EQ", "{a,b}")) == ["a0"]
    assert placed(Constraint("zones", "EQ", "{}")) == ["a2"]
    assert placed(Constraint("slots", "EQ", "[1-2,4-5]")) == ["a0"]
    assert placed(Constraint("slots", "EQ", "[]")) == ["a1"]
    assert placed(Constraint("zones", "LIKE", r".*[{,]c[,}].*")) == ["a1"]
    assert placed(Constraint("zones", "UNLIKE", r"\{a.*"), n=2) == ["a1", "a1"]
    # One task per distinct set: three agents, three texts.
    assert placed(Constraint("zones", "UNIQUE"), n=4) == ["a0", "a1", "a2"]
    # Two per distinct ranges: [1-2,4-5], [] and [1-2].
    assert placed(Constraint("slots", "MAX_PER", "2"), n=7) == ["a0", "a0", "a1", "a1", "a2", "a2"]


def test_group_by_spreads_a_group_evenly_over_the_values() -> None:
    offered = [
        m.Offer(
            f"o{i}",
            f"a{i}",
            f"h{i}",
            [m.Resource("cpus", scalar=8.0)],
            [m.Attribute("rack", text=f"r{i % 3}")],
        )
        for i in range(6)
    ]

    def racks(value: str, n: int, existing: tuple[Existing, ...] = ()) -> Counter[str]:
        reqs = [
            TaskRequest(
                f"t{i}",
                [m.Resource("cpus", scalar=1.0)],
                constraints=[Constraint("rack", "GROUP_BY", value)],
            )
            for i in range(n)
        ]
        decisions = match_offers(offered, reqs, existing=existing)
        assert decisions == reference_match(offered, reqs, existing=existing)
        return Counter(f"r{int(p.agent_id[1:]) % 3}" for p in decisions.accepts for _ in p.launches)

    assert racks("3", 7) == {"r0": 3, "r1": 2, "r2": 2}
    # Marathon's rule: without the count, only racks holding tasks are known.
    assert racks("", 4) == {"r0": 4}
    # Tasks already on r0 and r1: r2 catches up first.
    assert racks("3", 3, (Existing("", "a0"), Existing("", "a1"))) == {"r0": 1, "r1": 1, "r2": 1}
    assert racks("3", 4, (Existing("", "a0"), Existing("", "a3"))) == {"r1": 2, "r2": 2}


def test_a_held_volume_counts_for_its_group_but_not_for_its_own_request() -> None:
    offered = [m.Offer("o0", "a0", "h0", [m.Resource("cpus", scalar=4.0)])]
    unique = [Constraint("hostname", "UNIQUE")]

    def decide(*reqs: TaskRequest) -> Decisions:
        existing = [Existing("g", "a0", "v-a")]
        decisions = match_offers(offered, list(reqs), existing=existing)
        assert decisions == reference_match(offered, list(reqs), existing=existing)
        return decisions

    cpus = [m.Resource("cpus", scalar=1.0)]
    b = TaskRequest("b", cpus, constraints=unique, group="g", volume=volume("v-b", None))
    a = TaskRequest("a", cpus, constraints=unique, group="g", volume=volume("v-a", None))
    held = "constraint hostname UNIQUE (a volume of the group is held there) on 1 agent"
    assert decide(b).pending == [Pending("b", held)]
    # Its own request takes the host; then its task holds it, as the volume did.
    decided = decide(a, b)
    assert [launch.task_id for p in decided.accepts for launch in p.launches] == ["a"]
    assert decided.pending == [Pending("b", "constraint hostname UNIQUE on 1 agent")]
    # Another group's request is not kept away.
    other = TaskRequest("c", cpus, constraints=unique, group="h", volume=volume("v-c", None))
    assert decide(other).pending == []


def test_a_field_counts_once_per_placement() -> None:
    offered = [m.Offer("o", "a", "h", [m.Resource("cpus", scalar=8.0)])]
    twice = [Constraint("hostname", "MAX_PER", "2"), Constraint("hostname", "MAX_PER", "2")]
    reqs = [TaskRequest(f"t{i}", constraints=twice) for i in range(3)]
    decisions = match_offers(offered, reqs)
    assert decisions == reference_match(offered, reqs)
    assert [p.task_id for p in decisions.pending] == ["t2"]


def test_named_ports_take_the_lowest_ports_in_order() -> None:
    offered = [m.Offer("o", "a", "h", [m.Resource("ports", ranges=[(40, 41), (30, 30), (50, 59)])])]
    reqs = [
        TaskRequest("t0", ports=1, port_names=["http", "admin"]),
        TaskRequest("t1", port_names=["http"]),
        TaskRequest("bad", port_names=["HTTP"]),
        TaskRequest("twice", port_names=["a", "a"]),
        TaskRequest("many", ports=9, port_names=["web"]),
    ]
    decisions = match_offers(offered, reqs)
    assert decisions == reference_match(offered, reqs)
    t0, t1 = decisions.accepts[0].launches
    assert t0.resources == [m.Resource("ports", ranges=[(30, 30), (40, 41)])]
    assert t0.named_ports == [("http", 30), ("admin", 40)]
    assert t1.named_ports == [("http", 50)]
    assert [(p.task_id, p.reason) for p in decisions.pending] == [
        ("bad", 'invalid port name "HTTP": 1 to 63 of a-z, 0-9 and -'),
        ("twice", 'port name "a" given twice'),
        ("many", "not enough ports on 1 agent"),
    ]


def test_a_request_may_choose_its_own_strategy() -> None:
    offered = [
        m.Offer(f"o{i}", f"a{i}", f"h{i}", [m.Resource("cpus", scalar=4.0)]) for i in range(3)
    ]
    cpu = [m.Resource("cpus", scalar=1.0)]
    reqs = [
        *(TaskRequest(f"s{i}", cpu, group="web", strategy="spread") for i in range(3)),
        *(TaskRequest(f"b{i}", cpu, group="batch") for i in range(2)),
    ]
    decisions = match_offers(offered, reqs, "binpack")
    assert decisions == reference_match(offered, reqs, "binpack")
    assert [(p.agent_id, [t.task_id for t in p.launches]) for p in decisions.accepts] == [
        ("a0", ["s0", "b0", "b1"]),
        ("a1", ["s1"]),
        ("a2", ["s2"]),
    ]
    assert decisions.pending == []


def test_decisions_become_commands() -> None:
    offered = [
        m.Offer("o1", "a1", "h1", [m.Resource("cpus", scalar=1.0)]),
        m.Offer("o2", "a2", "h2"),
    ]
    decisions = match_offers(offered, [TaskRequest("t", [m.Resource("cpus", scalar=1.0)])])
    accept, decline = decisions.commands(refuse_seconds=9.0)
    assert isinstance(accept, m.Accept) and accept.offer_ids == ["o1"]
    assert decline == m.Decline(["o2"], 9.0)


@pytest.mark.parametrize(
    ("strategy", "request_"),
    [
        ("best", TaskRequest("t")),
        ("binpack", TaskRequest("t", strategy="best")),  # type: ignore[arg-type]
        ("binpack", TaskRequest("t", constraints=[Constraint("rack", "NEAR")])),  # type: ignore[arg-type]
    ],
)
def test_a_strategy_or_operator_outside_the_enums_is_a_clear_error(
    strategy: str, request_: TaskRequest
) -> None:
    with pytest.raises(MessageError, match="unknown variant"):
        match_offers([], [request_], strategy)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown"):
        reference_match([], [request_], strategy)  # type: ignore[arg-type]


@given(
    patterns,
    st.lists(st.text("r12h-_é .$\\\n\r", max_size=3), min_size=1, max_size=6, unique=True),
)
def test_rust_and_reference_read_every_pattern_alike(pattern: str, values: list[str]) -> None:
    assert rust_like(pattern, values) == reference_like(pattern, values)


def like_cycle(pattern: str, values: list[str]) -> tuple[list[m.Offer], list[TaskRequest]]:
    """One agent per value, and a LIKE and an UNLIKE request pinned to each."""
    offered = [
        m.Offer(f"o{i}", f"a{i}", f"h{i}", [], [m.Attribute("v", text=v)])
        for i, v in enumerate(values)
    ]
    reqs = [
        TaskRequest(f"{op}{i}", constraints=[Constraint("v", op, pattern)], agent_id=f"a{i}")
        for op in ("LIKE", "UNLIKE")
        for i in range(len(values))
    ]
    return offered, reqs


def like_result(decisions: Decisions, values: list[str]) -> list[bool] | None:
    """Which values the pattern matched; None if it was refused."""
    if any(p.reason.startswith("invalid regex") for p in decisions.pending):
        assert all(p.reason.startswith("invalid regex") for p in decisions.pending)
        assert not decisions.accepts
        return None
    placed = {t.task_id for p in decisions.accepts for t in p.launches}
    matched = [f"LIKE{i}" in placed for i in range(len(values))]
    assert matched == [f"UNLIKE{i}" not in placed for i in range(len(values))]
    return matched


def rust_like(pattern: str, values: list[str]) -> list[bool] | None:
    return like_result(match_offers(*like_cycle(pattern, values)), values)


def reference_like(pattern: str, values: list[str]) -> list[bool] | None:
    return like_result(reference_match(*like_cycle(pattern, values)), values)


# What Java's Pattern.matches reads otherwise, or not at all: refused by both.
REFUSED = [
    *["(?=h)h1", r"\Ah1\Z", "[[:alpha:]]1", "(?i)h1", r"h\b", r"\p{L}", r"(a)\1", "a{", "a**"],
    *["a*+", "[]a]", "[^]", "[a-b-c]", "[z-a]", "[a&&b]", "x{1001}", "(a{100}){11}", r"\uD800"],
    *["a)", "(a", "[a", "\\", r"\q", "a{,2}", "a|*", "(?<n>a)", r"\Qa\E", r"\v", "a^", "$a"],
    r"\U0001F600",
]


@pytest.mark.parametrize("pattern", REFUSED)
def test_patterns_outside_the_dialect_are_refused_by_both(pattern: str) -> None:
    assert rust_like(pattern, ["a"]) is None
    assert reference_like(pattern, ["a"]) is None


# (pattern, value, whether Java's Pattern.matches(pattern, value) is true)
JAVA = [
    ("h1", "h1", True),
    ("h", "h1", False),
    ("^h.$", "h1", True),
    ("a\\\\$", "a\\", True),
    (".", "\r", False),
    (".", "\u2028", False),
    (".", "é", True),
    ("[^a]", "\n", True),
    (r"\d+", "\u0661\u0662", False),
    (r"\w\s\S", "é x", False),
    (r"\w\s\S", "_\tx", True),
    (r"[a-c\d-]{2,}?", "b-7", True),
    (r"r(ack|oom)-\u0031", "room-1", True),
    (r"\$\.x{0}", "$.", True),
    ("", "", True),
    ("a|", "", True),
    (r"[\]\[]+", "][", True),
    ("😀.", "😀x", True),
]


@pytest.mark.parametrize(("pattern", "value", "java"), JAVA)
def test_patterns_match_whole_values_as_java_does(pattern: str, value: str, java: bool) -> None:
    assert rust_like(pattern, [value]) == [java]
    assert reference_like(pattern, [value]) == [java]
