"""The Prometheus text reads back through prometheus_client's own parser, odd names and all."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from ark.metrics import Metrics


def test_label_values_are_escaped_and_parse_back() -> None:
    metrics = Metrics()
    odd = 'Quote"Back\\slash\nNewline}{,='
    metrics.custom[odd] = 2
    metrics.core = {"messages": {"Update": 5}, "rejected": 1}
    metrics.batch(0.25)
    families = {f.name: f for f in text_string_to_metric_families(metrics.prometheus())}
    messages = {s.labels["type"]: s.value for s in families["ark_messages"].samples}
    assert messages == {"Update": 5.0, odd: 2.0}
    assert families["ark_messages"].type == "counter"
    assert [s.value for s in families["ark_rejected"].samples] == [1.0]
    batch = {s.name: s.value for s in families["ark_batch_seconds"].samples}
    assert batch == {"ark_batch_seconds_count": 1.0, "ark_batch_seconds_sum": 0.25}
    assert families["ark_batch_seconds"].type == "summary"


def test_the_prefix_names_every_metric() -> None:
    text = Metrics().prometheus(prefix="fw")
    names = {f.name for f in text_string_to_metric_families(text)}
    assert names and all(n.startswith("fw_") for n in names)
