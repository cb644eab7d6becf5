"""UpdateFramework in plain Python: the twin of ``rust/src/reducer/update_framework.rs``."""

from __future__ import annotations

import math

from ark import effects as fx
from ark import messages as m
from ark.errors import CommandRejected

__all__ = ["update_framework"]


def update_framework(msg: m.UpdateFramework, suppressed: bool) -> fx.UpdateFramework:
    """The effect of a valid command (see docs/reducer.md, **Roles**).

    Raises
    ------
    CommandRejected
        Roles empty, blank or given twice, a suppressed role not among the
        roles given, or a failover timeout that is not finite and >= 0.
    """
    if msg.roles is not None:
        if not msg.roles:
            raise CommandRejected("UpdateFramework: roles must name at least one role")
        if any(not r for r in msg.roles):
            raise CommandRejected("UpdateFramework: a role must not be empty")
        if len(set(msg.roles)) != len(msg.roles):
            raise CommandRejected("UpdateFramework: a role is given twice")
        if msg.suppressed_roles is not None and not set(msg.suppressed_roles) <= set(msg.roles):
            raise CommandRejected("UpdateFramework: a suppressed role is not one of the roles")
    timeout = msg.failover_timeout
    if timeout is not None and not (math.isfinite(timeout) and timeout >= 0):
        raise CommandRejected(f"UpdateFramework: failover_timeout must be >= 0, not {timeout}")
    return fx.UpdateFramework(
        msg.roles, msg.suppressed_roles, msg.capabilities, msg.failover_timeout, suppressed
    )
