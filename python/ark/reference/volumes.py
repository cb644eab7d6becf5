"""Stateful services in plain Python: the twin of ``rust/src/reducer/volumes.rs``.

A request with a ``volume`` is placed by reserving its disk and creating the
volume in the ACCEPT that launches it, or, once the volume is known, on the
agent that holds it. A task with a volume that ends without finishing is
requested again: on its volume (restart), or afresh when its agent is gone
(replace). See docs/reducer.md, Stateful services.
"""

from __future__ import annotations

import msgspec

from ark import effects as fx
from ark import messages as m
from ark.errors import MessageError
from ark.reference.operation_feedback import (
    OperationFeedback,
    planned_id,
    release_id,
    stranded_id,
)
from ark.state import VolumeRecord

__all__ = ["check_volume", "forget_agent", "next_id", "plan", "release", "view", "waiting"]

_GONE = ("TASK_GONE", "TASK_GONE_BY_OPERATOR")
_EPSILON = 1e-9


def check_volume(request: m.TaskRequest) -> None:
    """Raise MessageError if a request's volume is of another role than it, or on a pod."""
    v = request.volume
    if v is not None and request.role is not None and request.role != v.role:
        raise MessageError(f"task {request.task_id!r}: a volume's role must be the request's role")
    if v is not None and request.pod:
        raise MessageError(f"task {request.task_id!r}: a pod cannot have a volume yet")


def waiting(
    demand: list[m.TaskRequest],
    volumes: dict[str, VolumeRecord],
    releasing: set[str],
    offers: list[m.Offer],
) -> dict[str, str]:
    """The requests whose known volume is being given up, or not offered, and why."""
    offered = {
        (o.agent_id, r.persistence_id)
        for o in offers
        for r in o.resources
        if r.persistence_id is not None
    }
    out: dict[str, str] = {}
    for r in demand:
        if r.volume is None:
            continue
        known = volumes.get(r.volume.persistence_id)
        if known is not None and r.volume.persistence_id in releasing:
            out[r.task_id] = (
                f'volume "{r.volume.persistence_id}" is being given up (DESTROY, UNRESERVE) '
                f'on agent "{known.agent_id}"'
            )
        elif known is not None and (known.agent_id, r.volume.persistence_id) not in offered:
            out[r.task_id] = (
                f'volume "{r.volume.persistence_id}" waits for an offer of agent '
                f'"{known.agent_id}" that shows it'
            )
    return out


def view(request: m.TaskRequest, volumes: dict[str, VolumeRecord]) -> m.TaskRequest:
    """The request as the matcher sees it: pinned to its volume's agent, or with its disk added."""
    v = request.volume
    if v is None:
        return request
    known = volumes.get(v.persistence_id)
    if known is not None:
        return msgspec.structs.replace(request, agent_id=known.agent_id)
    disk = m.Resource("disk", scalar=v.size_mb)
    return msgspec.structs.replace(request, resources=[*request.resources, disk])


def plan(
    task_id: str,
    volume: m.Volume,
    resources: list[m.Resource],
    volumes: dict[str, VolumeRecord],
    offered: list[m.Offer],
) -> tuple[list[m.Resource], list[m.Operation]]:
    """A placed launch's resources and the operations to run before it (ids of ``task_id``)."""
    if volume.persistence_id in volumes:
        shown = [
            r for o in offered for r in o.resources if r.persistence_id == volume.persistence_id
        ]
        return [*resources, *shown[:1]], []
    plain = list(resources)
    # The matcher took the volume's disk unreserved, last of the scalars.
    for i in range(len(plain) - 1, -1, -1):
        r = plain[i]
        if r.name == "disk" and r.role == "*" and not r.reservations:
            del plain[i]
            break
    reservation = m.Reservation(volume.role, principal=volume.principal)
    reserved = m.Resource(
        "disk", scalar=volume.size_mb, role=volume.role, reservations=[reservation]
    )
    created = msgspec.structs.replace(
        reserved, persistence_id=volume.persistence_id, container_path=volume.container_path
    )
    operations = [
        m.Operation("RESERVE", [reserved], planned_id("RESERVE", task_id)),
        m.Operation("CREATE", [created], planned_id("CREATE", task_id)),
    ]
    return [*plain, created], operations


def release(
    offers: dict[str, tuple[m.Offer, float]],
    releasing: set[str],
    feedback: OperationFeedback,
    refuse_seconds: float,
) -> list[fx.Accept]:
    """An ACCEPT that destroys and unreserves each volume being given up an offer
    shows, and unreserves each stranded reservation it shows."""
    out = []
    for offer_id in sorted(offers):
        offer = offers[offer_id][0]
        operations = []
        for r in offer.resources:
            if r.persistence_id is None or r.persistence_id not in releasing:
                continue
            reserved = msgspec.structs.replace(r, persistence_id=None, container_path=None)
            pid = r.persistence_id
            operations += [
                m.Operation("DESTROY", [r], release_id("DESTROY", pid, offer_id)),
                m.Operation("UNRESERVE", [reserved], release_id("UNRESERVE", pid, offer_id)),
            ]
            releasing.discard(r.persistence_id)
        operations += _give_back(offer, offer_id, feedback)
        if operations:
            out.append(
                fx.Accept([offer_id], offer.agent_id, [], refuse_seconds, offer.role, operations)
            )
    return out


def _give_back(offer: m.Offer, offer_id: str, feedback: OperationFeedback) -> list[m.Operation]:
    """UNRESERVE each stranded reservation of the offer's agent that it shows
    (the same reservations, with disk left for it), forgetting it."""
    left = [r.scalar if r.scalar is not None else 0.0 for r in offer.resources]
    out = []
    for reserve_id in sorted(feedback.stranded):
        s = feedback.stranded[reserve_id]
        if s.agent_id != offer.agent_id:
            continue
        size = s.resource.scalar if s.resource.scalar is not None else 0.0
        for i, r in enumerate(offer.resources):
            shown = (
                r.name == s.resource.name
                and r.persistence_id is None
                and r.role == s.resource.role
                and r.reservations == s.resource.reservations
                and left[i] - size > -_EPSILON
            )
            if shown:
                left[i] -= size
                unreserve = msgspec.structs.replace(r, scalar=size)
                out.append(m.Operation("UNRESERVE", [unreserve], stranded_id(s.task_id, offer_id)))
                feedback.give_back(reserve_id)
                break
    return out


def forget_agent(
    state: str,
    agent_id: str | None,
    volumes: dict[str, VolumeRecord],
    reserved: dict[tuple[str, str, str], float],
) -> None:
    """A task GONE: its agent, and the reservations and volumes on it, are gone for good."""
    if state not in _GONE or agent_id is None:
        return
    for pid in [k for k, v in volumes.items() if v.agent_id == agent_id]:
        del volumes[pid]
    for k in [k for k in reserved if k[0] == agent_id]:
        del reserved[k]


def next_id(base: str, taken: set[str]) -> str:
    """``<base>.<n>`` for the least ``n >= 1`` not taken."""
    n = 1
    while f"{base}.{n}" in taken:
        n += 1
    return f"{base}.{n}"
