"""Reconciliation in plain Python, as ``docs/reducer.md`` specifies it.

The algorithm of the Mesos documentation: explicit reconciliation of every
non-terminal task, re-sent to the tasks still unanswered with truncated
exponential backoff, then one implicit reconciliation. Offers are declined
while it runs, and revived when it ends (Mesos clears the refuse filters of
earlier declines on REVIVE, so a new leader launches again at once). Tasks
that never answer are reported and flagged, never dropped. The reference
twin of ``rust/src/reconcile.rs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ark import effects as fx
from ark import messages as m
from ark.state import Config, Reconciliation

if TYPE_CHECKING:
    from ark.reference.reducer import TaskEntry

__all__ = ["Reconciler"]


class Reconciler:
    """The reconciliation state machine of one reducer."""

    def __init__(self, config: Config) -> None:
        self._config = config
        #: Whether an explicit reconciliation is running.
        self.explicit = False
        self._round = 0
        self._pending: set[str] = set()
        self._started_at: float | None = None
        #: Offers were declined since it started: its end revives them.
        self.declined = False
        self._completed = 0
        self._last_completed_at: float | None = None

    def view(self) -> Reconciliation:
        """The state as a frozen value."""
        return Reconciliation(
            phase="explicit" if self.explicit else "idle",
            round=self._round,
            pending=sorted(self._pending),
            started_at=self._started_at,
            completed=self._completed,
            last_completed_at=self._last_completed_at,
        )

    def start(
        self,
        offers: dict[str, tuple[m.Offer, float]],
        tasks: dict[str, TaskEntry],
        now: float,
        out: list[fx.Effect],
        suppressed: bool,
    ) -> None:
        """Decline (and forget) the outstanding ``offers``; ask about every live task."""
        self.declined = bool(offers)
        if offers:
            out.append(fx.Decline(sorted(offers), self._config.reconcile_decline_seconds))
            offers.clear()
        pending = sorted(
            task_id for task_id, t in tasks.items() if t.state not in m.TERMINAL_STATES
        )
        if not pending:
            out.append(fx.Reconcile([]))
            self._completed_at(now, out, suppressed)
            return
        self.explicit = True
        self._round = 1
        self._pending = set(pending)
        self._started_at = now
        out.append(fx.Reconcile(_reconcile_tasks(tasks, pending)))
        out.append(fx.Timer(1, self._delay(1)))

    def answered(self, task_id: str) -> bool:
        """``task_id`` answered; whether it was the last one pending (then :meth:`finish`)."""
        if self.explicit and task_id in self._pending:
            self._pending.discard(task_id)
            return not self._pending
        return False

    def timeout(
        self, fired: int, tasks: dict[str, TaskEntry], now: float, suppressed: bool
    ) -> list[fx.Effect]:
        """Round ``fired``'s timer: ask the silent tasks again, or give up on them."""
        if not self.explicit or fired != self._round:
            return []  # a stale timer from an earlier round or reconciliation
        out: list[fx.Effect] = []
        pending = sorted(self._pending)
        if self._round >= self._config.reconcile_max_rounds:
            for task_id in pending:
                tasks[task_id].unreconciled = True
            out.append(fx.Unreconciled(pending))
            self.finish(now, out, suppressed)
        else:
            self._round += 1
            out.append(fx.Reconcile(_reconcile_tasks(tasks, pending)))
            out.append(fx.Timer(self._round, self._delay(self._round)))
        return out

    def finish(self, now: float, out: list[fx.Effect], suppressed: bool) -> None:
        """End the explicit phase with the one implicit reconciliation."""
        out.append(fx.Reconcile([]))
        declined = self.declined
        self.abort()
        self.declined = declined
        self._completed_at(now, out, suppressed)

    def abort(self) -> None:
        """Stop without counting it as completed; the next Subscribed starts afresh."""
        self.explicit = False
        self._round = 0
        self._pending = set()
        self._started_at = None
        self.declined = False

    def _completed_at(self, now: float, out: list[fx.Effect], suppressed: bool) -> None:
        self._completed += 1
        self._last_completed_at = now
        if self.declined and not suppressed:
            out.append(fx.Revive())
        self.declined = False

    def _delay(self, n: int) -> float:
        """Seconds to wait for answers to round ``n``: truncated exponential backoff."""
        c = self._config
        try:
            growth = c.reconcile_factor ** (n - 1)
        except OverflowError:
            # Spec reading: the formula is over the reals; a power too large
            # for a float is "more than the cap", as an IEEE infinity would be.
            growth = float("inf")
        return min(c.reconcile_cap_seconds, c.reconcile_base_seconds * growth)


def _reconcile_tasks(tasks: dict[str, TaskEntry], sorted_ids: list[str]) -> list[fx.ReconcileTask]:
    return [fx.ReconcileTask(task_id, tasks[task_id].agent_id) for task_id in sorted_ids]
