"""Deployments in the core against the reference, on random sequences.

A machine of its own, so that deployments get far: a registered framework,
offers that fit, rolling updates of the group ``web`` started and cancelled,
its tasks turning running, healthy, unhealthy or failed, time passing, and a
reconnect now and then; every step is compared (``DemandComparison.send``). The invariants are
Marathon's: the deployment never brings the group above its ceiling nor kills
a ready task below its floor, and it completes with the new version alone.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from ark import Reducer, reference
from ark import effects as fx
from ark import messages as m
from ark.state import DeploymentRecord, StateView, TaskRecord
from test_reducer_properties import CONFIG, DemandComparison

GROUP = "web"
VERSIONS = ["v1", "v2", "v3"]
CHECK = m.HealthCheck("COMMAND", command="true")
CHANGES = [
    ("TASK_RUNNING", None),
    ("TASK_RUNNING", None),
    ("TASK_RUNNING", True),
    ("TASK_RUNNING", True),
    ("TASK_RUNNING", False),
    ("TASK_FAILED", None),
    ("TASK_KILLED", False),
    ("TASK_KILLED", None),
    ("TASK_FINISHED", None),
]


def deployment(view: StateView) -> DeploymentRecord | None:
    return next((d for d in view.deployments if d.group == GROUP), None)


def up(d: DeploymentRecord) -> int:
    return d.new.up + d.old.up + d.other.up


def ready(d: DeploymentRecord) -> int:
    return d.new.ready + d.old.ready + d.other.ready


class DeploymentComparison(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.rust = Reducer(CONFIG)
        self.reference = reference.Reducer(CONFIG)
        # (minimum_health_capacity, maximum_over_capacity) of the last Deploy
        # sent: a rejected one changes nothing the checks could misread.
        self.params = (1.0, 1.0)
        # Whether each version deployed has a health check.
        self.checked: dict[str, bool] = {}

    @initialize()
    def subscribe(self) -> None:
        self.send(m.Subscribed("fw-1"))

    def send(self, message: Any) -> list[fx.Effect]:
        before = self.rust.view()
        effects = DemandComparison.send(self, message)  # type: ignore[arg-type]
        after = self.rust.view()
        self.check_deployment(before, effects, after)
        return effects

    def check_deployment(
        self, before: StateView, effects: list[fx.Effect], after: StateView
    ) -> None:
        d, was = deployment(after), deployment(before)
        if d is not None:
            event(f"deployment {d.state}")
        if d is None or was is None or d.version != was.version:
            return  # none yet, or a Deploy just replaced the last one
        if d.state not in ("running", "rolling-back"):
            if was.state != d.state and d.state == "completed":
                # It completes with the new version alone, all ready.
                assert d.new.up == d.new.ready == d.instances
                assert d.old.up == d.other.up == 0
            return
        mh, mo = self.params
        floor = math.floor(d.instances * mh)
        ceiling = math.ceil(d.instances * (1.0 + mo))
        # Never above the ceiling, unless the group was there already.
        assert up(d) <= max(ceiling, up(was)), f"{up(d)} up, ceiling {ceiling}"
        # A ready task is killed only while the floor stays ready.
        tasks = {t.task_id: t for t in after.tasks}
        killed = [tasks[e.task_id] for e in effects if isinstance(e, fx.Kill)]
        if any(self.ready(t) for t in killed):
            assert ready(d) >= floor, f"{ready(d)} ready after a kill, floor {floor}"

    def ready(self, task: TaskRecord) -> bool:
        """As the deployment sees it: running, and healthy if its version is checked."""
        if task.state != "TASK_RUNNING":
            return False
        if self.checked.get(task.task_id.rsplit("-", 1)[0], False):
            return task.healthy is True
        return task.healthy is not False

    @rule(
        version=st.sampled_from(VERSIONS),
        instances=st.integers(0, 3),
        mh=st.sampled_from([0.0, 0.5, 1.0]),
        mo=st.sampled_from([0.0, 0.5, 1.0]),
        max_failures=st.integers(1, 3),
        checked=st.booleans(),
        group=st.sampled_from([GROUP] * 5 + ["other"]),
    )
    def deploy(
        self,
        version: str,
        instances: int,
        mh: float,
        mo: float,
        max_failures: int,
        checked: bool,
        group: str,
    ) -> None:
        template = m.TaskRequest(
            version,
            [m.Resource("cpus", scalar=0.5)],
            group=group,
            health_check=CHECK if checked else None,
        )
        params, was = self.params, deployment(self.rust.view())
        self.params = (mh, mo)
        self.send(m.Deploy(GROUP, template, instances, mh, mo, max_failures))
        if deployment(self.rust.view()) == was:  # rejected
            self.params = params
        else:
            self.checked[version] = checked

    @rule(version=st.sampled_from([*VERSIONS, "x"]), k=st.integers(0, 3))
    def request_by_hand(self, version: str, k: int) -> None:
        """A task of the group requested by hand: a copy of a version by its id, or not."""
        request = m.TaskRequest(f"{version}-{k}", [m.Resource("cpus", scalar=0.5)], group=GROUP)
        # Compared, but not checked against the ceiling: the deployment did not ask for it.
        DemandComparison.send(self, m.Request([request]))  # type: ignore[arg-type]

    @rule(version=st.sampled_from(VERSIONS), k=st.integers(0, 3))
    def withdraw_by_hand(self, version: str, k: int) -> None:
        self.send(m.Withdraw([f"{version}-{k}"]))

    @invariant()
    def the_references_tallies_match_their_groups(self) -> None:
        r = self.reference
        assert not r._deployments.drifted(r._tasks, r._groups, r._demand)

    @rule(n=st.integers(1, 3), offer_id=st.sampled_from(["o1", "o2", "o3"]))
    def offers(self, n: int, offer_id: str) -> None:
        resources = [m.Resource("cpus", scalar=float(n))]
        self.send(m.Offers([m.Offer(offer_id, f"a{n}", f"h{n}", resources)]))

    @rule(seconds=st.sampled_from([0.0, 2.0, 7.0]))
    def tick(self, seconds: float) -> None:
        self.now += seconds
        self.send(m.Tick())

    @rule()
    def reconnect(self) -> None:
        self.send(m.Disconnected())
        self.send(m.Subscribed("fw-1"))

    @rule()
    def reconciliation_times_out(self) -> None:
        """A reconnect reconciles the tasks; its rounds run out so that matching resumes."""
        rec = self.rust.view().reconciliation
        if rec.phase == "explicit":
            self.send(m.ReconcileTimeout(rec.round))

    @rule(now=st.integers(0, 4))
    def cancel(self, now: int) -> None:
        if now == 0:  # rarely: a deployment cancelled at once never gets far
            self.send(m.CancelDeployment(GROUP))

    @rule(data=st.data(), change=st.sampled_from(CHANGES))
    def deployed_task_changes(self, data: st.DataObject, change: tuple[str, bool | None]) -> None:
        tasks = [t for t, g in self.rust.view().groups if g == GROUP]
        if tasks:
            task_id = data.draw(st.sampled_from(tasks))
            state, healthy = change
            self.send(m.Update(m.TaskStatus(task_id, state, agent_id="a1", healthy=healthy)))  # type: ignore[arg-type]

    def teardown(self) -> None:
        # Every offer is eventually accepted, declined or rescinded.
        self.now += CONFIG.offer_hold_seconds
        self.send(m.Tick())
        assert not self.rust.view().offers, "offers outlived their hold"


def test_deployments_in_the_core_match_the_reference() -> None:
    run_state_machine_as_test(DeploymentComparison)
