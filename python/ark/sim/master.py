"""The simulated Mesos master: leadership and framework subscriptions.

`Master` is transport-free: the HTTP server hands it decoded calls and an
`EventSink` per subscription, and it answers with events on the sinks and a
status code per call. Everything runs on one asyncio loop, so no locks.

One object, written in layers along Mesos's own seams so each reads alone:
`ark.sim.allocator` (offers), `ark.sim.agents` (agent lifecycle, next to
the agent), `ark.sim.calls` (call handlers and reconciliation), this file
(leadership and subscription); `ark.sim.validation` and
`ark.sim.state_endpoint` are plain functions over calls and over a master.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .agents import MasterAgent, SimAgent
from .calls import CallHandlers
from .config import Timing
from .frameworks import EventSink, Framework, Offer, error_event
from .registry import Registry
from .state_endpoint import master_state
from .validation import framework_info_error, optional_value

__all__ = ["Master", "master_info"]

# Mesos keeps this many completed frameworks for /master/state.
_MAX_COMPLETED_FRAMEWORKS = 50


class Master(CallHandlers):
    """One simulated master. Only the leading one serves calls."""

    def __init__(
        self,
        master_info: dict[str, Any],
        *,
        loop: asyncio.AbstractEventLoop,
        registry: Registry,
        timing: Timing,
        rng: random.Random,
        agents_by_id: dict[str, SimAgent],
    ) -> None:
        self.info = master_info
        self.id: str = master_info["id"]
        self.loop = loop
        self.registry = registry
        self.timing = timing
        self.rng = rng
        #: Every simulated agent process, registered with this master or not.
        self.all_agents = agents_by_id
        self.leading = False
        self.start_time = time.time()
        self.elected_time = 0.0
        self.frameworks: dict[str, Framework] = {}
        self.completed_frameworks: deque[Framework] = deque(maxlen=_MAX_COMPLETED_FRAMEWORKS)
        self.removed_framework_ids: set[str] = set()
        self.agents: dict[str, MasterAgent] = {}
        #: Agents in the registry that have not re-registered since this master was elected.
        self.recovering: set[str] = set()
        self.offers: dict[str, Offer] = {}
        self._framework_seq = itertools.count()
        self._offer_seq = itertools.count()
        self._stream_seq = itertools.count()
        self._allocation_timer: asyncio.TimerHandle | None = None
        self._allocation_soon: asyncio.Handle | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._unresponsive: dict[str, asyncio.TimerHandle] = {}
        #: Hooks for tests and benches: called with every OFFERS event sent.
        self.offer_listeners: list[Callable[[str, int], None]] = []
        self._maintenance_init()

    # -- Leadership -------------------------------------------------------

    def elect(self) -> None:
        """Become the leader: recover the registry and expect agents back."""
        if self.leading:
            return
        self.leading = True
        self.elected_time = time.time()
        self.recovering = set(self.registry.admitted)
        if self.recovering:
            self._later(self.timing.agent_reregister_timeout, self._reregister_timeout)
        self._schedule_allocation()

    def crash(self) -> None:
        """Die: drop every connection and timer; the state is lost."""
        self.leading = False
        for timer in list(self._timers):
            timer.cancel()
        self._timers.clear()
        for timer in self._unresponsive.values():
            timer.cancel()
        self._unresponsive.clear()
        if self._allocation_timer is not None:
            self._allocation_timer.cancel()
        if self._allocation_soon is not None:
            self._allocation_soon.cancel()
        for framework in self.frameworks.values():
            for handle in (framework.heartbeat, framework.failover):
                if handle is not None:
                    handle.cancel()
            for offer in framework.offers.values():
                if offer.timeout is not None:
                    offer.timeout.cancel()
            if framework.sink is not None:
                framework.sink.abort()
                framework.sink = None
        for master_agent in self.agents.values():
            if master_agent.agent.master is self:
                master_agent.agent.master = None

    def _later(self, delay: float, callback: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            self._timers.discard(handle)
            callback(*args)

        handle = self.loop.call_later(delay, run)
        self._timers.add(handle)

    def new_stream_id(self) -> str:
        """A fresh ``Mesos-Stream-Id`` (a UUID, as Mesos uses)."""
        next(self._stream_seq)
        return _uuid(self.rng)

    def subscribe(self, call: dict[str, Any], sink: EventSink) -> None:
        """Subscribe a framework on ``sink`` (new, re-subscribing or failing over)."""
        info = dict(call["subscribe"]["framework_info"])
        framework_id = optional_value(call, "framework_id")
        error = framework_info_error(info)
        suppressed_roles = call["subscribe"].get("suppressed_roles") or []
        if not isinstance(suppressed_roles, list):
            suppressed_roles = []
        unknown = sorted(set(suppressed_roles) - set(_roles(info)))
        if error is None and unknown:
            error = (
                f"Suppressed roles {{ {', '.join(unknown)} }} are not contained in the set of roles"
            )
        if error is None and framework_id in self.removed_framework_ids:
            error = "Framework has been removed"
        framework = self.frameworks.get(framework_id) if framework_id is not None else None
        if error is None and framework is not None:
            error = _preserve_immutable_fields(framework.info, info)
        if error is not None:
            sink.send(error_event(error))
            sink.close()
            return
        if framework_id is None:
            framework_id = f"{self.id}-{next(self._framework_seq):04d}"
        info["id"] = {"value": framework_id}
        if framework is None:
            framework = Framework(framework_id, info)
            self.frameworks[framework_id] = framework
        else:
            framework.info = info
            framework.recovered = False
            if framework.sink is not None:
                framework.sink.send(error_event("Framework failed over"))
                framework.sink.close()
                framework.sink = None
            for offer in list(framework.offers.values()):
                self._remove_offer(offer)
            self._drop_inverse_offers(framework.id)
        if framework.failover is not None:
            framework.failover.cancel()
            framework.failover = None
        framework.sink = sink
        # The allocator's filters survive a connected framework's re-subscription;
        # a disconnection clears them (``deactivateFramework``).
        framework.suppressed_roles = set(suppressed_roles)
        sink.send(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "framework_id": {"value": framework_id},
                    "heartbeat_interval_seconds": self.timing.heartbeat_interval,
                    "master_info": self.info,
                },
            }
        )
        self._heartbeat(framework, sink)
        self._schedule_allocation()

    def _heartbeat(self, framework: Framework, sink: EventSink) -> None:
        if framework.sink is not sink:
            return
        sink.send({"type": "HEARTBEAT"})
        framework.heartbeat = self.loop.call_later(
            self.timing.heartbeat_interval, self._heartbeat, framework, sink
        )

    def stream_closed(self, sink: EventSink) -> None:
        """The subscriber's connection ended: deactivate, start the failover timeout."""
        for framework in self.frameworks.values():
            if framework.sink is sink:
                self._disconnect(framework)
                return

    def _disconnect(self, framework: Framework) -> None:
        framework.sink = None
        self._drop_inverse_offers(framework.id)
        framework.unregistered_time = time.time()
        framework.filters.clear()
        if framework.heartbeat is not None:
            framework.heartbeat.cancel()
            framework.heartbeat = None
        for offer in list(framework.offers.values()):
            self._remove_offer(offer)
        timeout = framework.info.get("failover_timeout", 0.0)
        timeout = float(timeout) if isinstance(timeout, int | float) else 0.0
        framework.failover = self.loop.call_later(
            max(timeout, 0.0), self._failover_expired, framework
        )

    def _failover_expired(self, framework: Framework) -> None:
        framework.failover = None
        if framework.sink is None and self.frameworks.get(framework.id) is framework:
            self._remove_framework(framework)

    def drop_stream(self, framework_id: str) -> bool:
        """Fault: cut a framework's subscription connection."""
        framework = self.frameworks.get(framework_id)
        if framework is None or framework.sink is None:
            return False
        sink = framework.sink
        self._disconnect(framework)
        sink.abort()
        return True

    def state(self, leader_info: dict[str, Any] | None) -> dict[str, Any]:
        """The ``/master/state`` document."""
        return master_state(self, leader_info)


