"""Counters of the scheduler loop, readable from Python and in Prometheus's text format.

The Rust core counts what it steps and sends (messages by type, effects,
offers, reconciliation); the loop counts what only Python sees (custom
messages, hooks). Only the loop thread writes them; readers take
:meth:`Metrics.snapshot`, a copy, so a reader never sees a dict change size
under it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

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
        """The counters in Prometheus's text exposition format (0.0.4), by ``prometheus_client``.

        Label values (message types are custom class names) are escaped by it.
        """
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self.snapshot(), prefix))
        return generate_latest(registry).decode()


class _Collector(Collector):
    """One reading of :meth:`Metrics.snapshot` as Prometheus metric families."""

    def __init__(self, s: dict[str, Any], prefix: str) -> None:
        self._s = s
        self._prefix = prefix

    def collect(self) -> Iterator[Metric]:
        s, p = self._s, self._prefix

        def by(name: str, doc: str, label: str, counts: dict[str, int]) -> CounterMetricFamily:
            family = CounterMetricFamily(f"{p}_{name}", doc, labels=[label])
            for key, n in sorted(counts.items()):
                family.add_metric([key], n)
            return family

        yield by("messages", "Messages processed, by type.", "type", s["messages"])
        yield by("effects", "Effects emitted, by type.", "type", s["effects"])
        yield CounterMetricFamily(f"{p}_rejected", "Messages or commands rejected.", s["rejected"])
        yield CounterMetricFamily(f"{p}_hook_errors", "Hooks that raised.", s["hook_errors"])
        yield by(
            "offers",
            "Offers answered, by outcome.",
            "outcome",
            {"accepted": s["offers_accepted"], "declined": s["offers_declined"]},
        )
        yield GaugeMetricFamily(f"{p}_offers_held", "Offers held now.", s["offers_held"])
        yield by(
            "reconcile_rounds",
            "Reconciliation requests sent, by kind.",
            "kind",
            s["reconcile_rounds"],
        )
        yield GaugeMetricFamily(f"{p}_tasks", "Tasks in the bookkeeping.", s["tasks"])
        yield GaugeMetricFamily(
            f"{p}_inbox_depth", "Messages waiting in the inbox.", s["inbox_depth"]
        )
        yield SummaryMetricFamily(
            f"{p}_batch_seconds",
            "Time to process one batch of messages.",
            count_value=s["batches"],
            sum_value=s["batch_seconds_sum"],
        )
        yield GaugeMetricFamily(
            f"{p}_batch_seconds_max", "Longest batch so far.", s["batch_seconds_max"]
        )
