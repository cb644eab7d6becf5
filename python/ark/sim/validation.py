"""Call validation: the 400s a Mesos master answers to malformed calls.

Pure functions over decoded v1 JSON calls; what protobuf parsing or
``validation::scheduler::call`` reject in Mesos is rejected here with the
same status and a message of the same shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "CallError",
    "launched_tasks",
    "offer_ids_of",
    "optional_str",
    "optional_value",
    "refuse_seconds",
    "required_value",
    "task_id_of",
    "validate",
]

_CALLS = frozenset(
    {
        "SUBSCRIBE",
        "TEARDOWN",
        "ACCEPT",
        "DECLINE",
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "REVIVE",
        "KILL",
        "SHUTDOWN",
        "ACKNOWLEDGE",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "RECONCILE",
        "RECONCILE_OPERATIONS",
        "MESSAGE",
        "REQUEST",
        "SUPPRESS",
        "UPDATE_FRAMEWORK",
        "UNKNOWN",
    }
)

# The JSON types by the names stout's protobuf parser gives them in its errors.
_JSON_TYPES = (
    (bool, "boolean"),
    (int, "number"),
    (float, "number"),
    (list, "array"),
    (dict, "object"),
)

# The field each call type carries its arguments in (absent: none needed).
_CALL_FIELDS = {
    "SUBSCRIBE": "subscribe",
    "ACCEPT": "accept",
    "DECLINE": "decline",
    "KILL": "kill",
    "SHUTDOWN": "shutdown",
    "ACKNOWLEDGE": "acknowledge",
    "RECONCILE": "reconcile",
    "MESSAGE": "message",
    "REQUEST": "request",
    "ACCEPT_INVERSE_OFFERS": "accept_inverse_offers",
    "DECLINE_INVERSE_OFFERS": "decline_inverse_offers",
    "RECONCILE_OPERATIONS": "reconcile_operations",
    "ACKNOWLEDGE_OPERATION_STATUS": "acknowledge_operation_status",
    "UPDATE_FRAMEWORK": "update_framework",
}


class CallError(Exception):
    """A call the master refuses: an HTTP status and Mesos's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def validate(call: dict[str, Any]) -> str:
    """Check a call's shape; return its type or raise a 400 `CallError`."""
    kind = call.get("type")
    for json_type, name in _JSON_TYPES:
        if isinstance(kind, json_type):
            raise CallError(
                400,
                f"Failed to convert JSON into Call protobuf: "
                f"Not expecting a JSON {name} for field 'type'",
            )
    if not isinstance(kind, str) or kind not in _CALLS:
        # stout's JSON parsing leaves a field with an unknown enum value unset.
        raise CallError(400, "Failed to validate scheduler::Call: Expecting 'type' to be present")
    field = _CALL_FIELDS.get(kind)
    if field is not None and not isinstance(call.get(field), dict):
        raise CallError(
            400, f"Failed to validate scheduler::Call: Expecting '{field}' to be present"
        )
    if kind == "SUBSCRIBE":
        info = call["subscribe"].get("framework_info")
        if not isinstance(info, dict):
            raise CallError(
                400,
                "Failed to validate scheduler::Call: "
                "Expecting 'subscribe.framework_info' to be present",
            )
        _check_framework_info(info, "subscribe")
        call_id = optional_value(call, "framework_id")
        info_id = optional_value(info, "id")
        if call_id != info_id:
            raise CallError(
                400,
                "Failed to validate scheduler::Call: 'framework_id' differs from "
                "'subscribe.framework_info.id'",
            )
    else:
        call_id = required_value(call, "framework_id")
    if kind == "UPDATE_FRAMEWORK":
        info = call["update_framework"].get("framework_info")
        if not isinstance(info, dict):
            raise CallError(
                400,
                "Failed to convert JSON into Call protobuf: "
                "Missing required fields: update_framework.framework_info",
            )
        _check_framework_info(info, "update_framework")
        if optional_value(info, "id") != call_id:
            raise CallError(
                400,
                "Failed to validate scheduler::Call: 'framework_id' differs from "
                "'update_framework.framework_info.id'",
            )
    if kind == "ACCEPT":
        _check_operations(call["accept"].get("operations", []))
    return kind


def required_value(obj: Any, field: str) -> str:
    """``obj[field]["value"]`` as a non-empty string, or a 400 `CallError`."""
    inner = obj.get(field) if isinstance(obj, dict) else None
    value = inner.get("value") if isinstance(inner, dict) else None
    if not isinstance(value, str) or not value:
        raise CallError(
            400, f"Failed to validate scheduler::Call: Expecting '{field}' to be present"
        )
    return value


def optional_value(obj: dict[str, Any], field: str) -> str | None:
    inner = obj.get(field)
    if inner is None:
        return None
    if not isinstance(inner, dict) or not isinstance(inner.get("value"), str):
        raise CallError(400, f"Failed to convert JSON into Call protobuf: bad '{field}'")
    value: str = inner["value"]
    return value


