"""The REST API of the stateful example: replicas, reservations, scale and replace.

Every request becomes a custom message in the scheduler's one queue and is
answered by the loop (:meth:`ark.Scheduler.ask`), as the ``everywhere``
example's are; ``/metrics`` alone reads the loop's counters directly.
Mutating endpoints need ``Authorization: Bearer <token>``. Only ``PUT
/replicas`` takes a body (``{"count": n}``, at most :data:`MAX_BODY_BYTES`);
the others refuse one with 413.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Response, get, post, put
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import JSONBody, PathParameter

from ark import Scheduler
from ark.examples.serving import MAX_HEAD_BYTES, bearer, no_body
from ark.examples.serving import ask as ask_loop
from ark.examples.stateful.framework import (
    GetReservations,
    GetState,
    ReplaceReplica,
    Scale,
    Stateful,
)
from ark.messages import Custom

__all__ = ["MAX_BODY_BYTES", "MAX_HEAD_BYTES", "ScaleRequest", "create_app"]

#: The largest request body (``PUT /replicas``'s ``{"count": n}``).
MAX_BODY_BYTES = 1024

Index = Annotated[str, PathParameter(description="A replica's index, as /state lists them")]


class ScaleRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The body of ``PUT /replicas``."""

    count: int


def create_app(scheduler: Scheduler[Stateful], token: str, timeout: float = 5.0) -> Litestar:
    """The ASGI app for ``scheduler``; ``token`` guards the mutating endpoints."""

    async def ask(message: Custom) -> Any:
        return await ask_loop(scheduler, message, timeout)

    authorized = bearer(token)

    @get("/state", guards=[no_body], summary="The replicas: task, agent, state, volume, restarts")
    async def state() -> dict[str, Any]:
        result: dict[str, Any] = await ask(GetState())
        return result

    @get(
        "/reservations",
        guards=[no_body],
        summary="Per agent: the resources the framework reserved and its persistent volumes",
    )
    async def reservations() -> dict[str, Any]:
        result: dict[str, Any] = await ask(GetReservations())
        return result

    @put(
        "/replicas",
        guards=[authorized],
        security=[{"bearer": []}],
        summary="Scale to `count` replicas (scaled-down replicas keep their volumes)",
    )
    async def scale(data: JSONBody[ScaleRequest]) -> dict[str, Any]:
        reply: dict[str, Any] = await ask(Scale(data.count))
        if "error" in reply:
            raise HTTPException(status_code=400, detail=reply["error"])
        return reply

    @post(
        "/replicas/{index:str}/replace",
        guards=[authorized, no_body],
        security=[{"bearer": []}],
        status_code=202,
        summary="Replace a replica: give its volume and reservation up, place it afresh",
    )
    async def replace(index: Index) -> dict[str, Any]:
        if not (index.isascii() and index.isdigit() and len(index) <= 6):
            raise ValidationException(f"not a replica index: {index!r}")
        reply: dict[str, Any] = await ask(ReplaceReplica(int(index)))
        if "error" in reply:
            raise HTTPException(status_code=reply["status"], detail=reply["error"])
        return reply

    @get(
        "/metrics",
        guards=[no_body],
        summary="The loop's counters, Prometheus text format",
        media_type="text/plain",
    )
    async def metrics() -> str:
        return scheduler.metrics.prometheus()

    @get("/health", guards=[no_body], summary="Liveness")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    def errors(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
        # One JSON shape for every error: {"status_code", "detail"}, and what
        # failed validation in "extra" (which field, why).
        body: dict[str, Any] = {"status_code": exc.status_code, "detail": exc.detail}
        if exc.extra:
            body["extra"] = exc.extra
        return Response(body, status_code=exc.status_code)

    return Litestar(
        route_handlers=[state, reservations, scale, replace, metrics, health],
        exception_handlers={HTTPException: errors},
        request_max_body_size=MAX_BODY_BYTES,
        # The application's logging is the process's to configure, not the web framework's.
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="Ark example: a replicated stateful service",
            version="0.1.0",
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
            ),
        ),
    )
