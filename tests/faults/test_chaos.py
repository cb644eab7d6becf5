"""The chaos run's short seed: 10 s of random faults on both processes' links.

``make chaos`` runs it for minutes (``tests/faults/chaos.py``).
"""

from __future__ import annotations

from pathlib import Path

from chaos import describe, run


def test_a_short_chaos_run_loses_and_doubles_nothing(zookeeper: str, tmp_path: Path) -> None:
    report = run(seed=11, seconds=10.0, agents=3, zk_hosts=zookeeper, workdir=tmp_path)
    text = describe(report, 11, 10.0)
    assert sum(report.faults.values()) > 3, text
    assert report.held, text
    assert not report.lost and not report.doubled and not report.late_calls, text
