"""The Rust core against the Python reference, on random message sequences.

A hypothesis ``RuleBasedStateMachine`` (chroma's pattern): every rule sends the
same message to both reducers and requires the same effects, the same error
class and the same state; invariants of the Mesos bookkeeping are checked on
every step. Small id pools make duplicates, stale uuids, unknown tasks and
reused offers common.
"""

from __future__ import annotations

from typing import Any, get_args

import msgspec
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from ark import Config, Reducer, reference
from ark import effects as fx
from ark import messages as m
from ark.errors import ArkError
from ark.state import StateView

AGENTS = [f"a{i}" for i in range(4)]
OFFERS = [f"o{i}" for i in range(10)]
TASKS = [f"t{i}" for i in range(8)]
# Requests mostly use ids of their own, which updates rarely adopt first.
REQUESTED = [f"r{i}" for i in range(6)]
UUIDS = [bytes([i]) * 16 for i in range(4)]
STATES: list[str] = list(get_args(m.TaskState))
REASONS = ["REASON_RECONCILIATION", "REASON_AGENT_REMOVED", "REASON_COMMAND_EXECUTOR_FAILED"]
CONFIG = Config(
    reconcile_base_seconds=1.0,
    reconcile_cap_seconds=4.0,
    reconcile_max_rounds=3,
    # Launch backoff on the scale of a few steps: delays 1.5, 3, 6, 6...
    backoff_seconds=1.5,
    backoff_factor=2.0,
    backoff_max_seconds=6.0,
    backoff_reset_seconds=5.0,
)

scalars = st.builds(
    m.Resource,
    name=st.sampled_from(["cpus", "mem"]),
    scalar=st.integers(-1, 40).map(lambda tenths: tenths / 10),
    role=st.sampled_from(["*", "web"]),
)
ranges = st.builds(
    lambda lo, width: m.Resource("ports", ranges=[(lo, lo + width)]),
    st.integers(31000, 31006),
    st.integers(-1, 4),
)
sets = st.builds(
    lambda items: m.Resource("disks", set=items),
    st.lists(st.sampled_from(["d0", "d1", "d2"]), max_size=3),
)
resources = st.lists(st.one_of(scalars, ranges, sets), max_size=4)
offers = st.builds(
    m.Offer,
    id=st.sampled_from(OFFERS),
    agent_id=st.sampled_from(AGENTS),
    hostname=st.sampled_from(["h0", "h1"]),
    resources=resources,
    role=st.none() | st.sampled_from(["web", "batch"]),
)
statuses = st.builds(
    m.TaskStatus,
    task_id=st.sampled_from(TASKS) | st.sampled_from(REQUESTED),
    state=st.sampled_from(STATES),
    agent_id=st.none() | st.sampled_from(AGENTS),
    reason=st.none() | st.sampled_from(REASONS),
    source=st.none() | st.sampled_from(["SOURCE_MASTER", "SOURCE_AGENT", "SOURCE_EXECUTOR"]),
    message=st.none() | st.just("lost contact"),
    uuid=st.none() | st.sampled_from(UUIDS) | st.just(b"short"),
    timestamp=st.none() | st.integers(0, 5).map(float),
    healthy=st.none() | st.booleans(),
)
health_checks = st.none() | st.sampled_from(
    [
        m.HealthCheck("COMMAND", command="test -f ready"),
        m.HealthCheck("HTTP", port=8080, path="/health", scheme="https", delay_seconds=0.5),
        m.HealthCheck("TCP", port=31000, interval_seconds=1.0, consecutive_failures=1),
    ]
)
kill_policies = st.none() | st.sampled_from([m.KillPolicy(0.0), m.KillPolicy(2.5)])
launches = st.lists(
    st.builds(
        m.Launch,
        task_id=st.sampled_from(TASKS),
        resources=resources,
        payload=st.just(b"x"),
        health_check=health_checks,
        kill_policy=kill_policies,
    ),
    max_size=3,
)
# Checks and policies Mesos would refuse, as raw msgpack arrays (the Python
# types refuse to build them).
BAD_CHECKS: list[list[Any]] = [
    ["HTTP"],
    ["COMMAND"],
    ["COMMAND", ""],
    ["UNKNOWN", "true"],
    ["TCP", None, 80, "/x"],
    ["HTTP", None, 80, "health"],
    ["HTTP", None, 0],
    ["HTTP", None, 70000],
    ["COMMAND", "true", 80],
    ["COMMAND", "true", None, None, None, -1.0],
    ["COMMAND", "true", None, None, None, 15.0, 0.0],
    ["COMMAND", "true", None, None, None, 15.0, 10.0, float("nan")],
    ["COMMAND", "true", None, None, None, 15.0, 10.0, 20.0, 0],
    ["COMMAND", "true", None, None, None, 15.0, 10.0, 20.0, 3, 1e9],
]
BAD_POLICIES: list[list[Any]] = [[-1.0], [float("inf")], []]


