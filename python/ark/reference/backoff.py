"""Launch backoff in plain Python, as ``docs/reducer.md`` (Launch backoff) specifies it.

Marathon's launch delay, per request group: a group whose tasks fail is held
out of the matching cycle for a delay that starts at ``backoff_seconds``,
grows by ``backoff_factor`` at each further failure up to
``backoff_max_seconds``, and is forgotten once a task of the group has run for
``backoff_reset_seconds``. The reference twin of ``rust/src/reducer/backoff.rs``.
"""

from __future__ import annotations

from ark import messages as m
from ark.state import BackoffRecord, Config

__all__ = ["REASON", "Backoffs"]

#: The pending reason of a request its group's delay holds back.
REASON = "launch backoff"

#: Failures the group is to blame for. FINISHED, KILLED and GONE_BY_OPERATOR
#: were asked for (or are a success) and do not count.
_FAILURES: frozenset[str] = frozenset(
    {"TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE"}
)


class _Entry:
    __slots__ = ("delay", "stable_since", "until")

    def __init__(self, delay: float, until: float | None) -> None:
        self.delay = delay
        self.until = until
        self.stable_since: float | None = None


class Backoffs:
    """The launch delays of one reducer's groups."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._entries: dict[str, _Entry] = {}

    def task_changed(self, group: str, state: m.TaskState, now: float) -> None:
        """A status was applied to a placed task of ``group``, now in ``state``."""
        if not group:
            return
        entry = self._entries.get(group)
        if state in _FAILURES:
            c = self._config
            delay = (
                c.backoff_seconds
                if entry is None
                else min(c.backoff_max_seconds, entry.delay * c.backoff_factor)
            )
            self._entries[group] = _Entry(delay, now + delay)
        elif state == "TASK_RUNNING" and entry is not None and entry.stable_since is None:
            entry.stable_since = now

    def holds(self, group: str, now: float) -> bool:
        """Whether a request of ``group`` is held back at ``now``."""
        entry = self._entries.get(group)
        return entry is not None and entry.until is not None and entry.until > now

    def tick(self, now: float) -> set[str]:
        """Clear the delays that ended and forget stable groups.

        Returns
        -------
        set of str
            The groups whose delay ended.
        """
        ended: set[str] = set()
        reset = self._config.backoff_reset_seconds
        for group in sorted(self._entries):
            entry = self._entries[group]
            if entry.until is not None and entry.until <= now:
                entry.until = None
                ended.add(group)
            if entry.stable_since is not None and entry.stable_since + reset <= now:
                if entry.until is not None:
                    ended.add(group)
                del self._entries[group]
        return ended

    def until(self, group: str) -> float | None:
        """When the group's current delay ends, if one is set."""
        entry = self._entries.get(group)
        return None if entry is None else entry.until

    def view(self) -> list[BackoffRecord]:
        return [
            BackoffRecord(group, e.delay, e.until, e.stable_since)
            for group, e in sorted(self._entries.items())
        ]
