"""Health checks and kill policies, run as Mesos's command executor runs them.

A task whose ``TaskInfo`` has a ``health_check`` gets a :class:`HealthChecker`
when it reaches TASK_RUNNING, which follows Mesos's ``HealthCheckerProcess``
(``src/checks/health_checker.cpp``): the first check ``delay_seconds`` after
the start, then one every ``interval_seconds``; a success is reported on the
first one and on the first after failures; every failure is reported, except
those before the first success within ``grace_period_seconds`` of the start;
the failure that makes ``consecutive_failures`` in a row asks the executor to
kill the task. The executor (``src/launcher/executor.cpp``) reports each as a
TASK_RUNNING update with ``healthy`` set and reason
REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, kills the task as it would on a KILL
(TASK_KILLING if the framework takes it, then TASK_KILLED), and sets
``healthy: false`` on the terminal update of a task it killed so.

The simulator runs no processes, so no check runs a command or opens a
socket: each check's result is the task's ``passing`` flag, whatever its type
(COMMAND, HTTP or TCP), and takes no time (``timeout_seconds`` never
applies). The flag starts from the task's ``ark.sim/health`` label (``fail``
makes its checks fail; anything else, or none, pass) and changes with
``Cluster.set_health(task_id, passing)``.

A kill waits out the task's exit as Mesos's executor does: SIGTERM, then
SIGKILL after the kill policy's grace period (3 s without one); a simulated
task exits ``TaskBehaviour.kill_seconds`` after SIGTERM, so TASK_KILLED comes
after the shorter of the two.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["DEFAULT_KILL_GRACE_SECONDS", "HealthChecker", "kill_grace_seconds"]

#: The command executor's grace period without a kill policy.
DEFAULT_KILL_GRACE_SECONDS = 3.0


def kill_grace_seconds(info: dict[str, Any]) -> float:
    """The grace between SIGTERM and SIGKILL that a ``TaskInfo`` asks for."""
    policy = info.get("kill_policy")
    if isinstance(policy, dict):
        grace = policy.get("grace_period")
        if isinstance(grace, dict):
            try:
                return max(int(grace.get("nanoseconds", 0)) / 1e9, 0.0)
            except (TypeError, ValueError):
                pass
    return DEFAULT_KILL_GRACE_SECONDS


def _seconds(check: dict[str, Any], field: str, default: float) -> float:
    value = check.get(field, default)
    return max(float(value), 0.0) if isinstance(value, int | float) else default


class HealthChecker:
    """One task's health check (``HealthCheckerProcess``).

    ``report(healthy, kill)`` is called with each result the executor is
    told about; ``passing()`` answers each check.
    """

    def __init__(
        self,
        check: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
        passing: Callable[[], bool],
        report: Callable[[bool, bool], None],
    ) -> None:
        self.delay = _seconds(check, "delay_seconds", 15.0)
        # At least a millisecond: a zero interval (Ark refuses one, a raw
        # payload may not) would spin the simulator's one event loop.
        self.interval = max(_seconds(check, "interval_seconds", 10.0), 0.001)
        self.grace = _seconds(check, "grace_period_seconds", 10.0)
        failures = check.get("consecutive_failures", 3)
        self.max_failures = failures if isinstance(failures, int) else 3
        self.loop = loop
        self.passing = passing
        self.report = report
        self.consecutive_failures = 0
        self.initializing = True
        self.start_time = loop.time()
        self.handle: asyncio.TimerHandle | None = loop.call_later(self.delay, self._check)

    def stop(self) -> None:
        """The executor pauses the checker when it kills the task or the task ends."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def _check(self) -> None:
        self.handle = self.loop.call_later(self.interval, self._check)
        if self.passing():
            if self.initializing or self.consecutive_failures > 0:
                self.initializing = False
                self.consecutive_failures = 0
                self.report(True, False)
            return
        in_grace = self.loop.time() - self.start_time <= self.grace
        if self.initializing and self.grace > 0 and in_grace:
            return  # "Ignoring failure as health check still in grace period"
        self.consecutive_failures += 1
        self.report(False, self.consecutive_failures >= self.max_failures)
