//! What a step asks the world to do: data for a driver, never a network call.
//! Serialized as msgpack arrays, the type name first (msgspec's `array_like`
//! tagged structs of `ark.effects`).

use serde::{Deserialize, Serialize};
use serde_bytes::{ByteArray, ByteBuf};

use crate::messages::{Operation, Resource};
use crate::state::{Id, TaskId};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaunchTask {
    pub task_id: String,
    pub agent_id: Id,
    pub name: String,
    pub resources: Vec<Resource>,
    pub payload: ByteBuf,
    pub named_ports: Vec<(String, i64)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReconcileTask {
    pub task_id: TaskId,
    pub agent_id: Option<Id>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Effect {
    Accept {
        offer_ids: Vec<String>,
        agent_id: Id,
        launches: Vec<LaunchTask>,
        refuse_seconds: f64,
        /// Run before the launches, in order; left out when empty, so that
        /// recorded effects replay byte for byte.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        operations: Vec<Operation>,
    },
    /// `offer_ids` sorted.
    Decline {
        offer_ids: Vec<Id>,
        refuse_seconds: f64,
    },
    Kill {
        task_id: TaskId,
        agent_id: Option<Id>,
    },
    /// Explicit for the listed tasks (sorted by id); implicit when empty.
    Reconcile {
        tasks: Vec<ReconcileTask>,
    },
    Acknowledge {
        agent_id: Id,
        task_id: TaskId,
        uuid: ByteArray<16>,
    },
    Suppress,
    Revive,
    Message {
        agent_id: String,
        executor_id: String,
        data: ByteBuf,
    },
    /// Push `ReconcileTimeout(round)` after `seconds`.
    Timer {
        round: u32,
        seconds: f64,
    },
    /// Tasks that never answered reconciliation, sorted.
    Unreconciled {
        task_ids: Vec<TaskId>,
    },
}

/// Encode effects as the msgpack list `ark.effects.decode_effects` reads:
/// each effect an array, its tag first (`array_like`, as messages are).
pub fn encode(effects: &[Effect]) -> Vec<u8> {
    rmp_serde::to_vec(effects).expect("effects are plain data and always encode")
}

/// Decode what `encode` wrote (and `ark.effects` writes): effects handed back
/// to the core to be sent.
pub fn decode(data: &[u8]) -> Result<Vec<Effect>, String> {
    rmp_serde::from_slice(data).map_err(|e| format!("bad effects: {e}"))
}
