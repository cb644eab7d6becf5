"""Offer matching in plain Python, written from ``docs/matching.md``.

:func:`reference_match` is the same cycle as :func:`ark.matching.match_offers`
(Rust), scanning naively: the oracle of the property tests and the baseline
of ``bench/matching.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from ark import messages as m
from ark.matching import AgentInfo, Decisions, Existing, Pending, Placement, Strategy
from ark.messages import TaskRequest
from ark.reference.pattern import compile_like

__all__ = ["COUNTING", "reference_match"]

_EPSILON = 1e-9
#: The operators that count a group's tasks per value (existing ones too).
COUNTING = ("UNIQUE", "MAX_PER", "GROUP_BY")


class _Agent:
    """The offers of one agent allocated to one role, combined."""

    __slots__ = ("attributes", "free", "hostname", "id", "launches", "offer_ids", "ports", "role")

    def __init__(self, offer: m.Offer) -> None:
        self.id = offer.agent_id
        self.role = offer.role
        self.hostname = offer.hostname
        self.attributes = offer.attributes
        self.offer_ids: list[str] = []
        self.free: dict[tuple[str, str], float] = {}
        self.ports: list[tuple[int, int]] = []
        self.launches: list[m.Launch] = []


def _field(hostname: str, attributes: Sequence[m.Attribute], field: str) -> str | float | None:
    if field == "hostname":
        return hostname
    for a in attributes:
        if a.name == field:
            if a.text is not None:
                return a.text
            if a.scalar is not None:
                return a.scalar
            if a.ranges is not None:
                return "[" + ",".join(f"{lo}-{hi}" for lo, hi in sorted(a.ranges)) + "]"
            if a.set is not None:
                # Code-point order is UTF-8 byte order, the order Rust sorts in.
                return "{" + ",".join(sorted(a.set)) + "}"
            return None
    return None


def _debug(text: str) -> str:
    # Rust's {:?} of a string, for the characters reasons contain.
    return json.dumps(text, ensure_ascii=False)


def _count(text: str) -> int | None:
    if re.fullmatch(r"\+?[0-9]+", text) and int(text) < 2**32:
        return int(text)
    return None


def _number(text: str) -> float | None:
    if re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", text):
        return float(text)
    return None


def _invalid(request: TaskRequest, patterns: list[re.Pattern[str] | bool | None]) -> str | None:
    for c, pattern in zip(request.constraints, patterns, strict=True):
        if c.operator in ("LIKE", "UNLIKE") and pattern is None:
            return f"invalid regex {_debug(c.value)}"
        if c.operator == "MAX_PER" and _count(c.value) is None:
            return f"MAX_PER needs a count, got {_debug(c.value)}"
        if c.operator == "GROUP_BY" and c.value != "" and _count(c.value) is None:
            return f"GROUP_BY needs a count or nothing, got {_debug(c.value)}"
    for r in _all_resources(request):
        x = r.scalar
        if x is None or not (x >= 0.0 and x != float("inf")):
            return f"resource {r.name} must be a finite scalar >= 0"
    for i, name in enumerate(request.port_names):
        if not re.fullmatch(r"[a-z0-9-]{1,63}", name):
            return f"invalid port name {_debug(name)}: 1 to 63 of a-z, 0-9 and -"
        if name in request.port_names[:i]:
            return f"port name {_debug(name)} given twice"
    if request.pod and request.ports + len(request.port_names) > 0:
        return "a pod takes no ports"
    return None


def _all_resources(request: TaskRequest) -> list[m.Resource]:
    # A pod's own resources are its executor's; its members' add to them.
    return [*request.resources, *(r for t in request.pod for r in t.resources)]


def _needs(request: TaskRequest) -> dict[tuple[str, str], float]:
    # Summed per (name, role), in order of first appearance.
    needs: dict[tuple[str, str], float] = {}
    for r in _all_resources(request):
        key = (r.name, r.role)
        needs[key] = needs.get(key, 0.0) + (r.scalar or 0.0)
    return needs


def _refusal(
    agent: _Agent,
    request: TaskRequest,
    patterns: list[re.Pattern[str] | bool | None],
    blacklisted: bool,
    counts: dict[tuple[str, str, object], int],
    holds: dict[tuple[str, str, object], int],
) -> str | None:
    if blacklisted:
        return "agent blacklisted"
    if request.agent_id is not None and request.agent_id != agent.id:
        return f"pinned to {request.agent_id}"
    if request.role is not None and request.role != agent.role:
        return f"not offered to role {request.role}"
    for c, pattern in zip(request.constraints, patterns, strict=True):
        value = _field(agent.hostname, agent.attributes, c.field)
        if c.operator == "EQ":
            if isinstance(value, str):
                ok = value == c.value
            elif isinstance(value, float):
                ok = _number(c.value) == value
            else:
                ok = False
        elif c.operator in ("LIKE", "UNLIKE"):
            like = (
                isinstance(value, str)
                and isinstance(pattern, re.Pattern)
                and pattern.fullmatch(value) is not None
            )
            ok = like == (c.operator == "LIKE")
        elif c.operator == "GROUP_BY":
            ok = value is not None and _spreads_to(
                counts, request.group, c.field, value, _count(c.value) or 0
            )
        else:  # UNIQUE, MAX_PER
            limit = 1 if c.operator == "UNIQUE" else (_count(c.value) or 0)
            ok = value is not None and counts.get((request.group, c.field, value), 0) < limit
        if not ok:
            text = f"constraint {c.field} {c.operator} {c.value}".rstrip()
            key = (request.group, c.field, value)
            if c.operator in ("UNIQUE", "MAX_PER") and holds.get(key, 0) > 0:
                return f"{text} (a volume of the group is held there)"
            return text
    for (name, role), need in _needs(request).items():
        if need - agent.free.get((name, role), 0.0) >= _EPSILON:
            return f"not enough {name} (role {role})"
    if request.ports + len(request.port_names) > sum(hi - lo + 1 for lo, hi in agent.ports):
        return "not enough ports"
    return None


def _spreads_to(
    counts: dict[tuple[str, str, object], int],
    group: str,
    field: str,
    value: object,
    expected: int,
) -> bool:
    # Marathon's GROUP_BY: a value without a task of the group is welcome; one
    # with tasks once `expected` values have tasks, and while it has the fewest.
    count = counts.get((group, field, value), 0)
    if count == 0:
        return True
    held = [k for (g, f, _), k in counts.items() if g == group and f == field and k > 0]
    return len(held) >= expected and count == min(held)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(r for r in ranges if r[0] <= r[1]):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _shape(request: TaskRequest) -> object:
    return (
        tuple((r.name, r.role, r.scalar) for r in request.resources),
        request.ports,
        tuple(request.port_names),
        request.strategy,
        tuple(request.constraints),
        request.group,
        request.agent_id,
        request.role,
        tuple(tuple((r.name, r.role, r.scalar) for r in t.resources) for t in request.pod),
    )


def reference_match(
    offers: Sequence[m.Offer],
    requests: Sequence[TaskRequest],
    strategy: Strategy = "binpack",
    *,
    blacklist: Iterable[str] = (),
    existing: Sequence[Existing] = (),
    agents: Sequence[AgentInfo] = (),
) -> Decisions:
    """The same cycle as :func:`match_offers`, in plain Python and scanning naively."""
    # Strategies and operators are enums in the core: any other does not decode.
    for named in (strategy, *(q.strategy for q in requests if q.strategy is not None)):
        if named not in ("binpack", "spread"):
            raise ValueError(f"unknown strategy {named!r}: binpack or spread")
    for q in requests:
        for c in q.constraints:
            if c.operator not in ("EQ", "LIKE", "UNLIKE", "UNIQUE", "MAX_PER", "GROUP_BY"):
                raise ValueError(f"task {q.task_id!r}: unknown constraint operator {c.operator!r}")
    # Offers of one agent allocated to two roles cannot be accepted together
    # (Mesos: "Aggregated offers must be allocated to the same role"): each
    # (agent, role) is an agent of its own, ordered as Rust orders the pair.
    by_id: dict[tuple[str, tuple[bool, str]], _Agent] = {}
    for offer in offers:
        unit = (offer.agent_id, (offer.role is not None, offer.role or ""))
        agent = by_id.setdefault(unit, _Agent(offer))
        agent.offer_ids.append(offer.id)
        for r in offer.resources:
            if r.scalar is not None:
                key = (r.name, r.role)
                agent.free[key] = agent.free.get(key, 0.0) + r.scalar
            if r.name == "ports" and r.role == "*" and r.ranges:
                agent.ports.extend(r.ranges)
    pool = [by_id[k] for k in sorted(by_id)]
    for agent in pool:
        agent.offer_ids.sort()
        agent.ports = _merge(agent.ports)
    banned = set(blacklist)
    fields = {(r.group, c.field) for r in requests for c in r.constraints if c.operator in COUNTING}
    known = {a.agent_id: (a.hostname, a.attributes) for a in agents}
    known.update({a.id: (a.hostname, a.attributes) for a in pool})
    counts: dict[tuple[str, str, object], int] = {}
    # What each held volume adds to the counts: taken off for its own request.
    held: dict[tuple[str, str], list[tuple[tuple[str, str, object], str]]] = {}
    # Of the counts, the held volumes': a refusal they take part in says so.
    holds: dict[tuple[str, str, object], int] = {}
    for e in existing:
        if e.agent_id in known:
            hostname, attributes = known[e.agent_id]
            for group, field in sorted(fields):
                if group == e.group:
                    value = _field(hostname, attributes, field)
                    if value is not None:
                        counted = (group, field, value)
                        counts[counted] = counts.get(counted, 0) + 1
                        if e.volume is not None:
                            held.setdefault((e.volume, group), []).append((counted, e.agent_id))
                            holds[counted] = holds.get(counted, 0) + 1
    cursors: dict[object, int] = {}
    reasons: dict[object, str] = {}
    pending: list[Pending] = []
    n = len(pool)
    for request in requests:
        patterns: list[re.Pattern[str] | bool | None] = []
        for c in request.constraints:
            if c.operator in ("LIKE", "UNLIKE"):
                patterns.append(compile_like(c.value))
            else:
                patterns.append(False)
        reason = _invalid(request, patterns)
        if reason is not None:
            pending.append(Pending(request.task_id, reason))
            continue
        own = []
        if request.volume is not None:
            own = held.get((request.volume.persistence_id, request.group), [])
        for k, _ in own:
            counts[k] -= 1
            holds[k] -= 1
        # A request its own volume's count was taken off for is a shape of its own.
        shape = (_shape(request), request.volume.persistence_id if own and request.volume else None)
        start = cursors.get(shape, 0) if (request.strategy or strategy) == "spread" else 0
        chosen = None
        for i in [*range(start, n), *range(start)]:
            agent = pool[i]
            if _refusal(agent, request, patterns, agent.id in banned, counts, holds) is None:
                chosen = i
                break
        if chosen is None:
            # The first pending request of a shape explains it for the rest of
            # the cycle: agents only fill up, so none can take the others either.
            if shape not in reasons:
                reasons[shape] = _summary(pool, request, patterns, banned, counts, holds)
            pending.append(Pending(request.task_id, reasons[shape]))
            for k, _ in own:
                counts[k] += 1
                holds[k] += 1
            continue
        cursors[shape] = chosen + 1
        agent = pool[chosen]
        agent.launches.append(_place(agent, request))
        # One count per field a placement counts by, however many constraints name it.
        by = {c.field for c in request.constraints if c.operator in COUNTING}
        # A task placed on its volume takes the volume's count on the fields it counts by.
        for k, held_on in own:
            if k[1] not in by or held_on != agent.id:
                counts[k] += 1
                holds[k] += 1
        for name in sorted(by):
            at = _field(agent.hostname, agent.attributes, name)
            if at is not None:
                counts[(request.group, name, at)] = counts.get((request.group, name, at), 0) + 1
    accepts = [Placement(a.id, a.offer_ids, a.launches, a.role) for a in pool if a.launches]
    declines = sorted(o for a in pool if not a.launches for o in a.offer_ids)
    return Decisions(accepts, declines, pending)


def _place(agent: _Agent, request: TaskRequest) -> m.Launch:
    for key, need in _needs(request).items():
        agent.free[key] = agent.free.get(key, 0.0) - need
    resources = [m.Resource(r.name, scalar=r.scalar or 0.0, role=r.role) for r in request.resources]
    named: list[tuple[str, int]] = []
    if request.ports + len(request.port_names) > 0:
        want = request.ports + len(request.port_names)
        taken, rest = [], []
        for lo, hi in agent.ports:
            if want == 0:
                rest.append((lo, hi))
            elif hi - lo + 1 <= want:
                taken.append((lo, hi))
                want -= hi - lo + 1
            else:
                taken.append((lo, lo + want - 1))
                rest.append((lo + want, hi))
                want = 0
        agent.ports = rest
        resources.append(m.Resource("ports", ranges=taken))
        lowest = [p for lo, hi in taken for p in range(lo, hi + 1)]
        named = list(zip(request.port_names, lowest, strict=False))
    return m.Launch(
        request.task_id,
        request.name,
        resources,
        request.payload,
        named,
        request.health_check,
        request.kill_policy,
        request.pod,
    )


def _summary(
    pool: list[_Agent],
    request: TaskRequest,
    patterns: list[re.Pattern[str] | bool | None],
    banned: set[str],
    counts: dict[tuple[str, str, object], int],
    holds: dict[tuple[str, str, object], int],
) -> str:
    if not pool:
        return "no offers"
    why: dict[str, int] = {}
    for agent in pool:
        r = _refusal(agent, request, patterns, agent.id in banned, counts, holds)
        if r is not None:
            why[r] = why.get(r, 0) + 1
    return "; ".join(f"{w} on {k} agent{'' if k == 1 else 's'}" for w, k in sorted(why.items()))
