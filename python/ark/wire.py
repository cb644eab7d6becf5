"""Ark's effects as Mesos v1 scheduler calls (JSON shapes), and :func:`task_payload`.

The pymesos bridge sends through :func:`call`; the native driver encodes
its calls in Rust (``rust/src/calls.rs``), which the tests hold to
:func:`call`'s shapes. Events come the other way in Rust
(``ark._core.decode_event``); :mod:`ark.reference.events` holds the Python
lifts that check it. The objects are exactly Mesos's (``Call`` in its JSON
mapping: ids as ``{"value": ...}``, enums by name, bytes in base64), so a
protobuf codec only has to convert to and from them.

A launch's ``payload`` is the rest of its ``TaskInfo`` as a JSON object (its
``command``, ``executor``, ``container``, ``labels`` ...; see
:func:`task_payload`): Ark sets the task id, name, agent and resources, and
the payload adds the fields Ark does not model.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any

from ark import effects as fx
from ark import messages as m
from ark.errors import WireError
from ark.messages import PodTask

__all__ = ["WireError", "call", "task_payload"]


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
        case fx.Accept(offer_ids, agent_id, launches, refuse_seconds, role):
            out["type"] = "ACCEPT"
            out["accept"] = {
                "offer_ids": [{"value": o} for o in offer_ids],
                "operations": _operations(launches, agent_id, framework_id, role),
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
        case fx.AcceptInverseOffers(ids, refuse_seconds):
            out["type"] = "ACCEPT_INVERSE_OFFERS"
            out["accept_inverse_offers"] = {
                "inverse_offer_ids": [{"value": i} for i in ids],
                "filters": {"refuse_seconds": refuse_seconds},
            }
        case fx.DeclineInverseOffers(ids, refuse_seconds):
            out["type"] = "DECLINE_INVERSE_OFFERS"
            out["decline_inverse_offers"] = {
                "inverse_offer_ids": [{"value": i} for i in ids],
                "filters": {"refuse_seconds": refuse_seconds},
            }
        case _:
            raise ValueError(f"{type(effect).__name__} is not a Mesos call")
    return out


def _operations(
    launches: list[fx.LaunchTask], agent_id: str, framework_id: str, role: str | None
) -> list[dict[str, Any]]:
    # The plain tasks in one LAUNCH, then one LAUNCH_GROUP per pod.
    plain = [task_info(t, agent_id, role) for t in launches if not t.pod]
    out: list[dict[str, Any]] = []
    if plain:
        out.append({"type": "LAUNCH", "launch": {"task_infos": plain}})
    for t in launches:
        if t.pod:
            out.append(
                {
                    "type": "LAUNCH_GROUP",
                    "launch_group": {
                        "executor": executor_info(t, framework_id, role),
                        "task_group": {
                            "tasks": [_member_info(member, agent_id, role) for member in t.pod]
                        },
                    },
                }
            )
    return out


def _member_info(member: PodTask, agent_id: str, role: str | None) -> dict[str, Any]:
    launch = fx.LaunchTask(
        member.task_id,
        agent_id,
        member.name,
        member.resources,
        member.payload,
        health_check=member.health_check,
        kill_policy=member.kill_policy,
    )
    return task_info(launch, agent_id, role)


def executor_info(pod: fx.LaunchTask, framework_id: str, role: str | None = None) -> dict[str, Any]:
    """The ``ExecutorInfo`` of a pod: the default executor, named by the pod's id.

    Its payload's fields (``labels`` ...) plus Ark's own: ``type`` DEFAULT,
    ``executor_id``, ``framework_id`` (a LAUNCH_GROUP must carry it), the
    pod's ``resources`` and, if given, its ``name``.
    """
    info = _payload(pod)
    info["type"] = "DEFAULT"
    info["executor_id"] = {"value": pod.task_id}
    info["framework_id"] = {"value": framework_id}
    info["resources"] = [_resource_json(r, role) for r in pod.resources]
    if pod.name:
        info["name"] = pod.name
    return info


def task_info(task: fx.LaunchTask, agent_id: str, role: str | None = None) -> dict[str, Any]:
    """The v1 ``TaskInfo`` of one launch: its payload's fields plus Ark's own.

    With a ``role`` (the offers' allocation role), each resource carries it as
    ``allocation_info``, as a MULTI_ROLE framework's must.

    Named ports go where a task and service discovery look for them, unless
    the payload set them itself: ``discovery.ports``, and ``PORT_<NAME>``
    (upper case, ``-`` as ``_``, as Marathon names them) in the command's
    environment.
    """
    info = _payload(task)
    info["name"] = task.name or task.task_id
    info["task_id"] = {"value": task.task_id}
    info["agent_id"] = {"value": agent_id}
    info["resources"] = [_resource_json(r, role) for r in task.resources]
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
    if task.health_check is not None:
        info["health_check"] = health_check_json(task.health_check)
    if task.kill_policy is not None:
        # Rounded to the nanosecond as rust/src/health.rs rounds it.
        nanoseconds = math.floor(task.kill_policy.grace_period_seconds * 1e9 + 0.5)
        info["kill_policy"] = {"grace_period": {"nanoseconds": nanoseconds}}
    return info


def health_check_json(check: m.HealthCheck) -> dict[str, Any]:
    """The v1 JSON ``HealthCheck`` of a check (a COMMAND check runs in a shell)."""
    out: dict[str, Any] = {"type": check.type}
    if check.type == "COMMAND":
        out["command"] = {"shell": True, "value": check.command}
    elif check.type == "HTTP":
        http: dict[str, Any] = {"port": check.port}
        if check.path is not None:
            http["path"] = check.path
        if check.scheme is not None:
            http["scheme"] = check.scheme
        out["http"] = http
    else:
        out["tcp"] = {"port": check.port}
    out["delay_seconds"] = check.delay_seconds
    out["interval_seconds"] = check.interval_seconds
    out["timeout_seconds"] = check.timeout_seconds
    out["consecutive_failures"] = check.consecutive_failures
    out["grace_period_seconds"] = check.grace_period_seconds
    return out


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


def _resource_json(r: m.Resource, allocated_to: str | None) -> dict[str, Any]:
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
    if allocated_to is not None:
        out["allocation_info"] = {"role": allocated_to}
    return out
