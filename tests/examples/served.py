"""An example's scheduler with its REST API served by uvicorn on loopback, as
``python -m ark.examples.<name>`` serves it (``ark.examples.serving``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import httpx
from litestar import Litestar

from ark import Scheduler
from ark.examples.serving import api_server, free_port
from waiting import wait_until

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

S = TypeVar("S")
Self = TypeVar("Self", bound="Served[Any]")


class Served(Generic[S]):
    """``scheduler`` started and its API (``app_for(scheduler, TOKEN)``) served at
    ``url`` while in the ``with`` block; ``http`` is a client of it."""

    def __init__(
        self, scheduler: Scheduler[S], app_for: Callable[[Scheduler[S], str], Litestar]
    ) -> None:
        self.scheduler = scheduler
        port = free_port("127.0.0.1")
        self.url = f"http://127.0.0.1:{port}"
        self.server = api_server(app_for(scheduler, TOKEN), "127.0.0.1", port)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def __enter__(self: Self) -> Self:
        self.scheduler.start()
        self.thread.start()
        wait_until(lambda: self.server.started, 10, "uvicorn")
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(10)
        self.scheduler.shutdown()

    def get(self, path: str) -> Any:
        """The JSON of a GET that must answer 200."""
        response = self.http.get(path)
        assert response.status_code == 200, response.text
        return response.json()