def offer_ids_of(body: dict[str, Any]) -> list[str]:
    """The ``offer_ids`` of an ACCEPT or DECLINE body, or a 400 `CallError`."""
    ids = body.get("offer_ids", [])
    if not isinstance(ids, list):
        raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'offer_ids'")
    out = []
    for entry in ids:
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
            raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'offer_ids'")
        out.append(entry["value"])
    return out


def refuse_seconds(body: dict[str, Any], default: float) -> float:
    """``filters.refuse_seconds`` of an ACCEPT or DECLINE body (``default`` if absent)."""
    filters = body.get("filters")
    if filters is None:
        return default
    refuse = filters.get("refuse_seconds") if isinstance(filters, dict) else None
    if refuse is None:
        return default
    if not isinstance(refuse, int | float) or isinstance(refuse, bool):
        raise CallError(400, "Failed to convert JSON into Call protobuf: bad 'refuse_seconds'")
    return float(refuse)


def _bad(field: str) -> CallError:
    return CallError(400, f"Failed to convert JSON into Call protobuf: bad '{field}'")


def _check_framework_info(info: dict[str, Any], call_field: str) -> None:
    """Reject a FrameworkInfo without its required fields or with fields of a
    wrong JSON type, as protobuf parsing does."""
    missing = [
        f"{call_field}.framework_info.{field}"
        for field in ("user", "name")
        if not isinstance(info.get(field), str)
    ]
    if missing:
        raise CallError(
            400,
            f"Failed to convert JSON into Call protobuf: Missing required fields: "
            f"{', '.join(missing)}",
        )
    types: dict[str, type | tuple[type, ...]] = {
        "role": str,
        "hostname": str,
        "principal": str,
        "webui_url": str,
        "checkpoint": bool,
        "failover_timeout": (int, float),
        "roles": list,
        "capabilities": list,
        "labels": dict,
    }
    for field, kind in types.items():
        value = info.get(field)
        if value is not None and (
            not isinstance(value, kind) or (field == "failover_timeout" and isinstance(value, bool))
        ):
            raise _bad(f"framework_info.{field}")
    if not all(isinstance(r, str) for r in info.get("roles") or []):
        raise _bad("framework_info.roles")
    for capability in info.get("capabilities") or []:
        if not isinstance(capability, dict) or not isinstance(capability.get("type"), str):
            raise _bad("framework_info.capabilities")


def _check_operations(operations: Any) -> None:
    """Reject ACCEPT operations of a wrong JSON shape before anything changes."""
    if not isinstance(operations, list):
        raise _bad("accept.operations")
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("type"), str):
            raise _bad("accept.operations")
        kind = operation["type"]
        if kind == "LAUNCH":
            launch = operation.get("launch")
            if not isinstance(launch, dict):
                raise _bad("operations.launch")
            tasks = launch.get("task_infos", [])
        elif kind == "LAUNCH_GROUP":
            group = operation.get("launch_group")
            if not isinstance(group, dict) or not isinstance(group.get("task_group", {}), dict):
                raise _bad("operations.launch_group")
            executor = group.get("executor")
            if executor is not None and not isinstance(executor, dict):
                raise _bad("operations.launch_group.executor")
            tasks = group.get("task_group", {}).get("tasks", [])
        else:
            continue
        if not isinstance(tasks, list):
            raise _bad("operations.task_infos")
        for task in tasks:
            if not isinstance(task, dict):
                raise _bad("operations.task_infos")
            for field in ("executor", "labels", "command", "container"):
                if task.get(field) is not None and not isinstance(task[field], dict):
                    raise _bad(f"task_info.{field}")
            labels = (task.get("labels") or {}).get("labels", [])
            if not isinstance(labels, list):
                raise _bad("task_info.labels")
            executor_id = (task.get("executor") or {}).get("executor_id")
            if executor_id is not None and not isinstance(executor_id, dict):
                raise _bad("task_info.executor.executor_id")


def task_id_of(task: Any) -> str | None:
    if not isinstance(task, dict):
        return None
    inner = task.get("task_id")
    value = inner.get("value") if isinstance(inner, dict) else None
    return value if isinstance(value, str) and value else None


def optional_str(obj: dict[str, Any], field: str) -> str | None:
    inner = obj.get(field)
    value = inner.get("value") if isinstance(inner, dict) else None
    return value if isinstance(value, str) else None


def launched_tasks(operations: Iterable[dict[str, Any]]) -> list[Any]:
    tasks: list[Any] = []
    for operation in operations:
        if operation.get("type") == "LAUNCH":
            found = (operation.get("launch") or {}).get("task_infos", [])
        elif operation.get("type") == "LAUNCH_GROUP":
            group = operation.get("launch_group") or {}
            found = (group.get("task_group") or {}).get("tasks", [])
        else:
            continue
        if isinstance(found, list):
            tasks.extend(found)
    return tasks
