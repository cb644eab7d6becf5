"""The REST API of the example: read the scheduler's state, edit the agent blacklist,
roll out a new command.

Every request becomes a custom message in the scheduler's one queue and is
answered by the loop (:meth:`ark.Scheduler.ask`), as the original library's
http4s service did; ``/metrics`` alone reads the loop's counters directly.
Mutating endpoints need ``Authorization: Bearer <token>``. Only ``POST
/deployments`` takes a request body (JSON, at most :data:`MAX_BODY_BYTES`);
on any other endpoint one announced by ``Content-Length`` or
``Transfer-Encoding`` is refused with 413 before any handler runs, and
uvicorn caps the request line and headers (:data:`MAX_HEAD_BYTES`, with its
h11 protocol: httptools has no such cap). A request the scheduler's state
refuses (a deployment while one runs, a blacklist change during one) gets
409 Conflict.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Response, delete, get, post, put
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import JSONBody, PathParameter

from ark import Scheduler
from ark.examples.everywhere.framework import (
    AddToBlacklist,
    CancelDeployment,
    Everywhere,
    GetBlacklist,
    GetDeployment,
    GetState,
    RemoveFromBlacklist,
    StartDeployment,
)
from ark.examples.serving import MAX_HEAD_BYTES, bearer, no_body
from ark.examples.serving import ask as ask_loop
from ark.messages import Custom

__all__ = ["MAX_BODY_BYTES", "MAX_HEAD_BYTES", "NewDeployment", "create_app"]


#: Mesos agent ids are like ``<uuid>-S<n>``; anything outside this is refused early.
_AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")

#: The largest request body, that of ``POST /deployments``.
MAX_BODY_BYTES = 8 * 1024


class NewDeployment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The body of ``POST /deployments``: the shell command of the new version."""

    command: Annotated[
        str, msgspec.Meta(min_length=1, max_length=4096, pattern=r"^[^\x00]*[^\x00\s][^\x00]*$")
    ]


AgentId = Annotated[str, PathParameter(description="A Mesos agent id, as /state lists them")]


def create_app(scheduler: Scheduler[Everywhere], token: str, timeout: float = 5.0) -> Litestar:
    """The ASGI app for ``scheduler``; ``token`` guards the mutating endpoints."""

    async def ask(message: Custom) -> Any:
        """The loop's reply to ``message``; a refusal (``{"refused": why}``) is 409."""
        result = await ask_loop(scheduler, message, timeout)
        if isinstance(result, dict) and "refused" in result:
            raise HTTPException(status_code=409, detail=result["refused"])
        return result

    authorized = bearer(token)

    def agent(agent_id: str) -> str:
        if not _AGENT_ID.match(agent_id):
            raise ValidationException(f"not an agent id: {agent_id!r}")
        return agent_id

    @get("/state", summary="The scheduler's state")
    async def state() -> dict[str, Any]:
        result: dict[str, Any] = await ask(GetState())
        return result

    @get("/blacklist", summary="Blacklisted agents")
    async def blacklist() -> dict[str, list[str]]:
        return {"agents": await ask(GetBlacklist())}

    @put(
        "/blacklist/{agent_id:str}",
        guards=[authorized],
        security=[{"bearer": []}],
        summary="Blacklist an agent (its task is killed)",
    )
    async def add(agent_id: AgentId) -> dict[str, Any]:
        changed = await ask(AddToBlacklist(agent(agent_id)))
        return {"agent_id": agent_id, "blacklisted": True, "changed": changed}

    @delete(
        "/blacklist/{agent_id:str}",
        guards=[authorized],
        security=[{"bearer": []}],
        status_code=200,
        summary="Remove an agent from the blacklist (its task comes back)",
    )
    async def remove(agent_id: AgentId) -> dict[str, Any]:
        changed = await ask(RemoveFromBlacklist(agent(agent_id)))
        return {"agent_id": agent_id, "blacklisted": False, "changed": changed}

    @post(
        "/deployments",
        guards=[authorized],
        security=[{"bearer": []}],
        status_code=202,
        opt={"body": True},
        summary="Roll out a new command: one agent at a time, rolled back if it keeps failing",
    )
    async def deploy(data: JSONBody[NewDeployment]) -> dict[str, Any]:
        result: dict[str, Any] = await ask(StartDeployment(data.command))
        return result

    @get("/deployments", summary="The running version and the progress of the last deployment")
    async def deployment() -> dict[str, Any]:
        result: dict[str, Any] = await ask(GetDeployment())
        return result

    @delete(
        "/deployments",
        guards=[authorized],
        security=[{"bearer": []}],
        status_code=202,
        summary="Cancel the running deployment: the previous version comes back",
    )
    async def cancel() -> dict[str, Any]:
        result: dict[str, Any] = await ask(CancelDeployment())
        return result

    @get("/metrics", summary="The loop's counters, Prometheus text format", media_type="text/plain")
    async def metrics() -> str:
        return scheduler.metrics.prometheus()

    @get("/health", summary="Liveness")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    def errors(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
        # One JSON shape for every error: {"status_code", "detail"}.
        return Response(
            {"status_code": exc.status_code, "detail": exc.detail}, status_code=exc.status_code
        )

    return Litestar(
        route_handlers=[state, blacklist, add, remove, deploy, deployment, cancel, metrics, health],
        exception_handlers={HTTPException: errors},
        guards=[no_body],
        # Only POST /deployments reads one (no_body refuses the others').
        request_max_body_size=MAX_BODY_BYTES,
        # The application's logging is the process's to configure, not the web framework's.
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="Ark example: a task on every agent",
            version="0.1.0",
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
            ),
        ),
    )
