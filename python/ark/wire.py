"""Mesos v1 scheduler API objects (JSON shapes) to Ark messages, and effects to calls.

Both drivers speak through here: the native driver decodes each RecordIO
record to a JSON object, pymesos hands its callbacks the same objects. The
objects are exactly Mesos's (``mesos.v1.scheduler.Event`` / ``Call`` in their
JSON mapping: ids as ``{"value": ...}``, enums by name, bytes in base64), so
a protobuf codec only has to convert to and from them.

A launch's ``payload`` is the rest of its ``TaskInfo`` as a JSON object (its
``command``, ``executor``, ``container``, ``labels`` ...; see
:func:`task_payload`): Ark sets the task id, name, agent and resources, and
the payload adds the fields Ark does not model.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, get_args

from ark import effects as fx
from ark import messages as m
from ark.errors import MessageError

__all__ = ["WireError", "call", "event", "task_payload"]


class WireError(MessageError):
    """A Mesos event or a launch payload that does not have the v1 shape."""


# --- events -------------------------------------------------------------------------


def event(obj: Mapping[str, Any]) -> m.Message | None:
    """Lift one v1 ``Event`` into an Ark message; ``None`` for events Ark ignores.

    Raises
    ------
    WireError
        A field Ark needs is missing or of the wrong type; the message says which.
    """
    kind = _str(obj, "type", "event")
    if kind not in _MODELLED:
        # INVERSE_OFFERS, RESCIND_INVERSE_OFFER, UPDATE_OPERATION_STATUS, newer.
        return None
    body = obj.get(kind.lower())
    if body is None:  # null is absent, as in the Rust lift (ark._core.decode_event)
        body = {}
    if not isinstance(body, Mapping):
        raise WireError(f"event.{kind.lower()}: expected an object, got {type(body).__name__}")
    where = f"event.{kind.lower()}"
    if kind == "SUBSCRIBED":
        master = body.get("master_info")
        if master is not None and not isinstance(master, Mapping):
            raise WireError(f"{where}.master_info: expected an object")
        return m.Subscribed(
            _id(body, "framework_id", where),
            heartbeat_interval_seconds=_opt_float(body, "heartbeat_interval_seconds", where),
            master_id=_str(master, "id", f"{where}.master_info")
            if isinstance(master, Mapping) and master.get("id") is not None
            else None,
        )
    if kind == "OFFERS":
        return m.Offers([offer(o) for o in _list(body, "offers", where)])
    if kind == "RESCIND":
        return m.Rescind(_id(body, "offer_id", where))
    if kind == "UPDATE":
        return m.Update(status(_obj(body, "status", where)))
    if kind == "MESSAGE":
        return m.FrameworkMessage(
            _id(body, "agent_id", where),
            _id(body, "executor_id", where),
            _bytes(body, "data", where),
        )
    if kind == "FAILURE":
        code = body.get("status")
        if code is not None and not _is_int64(code):
            raise WireError(f"{where}.status: expected an integer")
        return m.Failure(
            _id(body, "agent_id", where),
            executor_id=_id(body, "executor_id", where)
            if body.get("executor_id") is not None
            else None,
            status=code,
        )
    if kind == "ERROR":
        return m.Error(_str(body, "message", where))
    return m.Heartbeat()


def offer(obj: object) -> m.Offer:
    """One v1 ``Offer``."""
    if not isinstance(obj, Mapping):
        raise WireError("offer: expected an object")
    return m.Offer(
        _id(obj, "id", "offer"),
        _id(obj, "agent_id", "offer"),
        _str(obj, "hostname", "offer"),
        [resource(r) for r in _opt_list(obj, "resources", "offer")],
        [attribute(a) for a in _opt_list(obj, "attributes", "offer")],
    )


def resource(obj: object) -> m.Resource:
    """One v1 ``Resource``: scalar, ranges or set, with its role."""
    if not isinstance(obj, Mapping):
        raise WireError("resource: expected an object")
    name = _str(obj, "name", "resource")
    where = f"resource {name!r}"
    role = obj.get("role")
    allocation = obj.get("allocation_info")
    if allocation is not None and not isinstance(allocation, Mapping):
        raise WireError(f"{where}.allocation_info: expected an object")
    if role is None and allocation is not None:
        role = allocation.get("role")
    if role is not None and not isinstance(role, str):
        raise WireError(f"{where}.role: expected a string")
    value = _value(obj, where)
    return m.Resource(name, role=role or "*", **value)


def attribute(obj: object) -> m.Attribute:
    """One v1 ``Attribute``: text, scalar, ranges or set."""
    if not isinstance(obj, Mapping):
        raise WireError("attribute: expected an object")
    name = _str(obj, "name", "attribute")
    where = f"attribute {name!r}"
    if obj.get("type") == "TEXT":
        return m.Attribute(name, text=_str(_obj(obj, "text", where), "value", where))
    return m.Attribute(name, **_value(obj, where))


def status(obj: Mapping[str, Any]) -> m.TaskStatus:
    """One v1 ``TaskStatus``; ``uuid`` is decoded from base64."""
    where = "status"
    state = _str(obj, "state", where)
    if state not in _TASK_STATES:
        raise WireError(f"status.state: unknown task state {state!r}")
    healthy = obj.get("healthy")
    if healthy is not None and not isinstance(healthy, bool):
        raise WireError("status.healthy: expected a boolean")
    source = obj.get("source")
    if source is not None and source not in ("SOURCE_MASTER", "SOURCE_AGENT", "SOURCE_EXECUTOR"):
        raise WireError(f"status.source: unknown source {source!r}")
    return m.TaskStatus(
        _id(obj, "task_id", where),
        state,  # type: ignore[arg-type]
        agent_id=_id(obj, "agent_id", where) if obj.get("agent_id") is not None else None,
        executor_id=_id(obj, "executor_id", where) if obj.get("executor_id") is not None else None,
        reason=_opt_str(obj, "reason", where),
        source=source,
        message=_opt_str(obj, "message", where),
        uuid=_bytes(obj, "uuid", where) if obj.get("uuid") is not None else None,
        timestamp=_opt_float(obj, "timestamp", where),
        healthy=healthy,
    )


# --- calls --------------------------------------------------------------------------


def call(effect: fx.Effect, framework_id: str) -> dict[str, Any]:
    """The v1 ``Call`` that carries out ``effect`` for ``framework_id``.

    ``Timer`` and ``Unreconciled`` are the scheduler's, not Mesos's: a
    :class:`ValueError` if given.

    Raises
    ------
    WireError
        A launch payload that is not a JSON object.
    """
    out: dict[str, Any] = {"framework_id": {"value": framework_id}}
    match effect:
        case fx.Accept(offer_ids, agent_id, launches, refuse_seconds):
            out["type"] = "ACCEPT"
            out["accept"] = {
                "offer_ids": [{"value": o} for o in offer_ids],
                "operations": [
                    {
                        "type": "LAUNCH",
                        "launch": {"task_infos": [task_info(t, agent_id) for t in launches]},
                    }
                ],
                "filters": {"refuse_seconds": refuse_seconds},
            }
        case fx.Decline(offer_ids, refuse_seconds):
            out["type"] = "DECLINE"
            out["decline"] = {
                "offer_ids": [{"value": o} for o in offer_ids],
                "filters": {"refuse_seconds": refuse_seconds},
            }
        case fx.Kill(task_id, agent_id):
            kill: dict[str, Any] = {"task_id": {"value": task_id}}
            if agent_id is not None:
                kill["agent_id"] = {"value": agent_id}
            out["type"] = "KILL"
            out["kill"] = kill
        case fx.Reconcile(tasks):
            out["type"] = "RECONCILE"
            out["reconcile"] = {"tasks": [_reconcile_task(t) for t in tasks]}
        case fx.Acknowledge(agent_id, task_id, uuid):
            out["type"] = "ACKNOWLEDGE"
            out["acknowledge"] = {
                "agent_id": {"value": agent_id},
                "task_id": {"value": task_id},
                "uuid": base64.b64encode(uuid).decode(),
            }
        case fx.Suppress():
            out["type"] = "SUPPRESS"
        case fx.Revive():
            out["type"] = "REVIVE"
        case fx.Message(agent_id, executor_id, data):
            out["type"] = "MESSAGE"
            out["message"] = {
                "agent_id": {"value": agent_id},
                "executor_id": {"value": executor_id},
                "data": base64.b64encode(data).decode(),
            }
        case _:
            raise ValueError(f"{type(effect).__name__} is not a Mesos call")
    return out


def task_info(task: fx.LaunchTask, agent_id: str) -> dict[str, Any]:
    """The v1 ``TaskInfo`` of one launch: its payload's fields plus Ark's own.

    Named ports go where a task and service discovery look for them, unless
    the payload set them itself: ``discovery.ports``, and ``PORT_<NAME>``
    (upper case, ``-`` as ``_``, as Marathon names them) in the command's
    environment.
    """
    info = _payload(task)
    info["name"] = task.name or task.task_id
    info["task_id"] = {"value": task.task_id}
    info["agent_id"] = {"value": agent_id}
    info["resources"] = [_resource_json(r) for r in task.resources]
    if task.named_ports:
        ports = [{"number": p, "name": n, "protocol": "tcp"} for n, p in task.named_ports]
        info.setdefault(
            "discovery",
            {"visibility": "FRAMEWORK", "name": info["name"], "ports": {"ports": ports}},
        )
        command = info.get("command")
        env = command.setdefault("environment", {}) if isinstance(command, dict) else None
        variables = env.setdefault("variables", []) if isinstance(env, dict) else None
        if isinstance(variables, list):
            known = {v.get("name") for v in variables if isinstance(v, dict)}
            for n, p in task.named_ports:
                key = "PORT_" + n.upper().replace("-", "_")
                if key not in known:
                    variables.append({"name": key, "value": str(p)})
    return info


def task_payload(
    command: str | None = None,
    *,
    shell: bool = True,
    arguments: list[str] | None = None,
    environment: Mapping[str, str] | None = None,
    **task_info: Any,
) -> bytes:
    """A launch payload: a shell ``command`` (or any other ``TaskInfo`` fields).

    >>> task_payload("sleep 10")
    b'{"command":{"value":"sleep 10","shell":true}}'
    """
    info = dict(task_info)
    if command is not None:
        cmd: dict[str, Any] = {"value": command, "shell": shell}
        if arguments is not None:
            cmd["arguments"] = list(arguments)
        if environment:
            cmd["environment"] = {
                "variables": [{"name": k, "value": v} for k, v in environment.items()]
            }
        info["command"] = cmd
    return json.dumps(info, separators=(",", ":")).encode()


def _payload(task: fx.LaunchTask) -> dict[str, Any]:
    if not task.payload:
        return {}
    try:
        info = json.loads(task.payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"task {task.task_id!r}: payload is not JSON: {exc}") from None
    if not isinstance(info, dict):
        raise WireError(f"task {task.task_id!r}: payload must be a JSON object (TaskInfo fields)")
    return info


def _reconcile_task(task: fx.ReconcileTask) -> dict[str, Any]:
    # pymesos's reconcileTasks drops agent_id; without it a master can only
    # answer TASK_LOST/UNKNOWN, so it is always sent when known.
    out: dict[str, Any] = {"task_id": {"value": task.task_id}}
    if task.agent_id is not None:
        out["agent_id"] = {"value": task.agent_id}
    return out


def _resource_json(r: m.Resource) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r.name}
    if r.scalar is not None:
        out["type"] = "SCALAR"
        out["scalar"] = {"value": r.scalar}
    elif r.ranges is not None:
        out["type"] = "RANGES"
        out["ranges"] = {"range": [{"begin": lo, "end": hi} for lo, hi in r.ranges]}
    elif r.set is not None:
        out["type"] = "SET"
        out["set"] = {"item": list(r.set)}
    if r.role != "*":
        # Pre-reservation-refinement shape, which every v1 master still reads.
        out["role"] = r.role
    return out


# --- field readers, each naming the field on error ------------------------------------


def _obj(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if not isinstance(value, Mapping):
        raise WireError(f"{where}.{key}: expected an object")
    return value


def _list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise WireError(f"{where}.{key}: expected a list")
    return value


def _is_int64(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def _opt_list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    return [] if value is None else _list(obj, key, where)


def _str(obj: Mapping[str, Any] | None, key: str, where: str) -> str:
    value = None if obj is None else obj.get(key)
    if not isinstance(value, str):
        raise WireError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def _opt_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if obj.get(key) is None else _str(obj, key, where)


def _opt_float(obj: Mapping[str, Any], key: str, where: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WireError(f"{where}.{key}: expected a number")
    return float(value)


def _id(obj: Mapping[str, Any], key: str, where: str) -> str:
    return _str(_obj(obj, key, where), "value", f"{where}.{key}")


def _bytes(obj: Mapping[str, Any], key: str, where: str) -> bytes:
    text = _str(obj, key, where)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise WireError(f"{where}.{key}: not base64") from None


def _value(obj: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The ``scalar`` / ``ranges`` / ``set`` of a resource or attribute."""
    kind = obj.get("type")
    if kind == "SCALAR":
        value = _opt_float(_obj(obj, "scalar", where), "value", f"{where}.scalar")
        if value is None:
            raise WireError(f"{where}.scalar.value: missing")
        return {"scalar": value}
    if kind == "RANGES":
        ranges = []
        for r in _list(_obj(obj, "ranges", where), "range", f"{where}.ranges"):
            if not isinstance(r, Mapping):
                raise WireError(f"{where}.ranges.range: expected objects")
            lo, hi = r.get("begin"), r.get("end")
            if not _is_int64(lo) or not _is_int64(hi):
                raise WireError(f"{where}.ranges.range: begin and end must be integers")
            ranges.append((lo, hi))
        return {"ranges": ranges}
    if kind == "SET":
        items = _list(_obj(obj, "set", where), "item", f"{where}.set")
        if not all(isinstance(i, str) for i in items):
            raise WireError(f"{where}.set.item: expected strings")
        return {"set": items}
    raise WireError(f"{where}.type: unknown value type {kind!r}")


_TASK_STATES = frozenset(get_args(m.TaskState))
_MODELLED = frozenset(
    ["SUBSCRIBED", "OFFERS", "RESCIND", "UPDATE", "MESSAGE", "FAILURE", "ERROR", "HEARTBEAT"]
)
