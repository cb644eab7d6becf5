"""What a new leader restores of the tasks an earlier one placed, in plain
Python: docs/reducer.md, "Track" (``rust/src/reducer/failover.rs``).

The reference reducer keeps each placed task's request (:func:`kept`); the
store writes it beside the launch's intent; :func:`restore` gives a tracked
task back what its placement gave.
"""

from __future__ import annotations

from ark import messages as m
from ark.errors import MessageError
from ark.reference.deployment import Deployments, check_deploy
from ark.reference.unreachable import check_strategy
from ark.reference.volumes import check_volume
from ark.state import VolumeRecord

__all__ = ["check_track", "kept", "restore", "resume_deployment", "resume_release"]


def kept(
    request: m.TaskRequest, stateful: dict[str, m.TaskRequest]
) -> list[tuple[str, m.TaskRequest]]:
    """The ``(task id, request)`` entries a placed request leaves: a stateful
    task's is its ``stateful`` entry, a pod member's is its pod's."""
    if request.pod:
        return [(t.task_id, request) for t in request.pod]
    return [(request.task_id, stateful.get(request.task_id, request))]


def check_track(msg: m.Track) -> None:
    """Raise MessageError if the tracked request is malformed, as a Request's would be."""
    if msg.request is not None:
        check_strategy(msg.request)
        check_volume(msg.request)


def restore(
    msg: m.Track,
    *,
    groups: dict[str, str],
    pods: dict[str, str],
    strategies: dict[str, m.TaskRequest],
    stateful: dict[str, m.TaskRequest],
    volumes: dict[str, VolumeRecord],
    requests: dict[str, m.TaskRequest],
) -> None:
    """Give a newly tracked task what its request's placement gave it."""
    request, task_id = msg.request, msg.task_id
    if request is None:
        return
    groups[task_id] = request.group
    if any(t.task_id == task_id for t in request.pod):
        pods[task_id] = request.task_id
    if request.unreachable is not None:
        strategies[task_id] = request
    volume = request.volume
    if volume is not None:
        stateful[task_id] = request
        # Created with the launch: a volume in use is not offered, and the
        # task's restart must find it on its agent, not make another.
        if msg.agent_id is not None and volume.persistence_id not in volumes:
            volumes[volume.persistence_id] = VolumeRecord(
                volume.persistence_id,
                msg.agent_id,
                volume.role,
                volume.size_mb,
                volume.container_path,
                volume.principal,
            )
    requests[task_id] = request


def resume_deployment(deployments: Deployments, msg: m.ResumeDeployment) -> None:
    """A stored deployment becomes its group's, unless the group has one;
    malformed as a Deploy's would be, or with failures beyond 2^32-1."""
    deploy = m.Deploy(
        msg.group,
        msg.template,
        msg.instances,
        msg.minimum_health_capacity,
        msg.maximum_over_capacity,
        msg.max_failures,
    )
    for template in (msg.template, msg.previous):
        if template is None:
            continue
        check_strategy(template)
        check_volume(template)
        if template.pod:
            raise MessageError(f"task {template.task_id!r}: a deployment's template is not a pod")
    check_deploy(deploy)
    if not 0 <= msg.failures <= 2**32 - 1:
        raise MessageError(f"a deployment's failures must be from 0 to 2^32-1, not {msg.failures}")
    deployments.resume(deploy, msg.previous, msg.failures, msg.phase)


def check_release(msg: m.ResumeRelease) -> None:
    """Raise MessageError unless the stored volume has both ids, a finite size
    > 0 and a role other than ``*``."""
    if not msg.persistence_id or not msg.agent_id:
        raise MessageError("a stored release needs a persistence_id and an agent_id")
    if not 0.0 < msg.size < float("inf"):
        raise MessageError(f"volume {msg.persistence_id!r}: a size must be finite and > 0")
    if not msg.role or msg.role == "*":
        raise MessageError(f'volume {msg.persistence_id!r}: a role other than "*" reserved it')


def resume_release(
    msg: m.ResumeRelease, volumes: dict[str, VolumeRecord], releasing: set[str]
) -> None:
    """A volume a Replace was giving up: known again (unless an offer showed it
    already) and given up when offered."""
    check_release(msg)
    pid = msg.persistence_id
    if pid not in volumes:
        volumes[pid] = VolumeRecord(
            pid, msg.agent_id, msg.role, msg.size, msg.container_path, msg.principal
        )
    releasing.add(pid)
