"""Unreachable strategies in the core against the reference, on random sequences.

The demand machine of ``test_reducer_properties`` (requests, offers,
blacklists, ends of placed tasks), with placed tasks going unreachable, coming
back, reported unknown or gone, and time passing between Ticks, so that
replacements, kills and expunges are compared step by step.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

from ark import messages as m
from test_reducer_properties import REQUESTED, DemandComparison

BACK_OR_GONE = ["TASK_RUNNING", "TASK_STARTING", "TASK_UNKNOWN", "TASK_GONE", "TASK_KILLED"]
valid_strategies = st.builds(
    m.UnreachableStrategy,
    inactive_after_seconds=st.sampled_from([0.0, 1.0, 3.0]),
    expunge_after_seconds=st.sampled_from([3.0, 6.0]),
    kill_selection=st.sampled_from(["YoungestFirst", "OldestFirst"]),
)


class UnreachableComparison(DemandComparison):
    @rule(task_ids=st.lists(st.sampled_from(REQUESTED), max_size=2), strategy=valid_strategies)
    def request_with_strategy(self, task_ids: list[str], strategy: m.UnreachableStrategy) -> None:
        """Requests that fit the machine's offers, so that they are placed."""
        small = [m.Resource("cpus", scalar=0.5)]
        self.send(m.Request([m.TaskRequest(i, small, unreachable=strategy) for i in task_ids]))

    @rule()
    def reconciliation_times_out(self) -> None:
        """A reconnect reconciles the tasks; its rounds run out so that matching resumes."""
        rec = self.rust.view().reconciliation
        if rec.phase == "explicit":
            self.send(m.ReconcileTimeout(rec.round))

    @rule(data=st.data(), state=st.sampled_from(["TASK_UNREACHABLE", *BACK_OR_GONE]))
    def partition(self, data: st.DataObject, state: str) -> None:
        tasks = self.rust.view().tasks
        if tasks:
            task = data.draw(st.sampled_from(tasks))
            self.send(m.Update(m.TaskStatus(task.task_id, state, agent_id=task.agent_id)))  # type: ignore[arg-type]

    @rule(seconds=st.sampled_from([0.0, 1.0, 2.0, 6.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self.send(m.Tick())

    @invariant()
    def replacements_are_new_ids(self) -> None:
        view = self.rust.view()
        known = {t.task_id for t in view.tasks} | {r.task_id for r in view.demand}
        for record in view.unreachable:
            assert record.task_id in known
            if record.replacement is not None:
                assert record.replacement.startswith(record.task_id + ".")


def test_unreachable_strategies_in_the_core_match_the_reference() -> None:
    run_state_machine_as_test(UnreachableComparison)
