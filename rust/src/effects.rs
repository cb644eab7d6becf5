//! What a step asks the world to do: data for a driver, never a network call.
//! Serialized as msgpack maps tagged `"type"`, the shapes of `ark.effects`.

use serde::Serialize;
use serde_bytes::ByteBuf;

use crate::messages::Resource;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LaunchTask {
    pub task_id: String,
    pub agent_id: String,
    pub name: String,
    pub resources: Vec<Resource>,
    pub payload: ByteBuf,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReconcileTask {
    pub task_id: String,
    pub agent_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Effect {
    Accept {
        offer_ids: Vec<String>,
        agent_id: String,
        launches: Vec<LaunchTask>,
        refuse_seconds: f64,
    },
    /// `offer_ids` sorted.
    Decline {
        offer_ids: Vec<String>,
        refuse_seconds: f64,
    },
    Kill {
        task_id: String,
        agent_id: Option<String>,
    },
    /// Explicit for the listed tasks (sorted by id); implicit when empty.
    Reconcile { tasks: Vec<ReconcileTask> },
    Acknowledge {
        agent_id: String,
        task_id: String,
        uuid: ByteBuf,
    },
    Suppress,
    Revive,
    Message {
        agent_id: String,
        executor_id: String,
        data: ByteBuf,
    },
    /// Push `ReconcileTimeout(round)` after `seconds`.
    Timer { round: u32, seconds: f64 },
    /// Tasks that never answered reconciliation, sorted.
    Unreconciled { task_ids: Vec<String> },
}

/// Encode effects as the msgpack list `ark.effects.decode_effects` reads.
pub fn encode(effects: &[Effect]) -> Vec<u8> {
    rmp_serde::to_vec_named(effects).expect("effects are plain data and always encode")
}