constraints = st.sampled_from(
    [
        m.Constraint("hostname", "UNIQUE"),
        m.Constraint("hostname", "MAX_PER", "1"),
        m.Constraint("hostname", "LIKE", "h[01]"),
        m.Constraint("hostname", "EQ", "h0"),
        m.Constraint("hostname", "UNLIKE", "("),
        m.Constraint("hostname", "GROUP_BY", "2"),
    ]
)
# Mostly requests that fit the rich offers below, sometimes odd ones.
needs = st.one_of(
    st.builds(
        m.Resource,
        name=st.sampled_from(["cpus", "mem"]),
        scalar=st.sampled_from([0.5, 1.0, 2.0]),
    ),
    scalars,
)
# Mostly valid strategies (inactive <= expunge), sometimes malformed ones.
unreachable_strategies = st.builds(
    m.UnreachableStrategy,
    inactive_after_seconds=st.sampled_from([-1.0, 0.0, 1.0, 2.0, 5.0]),
    expunge_after_seconds=st.sampled_from([0.0, 2.0, 3.0, 8.0]),
    kill_selection=st.sampled_from(["YoungestFirst", "OldestFirst"]),
)
# Pods: ids of their own, members mostly too, sometimes named like tasks, so
# that updates, kills and requests meet them.
PODS = ["p0", "p1"]
MEMBERS = [f"m{i}" for i in range(12)]
# Members small enough for a pod to fit the rich offers whole; its executor's
# resources sometimes odd.
member_needs = st.one_of(
    st.builds(m.Resource, name=st.just("cpus"), scalar=st.sampled_from([0.25, 0.5])),
    st.builds(m.Resource, name=st.just("mem"), scalar=st.sampled_from([8.0, 16.0])),
)
pod_members = st.lists(
    st.builds(
        m.PodTask,
        task_id=st.sampled_from(MEMBERS) | st.sampled_from(MEMBERS) | st.sampled_from(TASKS),
        resources=st.lists(member_needs, max_size=2),
        payload=st.just(b"{}"),
        health_check=health_checks,
        kill_policy=kill_policies,
    ),
    min_size=1,
    max_size=3,
)
pod_requests = st.builds(
    m.TaskRequest,
    task_id=st.sampled_from(PODS),
    resources=st.lists(member_needs | needs, max_size=2),
    constraints=st.lists(constraints, max_size=1),
    group=st.sampled_from(["g1", "g2"]),
    pod=pod_members,
)
task_request = st.builds(
    m.TaskRequest,
    task_id=st.sampled_from(REQUESTED) | st.sampled_from(TASKS),
    resources=st.lists(needs, max_size=2),
    ports=st.integers(0, 2),
    constraints=st.lists(constraints, max_size=1),
    group=st.sampled_from(["g1", "g2"]),
    agent_id=st.none() | st.sampled_from(AGENTS),
    payload=st.just(b"p"),
    port_names=st.lists(st.sampled_from(["http", "admin"]), max_size=2),
    strategy=st.none() | st.sampled_from(["binpack", "spread"]),
    unreachable=st.none() | unreachable_strategies,
    role=st.none() | st.sampled_from(["web", "batch"]),
    health_check=health_checks,
    kill_policy=kill_policies,
)
task_requests = st.lists(task_request, max_size=3)
# What a store gives a Track back: a request, with a volume, a pod (tracked
# under a member's id), or none; a volume role that is not the request's is malformed.
volumes = st.builds(
    m.Volume,
    persistence_id=st.sampled_from(["v1", "v2"]),
    container_path=st.just("data"),
    size_mb=st.sampled_from([64.0, 128.0]),
    role=st.sampled_from(["db", "web"]),
)
stateful_requests = st.builds(msgspec.structs.replace, task_request, volume=volumes)
framework_updates = st.builds(
    m.UpdateFramework,
    roles=st.none() | st.lists(st.sampled_from(["web", "batch", ""]), max_size=3),
    suppressed_roles=st.none() | st.lists(st.sampled_from(["web", "batch"]), max_size=2),
    capabilities=st.none() | st.just(["MULTI_ROLE"]),
    failover_timeout=st.none() | st.sampled_from([0.0, 60.0, -1.0, float("nan")]),
)


