"""The ``FrameworkInfo`` both drivers subscribe with: the user's fields over Ark's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_CAPABILITIES", "ONE_WEEK", "framework_info"]

ONE_WEEK = 7 * 24 * 3600.0

#: Ark models TASK_UNREACHABLE, TASK_GONE, TASK_DROPPED ... (docs/reducer.md, Partitions).
DEFAULT_CAPABILITIES: tuple[dict[str, str], ...] = ({"type": "PARTITION_AWARE"},)


def framework_info(framework: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``framework`` with ``user``, ``name``, ``failover_timeout`` and
    ``capabilities`` defaulted.

    ``failover_timeout`` defaults to a week: Mesos's default, 0, would kill
    every task the moment the scheduler disconnects, and pymesos would
    silently make an omitted one 100 s. ``capabilities`` defaults to
    PARTITION_AWARE, so that Mesos says TASK_UNREACHABLE, TASK_GONE or
    TASK_DROPPED where it would say TASK_LOST; give your own list (``[]`` to
    subscribe without it) and it is taken as is.
    """
    info = dict(framework)
    info.setdefault("user", "root")
    info.setdefault("name", "ark")
    info.setdefault("failover_timeout", ONE_WEEK)
    info.setdefault("capabilities", [dict(c) for c in DEFAULT_CAPABILITIES])
    return info
