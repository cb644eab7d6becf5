//! Operation feedback: offer operations with an id are tracked from the
//! ACCEPT that sends them to their last UPDATE_OPERATION_STATUS, whose
//! updates with a uuid are acknowledged, and those still open are
//! reconciled with RECONCILE_OPERATIONS when task reconciliation starts.
//! A RESERVE or CREATE that fails is undone in `reserved` and `volumes`,
//! which recorded it when it was sent. See docs/reducer.md, Operation
//! feedback (Mesos's docs/operation-feedback.md).

use std::sync::Arc;

use serde_bytes::ByteBuf;

use super::Reducer;
use crate::effects::{Effect, ReconcileOperation};
use crate::error::CoreError;
use crate::messages::{Operation, OperationState, OperationStatus, OperationType};
use crate::resources;
use crate::state::{Id, OperationRecord, State, Stranded, TaskId};

/// The id the matcher gives an operation it plans for a task's volume:
/// `ark-reserve-<task id>`, `ark-create-<task id>`.
pub(super) fn planned_id(kind: OperationType, task_id: &str) -> String {
    format!("ark-{}-{task_id}", kind.name().to_ascii_lowercase())
}

/// The id of a DESTROY or UNRESERVE that gives a volume up, on one offer:
/// `ark-destroy-<persistence id>-<offer id>`, `ark-unreserve-...`.
pub(super) fn release_id(kind: OperationType, persistence_id: &str, offer_id: &str) -> String {
    format!(
        "ark-{}-{persistence_id}-{offer_id}",
        kind.name().to_ascii_lowercase()
    )
}

/// The id of an UNRESERVE that gives back, on one offer, the reservation
/// of a task's volume whose CREATE failed: `ark-unreserve-stranded-<task id>-<offer id>`.
pub(super) fn stranded_id(task_id: &str, offer_id: &str) -> String {
    format!("ark-unreserve-stranded-{task_id}-{offer_id}")
}

/// Record the operations with an id that an ACCEPT on `agent_id` sends:
/// OPERATION_PENDING until Mesos says more.
pub(super) fn sent(state: &mut State, agent_id: &Id, operations: &[Operation]) {
    for op in operations {
        let Some(id) = op.id.as_deref() else {
            continue;
        };
        let record = OperationRecord {
            agent_id: Some(agent_id.clone()),
            resource_provider_id: None,
            state: OperationState::Pending,
            message: None,
            sent: Some(Arc::new(op.clone())),
        };
        state.operations.insert(Id::from(id), record);
    }
}

/// RECONCILE_OPERATIONS of the operations not yet terminal, if any.
pub(super) fn reconcile(state: &State, out: &mut Vec<Effect>) {
    let operations: Vec<ReconcileOperation> = (state.operations.iter())
        .filter(|(_, op)| !op.state.is_terminal())
        .map(|(id, op)| ReconcileOperation {
            operation_id: id.clone(),
            agent_id: op.agent_id.clone(),
            resource_provider_id: op.resource_provider_id.clone(),
        })
        .collect();
    if !operations.is_empty() {
        out.push(Effect::ReconcileOperations { operations });
    }
}

