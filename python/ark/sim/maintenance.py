"""Maintenance: the operator's schedule and the inverse offers it produces.

As Mesos's master (``Master::updateMaintenanceSchedule``) and hierarchical
allocator (``generateInverseOffers``): a schedule names machines (hostname
and ip, which must both match an agent's) and when they go down. An agent
whose machine is in the schedule is draining: its offers carry the
``unavailability``, its outstanding offers are rescinded when the schedule
changes, and every allocation cycle sends each active framework that has
resources offered or used on it one INVERSE_OFFERS event, until the
framework answers (ACCEPT_INVERSE_OFFERS or DECLINE_INVERSE_OFFERS, whose
``filters`` hold the next inverse offer back, five seconds by default). The
answers are the machine's statuses in GET_MAINTENANCE_STATUS. The schedule
is in the registry, so a new leader keeps it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .frameworks import Framework
from .operations import OfferOperations
from .validation import CallError, offer_ids_of, refuse_seconds

__all__ = ["Maintenance", "operator_call"]

#: The ip of every simulated agent: a machine id names it with its hostname.
_AGENT_IP = "127.0.0.1"


class _InverseOffer:
    __slots__ = ("agent_id", "framework_id", "id")

    def __init__(self, offer_id: str, framework_id: str, agent_id: str) -> None:
        self.id = offer_id
        self.framework_id = framework_id
        self.agent_id = agent_id


class Maintenance(OfferOperations):
    """The master's maintenance schedule and inverse offers; a layer of `ark.sim.master.Master`."""

    #: Outstanding inverse offers by id.
    inverse_offers: dict[str, _InverseOffer]
    #: (framework id, agent id) -> when the framework's inverse offer filter ends.
    _inverse_filters: dict[tuple[str, str], float]
    #: Machine (hostname, ip) -> framework id -> its latest answer (InverseOfferStatus).
    _inverse_statuses: dict[tuple[str, str], dict[str, dict[str, Any]]]

    def _maintenance_init(self) -> None:
        self.inverse_offers = {}
        self._inverse_filters = {}
        self._inverse_statuses = {}

    # -- The schedule --------------------------------------------------------

    @property
    def schedule(self) -> dict[str, Any]:
        """The maintenance schedule (Mesos's ``maintenance::Schedule`` JSON)."""
        schedule: dict[str, Any] = self.registry.maintenance
        return schedule

    def update_schedule(self, schedule: Any) -> None:
        """Replace the schedule; raise `CallError` (400) if it is invalid."""
        _validate_schedule(schedule)
        before = self._unavailabilities()
        self.registry.maintenance = json.loads(json.dumps(schedule))
        after = self._unavailabilities()
        for machine in set(before) | set(after):
            if before.get(machine) == after.get(machine):
                continue
            if machine not in after:
                self._inverse_statuses.pop(machine, None)
            # ``updateUnavailability``: the machine's offers and inverse
            # offers are rescinded; new ones carry the new unavailability.
            for master_agent in list(self.agents.values()):
                if _machine(master_agent.agent.hostname) != machine:
                    continue
                for offer in list(master_agent.offers.values()):
                    self._rescind(offer)
                for inverse in list(self.inverse_offers.values()):
                    if inverse.agent_id == master_agent.agent.id:
                        self._rescind_inverse_offer(inverse)
                for key in [k for k in self._inverse_filters if k[1] == master_agent.agent.id]:
                    del self._inverse_filters[key]
        self._schedule_allocation()

    def _unavailabilities(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Each scheduled machine's unavailability."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        if not self.schedule.get("windows"):
            return out  # Asked for every agent of every allocation: kept cheap.
        for window in self.schedule.get("windows", []):
            for machine_id in window.get("machine_ids", []):
                key = (str(machine_id.get("hostname", "")).lower(), str(machine_id.get("ip", "")))
                out[key] = window["unavailability"]
        return out

    def unavailability(self, hostname: str) -> dict[str, Any] | None:
        """The unavailability of the machine of an agent named ``hostname``, if scheduled."""
        return self._unavailabilities().get(_machine(hostname))

    def maintenance_status(self) -> dict[str, Any]:
        """GET_MAINTENANCE_STATUS's ``status``: draining machines and their answers."""
        draining = []
        for hostname, ip in self._unavailabilities():
            entry: dict[str, Any] = {"id": {"hostname": hostname, "ip": ip}}
            statuses = self._inverse_statuses.get((hostname, ip))
            if statuses:
                entry["statuses"] = list(statuses.values())
            draining.append(entry)
        return {"draining_machines": draining} if draining else {}

    # -- Inverse offers ------------------------------------------------------

    def _allocate_inverse_offers(self, frameworks: list[Framework]) -> None:
        """``generateInverseOffers``: one inverse offer per framework and draining agent."""
        if not self.schedule.get("windows"):
            return
        now = self.loop.time()
        batches: dict[str, list[dict[str, Any]]] = {}
        outstanding = {(i.framework_id, i.agent_id) for i in self.inverse_offers.values()}
        unavailabilities = self._unavailabilities()
        for master_agent in self.agents.values():
            agent = master_agent.agent
            unavailability = unavailabilities.get(_machine(agent.hostname))
            if unavailability is None or not agent.reachable or not master_agent.connected:
                continue
            holders = {f for f, _ in master_agent.tasks} | {
                o.framework_id for o in master_agent.offers.values()
            }
            for framework in frameworks:
                key = (framework.id, agent.id)
                if framework.id not in holders or key in outstanding:
                    continue
                if self._inverse_filters.get(key, 0.0) > now:
                    continue
                inverse = _InverseOffer(
                    f"{self.id}-O{next(self._offer_seq)}", framework.id, agent.id
                )
                self.inverse_offers[inverse.id] = inverse
                batches.setdefault(framework.id, []).append(
                    {
                        "id": {"value": inverse.id},
                        "url": {
                            "scheme": "http",
                            "address": {
                                "hostname": agent.hostname,
                                "ip": _AGENT_IP,
                                "port": agent.port,
                            },
                            "path": "/slave(1)",
                        },
                        "framework_id": {"value": framework.id},
                        "agent_id": {"value": agent.id},
                        "unavailability": unavailability,
                    }
                )
        for framework_id, inverse_offers in batches.items():
            self.frameworks[framework_id].send(
                {"type": "INVERSE_OFFERS", "inverse_offers": {"inverse_offers": inverse_offers}}
            )

    def _drop_inverse_offers(self, framework_id: str) -> None:
        """A framework disconnected or was removed: its inverse offers go
        without an answer (``Master::deactivate``), to be made again later."""
        for inverse in list(self.inverse_offers.values()):
            if inverse.framework_id == framework_id:
                del self.inverse_offers[inverse.id]

    def _rescind_inverse_offer(self, inverse: _InverseOffer) -> None:
        self.inverse_offers.pop(inverse.id, None)
        framework = self.frameworks.get(inverse.framework_id)
        if framework is not None:
            framework.send(
                {
                    "type": "RESCIND_INVERSE_OFFER",
                    "rescind_inverse_offer": {"inverse_offer_id": {"value": inverse.id}},
                }
            )

    def _answer_inverse_offers(self, framework: Framework, body: Any, answer: str) -> None:
        """ACCEPT_INVERSE_OFFERS or DECLINE_INVERSE_OFFERS: record the answer and
        hold the next inverse offer of that agent back for the filter's time."""
        if not isinstance(body, dict):
            raise CallError(400, "Failed to convert JSON into Call protobuf: bad inverse offers")
        ids = offer_ids_of({"offer_ids": body.get("inverse_offer_ids", [])})
        seconds = refuse_seconds(body, self.timing.default_refuse_seconds)
        if seconds < 0:
            seconds = self.timing.default_refuse_seconds
        for inverse_id in ids:
            inverse = self.inverse_offers.get(inverse_id)
            if inverse is None or inverse.framework_id != framework.id:
                continue  # No longer valid: Mesos ignores it.
            del self.inverse_offers[inverse_id]
            master_agent = self.agents.get(inverse.agent_id)
            if master_agent is None:
                continue
            machine = _machine(master_agent.agent.hostname)
            self._inverse_statuses.setdefault(machine, {})[framework.id] = {
                "status": answer,
                "framework_id": {"value": framework.id},
                "timestamp": {"nanoseconds": time.time_ns()},
            }
            self._inverse_filters[(framework.id, inverse.agent_id)] = self.loop.time() + seconds

    def _call_accept_inverse_offers(self, framework: Framework, call: dict[str, Any]) -> None:
        self._answer_inverse_offers(framework, call.get("accept_inverse_offers"), "ACCEPT")

    def _call_decline_inverse_offers(self, framework: Framework, call: dict[str, Any]) -> None:
        self._answer_inverse_offers(framework, call.get("decline_inverse_offers"), "DECLINE")


def _machine(hostname: str) -> tuple[str, str]:
    """The machine id of an agent: its hostname (case does not matter) and ip."""
    return hostname.lower(), _AGENT_IP


def _validate_schedule(schedule: Any) -> None:
    """Mesos's ``maintenance::validation::schedule``, as the operator API answers it."""
    if not isinstance(schedule, dict):
        raise CallError(400, "Failed to validate master::Call: Expecting 'schedule' to be present")
    windows = schedule.get("windows", [])
    if not isinstance(windows, list):
        raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'windows'")
    seen: set[tuple[str, str]] = set()
    for window in windows:
        if not isinstance(window, dict):
            raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'windows'")
        machines = window.get("machine_ids", [])
        if not isinstance(machines, list) or not machines:
            raise CallError(400, "List of machines in the maintenance window is empty")
        unavailability = window.get("unavailability")
        start = unavailability.get("start") if isinstance(unavailability, dict) else None
        if not isinstance(start, dict) or not isinstance(start.get("nanoseconds"), int):
            raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'unavailability'")
        for machine_id in machines:
            if not isinstance(machine_id, dict):
                raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'machine_ids'")
            hostname, ip = machine_id.get("hostname", ""), machine_id.get("ip", "")
            if not hostname and not ip:
                raise CallError(400, "Both 'hostname' and 'ip' for a machine are empty")
            key = (str(hostname).lower(), str(ip))
            if key in seen:
                # Printed as Mesos prints a MachineID: its fields in their order.
                shown = {k: machine_id[k] for k in ("hostname", "ip") if k in machine_id}
                text = json.dumps(shown, separators=(",", ":"))
                raise CallError(400, f"Machine '{text}' appears more than once in the schedule")
            seen.add(key)


def operator_call(master: Maintenance, call: Any) -> tuple[int, dict[str, Any] | None]:
    """The maintenance calls of the v1 operator API (``POST /api/v1``).

    Returns the HTTP status and the JSON answer (None: an empty body).
    """
    if not isinstance(call, dict) or not isinstance(call.get("type"), str):
        raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'type'")
    kind = call["type"]
    if kind == "UPDATE_MAINTENANCE_SCHEDULE":
        body = call.get("update_maintenance_schedule")
        if not isinstance(body, dict):
            raise CallError(
                400, "Failed to validate master::Call: Expecting 'update_maintenance_schedule'"
            )
        master.update_schedule(body.get("schedule"))
        return 200, None
    if kind == "GET_MAINTENANCE_SCHEDULE":
        return 200, {
            "type": kind,
            "get_maintenance_schedule": {"schedule": master.schedule},
        }
    if kind == "GET_MAINTENANCE_STATUS":
        return 200, {
            "type": kind,
            "get_maintenance_status": {"status": master.maintenance_status()},
        }
    raise CallError(501, f"The simulator does not serve the operator call {kind}")
