"""Call validation: the 400s a Mesos master answers to malformed calls.

Pure functions over decoded v1 JSON calls; what protobuf parsing or
``validation::scheduler::call`` reject in Mesos is rejected here with the
same status and a message of the same shape.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = [
    "CallError",
    "framework_info_error",
    "id_error",
    "launched_tasks",
    "offer_ids_of",
    "optional_str",
    "optional_value",
    "refuse_seconds",
    "required_value",
    "role_error",
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
        missing = _missing_launch_fields(call["accept"].get("operations") or [])
        if missing:
            raise CallError(
                400,
                "Failed to convert JSON into Call protobuf: Missing required fields: "
                + ", ".join(missing),
            )
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


#: RESERVE, UNRESERVE, CREATE and DESTROY: each one's body and its list of resources.
_RESOURCE_OPERATIONS = {
    "RESERVE": ("reserve", "resources"),
    "UNRESERVE": ("unreserve", "resources"),
    "CREATE": ("create", "volumes"),
    "DESTROY": ("destroy", "volumes"),
}


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
            if not _id_shaped((executor or {}).get("executor_id")):
                raise _bad("operations.launch_group.executor.executor_id")
            tasks = group.get("task_group", {}).get("tasks", [])
        elif kind in _RESOURCE_OPERATIONS:
            field, listed = _RESOURCE_OPERATIONS[kind]
            body = operation.get(field, {})
            if not isinstance(body, dict) or not isinstance(body.get(listed, []), list):
                raise _bad(f"operations.{field}")
            if not all(isinstance(r, dict) for r in body.get(listed, [])):
                raise _bad(f"operations.{field}.{listed}")
            continue
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
            if task.get("name") is not None and not isinstance(task["name"], str):
                raise _bad("task_info.name")
            for field in ("task_id", "agent_id"):
                if not _id_shaped(task.get(field)):
                    raise _bad(f"task_info.{field}")
            if not _id_shaped((task.get("executor") or {}).get("executor_id")):
                raise _bad("task_info.executor.executor_id")


def _id_shaped(inner: Any) -> bool:
    """Whether an absent-or-``{"value": str}`` id field parses as protobuf."""
    return inner is None or (isinstance(inner, dict) and isinstance(inner.get("value", ""), str))


def _missing_launch_fields(operations: list[dict[str, Any]]) -> list[str]:
    """The required protobuf fields the launches of ``operations`` lack, as paths.

    Mesos parses a JSON call into protobuf and refuses the whole call when a
    required field (``TaskInfo.name``, ``task_id``, ``agent_id``,
    ``Resource.name``/``type``, ``ExecutorInfo.executor_id``...) is absent,
    naming each as protobuf's ``InitializationErrorString`` does.
    """
    missing: list[str] = []

    def need(obj: dict[str, Any], path: str, field: str) -> Any:
        if field not in obj:
            missing.append(f"{path}.{field}")
        return obj.get(field)

    def need_id(obj: dict[str, Any], path: str, field: str) -> None:
        inner = need(obj, path, field)
        if isinstance(inner, dict):
            need(inner, f"{path}.{field}", "value")

    def resources(obj: dict[str, Any], path: str) -> None:
        listed = obj.get("resources")
        for i, resource in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(resource, dict):
                need(resource, f"{path}.resources[{i}]", "name")
                need(resource, f"{path}.resources[{i}]", "type")

    def executor(obj: dict[str, Any], path: str) -> None:
        need_id(obj, path, "executor_id")
        resources(obj, path)

    def task(obj: dict[str, Any], path: str) -> None:
        need(obj, path, "name")
        need_id(obj, path, "task_id")
        need_id(obj, path, "agent_id")
        resources(obj, path)
        if isinstance(obj.get("executor"), dict):
            executor(obj["executor"], f"{path}.executor")

    for n, operation in enumerate(operations):
        path = f"accept.operations[{n}]"
        if operation["type"] == "LAUNCH":
            for i, info in enumerate(operation["launch"].get("task_infos", [])):
                task(info, f"{path}.launch.task_infos[{i}]")
        elif operation["type"] == "LAUNCH_GROUP":
            group = operation["launch_group"]
            path += ".launch_group"
            if isinstance(need(group, path, "executor"), dict):
                executor(group["executor"], f"{path}.executor")
            if isinstance(need(group, path, "task_group"), dict):
                for i, info in enumerate(group["task_group"].get("tasks", [])):
                    task(info, f"{path}.task_group.tasks[{i}]")
    return missing


#: Characters no role component may hold (Mesos's whitespace and DEL).
_ROLE_INVALID_CHARACTERS = frozenset("\x09\x0a\x0b\x0c\x0d\x20\x7f")


def role_error(role: str) -> str | None:
    """Why ``role`` is not a valid role, or None (Mesos's ``roles::validate``).

    Hierarchical roles (``eng/web``) are valid; a leading or trailing
    slash, ``//``, a ``.``, ``..`` or ``*`` component, a component that
    starts with ``-`` or holds whitespace are not.
    """
    if role == "*":
        return None
    if role.startswith("/"):
        return f"Role '{role}' cannot start with a slash"
    if role.endswith("/"):
        return f"Role '{role}' cannot end with a slash"
    if "//" in role:
        return f"Role '{role}' cannot contain two adjacent slashes"
    components = [c for c in role.split("/") if c]
    if not components:
        return "Role names cannot be the empty string"
    for component in components:
        if component in (".", "..", "*"):
            return f"Role '{role}' cannot include '{component}' as a component"
        if component.startswith("-"):
            return f"Role component '{component}' is invalid because it starts with a dash"
        if _ROLE_INVALID_CHARACTERS.intersection(component):
            return (
                f"Role component '{component}' is invalid "
                "because it contains backspace or whitespace"
            )
    return None


#: Longest id Mesos accepts (``NAME_MAX``: ids name directories on agents).
_MAX_ID_LENGTH = 255


def id_error(value: str) -> str | None:
    """Why ``value`` is not a valid task, executor or framework id, or None.

    Mesos's ``common::validation::validateID``: not empty, at most 255
    characters, not ``.`` or ``..``, no control characters or slashes.
    """
    if not value:
        return "ID must not be empty"
    if len(value) > _MAX_ID_LENGTH:
        return f"ID must not be greater than {_MAX_ID_LENGTH} characters"
    if value in (".", ".."):
        return f"'{value}' is disallowed"
    if any(c in "/\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return f"'{value}' contains invalid characters"
    return None


def _has_capability(info: dict[str, Any], name: str) -> bool:
    caps = info.get("capabilities") or []
    return any(isinstance(c, dict) and c.get("type") == name for c in caps)


#: A failover timeout must fit a Mesos ``Duration``: int64 nanoseconds.
_MAX_DURATION_SECONDS = (2**63 - 1) / 1e9


def framework_info_error(info: dict[str, Any]) -> str | None:
    """Why a SUBSCRIBE's FrameworkInfo is refused, or None.

    Mesos's ``validation::framework::validate``: the role fields that fit
    the MULTI_ROLE capability, each role valid, no duplicate roles, a valid
    id, and a ``failover_timeout`` a ``Duration`` can hold.
    """
    multi_role = _has_capability(info, "MULTI_ROLE")
    if multi_role and "role" in info:
        return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"
    if not multi_role and info.get("roles"):
        return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
    if multi_role:
        roles: list[str] = info.get("roles") or []
        duplicates = sorted({r for r in roles if roles.count(r) > 1})
        if duplicates:
            return f"'FrameworkInfo.roles' contains duplicate items: {{ {', '.join(duplicates)} }}"
        for role in roles:
            error = role_error(role)
            if error is not None:
                return f"'FrameworkInfo.roles' contains invalid role: {error}"
    else:
        error = role_error(info.get("role", "*"))
        if error is not None:
            return f"'FrameworkInfo.role' is not a valid role: {error}"
    framework_id = optional_value(info, "id")
    if framework_id:
        error = id_error(framework_id)
        if error is not None:
            return error
    try:
        timeout = float(info.get("failover_timeout", 0.0))
    except OverflowError:  # A JSON integer beyond any double.
        timeout = math.inf
    if not -_MAX_DURATION_SECONDS <= timeout <= _MAX_DURATION_SECONDS:
        return f"The framework failover_timeout ({timeout:g}) is invalid"
    return None


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
