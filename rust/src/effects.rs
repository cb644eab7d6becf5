//! What a step asks the world to do: data for a driver, never a network call.
//! Serialized as msgpack arrays, the type name first (msgspec's `array_like`
//! tagged structs of `ark.effects`).

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_bytes::{ByteArray, ByteBuf};

use crate::health::{HealthCheck, KillPolicy};
use crate::messages::{Operation, PodTask, Resource};
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

/// ACCEPT: run `operations` in order, then launch `launches`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct AcceptOffers {
    pub offer_ids: Vec<String>,
    pub agent_id: Id,
    pub launches: Vec<LaunchTask>,
    pub refuse_seconds: f64,
    /// The role the offers are allocated to; each launch's resources
    /// carry it as `allocation_info` (MULTI_ROLE).
    #[serde(default)]
    pub role: Option<String>,
    /// Offer operations (RESERVE, CREATE, ...), run before the launches.
    #[serde(default)]
    pub operations: Vec<Operation>,
}

impl Serialize for AcceptOffers {
    /// As derived, but trailing fields that are None or empty are left out:
    /// an Accept without a role or operations encodes as it did before they
    /// existed, so flight recordings made then still replay byte for byte.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = if !self.operations.is_empty() {
            6
        } else if self.role.is_some() {
            5
        } else {
            4
        };
        let mut out = serializer.serialize_struct("AcceptOffers", len)?;
        out.serialize_field("offer_ids", &self.offer_ids)?;
        out.serialize_field("agent_id", &self.agent_id)?;
        out.serialize_field("launches", &self.launches)?;
        out.serialize_field("refuse_seconds", &self.refuse_seconds)?;
        if len > 4 {
            out.serialize_field("role", &self.role)?;
        }
        if len > 5 {
            out.serialize_field("operations", &self.operations)?;
        }
        out.end()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReconcileTask {
    pub task_id: TaskId,
    pub agent_id: Option<Id>,
}

/// One operation of a RECONCILE_OPERATIONS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReconcileOperation {
    pub operation_id: Id,
    pub agent_id: Option<Id>,
    pub resource_provider_id: Option<Id>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Effect {
    Accept(AcceptOffers),
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
    /// ACKNOWLEDGE_OPERATION_STATUS of an operation status with a uuid.
    AcknowledgeOperationStatus {
        operation_id: Id,
        agent_id: Option<Id>,
        resource_provider_id: Option<Id>,
        uuid: ByteBuf,
    },
    /// RECONCILE_OPERATIONS of `operations`, sorted by id.
    ReconcileOperations {
        operations: Vec<ReconcileOperation>,
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

    #[test]
    fn an_accept_writes_its_role_when_it_has_operations() {
        use crate::messages::OperationType;
        let mut accept = AcceptOffers {
            offer_ids: vec!["o".into()],
            agent_id: "a".into(),
            launches: vec![],
            refuse_seconds: 5.0,
            role: None,
            operations: vec![],
        };
        let effect = |a: &AcceptOffers| encode(&[Effect::Accept(a.clone())]);
        // The list, then the Accept: its tag and four fields, as before roles.
        assert_eq!(effect(&accept)[1], 0x95);
        accept.operations.push(Operation {
            kind: OperationType::Reserve,
            resources: vec![],
            id: None,
        });
        let bytes = effect(&accept);
        assert_eq!(bytes[1], 0x97, "role written as nil before the operations");
        assert_eq!(decode(&bytes).unwrap(), vec![Effect::Accept(accept)]);
    }
}
