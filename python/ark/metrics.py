"""Counters of the scheduler loop, readable from Python and in Prometheus's text format.

The Rust core counts what it steps and sends (messages by type, effects,
offers, reconciliation); the loop counts what only Python sees (custom
messages, hooks). Only the loop thread writes them; readers take
:meth:`Metrics.snapshot`, a copy, so a reader never sees a dict change size
under it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["Metrics"]


class Metrics:
    """What the loop did since it started."""

    def __init__(self) -> None:
        #: The core's counters (``ark._core.Core.counters``), replaced by the
        #: loop after each batch (the core itself is the loop's alone).
        self.core: dict[str, Any] = {}
        #: Custom messages by class name.
        self.custom: Counter[str] = Counter()
        self.hook_errors = 0
        self.batches = 0
        self.batch_seconds_sum = 0.0
        self.batch_seconds_max = 0.0
        # Gauges, set by the loop after each batch.
        self.offers_held = 0
        self.tasks = 0
        self.inbox_depth = 0

    def batch(self, seconds: float) -> None:
        """Record one batch's processing time."""
        self.batches += 1
        self.batch_seconds_sum += seconds
        self.batch_seconds_max = max(self.batch_seconds_max, seconds)

    def snapshot(self) -> dict[str, Any]:
        """A copy of every counter and gauge, as plain values."""
        core = self.core
        messages = dict(core.get("messages", {}))
        messages.update(self.custom.copy())
        return {
            "messages": messages,
            "effects": dict(core.get("effects", {})),
            "rejected": core.get("rejected", 0),
            "hook_errors": self.hook_errors,
            "offers_declined": core.get("offers_declined", 0),
            "offers_accepted": core.get("offers_accepted", 0),
            "offers_held": self.offers_held,
            "reconcile_rounds": {
                "explicit": core.get("reconcile_explicit", 0),
                "implicit": core.get("reconcile_implicit", 0),
            },
            "tasks": self.tasks,
            "inbox_depth": self.inbox_depth,
            "batches": self.batches,
            "batch_seconds_sum": self.batch_seconds_sum,
            "batch_seconds_max": self.batch_seconds_max,
        }

    def prometheus(self, prefix: str = "ark") -> str:
        """The counters in Prometheus's text exposition format (version 0.0.4)."""
        s = self.snapshot()
        lines: list[str] = []

        def metric(name: str, kind: str, doc: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {prefix}_{name} {doc}")
            lines.append(f"# TYPE {prefix}_{name} {kind}")
            lines.extend(f"{prefix}_{name}{labels} {value}" for labels, value in samples)

        def by(label: str, counts: dict[str, int]) -> list[tuple[str, float]]:
            return [(f'{{{label}="{key}"}}', n) for key, n in sorted(counts.items())]

        metric(
            "messages_total", "counter", "Messages processed, by type.", by("type", s["messages"])
        )
        metric("effects_total", "counter", "Effects emitted, by type.", by("type", s["effects"]))
        metric("rejected_total", "counter", "Messages or commands rejected.", [("", s["rejected"])])
        metric("hook_errors_total", "counter", "Hooks that raised.", [("", s["hook_errors"])])
        metric(
            "offers_total",
            "counter",
            "Offers answered, by outcome.",
            [
                ('{outcome="accepted"}', s["offers_accepted"]),
                ('{outcome="declined"}', s["offers_declined"]),
            ],
        )
        metric("offers_held", "gauge", "Offers held now.", [("", s["offers_held"])])
        metric(
            "reconcile_rounds_total",
            "counter",
            "Reconciliation requests sent, by kind.",
            by("kind", s["reconcile_rounds"]),
        )
        metric("tasks", "gauge", "Tasks in the bookkeeping.", [("", s["tasks"])])
        metric("inbox_depth", "gauge", "Messages waiting in the inbox.", [("", s["inbox_depth"])])
        # A summary's samples are <name>_count and <name>_sum.
        metric(
            "batch_seconds",
            "summary",
            "Time to process one batch of messages.",
            [("_count", s["batches"]), ("_sum", s["batch_seconds_sum"])],
        )
        metric(
            "batch_seconds_max", "gauge", "Longest batch so far.", [("", s["batch_seconds_max"])]
        )
        return "\n".join(lines) + "\n"