def _roles(info: dict[str, Any]) -> list[str]:
    roles = info.get("roles")
    if isinstance(roles, list) and roles:
        return [r for r in roles if isinstance(r, str)]
    role = info.get("role", "*")
    return [role] if isinstance(role, str) else []


def _preserve_immutable_fields(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """Keep ``user`` and ``checkpoint`` from ``old`` in ``new``; refuse a new principal.

    Mesos's ``preserveImmutableFields`` then ``validateUpdate``: a
    re-subscription cannot change who runs the tasks or whether the agents
    checkpoint them (MESOS-703), and cannot change its principal.
    """
    new["user"] = old.get("user", new.get("user"))
    if "checkpoint" in old:
        new["checkpoint"] = old["checkpoint"]
    else:
        new.pop("checkpoint", None)
    if old.get("principal") != new.get("principal"):
        return "Changing framework's principal is not allowed."
    return None


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def master_info(
    master_id: str, host: str, port: int, version: str, hostname: str | None = None
) -> dict[str, Any]:
    """A JSON ``MasterInfo`` as real masters publish it (in ZooKeeper too)."""
    octets = [int(x) for x in host.split(".")] if host.count(".") == 3 else [127, 0, 0, 1]
    # MasterInfo.ip is the IPv4 address in network byte order read as a
    # little-endian uint32 (127.0.0.1 -> 16777343), as Mesos writes it.
    ip = int.from_bytes(bytes(octets), "little")
    name = hostname or host
    return {
        "id": master_id,
        "ip": ip,
        "port": port,
        "pid": f"master@{host}:{port}",
        "hostname": name,
        "version": version,
        "address": {"hostname": name, "ip": host, "port": port},
        # A 1.12 master's (Master::initialize: MasterInfo's capabilities).
        "capabilities": [{"type": t} for t in ("AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2")],
    }