impl Reducer {
    /// UPDATE_OPERATION_STATUS: record the status unless the operation has
    /// ended already, undo a failed RESERVE or CREATE, and acknowledge a
    /// status with a uuid (each time it comes: a repeat means the
    /// acknowledgement was lost).
    pub(super) fn operation_update(
        &mut self,
        status: OperationStatus,
        out: &mut Vec<Effect>,
    ) -> Result<(), CoreError> {
        let uuid = match &status.uuid {
            Some(uuid) if uuid.len() != 16 => {
                return Err(CoreError::Message(format!(
                    "the status of operation {:?} has a uuid of {} bytes, not 16",
                    status.operation_id,
                    uuid.len()
                )))
            }
            Some(_) if status.agent_id.is_none() && status.resource_provider_id.is_none() => {
                return Err(CoreError::Message(format!(
                    "the status of operation {:?} has a uuid to acknowledge but neither \
                     agent_id nor resource_provider_id",
                    status.operation_id
                )))
            }
            uuid => uuid.clone(),
        };
        let state = &mut self.state;
        let id = Id::from(status.operation_id.as_str());
        let agent_id = status.agent_id.as_deref().map(Id::from);
        let provider = status.resource_provider_id.as_deref().map(Id::from);
        let previous = state.operations.get(&id).cloned();
        let ended = previous.as_ref().is_some_and(|r| r.state.is_terminal());
        if !ended {
            let sent = previous.as_ref().and_then(|r| r.sent.clone());
            let record = OperationRecord {
                agent_id: agent_id
                    .clone()
                    .or_else(|| previous.as_ref().and_then(|r| r.agent_id.clone())),
                resource_provider_id: provider.clone().or_else(|| {
                    previous
                        .as_ref()
                        .and_then(|r| r.resource_provider_id.clone())
                }),
                state: status.state,
                message: status.message.as_deref().map(Arc::from),
                sent,
            };
            if failed(status.state) {
                if let (Some(op), Some(agent)) = (&record.sent, &record.agent_id) {
                    undo(state, agent, op);
                    strand(state, &id, agent, op);
                }
            }
            state.operations.insert(id.clone(), record);
        }
        state.revive_to_give_back(out);
        if let Some(uuid) = uuid {
            out.push(Effect::AcknowledgeOperationStatus {
                operation_id: id,
                agent_id,
                resource_provider_id: provider,
                uuid: ByteBuf::from(uuid),
            });
        }
        Ok(())
    }
}

/// The terminal states of an operation that did not apply.
fn failed(state: OperationState) -> bool {
    state.is_terminal() && state != OperationState::Finished
}

/// Forget what sending a RESERVE or CREATE recorded: the reservation, the
/// volume (if the core still places it on that agent). A DESTROY or
/// UNRESERVE that fails needs nothing: the next offer shows the volume again.
fn undo(state: &mut State, agent_id: &Id, op: &Operation) {
    for r in &op.resources {
        match op.kind {
            OperationType::Reserve => {
                let key = (
                    agent_id.clone(),
                    Id::from(r.name.as_str()),
                    Id::from(r.role.as_str()),
                );
                let left =
                    state.reserved.get(&key).copied().unwrap_or(0.0) - r.scalar.unwrap_or(0.0);
                if left < resources::EPSILON {
                    state.reserved.remove(&key);
                } else {
                    state.reserved.insert(key, left);
                }
            }
            OperationType::Create => {
                let Some(pid) = r.persistence_id.as_deref() else {
                    continue;
                };
                if state
                    .volumes
                    .get(pid)
                    .is_some_and(|v| v.agent_id == *agent_id)
                {
                    state.volumes.remove(pid);
                }
            }
            OperationType::Unreserve | OperationType::Destroy => {}
        }
    }
}