def offer_ids(effect: fx.Effect) -> list[str]:
    return effect.offer_ids if isinstance(effect, fx.Accept | fx.Decline) else []


def check_offers_end(
    before: StateView, message: Any, effects: list[fx.Effect], after: StateView
) -> None:
    """An offer leaves the held ones only accepted, declined or rescinded.

    Rescinded by the master explicitly (``Rescind``) or implicitly: it
    rescinds a lost agent's offers, and every offer of a subscription that
    ended. With the teardown's check that none outlives its hold, every
    offer is eventually accepted, declined or rescinded.
    """
    held = {o.offer_id for o in before.offers}
    left = held - {o.offer_id for o in after.offers}
    used = {i for e in effects for i in offer_ids(e)}
    rescinded: set[str] = set()
    if isinstance(message, m.Rescind):
        rescinded = {message.offer_id}
    elif isinstance(message, m.Failure) and message.executor_id is None:
        rescinded = {o.offer_id for o in before.offers if o.agent_id == message.agent_id}
    elif isinstance(message, m.Disconnected | m.Error):
        rescinded = held
    assert left <= used | rescinded, f"{message!r} dropped offers {left - used - rescinded}"


class ReducerComparison(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rust = Reducer(CONFIG)
        self.reference = reference.Reducer(CONFIG)
        self.now = 0.0
        self.view: StateView = self.rust.view()

    # --- the one way a message goes in ---

    def send(self, message: Any, *, data: bytes | None = None) -> list[fx.Effect]:
        before = self.view
        outcomes = []
        for reducer in (self.rust, self.reference):
            try:
                if data is None:
                    outcomes.append((reducer.step(message, self.now), None))
                else:
                    outcomes.append((reducer.step_bytes(data, self.now), None))
            except ArkError as e:
                outcomes.append(([], type(e)))
        (effects, error), (ref_effects, ref_error) = outcomes
        assert error == ref_error, f"{message!r}: Rust raised {error}, reference {ref_error}"
        assert effects == ref_effects, f"{message!r}"
        after = self.rust.view()
        assert after == self.reference.view(), f"{message!r}"
        # The requests the store would keep beside each launch.
        ids = [t.task_id for t in after.tasks]
        kept = self.rust.snapshot().requests(ids)
        decoded = [
            None if b is None else msgspec.msgpack.decode(b, type=m.TaskRequest) for b in kept
        ]
        assert decoded == self.reference.requests(ids), f"{message!r}"
        if error is not None:
            assert after == before, "a rejected message changed the state"
        self.check_step(before, message, effects, after, error is None)
        check_offers_end(before, message, effects, after)
        self.view = after
        return effects

    def check_step(
        self,
        before: StateView,
        message: Any,
        effects: list[fx.Effect],
        after: StateView,
        applied: bool,
    ) -> None:
        held_before = {o.offer_id for o in before.offers}
        held_after = {o.offer_id for o in after.offers}
        arrived = (
            {o.id for o in message.offers} - held_before if isinstance(message, m.Offers) else set()
        )
        # An offer is used at most once: only held (or just arrived) offers are
        # accepted or declined, each once, and they are gone afterwards.
        used = [i for e in effects for i in offer_ids(e)]
        assert len(used) == len(set(used)), f"an offer used twice: {effects}"
        assert set(used) <= held_before | arrived
        assert not set(used) & held_after
        # Offers arriving during reconciliation (or unsubscribed) are declined.
        if arrived and (before.reconciliation.phase == "explicit" or not before.registered):
            assert arrived <= set(used) and not arrived & held_after
        # A terminal task never becomes non-terminal; its first end stands.
        tasks_after = {t.task_id: t for t in after.tasks}
        for task in before.tasks:
            if task.state in m.TERMINAL_STATES:
                assert tasks_after[task.task_id].state == task.state
        # Every applied update carrying a uuid is acknowledged, exactly once.
        acks = [e for e in effects if isinstance(e, fx.Acknowledge)]
        if applied and isinstance(message, m.Update) and message.status.uuid is not None:
            status = message.status
            assert acks == [fx.Acknowledge(status.agent_id or "", status.task_id, status.uuid)]
        else:
            assert not acks
        # When a reconciliation ends (not aborted), every task it asked about
        # answered or was reported.
        rec_before, rec_after = before.reconciliation, after.reconciliation
        if rec_after.completed > rec_before.completed and rec_before.phase == "explicit":
            reported = {t for e in effects if isinstance(e, fx.Unreconciled) for t in e.task_ids}
            answered = {message.status.task_id} if isinstance(message, m.Update) else set()
            assert set(rec_before.pending) <= reported | answered
            assert all(tasks_after[t].unreconciled for t in reported)
            # Implicit reconciliation comes last, but for the Revive of offers declined meanwhile.
            tail = effects[:-1] if effects[-1] == fx.Revive() else effects
            assert tail[-1] == fx.Reconcile(tasks=[]), "implicit reconciliation comes last"

    # --- Mesos events ---

    @rule(framework=st.sampled_from(["fw-1", "fw-2"]), interval=st.none() | st.just(15.0))
    def subscribed(self, framework: str, interval: float | None) -> None:
        self.send(m.Subscribed(framework, heartbeat_interval_seconds=interval))

    @rule()
    def reregistered(self) -> None:
        self.send(m.Reregistered())

    @rule(batch=st.lists(offers, min_size=1, max_size=4))
    def offers(self, batch: list[m.Offer]) -> None:
        self.send(m.Offers(batch))

    @rule(offer=st.sampled_from(OFFERS))
    def rescind(self, offer: str) -> None:
        self.send(m.Rescind(offer))

    @rule(status=statuses)
    def update(self, status: m.TaskStatus) -> None:
        self.send(m.Update(status))

    @rule(
        op_id=st.sampled_from(["op-1", "op-2"]),
        state=st.sampled_from(list(m.OperationState.__args__)),  # type: ignore[attr-defined]
        agent=st.none() | st.sampled_from(AGENTS),
        uuid=st.none() | st.binary(min_size=15, max_size=16),
    )
    def operation_update(
        self, op_id: str, state: m.OperationState, agent: str | None, uuid: bytes | None
    ) -> None:
        status = m.OperationStatus(op_id, state, agent_id=agent, uuid=uuid)
        self.send(m.OperationUpdate(status))

    @rule(batch=st.lists(statuses, min_size=2, max_size=6))
    def updates(self, batch: list[m.TaskStatus]) -> None:
        """Updates are most of the traffic: bursts of them, on few tasks."""
        for status in batch:
            self.send(m.Update(status))

    @rule(data=st.data())
    def answer_reconciliation(self, data: st.DataObject) -> None:
        """An answer to a pending task, as the master would send it."""
        pending = self.view.reconciliation.pending
        if pending:
            task = data.draw(st.sampled_from(pending))
            self.send(m.Update(m.TaskStatus(task, "TASK_RUNNING", reason=REASONS[0])))

    @rule(
        task=st.sampled_from(REQUESTED),
        check=st.none() | st.sampled_from(BAD_CHECKS),
        policy=st.none() | st.sampled_from(BAD_POLICIES),
        accept=st.booleans(),
    )
    def bad_health_check(
        self, task: str, check: list[Any] | None, policy: list[Any] | None, accept: bool
    ) -> None:
        """A request or launch whose check or policy Mesos would refuse: a
        MessageError on both sides (or accepted alike when both are None)."""
        if accept:
            launch = [task, "", [], b"", [], check, policy]
            message: list[Any] = ["Accept", [OFFERS[0]], [launch], 5.0]
        else:
            request = [task, [], 0, [], "", None, "", b"", [], None, check, policy]
            message = ["Request", [request]]
        self.send(message, data=msgspec.msgpack.encode(message))

    @rule(agent=st.sampled_from(AGENTS), executor=st.none() | st.just("e1"))
    def failure(self, agent: str, executor: str | None) -> None:
        self.send(m.Failure(agent, executor_id=executor))

    @rule()
    def error(self) -> None:
        self.send(m.Error("Framework has been removed"))

    @rule()
    def disconnected(self) -> None:
        self.send(m.Disconnected())

    @rule()
    def heartbeat(self) -> None:
        self.send(m.Heartbeat())

    @rule()
    def framework_message(self) -> None:
        self.send(m.FrameworkMessage("a0", "e1", b"hi"))

    # --- timers ---

    @rule(seconds=st.integers(0, 8).map(float))
    def advance(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def tick(self) -> None:
        self.send(m.Tick())

    @rule(command=st.booleans())
    def reconcile(self, command: bool) -> None:
        self.send(m.Reconcile() if command else m.ReconcileTick())

    @rule(data=st.data())
    def reconcile_timeout(self, data: st.DataObject) -> None:
        current = self.view.reconciliation.round
        self.send(m.ReconcileTimeout(data.draw(st.just(current) | st.integers(0, 4))))

    # --- commands ---

    @rule(data=st.data(), tasks=launches, refuse=st.sampled_from([0.0, 5.0]))
    def accept(self, data: st.DataObject, tasks: list[m.Launch], refuse: float) -> None:
        held = [o.offer_id for o in self.view.offers]
        ids = data.draw(st.lists(st.sampled_from(held + OFFERS[:1]), max_size=3))
        self.send(m.Accept(ids, tasks, refuse_seconds=refuse))

    @rule(data=st.data(), factor=st.sampled_from([0.5, 1.0, 1.0 + 1e-12, 1.05, 2.0]))
    def accept_sized_to_fit(self, data: st.DataObject, factor: float) -> None:
        """An Accept asking for a share of what one agent's held offers hold:
        under, exactly, within rounding, or just over."""
        held = self.view.offers
        if not held:
            return
        agent = data.draw(st.sampled_from(sorted({o.agent_id for o in held})))
        chosen = [o for o in held if o.agent_id == agent]
        chosen = chosen[: data.draw(st.integers(1, len(chosen)))]
        totals: dict[tuple[str, str], float] = {}
        for o in chosen:
            for r in o.resources:
                if r.scalar is not None and r.scalar > 0:
                    key = (r.name, r.role)
                    totals[key] = totals.get(key, 0.0) + r.scalar
        tasks = data.draw(st.lists(st.sampled_from(TASKS), min_size=1, max_size=2, unique=True))
        share = factor / len(tasks)
        asked = [m.Resource(n, scalar=t * share, role=role) for (n, role), t in totals.items()]
        launches = [m.Launch(t, resources=asked) for t in tasks]
        self.send(m.Accept([o.offer_id for o in chosen], launches))

    @rule(data=st.data())
    def decline(self, data: st.DataObject) -> None:
        held = [o.offer_id for o in self.view.offers]
        self.send(m.Decline(data.draw(st.lists(st.sampled_from(held + OFFERS[:1]), max_size=3))))

    @rule(task=st.sampled_from(TASKS))
    def kill(self, task: str) -> None:
        self.send(m.Kill(task))

    @rule(
        data=st.data(),
        pod=st.sampled_from(PODS),
        executor=resources,
        members=pod_members,
        tasks=launches,
    )
    def accept_pod(
        self,
        data: st.DataObject,
        pod: str,
        executor: list[m.Resource],
        members: list[m.PodTask],
        tasks: list[m.Launch],
    ) -> None:
        held = [o.offer_id for o in self.view.offers]
        ids = data.draw(st.lists(st.sampled_from(held + OFFERS[:1]), max_size=3))
        launch = m.Launch(pod, resources=executor, pod=members)
        self.send(m.Accept(ids, [launch, *tasks]))

    @rule(pod=st.sampled_from(PODS))
    def kill_pod(self, pod: str) -> None:
        self.send(m.Kill(pod))

    @initialize(strategy=st.sampled_from(["binpack", "spread"]))
    def strategy(self, strategy: str) -> None:
        config = msgspec.structs.replace(CONFIG, matching_strategy=strategy)
        self.rust = Reducer(config)
        self.reference = reference.Reducer(config)
        # Start registered, so that offers and requests meet from the first step.
        self.send(m.Subscribed("fw-1"))

    @rule(ids=st.permutations(OFFERS), cpus=st.sampled_from([1.0, 4.0]))
    def rich_offers(self, ids: list[str], cpus: float) -> None:
        """One roomy offer from every agent: the matcher has somewhere to choose."""
        resources = [
            m.Resource("cpus", scalar=cpus),
            m.Resource("mem", scalar=64.0),
            m.Resource("ports", ranges=[(31000, 31003)]),
        ]
        batch = [
            m.Offer(offer_id, agent, f"h{k % 2}", resources)
            for k, (offer_id, agent) in enumerate(zip(ids, AGENTS, strict=False))
        ]
        self.send(m.Offers(batch))

    @rule(tasks=task_requests)
    def request(self, tasks: list[m.TaskRequest]) -> None:
        self.send(m.Request(tasks))

    @rule(task_ids=st.lists(st.sampled_from(REQUESTED), max_size=3))
    def withdraw(self, task_ids: list[str]) -> None:
        self.send(m.Withdraw(task_ids))

    @rule(agent_ids=st.lists(st.sampled_from(AGENTS), max_size=2))
    def blacklist(self, agent_ids: list[str]) -> None:
        self.send(m.Blacklist(agent_ids))

    @rule(
        data=st.data(),
        task=st.sampled_from(TASKS),
        agent=st.sampled_from([None, "a1", "a2"]),
        kind=st.sampled_from(["none", "plain", "volume", "pod"]),
    )
    def track(self, data: st.DataObject, task: str, agent: str | None, kind: str) -> None:
        request = None
        if kind == "plain":
            request = data.draw(task_request)
        elif kind == "volume":
            request = data.draw(stateful_requests)
        elif kind == "pod":
            request = data.draw(pod_requests)
            task = data.draw(st.sampled_from([t.task_id for t in request.pod]))
        self.send(m.Track(task, agent, request))

    @rule(suppress=st.booleans())
    def suppression(self, suppress: bool) -> None:
        self.send(m.Suppress() if suppress else m.Revive())

    @rule()
    def send_message(self) -> None:
        self.send(m.SendMessage("a1", "e1", b"ping"))

    @rule(update=framework_updates)
    def update_framework(self, update: m.UpdateFramework) -> None:
        self.send(update)

    @rule(
        version=st.sampled_from(["v1", "v2", "t1"]),
        group=st.sampled_from(["g1", "g1", "", "g2"]),
        instances=st.integers(-1, 3),
        mh=st.sampled_from([0.0, 0.5, 1.0, 1.5, float("nan")]),
        mo=st.sampled_from([0.0, 1.0, -0.5]),
        max_failures=st.integers(0, 2),
    )
    def deploy(
        self, version: str, group: str, instances: int, mh: float, mo: float, max_failures: int
    ) -> None:
        """Deployments, malformed ones too: through the bytes, as both decode them."""
        template = m.TaskRequest(version, [m.Resource("cpus", scalar=0.5)], group="g1")
        msg = m.Deploy(group, template, instances, mh, mo, max_failures)
        self.send(msg, data=m.encode(msg))

    @rule(
        version=st.sampled_from(["v1", "v2", "t1"]),
        previous=st.sampled_from([None, "v1", "v0"]),
        group=st.sampled_from(["g1", "g1", "g2"]),
        instances=st.integers(-1, 3),
        failures=st.integers(-1, 3),
        phase=st.sampled_from(["running", "completed", "rolling-back", "rolled-back"]),
    )
    def resume_deployment(
        self,
        version: str,
        previous: str | None,
        group: str,
        instances: int,
        failures: int,
        phase: Any,
    ) -> None:
        """A deployment from the store, through the bytes; the store's own output
        (Snapshot.stored_deployments) resumes to the same deployment."""
        template = m.TaskRequest(version, [m.Resource("cpus", scalar=0.5)], group="g1")
        before = None if previous is None else m.TaskRequest(previous, group="g1")
        msg = m.ResumeDeployment(group, template, instances, 0.5, 1.0, 2, before, failures, phase)
        self.send(msg, data=m.encode(msg))
        views = {d.group: d for d in self.view.deployments}
        for group, resume in self.rust.snapshot().stored_deployments():
            stored = msgspec.msgpack.decode(resume, type=m.ResumeDeployment)
            view = views.pop(group)
            assert (stored.group, stored.template.task_id) == (group, view.version)
            assert (stored.phase, stored.failures) == (view.state, view.failures)
            assert stored.instances == view.instances
        assert not views

    @rule(group=st.sampled_from(["g1", "g2"]))
    def cancel_deployment(self, group: str) -> None:
        self.send(m.CancelDeployment(group))

    @rule()
    def custom(self) -> None:
        self.send(m.CustomEnvelope(kind="Ping", body=b"\x91\x01"))

    @rule(
        ids=st.lists(st.sampled_from(["i0", "i1", "i2"]), max_size=2),
        agent=st.sampled_from(AGENTS),
        kind=st.sampled_from(["offers", "rescind", "accept", "decline"]),
    )
    def maintenance(self, ids: list[str], agent: str, kind: str) -> None:
        window = m.Unavailability(self.now + 2.0, 5.0)
        if kind == "offers":
            self.send(m.InverseOffers([m.InverseOffer(i, agent, window) for i in ids]))
        elif kind == "rescind":
            self.send(m.RescindInverseOffer(ids[0] if ids else "i0"))
        elif kind == "accept":
            self.send(m.AcceptInverseOffers(ids))
        else:
            self.send(m.DeclineInverseOffers(ids, 60.0))

    # --- bad input ---

    @rule(
        data=st.sampled_from(
            [
                b"",
                b"\xc1",
                msgspec.msgpack.encode(["NoSuchMessage"]),
                msgspec.msgpack.encode(["Rescind", 5]),
                msgspec.msgpack.encode(["Rescind", "o1", "extra"]),
                msgspec.msgpack.encode({"type": "Rescind", "offer_id": "o1"}),
                msgspec.msgpack.encode(["Update", ["t1", "TASK_NOPE"]]),
            ]
        )
    )
    def garbage(self, data: bytes) -> None:
        self.send(None, data=data)

    @invariant()
    def never_outstanding_while_reconciling(self) -> None:
        if self.view.reconciliation.phase == "explicit":
            assert not self.view.offers

    def teardown(self) -> None:
        # Reconciliation always terminates: its timers alone bring it to an end.
        for _ in range(CONFIG.reconcile_max_rounds + 1):
            if self.view.reconciliation.phase == "explicit":
                self.send(m.ReconcileTimeout(self.view.reconciliation.round))
        assert self.view.reconciliation.phase == "idle"
        # Every offer is eventually accepted, declined or rescinded: none outlives its hold.
        self.now += CONFIG.offer_hold_seconds
        self.send(m.Tick())
        assert not self.view.offers, "offers outlived their hold"


def test_rust_core_matches_the_reference() -> None:
    run_state_machine_as_test(ReducerComparison)


class DemandComparison(RuleBasedStateMachine):
    """Demand and the matcher inside the core, Rust against the reference.

    The general machine above reaches the matcher rarely (its tasks are
    adopted by updates first, and it is often unregistered or reconciling);
    this one stays registered and drives requests, offers, blacklists and the
    ends of placed tasks, so every cycle of the integration is compared.
    """

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    @initialize(strategy=st.sampled_from(["binpack", "spread"]))
    def start(self, strategy: str) -> None:
        config = msgspec.structs.replace(CONFIG, matching_strategy=strategy)
        self.rust = Reducer(config)
        self.reference = reference.Reducer(config)
        self.send(m.Subscribed("fw-1"))

    def send(self, message: Any) -> list[fx.Effect]:
        self.now += 1.0
        before = self.rust.view()
        outcomes = []
        for reducer in (self.rust, self.reference):
            try:
                outcomes.append((reducer.step(message, self.now), None))
            except ArkError as e:
                outcomes.append(([], type(e)))
        (effects, error), (ref_effects, ref_error) = outcomes
        assert error == ref_error, f"{message!r}: Rust raised {error}, reference {ref_error}"
        assert effects == ref_effects, f"{message!r}"
        view = self.rust.view()
        assert view == self.reference.view(), f"{message!r}"
        # Requests are placed once: a launched id is never in the demand too.
        assert not {r.task_id for r in view.demand} & {t.task_id for t in view.tasks}
        # A group held by its launch backoff has nothing launched.
        held = {b.group for b in before.backoffs if b.until is not None and b.until > self.now}
        launched = {
            t
            for e in effects
            if isinstance(e, fx.Accept)
            for lt in e.launches
            for t in lt.task_ids()
        }
        assert not {g for t, g in view.groups if t in launched} & held, "a held group launched"
        # Every pod member launched is a task of its own.
        assert {t for t, _ in view.pods} <= {t.task_id for t in view.tasks}
        check_offers_end(before, message, effects, view)
        return effects

    @rule(
        ids=st.permutations(OFFERS),
        cpus=st.sampled_from([1.0, 2.0, 4.0]),
        n=st.integers(1, 4),
        roles=st.lists(st.none() | st.sampled_from(["web", "batch"]), min_size=4, max_size=4),
    )
    def offers(self, ids: list[str], cpus: float, n: int, roles: list[str | None]) -> None:
        resources = [
            m.Resource("cpus", scalar=cpus),
            m.Resource("mem", scalar=64.0),
            m.Resource("ports", ranges=[(31000, 31003)]),
        ]
        batch = [
            m.Offer(offer_id, agent, f"h{k % 2}", resources, role=roles[k])
            for k, (offer_id, agent) in enumerate(zip(ids[:n], AGENTS, strict=False))
        ]
        self.send(m.Offers(batch))

    @rule(tasks=task_requests)
    def request(self, tasks: list[m.TaskRequest]) -> None:
        self.send(m.Request(tasks))

    @rule(pods=st.lists(pod_requests, min_size=1, max_size=2))
    def request_pods(self, pods: list[m.TaskRequest]) -> None:
        self.send(m.Request(pods))

    @rule(pod=st.sampled_from(PODS))
    def kill_pod(self, pod: str) -> None:
        self.send(m.Kill(pod))

    @rule(
        template=task_requests.filter(bool).map(lambda ts: ts[0]),
        ids=st.lists(st.sampled_from(REQUESTED), min_size=2, max_size=4, unique=True),
    )
    def request_alike(self, template: m.TaskRequest, ids: list[str]) -> None:
        """Several requests of one shape: where bin-pack and spread part ways."""
        self.send(m.Request([msgspec.structs.replace(template, task_id=i) for i in ids]))

    @rule(task_ids=st.lists(st.sampled_from(REQUESTED + TASKS), max_size=3))
    def withdraw(self, task_ids: list[str]) -> None:
        self.send(m.Withdraw(task_ids))

    @rule(agent_ids=st.lists(st.sampled_from(AGENTS), max_size=2))
    def blacklist(self, agent_ids: list[str]) -> None:
        self.send(m.Blacklist(agent_ids))

    @rule(data=st.data(), state=st.sampled_from(["TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED"]))
    def placed_task_changes(self, data: st.DataObject, state: str) -> None:
        tasks = self.rust.view().tasks
        if tasks:
            task = data.draw(st.sampled_from(tasks))
            self.send(m.Update(m.TaskStatus(task.task_id, state, agent_id=task.agent_id)))  # type: ignore[arg-type]

    @rule(offer_id=st.sampled_from(OFFERS))
    def rescind(self, offer_id: str) -> None:
        self.send(m.Rescind(offer_id))

    @rule(seconds=st.sampled_from([0.0, 0.5, 2.0, 7.0]))
    def tick(self, seconds: float) -> None:
        """Time passes (launch delays end, running groups turn stable), then a Tick."""
        self.now += seconds
        self.send(m.Tick())

    @rule()
    def reconnect(self) -> None:
        self.send(m.Disconnected())
        self.send(m.Subscribed("fw-1"))

    @rule(suppress=st.booleans())
    def suppression(self, suppress: bool) -> None:
        self.send(m.Suppress() if suppress else m.Revive())

    def teardown(self) -> None:
        # Every offer is eventually accepted, declined or rescinded: none outlives its hold.
        self.now += CONFIG.offer_hold_seconds
        self.send(m.Tick())
        assert not self.rust.view().offers, "offers outlived their hold"


def test_demand_in_the_core_matches_the_reference() -> None:
    run_state_machine_as_test(DemandComparison)
