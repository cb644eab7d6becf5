"""The ``FrameworkInfo`` both drivers subscribe with: the user's fields over Ark's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ONE_WEEK", "framework_info"]

ONE_WEEK = 7 * 24 * 3600.0


def framework_info(framework: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``framework`` with ``user``, ``name`` and ``failover_timeout`` defaulted.

    ``failover_timeout`` defaults to a week: Mesos's default, 0, would kill
    every task the moment the scheduler disconnects, and pymesos would
    silently make an omitted one 100 s.
    """
    info = dict(framework)
    info.setdefault("user", "root")
    info.setdefault("name", "ark")
    info.setdefault("failover_timeout", ONE_WEEK)
    return info
