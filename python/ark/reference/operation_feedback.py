"""Operation feedback in plain Python: the twin of ``rust/src/reducer/operation_feedback.rs``.

Offer operations with an id are tracked from the ACCEPT that sends them to
their last UPDATE_OPERATION_STATUS; a status with a uuid is acknowledged;
those still open are reconciled with RECONCILE_OPERATIONS when task
reconciliation starts; a RESERVE or CREATE that fails is undone in
``reserved`` and ``volumes``. See docs/reducer.md, Operation feedback.
"""

from __future__ import annotations

from dataclasses import dataclass

from ark import effects as fx
from ark import messages as m
from ark.errors import MessageError
from ark.state import OperationRecord, VolumeRecord

__all__ = ["OperationFeedback", "Stranded", "planned_id", "release_id", "stranded_id"]

_EPSILON = 1e-9
_UUID_LENGTH = 16


def planned_id(kind: str, task_id: str) -> str:
    """The id the matcher gives the RESERVE or CREATE it plans for a task's volume."""
    return f"ark-{kind.lower()}-{task_id}"


def release_id(kind: str, persistence_id: str, offer_id: str) -> str:
    """The id of a DESTROY or UNRESERVE that gives a volume up, on one offer."""
    return f"ark-{kind.lower()}-{persistence_id}-{offer_id}"


def stranded_id(task_id: str, offer_id: str) -> str:
    """The id of the UNRESERVE that gives back, on one offer, the reservation of
    ``task_id``'s volume whose CREATE failed."""
    return f"ark-unreserve-stranded-{task_id}-{offer_id}"


@dataclass(frozen=True)
class Stranded:
    """Disk a planned RESERVE reserved for a volume whose CREATE failed."""

    agent_id: str
    #: The task the volume was for (names the UNRESERVE).
    task_id: str
    #: The RESERVE's resource: the disk, its role and reservations.
    resource: m.Resource


@dataclass
class _Record:
    agent_id: str | None
    resource_provider_id: str | None
    state: str
    message: str | None
    # The operation as sent and tracked (None: known only from a status).
    sent: m.Operation | None


class OperationFeedback:
    """Each operation with an id, by id: where it runs and its latest status."""

    def __init__(self) -> None:
        self._records: dict[str, _Record] = {}
        #: By the RESERVE's id: unreserved when offered (volumes.release).
        self.stranded: dict[str, Stranded] = {}

    def sent(self, agent_id: str, operations: list[m.Operation]) -> None:
        """An ACCEPT on ``agent_id`` sends these: each with an id is OPERATION_PENDING."""
        for op in operations:
            if op.id is not None:
                self._records[op.id] = _Record(agent_id, None, "OPERATION_PENDING", None, op)

    def reconcile(self) -> list[fx.Effect]:
        """RECONCILE_OPERATIONS of the operations not yet terminal, if any."""
        open_ = [
            fx.ReconcileOperation(i, r.agent_id, r.resource_provider_id)
            for i, r in sorted(self._records.items())
            if r.state not in m.TERMINAL_OPERATION_STATES
        ]
        return [fx.ReconcileOperations(open_)] if open_ else []

    def update(
        self,
        status: m.OperationStatus,
        volumes: dict[str, VolumeRecord],
        reserved: dict[tuple[str, str, str], float],
    ) -> list[fx.Effect]:
        """Record ``status`` unless its operation has ended; undo a failed RESERVE or
        CREATE; acknowledge a status with a uuid (each time: a repeat means the
        acknowledgement was lost).

        Raises
        ------
        MessageError
            A uuid that is not 16 bytes, or one with no agent or resource provider.
        """
        op_id = status.operation_id
        if status.uuid is not None:
            if len(status.uuid) != _UUID_LENGTH:
                raise MessageError(
                    f"the status of operation {op_id!r} has a uuid of {len(status.uuid)} "
                    "bytes, not 16"
                )
            if status.agent_id is None and status.resource_provider_id is None:
                raise MessageError(
                    f"the status of operation {op_id!r} has a uuid to acknowledge but neither "
                    "agent_id nor resource_provider_id"
                )
        previous = self._records.get(op_id)
        if previous is None or previous.state not in m.TERMINAL_OPERATION_STATES:
            record = _Record(
                status.agent_id if status.agent_id is not None else _agent(previous),
                status.resource_provider_id
                if status.resource_provider_id is not None
                else (previous.resource_provider_id if previous else None),
                status.state,
                status.message,
                previous.sent if previous else None,
            )
            if _failed(status.state) and record.sent is not None and record.agent_id is not None:
                _undo(record.sent, record.agent_id, volumes, reserved)
                self._strand(op_id, record.agent_id, record.sent)
            self._records[op_id] = record
        if status.uuid is None:
            return []
        return [
            fx.AcknowledgeOperationStatus(
                op_id, status.agent_id, status.resource_provider_id, status.uuid
            )
        ]

    def _strand(self, op_id: str, agent_id: str, op: m.Operation) -> None:
        """A planned CREATE failed while its RESERVE did not: that reservation is
        left without a volume. A planned RESERVE that fails leaves nothing."""
        if op.type == "RESERVE":
            self.stranded.pop(op_id, None)
            return
        prefix = planned_id("CREATE", "")
        if op.type != "CREATE" or not op_id.startswith(prefix):
            return
        task_id = op_id[len(prefix) :]
        reserve_id = planned_id("RESERVE", task_id)
        reserve = self._records.get(reserve_id)
        if reserve is None or reserve.agent_id != agent_id or reserve.sent is None:
            return
        if not _failed(reserve.state) and len(reserve.sent.resources) == 1:
            self.stranded[reserve_id] = Stranded(agent_id, task_id, reserve.sent.resources[0])

    def give_back(self, reserve_id: str) -> None:
        """An UNRESERVE of a stranded reservation went out: forget it, and what
        its RESERVE sent, so that a failure of that RESERVE reported later does
        not take its disk out of ``reserved`` again (the UNRESERVE did)."""
        del self.stranded[reserve_id]
        record = self._records.get(reserve_id)
        if record is not None:
            record.sent = None

    def view(self) -> list[OperationRecord]:
        return [
            OperationRecord(i, r.agent_id, r.state, r.message)
            for i, r in sorted(self._records.items())
        ]


def _failed(state: str) -> bool:
    """A terminal state of an operation that did not apply."""
    return state in m.TERMINAL_OPERATION_STATES and state != "OPERATION_FINISHED"


def _agent(record: _Record | None) -> str | None:
    return record.agent_id if record is not None else None


def _undo(
    op: m.Operation,
    agent_id: str,
    volumes: dict[str, VolumeRecord],
    reserved: dict[tuple[str, str, str], float],
) -> None:
    """Forget what sending a RESERVE or CREATE recorded; a failed DESTROY or
    UNRESERVE needs nothing: the next offer shows the volume again."""
    for r in op.resources:
        if op.type == "RESERVE":
            k = (agent_id, r.name, r.role)
            left = reserved.get(k, 0.0) - (r.scalar if r.scalar is not None else 0.0)
            if left < _EPSILON:
                reserved.pop(k, None)
            else:
                reserved[k] = left
        elif op.type == "CREATE" and r.persistence_id is not None:
            known = volumes.get(r.persistence_id)
            if known is not None and known.agent_id == agent_id:
                del volumes[r.persistence_id]
