"""The replicated registry that survives master failovers.

Real masters keep the admitted, unreachable and gone agents in a replicated
log, so a newly elected master knows which agents to expect back. The
simulated masters share one `Registry` object instead.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["Registry"]


class Registry:
    """Agents admitted, unreachable (with the time they became so) and gone."""

    def __init__(self) -> None:
        self.admitted: set[str] = set()
        self.unreachable: dict[str, float] = {}
        self.gone: dict[str, float] = {}
        #: The maintenance schedule (``ark.sim.maintenance``), kept across failovers.
        self.maintenance: dict[str, Any] = {}

    def admit(self, agent_id: str) -> None:
        """Record ``agent_id`` as registered (and reachable again)."""
        self.admitted.add(agent_id)
        self.unreachable.pop(agent_id, None)

    def mark_unreachable(self, agent_id: str) -> None:
        """Record that ``agent_id`` failed its health checks."""
        self.admitted.discard(agent_id)
        self.unreachable.setdefault(agent_id, time.time())

    def mark_gone(self, agent_id: str) -> None:
        """Record that an operator marked ``agent_id`` gone: it never comes back."""
        self.admitted.discard(agent_id)
        self.unreachable.pop(agent_id, None)
        self.gone[agent_id] = time.time()
