"""The allocator: which framework each free agent is offered to, and when.

Like Mesos's hierarchical allocator, in batches: a cycle every
``allocation_interval`` and soon after a trigger (a new framework, REVIVE,
an agent), each agent's unallocated resources offered whole to the
framework with the smallest share of cpus (DRF-like), even while another
offer of the same agent is outstanding. Skipped: frameworks whose refuse
filters cover those resources, suppressed frameworks, frameworks without
GPU_RESOURCES for an agent with GPUs, and resources below
``min_allocatable_resources``. Outstanding offers are removed when accepted,
declined or rescinded.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .config import Timing
from .frameworks import Framework, Offer
from .resources import Resources, split_key

if TYPE_CHECKING:
    from .agents import MasterAgent, SimAgent

__all__ = ["MIN_ALLOCATABLE_RESOURCES", "Allocator"]

#: Mesos's default ``--min_allocatable_resources`` (``cpus:0.01|mem:32``): an
#: agent's free resources are offered only if they hold one of these.
MIN_ALLOCATABLE_RESOURCES = (Resources({"cpus": 0.01}), Resources({"mem": 32.0}))

#: Mesos caps ``refuse_seconds`` at 365 days.
_MAX_REFUSE_SECONDS = 365 * 24 * 3600.0


class Allocator:
    """The master's offers and allocation cycle; the base of `ark.sim.master.Master`."""

    id: str
    leading: bool
    loop: asyncio.AbstractEventLoop
    timing: Timing
    frameworks: dict[str, Framework]
    agents: dict[str, MasterAgent]
    offers: dict[str, Offer]
    offer_listeners: list[Callable[[str, int], None]]
    _offer_seq: itertools.count[int]
    _allocation_timer: asyncio.TimerHandle | None
    _allocation_soon: asyncio.Handle | None

    def _filter(
        self, framework: Framework, agent_id: str, resources: Resources, seconds: float
    ) -> None:
        """Refuse ``resources`` of an agent for ``seconds``: Mesos's ``RefusedOfferFilter``.

        A negative ``seconds`` means the default (5 s), zero means no filter,
        and a filter lasts at least one allocation interval
        (``HierarchicalAllocatorProcess::recoverResources``).
        """
        if seconds < 0:
            seconds = self.timing.default_refuse_seconds
        if seconds == 0 or resources.empty():
            return
        seconds = min(max(seconds, self.timing.allocation_interval), _MAX_REFUSE_SECONDS)
        framework.filters.setdefault(agent_id, []).append((resources, self.loop.time() + seconds))

    def _filtered(self, framework: Framework, agent_id: str, resources: Resources) -> bool:
        """Whether a live filter of ``framework`` covers ``resources`` of the agent."""
        filters = framework.filters.get(agent_id)
        if not filters:
            return False
        now = self.loop.time()
        live = [(refused, until) for refused, until in filters if until > now]
        if live:
            framework.filters[agent_id] = live
        else:
            del framework.filters[agent_id]
        return any(refused.contains(resources) for refused, _ in live)

    def _remove_offer(self, offer: Offer) -> None:
        self.offers.pop(offer.id, None)
        if offer.timeout is not None:
            offer.timeout.cancel()
        framework = self.frameworks.get(offer.framework_id)
        if framework is not None:
            framework.offers.pop(offer.id, None)
        master_agent = self.agents.get(offer.agent_id)
        if master_agent is not None and master_agent.offers.pop(offer.id, None) is not None:
            master_agent.offered = master_agent.offered - offer.resources

    def _rescind(self, offer: Offer) -> None:
        self._remove_offer(offer)
        framework = self.frameworks.get(offer.framework_id)
        if framework is not None:
            framework.send({"type": "RESCIND", "rescind": {"offer_id": {"value": offer.id}}})

    def rescind_offer(self, offer_id: str) -> bool:
        """Rescind one outstanding offer (as ``--offer_timeout`` or an operator does)."""
        offer = self.offers.get(offer_id)
        if offer is None:
            return False
        self._rescind(offer)
        return True

    def _schedule_allocation(self) -> None:
        """Allocate soon, coalescing triggers (a new framework, REVIVE, an agent).

        Resources freed otherwise (declined, unused, of ended tasks) wait for
        the next periodic cycle, as in Mesos's batch allocator.
        """
        if not self.leading or self._allocation_soon is not None:
            return
        self._allocation_soon = self.loop.call_soon(self.allocate)

    def allocate(self) -> int:
        """One allocation cycle: offer every free agent to a framework; return offers made."""
        self._allocation_soon = None
        if self._allocation_timer is not None:
            self._allocation_timer.cancel()
        if not self.leading:
            return 0
        self._allocation_timer = self.loop.call_later(
            self.timing.allocation_interval, self.allocate
        )
        frameworks = [f for f in self.frameworks.values() if f.connected and not f.suppressed]
        if not frameworks:
            self._allocate_inverse_offers([f for f in self.frameworks.values() if f.connected])
            return 0
        # DRF-like: the framework holding the smallest share of cpus goes first.
        shares = {f.id: self._cpu_share(f) for f in frameworks}
        batches: dict[str, list[dict[str, Any]]] = {}
        count = 0
        for master_agent in self.agents.values():
            agent = master_agent.agent
            if not agent.reachable or not master_agent.connected:
                continue
            available = master_agent.available()
            has_gpus = agent.resources.scalars.get("gpus", 0.0) > 0
            offered_to: set[str] = set()
            # Reserved resources go only to their role's frameworks; an agent
            # with reservations of several roles may make several offers.
            while not available.empty():
                best: Framework | None = None
                best_resources = available
                for framework in frameworks:
                    if framework.id in offered_to:
                        continue
                    if has_gpus and not framework.has_capability("GPU_RESOURCES"):
                        continue
                    resources = _allocatable(available, framework)
                    if not _allocatable_enough(resources):
                        continue
                    if self._filtered(framework, agent.id, resources):
                        continue
                    if best is None or shares[framework.id] < shares[best.id]:
                        best, best_resources = framework, resources
                if best is None:
                    break
                offered_to.add(best.id)
                available = (
                    Resources() if best_resources is available else available - best_resources
                )
                offer = Offer(
                    f"{self.id}-O{next(self._offer_seq)}",
                    best.id,
                    agent.id,
                    best_resources,
                    _allocation_role(best_resources, best),
                )
                self.offers[offer.id] = offer
                best.offers[offer.id] = offer
                master_agent.offers[offer.id] = offer
                master_agent.offered = master_agent.offered + best_resources
                shares[best.id] += best_resources.quantities().scalars.get("cpus", 0.0)
                if self.timing.offer_timeout is not None:
                    offer.timeout = self.loop.call_later(
                        self.timing.offer_timeout, self.rescind_offer, offer.id
                    )
                batches.setdefault(best.id, []).append(self._offer_json(offer, best, agent))
                count += 1
        for framework_id, offers in batches.items():
            self.frameworks[framework_id].send({"type": "OFFERS", "offers": {"offers": offers}})
            for listener in self.offer_listeners:
                listener(framework_id, len(offers))
        # Suppressed frameworks are still active: they get inverse offers too.
        self._allocate_inverse_offers([f for f in self.frameworks.values() if f.connected])
        return count

    def _allocate_inverse_offers(self, frameworks: list[Framework]) -> None:
        """Send the inverse offers of draining agents: `ark.sim.maintenance`."""

    def unavailability(self, hostname: str) -> dict[str, Any] | None:
        """When the machine of agent ``hostname`` is scheduled down: `ark.sim.maintenance`."""
        return None

    def _cpu_share(self, framework: Framework) -> float:
        used = sum(t.resources.scalars.get("cpus", 0.0) for t in framework.tasks.values())
        offered = sum(o.resources.scalars.get("cpus", 0.0) for o in framework.offers.values())
        return used + offered

    def _offer_json(self, offer: Offer, framework: Framework, agent: SimAgent) -> dict[str, Any]:
        role = offer.role
        resources = offer.resources.to_json(
            role, refinement=framework.has_capability("RESERVATION_REFINEMENT")
        )
        offer_json: dict[str, Any] = {
            "id": {"value": offer.id},
            "framework_id": {"value": framework.id},
            "agent_id": {"value": agent.id},
            "hostname": agent.hostname,
            "url": {
                "scheme": "http",
                "address": {"hostname": agent.hostname, "ip": "127.0.0.1", "port": agent.port},
                "path": "/slave(1)",
            },
            "resources": resources,
            "attributes": agent.attributes_json(),
            "allocation_info": {"role": role},
        }
        unavailability = self.unavailability(agent.hostname)
        if unavailability is not None:
            offer_json["unavailability"] = unavailability
        # Master::offer (MESOS-8237): a framework that is not MULTI_ROLE sees
        # no allocation_info, neither on the offer nor on its resources.
        if not framework.has_capability("MULTI_ROLE"):
            del offer_json["allocation_info"]
            for resource in resources:
                resource.pop("allocation_info", None)
        return offer_json


def _allocation_role(resources: Resources, framework: Framework) -> str:
    """The role an offer of ``resources`` is allocated to: that of its
    reservations if it holds some (they are offered only to their role), else
    the framework's roles in turn (``Framework.next_role``)."""
    for key in resources.scalars:
        reservations = split_key(key)[1]
        if reservations:
            role: str = reservations[-1]["role"]
            return role
    return framework.next_role()


def _allocatable(available: Resources, framework: Framework) -> Resources:
    """What of an agent's free resources ``framework`` may be offered: the
    unreserved ones and those reserved for one of its roles."""
    roles = set(framework.roles)
    if not available.roles():
        return available
    return available.filter(
        lambda key: not split_key(key)[1] or split_key(key)[1][-1]["role"] in roles
    )


def _allocatable_enough(resources: Resources) -> bool:
    """Whether ``resources`` hold one of ``MIN_ALLOCATABLE_RESOURCES`` (by quantity,
    as Mesos compares them) or a persistent volume, which is offered whatever its size."""
    if resources.empty():
        return False
    quantities = resources.quantities()
    if any(quantities.contains(least) for least in MIN_ALLOCATABLE_RESOURCES):
        return True
    return any(split_key(k)[2] is not None for k in resources.scalars)
