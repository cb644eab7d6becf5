"""A command that exits at once ends its task as an agent's command executor
ends it: status 0 FINISHED, any other FAILED with the status in the message.
Judged on the simulator (which knows ``exit N``) and on a real Mesos."""

from __future__ import annotations

import pytest
from masters import Master
from sim_client import Subscriber


@pytest.mark.parametrize(("status", "state"), [(0, "TASK_FINISHED"), (3, "TASK_FAILED")])
def test_exit_n_ends_the_task_with_its_status(master: Master, status: int, state: str) -> None:
    sub = Subscriber(master.url)
    try:
        offer = sub.wait_offer()
        sub.launch(offer, "quick", cpus=0.1, command={"value": f"exit {status}"})
        for seen in ("TASK_STARTING", "TASK_RUNNING"):
            sub.ack(sub.wait_update("quick", seen, timeout=30))
        ended = sub.wait_update("quick", state, timeout=30)
        message = ended.get("message", "")
        if status:
            assert message == f"Command exited with status {status}", ended
    finally:
        sub.close()
