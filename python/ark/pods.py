"""Pods: tasks placed together on one agent and launched as one LAUNCH_GROUP.

A pod is a :class:`~ark.messages.TaskRequest` with ``pod`` members
(:class:`~ark.messages.PodTask`). The matcher places it as one unit: the
agent must hold the sum of the members' resources and the pod's own
``resources``, which are the default executor's (Mesos runs a task group
under ``mesos-default-executor`` and wants at least 0.01 cpus, 32 MB of
memory and some disk for it); the pod's constraints, group, pin and
strategy apply to the whole. The launch is one LAUNCH_GROUP operation whose
``ExecutorInfo`` (type DEFAULT) takes the pod's ``task_id`` as its executor id.

Each member is then a task of its own in the core's state (updates,
acknowledgements, reconciliation), with its pod in ``StateView.pods``. A
``Kill`` naming the pod kills every live member; and, as Mesos's default
executor does, a member that fails or is killed takes the others down with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ark.messages import PodTask, Resource, TaskRequest

__all__ = ["DEFAULT_EXECUTOR_RESOURCES", "PodTask", "pod"]

#: What Marathon gives a pod's default executor: 0.1 cpus, 32 MB, 10 MB of disk.
DEFAULT_EXECUTOR_RESOURCES: tuple[Resource, ...] = (
    Resource("cpus", 0.1),
    Resource("mem", 32.0),
    Resource("disk", 10.0),
)


def pod(
    pod_id: str,
    tasks: Sequence[PodTask],
    *,
    executor_resources: Sequence[Resource] = DEFAULT_EXECUTOR_RESOURCES,
    **request: Any,
) -> TaskRequest:
    """A request for a pod of ``tasks``; ``request`` holds other TaskRequest fields.

    >>> from ark.wire import task_payload
    >>> web = pod(
    ...     "web-1",
    ...     [
    ...         PodTask("web-1.app", [Resource("cpus", 0.5)], payload=task_payload("app")),
    ...         PodTask("web-1.proxy", [Resource("cpus", 0.1)], payload=task_payload("proxy")),
    ...     ],
    ...     group="web",
    ... )
    >>> [t.task_id for t in web.pod]
    ['web-1.app', 'web-1.proxy']
    """
    return TaskRequest(pod_id, resources=list(executor_resources), pod=list(tasks), **request)
