//! What a step asks the world to do: data for a driver, never a network call.
//! Serialized as msgpack arrays, the type name first (msgspec's `array_like`
//! tagged structs of `ark.effects`).

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_bytes::{ByteArray, ByteBuf};

use crate::health::{HealthCheck, KillPolicy};
use crate::messages::{PodTask, Resource};
use crate::state::{Id, TaskId};

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct LaunchTask {
    pub task_id: String,
    pub agent_id: Id,
    pub name: String,
    pub resources: Vec<Resource>,
    pub payload: ByteBuf,
    pub named_ports: Vec<(String, i64)>,
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    #[serde(default)]
    pub kill_policy: Option<KillPolicy>,
    /// A pod's members: one LAUNCH_GROUP under the default executor that
    /// `task_id` names, with `resources` as the executor's.
    #[serde(default)]
    pub pod: Vec<PodTask>,
}

impl LaunchTask {
    /// The tasks this launch starts: itself, or a pod's members.
    pub fn task_ids(&self) -> Vec<&str> {
        if self.pod.is_empty() {
            vec![self.task_id.as_str()]
        } else {
            self.pod.iter().map(|t| t.task_id.as_str()).collect()
        }
    }
}

impl Serialize for LaunchTask {
    /// As derived, but trailing fields that are None or empty are left out:
    /// a plain launch encodes as it did before checks and pods existed, so
    /// flight recordings made then still replay byte for byte.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = if !self.pod.is_empty() {
            9
        } else if self.kill_policy.is_some() {
            8
        } else if self.health_check.is_some() {
            7
        } else {
            6
        };
        let mut out = serializer.serialize_struct("LaunchTask", len)?;
        out.serialize_field("task_id", &self.task_id)?;
        out.serialize_field("agent_id", &self.agent_id)?;
        out.serialize_field("name", &self.name)?;
        out.serialize_field("resources", &self.resources)?;
        out.serialize_field("payload", &self.payload)?;
        out.serialize_field("named_ports", &self.named_ports)?;
        if len > 6 {
            out.serialize_field("health_check", &self.health_check)?;
        }
        if len > 7 {
            out.serialize_field("kill_policy", &self.kill_policy)?;
        }
        if len > 8 {
            out.serialize_field("pod", &self.pod)?;
        }
        out.end()
    }
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
        /// The role the offers are allocated to; each launch's resources
        /// carry it as `allocation_info` (MULTI_ROLE). Left out when None,
        /// so that effects recorded before it still compare equal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
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
    /// ACCEPT_INVERSE_OFFERS, `inverse_offer_ids` sorted.
    AcceptInverseOffers {
        inverse_offer_ids: Vec<Id>,
        refuse_seconds: f64,
    },
    /// DECLINE_INVERSE_OFFERS, `inverse_offer_ids` sorted.
    DeclineInverseOffers {
        inverse_offer_ids: Vec<Id>,
        refuse_seconds: f64,
    },
    /// Push `ReconcileTimeout(round)` after `seconds`.
    Timer {
        round: u32,
        seconds: f64,
    },
    /// UPDATE_FRAMEWORK: the driver applies the parts given to the
    /// FrameworkInfo it subscribes with, and sends the call when subscribed.
    /// `suppressed` is whether the core has suppressed offers: without
    /// `suppressed_roles`, all the roles are suppressed then, none otherwise.
    UpdateFramework {
        roles: Option<Vec<String>>,
        suppressed_roles: Option<Vec<String>>,
        capabilities: Option<Vec<String>>,
        failover_timeout: Option<f64>,
        suppressed: bool,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::KillPolicy;

    fn launch(kill_policy: Option<KillPolicy>) -> LaunchTask {
        LaunchTask {
            task_id: "t".into(),
            agent_id: "a".into(),
            name: String::new(),
            resources: vec![],
            payload: ByteBuf::new(),
            named_ports: vec![],
            health_check: None,
            kill_policy,
            pod: vec![],
        }
    }

    #[test]
    fn a_launch_leaves_out_its_trailing_nones_and_reads_back() {
        let plain = rmp_serde::to_vec(&launch(None)).unwrap();
        assert_eq!(
            plain[0], 0x96,
            "six fields, as before checks and pods existed"
        );
        let policy = launch(Some(KillPolicy {
            grace_period_seconds: 1.0,
        }));
        let bytes = rmp_serde::to_vec(&policy).unwrap();
        assert_eq!(bytes[0], 0x98);
        assert_eq!(rmp_serde::from_slice::<LaunchTask>(&bytes).unwrap(), policy);
        assert_eq!(
            rmp_serde::from_slice::<LaunchTask>(&plain).unwrap(),
            launch(None)
        );
        let mut pod = launch(None);
        pod.pod = vec![PodTask {
            task_id: "t.app".into(),
            resources: vec![],
            name: String::new(),
            payload: vec![],
            health_check: None,
            kill_policy: None,
        }];
        let bytes = rmp_serde::to_vec(&pod).unwrap();
        assert_eq!(
            bytes[0], 0x99,
            "a pod writes every field before its members"
        );
        assert_eq!(rmp_serde::from_slice::<LaunchTask>(&bytes).unwrap(), pod);
    }
}