/// A planned CREATE failed (`op_id` is `ark-create-<task>`) while its
/// RESERVE did not: that reservation is left without a volume, and is given
/// back when offered. A planned RESERVE that fails leaves nothing to give back.
fn strand(state: &mut State, op_id: &Id, agent_id: &Id, op: &Operation) {
    match op.kind {
        OperationType::Reserve => {
            state.stranded.remove(op_id);
        }
        OperationType::Create => {
            let create = planned_id(OperationType::Create, "");
            let Some(task_id) = op_id.strip_prefix(create.as_str()) else {
                return;
            };
            let reserve_id = Id::from(planned_id(OperationType::Reserve, task_id));
            let Some(reserve) = state.operations.get(&reserve_id) else {
                return;
            };
            let reserved = reserve
                .sent
                .as_deref()
                .and_then(|r| match &r.resources[..] {
                    [resource] => Some(resource.clone()),
                    _ => None,
                });
            let ours = reserve.agent_id.as_ref() == Some(agent_id) && !failed(reserve.state);
            if let (true, Some(resource)) = (ours, reserved) {
                let stranded = Stranded {
                    agent_id: agent_id.clone(),
                    task_id: TaskId::from(task_id),
                    resource: Arc::new(resource),
                };
                state.stranded.insert(reserve_id, stranded);
            }
        }
        OperationType::Unreserve | OperationType::Destroy => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Message, Reservation, ReservationType, Resource};
    use crate::reducer::tests::{cpus, offer, step, subscribed};

    fn reserved_disk() -> Resource {
        let mut disk = Resource::scalar("disk", 64.0, "db");
        disk.reservations = vec![Reservation {
            role: "db".into(),
            principal: None,
            labels: Vec::new(),
            kind: ReservationType::Dynamic,
        }];
        disk
    }

    fn status(state: OperationState, uuid: Option<Vec<u8>>) -> Message<'static> {
        Message::OperationUpdate(OperationStatus {
            operation_id: "r".into(),
            state,
            message: None,
            agent_id: uuid.as_ref().map(|_| "a1".into()),
            resource_provider_id: None,
            uuid,
        })
    }

    /// A RESERVE with id `r` accepted on a1.
    fn reserved() -> Reducer {
        let mut r = Reducer::default();
        step(&mut r, subscribed(), 0.0);
        let free = vec![cpus(1.0), Resource::scalar("disk", 100.0, "*")];
        step(&mut r, Message::Offers(vec![offer("o1", "a1", free)]), 1.0);
        let accept = Message::Accept {
            offer_ids: vec!["o1".into()],
            launches: Vec::new(),
            refuse_seconds: 5.0,
            operations: vec![Operation {
                kind: OperationType::Reserve,
                resources: vec![reserved_disk()],
                id: Some("r".into()),
            }],
        };
        step(&mut r, accept, 2.0);
        assert_eq!(r.state.operations["r"].state, OperationState::Pending);
        assert_eq!(r.state.reserved.len(), 1);
        r
    }

    #[test]
    fn a_finished_status_is_acknowledged_each_time_and_an_ended_one_stands() {
        let mut r = reserved();
        let uuid = vec![7u8; 16];
        for now in [3.0, 4.0] {
            let out = step(
                &mut r,
                status(OperationState::Finished, Some(uuid.clone())),
                now,
            );
            assert!(matches!(
                &out[..],
                [Effect::AcknowledgeOperationStatus { operation_id, agent_id: Some(a), .. }]
                    if &**operation_id == "r" && &**a == "a1"
            ));
        }
        assert!(step(&mut r, status(OperationState::Unknown, None), 5.0).is_empty());
        assert_eq!(r.state.operations["r"].state, OperationState::Finished);
        assert_eq!(r.state.reserved.len(), 1);
    }

    #[test]
    fn a_failed_reserve_is_forgotten_and_open_ones_are_reconciled() {
        let mut r = reserved();
        let out = step(&mut r, subscribed(), 3.0);
        assert!(matches!(
            out.last(),
            Some(Effect::ReconcileOperations { operations }) if operations.len() == 1
        ));
        assert!(step(&mut r, status(OperationState::Error, None), 4.0).is_empty());
        assert!(r.state.reserved.is_empty());
        let out = step(&mut r, subscribed(), 5.0);
        assert!(!out
            .iter()
            .any(|e| matches!(e, Effect::ReconcileOperations { .. })));
    }

    #[test]
    fn a_uuid_of_the_wrong_size_changes_nothing() {
        let mut r = reserved();
        let mut out = Vec::new();
        let bad = status(OperationState::Finished, Some(vec![1, 2, 3]));
        assert!(r.step(bad, 3.0, &mut out).is_err());
        assert!(out.is_empty());
        assert_eq!(r.state.operations["r"].state, OperationState::Pending);
    }
}
