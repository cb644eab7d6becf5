"""Task groups under the default executor, as Mesos's ``mesos-default-executor`` runs them.

Mesos's ``src/launcher/default_executor.cpp`` (``DefaultExecutor::waited``):
the default restart policy of a task group is to kill every other live task
of the group as soon as one ends TASK_FAILED or TASK_KILLED (a scheduler's
KILL of one member included); a member that FINISHED leaves the others
running. The group is killed once (``killingTaskGroup``): the kills it sends
do not start another round.
"""

from __future__ import annotations

from collections.abc import Iterable

from .frameworks import Task
from .resources import Resources
from .tasks import is_terminal

__all__ = ["TaskGroup", "ends_group", "freed_by_end"]

#: The states in which a member's end kills the rest of its group.
_KILLS_GROUP = frozenset({"TASK_FAILED", "TASK_KILLED"})


class TaskGroup:
    """The tasks one LAUNCH_GROUP started, and whether they are being killed."""

    __slots__ = ("killing", "task_ids")

    def __init__(self, task_ids: list[str]) -> None:
        self.task_ids = task_ids
        self.killing = False


def ends_group(group: TaskGroup | None, state: str) -> list[str]:
    """The members to kill now that one of ``group`` reached ``state``."""
    if group is None or group.killing or state not in _KILLS_GROUP:
        return []
    group.killing = True
    return list(group.task_ids)


def freed_by_end(task: Task, tasks: Iterable[Task]) -> Resources:
    """What the master frees when ``task`` ends: its own resources, and its
    executor's only once no other task of that executor lives.

    Mesos recovers a task's resources when it ends (``Master::removeTask``)
    and the executor's when the executor exits (``Master::removeExecutor``);
    the default executor exits after the last task of its groups. The
    simulator books an executor's resources with the first task launched on
    it, so they move to a live sibling instead of being freed.
    """
    own = Resources.from_json(task.info.get("resources", []))
    share = task.resources - own
    if not any(v > 1e-9 for v in share.scalars.values()) and not any(share.ranges.values()):
        return task.resources
    for other in tasks:
        if (
            other is not task
            and other.framework_id == task.framework_id
            and other.executor_id == task.executor_id
            and not is_terminal(other.state)
        ):
            other.resources = other.resources + share
            task.resources = own
            return own
    return task.resources
