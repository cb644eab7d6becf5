//! The messages the loop accepts, decoded from the msgpack that
//! `ark.messages` (msgspec, `array_like`) writes: `[tag, field, ...]`, each
//! struct as the array of its fields in declaration order, so every struct
//! here declares its fields in the order of its Python twin.
//!
//! Decoding reads the tag, then hands the rest of the array straight to the
//! variant's struct, so nothing is buffered on the way.
//!
//! Over 600 lines with its tests, and one file on purpose: it is the twin of
//! `ark.messages`, and each variant's wire struct sits next to the decoder
//! that picks it, so a field added on one side is found on the other.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::health::{self, HealthCheck, KillPolicy};
use crate::request::StoredRequest;

/// A Mesos task state (`mesos.v1.TaskState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskState {
    #[serde(rename = "TASK_STAGING")]
    Staging,
    #[serde(rename = "TASK_STARTING")]
    Starting,
    #[serde(rename = "TASK_RUNNING")]
    Running,
    #[serde(rename = "TASK_KILLING")]
    Killing,
    #[serde(rename = "TASK_FINISHED")]
    Finished,
    #[serde(rename = "TASK_FAILED")]
    Failed,
    #[serde(rename = "TASK_KILLED")]
    Killed,
    #[serde(rename = "TASK_ERROR")]
    Error,
    #[serde(rename = "TASK_LOST")]
    Lost,
    #[serde(rename = "TASK_DROPPED")]
    Dropped,
    #[serde(rename = "TASK_UNREACHABLE")]
    Unreachable,
    #[serde(rename = "TASK_GONE")]
    Gone,
    #[serde(rename = "TASK_GONE_BY_OPERATOR")]
    GoneByOperator,
    #[serde(rename = "TASK_UNKNOWN")]
    Unknown,
}

impl TaskState {
    /// Mesos never reports a task again after these; UNREACHABLE and UNKNOWN
    /// are not among them because the task may still run.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Finished
                | TaskState::Failed
                | TaskState::Killed
                | TaskState::Error
                | TaskState::Lost
                | TaskState::Dropped
                | TaskState::Gone
                | TaskState::GoneByOperator
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            TaskState::Staging => "TASK_STAGING",
            TaskState::Starting => "TASK_STARTING",
            TaskState::Running => "TASK_RUNNING",
            TaskState::Killing => "TASK_KILLING",
            TaskState::Finished => "TASK_FINISHED",
            TaskState::Failed => "TASK_FAILED",
            TaskState::Killed => "TASK_KILLED",
            TaskState::Error => "TASK_ERROR",
            TaskState::Lost => "TASK_LOST",
            TaskState::Dropped => "TASK_DROPPED",
            TaskState::Unreachable => "TASK_UNREACHABLE",
            TaskState::Gone => "TASK_GONE",
            TaskState::GoneByOperator => "TASK_GONE_BY_OPERATOR",
            TaskState::Unknown => "TASK_UNKNOWN",
        }
    }
}

/// Who produced a status update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    #[serde(rename = "SOURCE_MASTER")]
    Master,
    #[serde(rename = "SOURCE_AGENT")]
    Agent,
    #[serde(rename = "SOURCE_EXECUTOR")]
    Executor,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub name: String,
    #[serde(default)]
    pub scalar: Option<f64>,
    #[serde(default)]
    pub ranges: Option<Vec<(i64, i64)>>,
    #[serde(default)]
    pub set: Option<Vec<String>>,
    #[serde(default = "any_role")]
    pub role: String,
    /// The reservation stack, empty when unreserved (`ark.messages.Reservation`).
    #[serde(default)]
    pub reservations: Vec<Reservation>,
    /// `disk.persistence.id`: this disk is a persistent volume.
    #[serde(default)]
    pub persistence_id: Option<String>,
    /// `disk.volume.container_path` of a persistent volume.
    #[serde(default)]
    pub container_path: Option<String>,
}

impl Serialize for Resource {
    /// A plain resource is written as its first five fields, as before the
    /// reservation fields existed, so recorded effects replay byte for byte.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let plain = self.reservations.is_empty()
            && self.persistence_id.is_none()
            && self.container_path.is_none();
        let mut out = s.serialize_struct("Resource", if plain { 5 } else { 8 })?;
        out.serialize_field("name", &self.name)?;
        out.serialize_field("scalar", &self.scalar)?;
        out.serialize_field("ranges", &self.ranges)?;
        out.serialize_field("set", &self.set)?;
        out.serialize_field("role", &self.role)?;
        if !plain {
            out.serialize_field("reservations", &self.reservations)?;
            out.serialize_field("persistence_id", &self.persistence_id)?;
            out.serialize_field("container_path", &self.container_path)?;
        }
        out.end()
    }
}

impl Resource {
    /// An unreserved, plain resource of `role` with one scalar.
    pub fn scalar(name: &str, amount: f64, role: &str) -> Self {
        Resource {
            name: name.to_owned(),
            scalar: Some(amount),
            ranges: None,
            set: None,
            role: role.to_owned(),
            reservations: Vec::new(),
            persistence_id: None,
            container_path: None,
        }
    }
}

/// How a reservation was made (`Resource.ReservationInfo.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReservationType {
    #[serde(rename = "STATIC")]
    Static,
    #[serde(rename = "DYNAMIC")]
    Dynamic,
}

fn dynamic() -> ReservationType {
    ReservationType::Dynamic
}

/// One level of a reservation (`Resource.ReservationInfo`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    pub role: String,
    #[serde(default)]
    pub principal: Option<String>,
    #[serde(default)]
    pub labels: Vec<(String, String)>,
    #[serde(rename = "type", default = "dynamic")]
    pub kind: ReservationType,
}

/// The kind of an offer operation (`Offer.Operation.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationType {
    #[serde(rename = "RESERVE")]
    Reserve,
    #[serde(rename = "UNRESERVE")]
    Unreserve,
    #[serde(rename = "CREATE")]
    Create,
    #[serde(rename = "DESTROY")]
    Destroy,
}

impl OperationType {
    pub fn name(self) -> &'static str {
        match self {
            OperationType::Reserve => "RESERVE",
            OperationType::Unreserve => "UNRESERVE",
            OperationType::Create => "CREATE",
            OperationType::Destroy => "DESTROY",
        }
    }
}

/// An offer operation of an Accept (`ark.messages.Operation`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    #[serde(rename = "type")]
    pub kind: OperationType,
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub id: Option<String>,
}

fn any_role() -> String {
    "*".to_owned()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    pub name: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub scalar: Option<f64>,
    #[serde(default)]
    pub ranges: Option<Vec<(i64, i64)>>,
    #[serde(default)]
    pub set: Option<Vec<String>>,
}

/// When an agent's machine is scheduled down (`mesos.v1.Unavailability`):
/// `start` in seconds since the epoch, `duration` in seconds (`None`: it does
/// not come back).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unavailability {
    pub start: f64,
    #[serde(default)]
    pub duration: Option<f64>,
}

impl Unavailability {
    /// Whether the window has begun by `now + margin` and not ended by `now`
    /// (`ark.messages.Unavailability.covers`).
    pub fn covers(&self, now: f64, margin: f64) -> bool {
        if self.start > now + margin {
            return false;
        }
        self.duration.map_or(true, |d| now < self.start + d)
    }
}

/// Mesos asks for an agent back (`ark.messages.InverseOffer`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InverseOffer {
    pub id: String,
    pub agent_id: String,
    pub unavailability: Unavailability,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    pub id: String,
    pub agent_id: String,
    pub hostname: String,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    /// The role the offer is allocated to (`Offer.allocation_info.role`).
    #[serde(default)]
    pub role: Option<String>,
    /// Set when the agent's machine is scheduled for maintenance.
    #[serde(default)]
    pub unavailability: Option<Unavailability>,
}

/// A status update. Its strings borrow from the message bytes: updates are
/// most of the traffic, and copying their ids would be most of the work.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskStatus<'a> {
    #[serde(borrow)]
    pub task_id: &'a str,
    pub state: TaskState,
    #[serde(default, borrow)]
    pub agent_id: Option<&'a str>,
    #[serde(default, borrow)]
    #[allow(dead_code)] // decoded to validate it; the user's hook may want it
    pub executor_id: Option<&'a str>,
    #[serde(default, borrow)]
    pub reason: Option<&'a str>,
    #[serde(default)]
    pub source: Option<Source>,
    #[serde(default, borrow)]
    pub message: Option<&'a str>,
    #[serde(default, borrow)]
    pub uuid: Option<&'a [u8]>,
    #[serde(default)]
    pub timestamp: Option<f64>,
    #[serde(default)]
    pub healthy: Option<bool>,
}

/// An offer operation's state (`mesos.v1.OperationState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationState {
    #[serde(rename = "OPERATION_UNSUPPORTED")]
    Unsupported,
    #[serde(rename = "OPERATION_PENDING")]
    Pending,
    #[serde(rename = "OPERATION_FINISHED")]
    Finished,
    #[serde(rename = "OPERATION_FAILED")]
    Failed,
    #[serde(rename = "OPERATION_ERROR")]
    Error,
    #[serde(rename = "OPERATION_DROPPED")]
    Dropped,
    #[serde(rename = "OPERATION_UNREACHABLE")]
    Unreachable,
    #[serde(rename = "OPERATION_GONE_BY_OPERATOR")]
    GoneByOperator,
    #[serde(rename = "OPERATION_RECOVERING")]
    Recovering,
    #[serde(rename = "OPERATION_UNKNOWN")]
    Unknown,
}

impl OperationState {
    /// Mesos never reports the operation again after these.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OperationState::Finished
                | OperationState::Failed
                | OperationState::Error
                | OperationState::Dropped
                | OperationState::GoneByOperator
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            OperationState::Unsupported => "OPERATION_UNSUPPORTED",
            OperationState::Pending => "OPERATION_PENDING",
            OperationState::Finished => "OPERATION_FINISHED",
            OperationState::Failed => "OPERATION_FAILED",
            OperationState::Error => "OPERATION_ERROR",
            OperationState::Dropped => "OPERATION_DROPPED",
            OperationState::Unreachable => "OPERATION_UNREACHABLE",
            OperationState::GoneByOperator => "OPERATION_GONE_BY_OPERATOR",
            OperationState::Recovering => "OPERATION_RECOVERING",
            OperationState::Unknown => "OPERATION_UNKNOWN",
        }
    }
}

/// An operation status update (`ark.messages.OperationStatus`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationStatus {
    pub operation_id: String,
    pub state: OperationState,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub resource_provider_id: Option<String>,
    #[serde(default, with = "serde_bytes")]
    pub uuid: Option<Vec<u8>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Launch {
    pub task_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default, with = "serde_bytes")]
    pub payload: Vec<u8>,
    /// Which port each name got (from the matcher, or the user's own labels).
    #[serde(default)]
    pub named_ports: Vec<(String, i64)>,
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    #[serde(default)]
    pub kill_policy: Option<KillPolicy>,
    /// A pod's members: `task_id` then names the default executor and
    /// `resources` are its own (see docs/reducer.md, **Pods**).
    #[serde(default)]
    pub pod: Vec<PodTask>,
}

/// One task of a pod, as `ark.messages.PodTask`, owned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodTask {
    pub task_id: String,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub name: String,
    #[serde(default, with = "serde_bytes")]
    pub payload: Vec<u8>,
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    #[serde(default)]
    pub kill_policy: Option<KillPolicy>,
}

fn default_refuse() -> f64 {
    5.0
}

/// One message of the loop; the variants and their fields mirror `ark.messages`.
#[derive(Clone, Debug)]
pub enum Message<'a> {
    Subscribed {
        framework_id: String,
        heartbeat_interval_seconds: Option<f64>,
    },
    Reregistered,
    Offers(Vec<Offer>),
    Rescind {
        offer_id: String,
    },
    Update(TaskStatus<'a>),
    FrameworkMessage,
    Failure {
        agent_id: String,
        executor_id: Option<String>,
    },
    Error {
        message: String,
    },
    Heartbeat,
    Disconnected,
    ReconcileTick,
    ReconcileTimeout {
        /// Any integer: one that is not the current round is ignored.
        round: i64,
    },
    Tick,
    Accept {
        offer_ids: Vec<String>,
        launches: Vec<Launch>,
        refuse_seconds: f64,
        operations: Vec<Operation>,
    },
    Decline {
        offer_ids: Vec<String>,
        refuse_seconds: f64,
    },
    Kill {
        task_id: String,
    },
    /// Give a task's reservation and volume up and place it afresh.
    Replace {
        task_id: String,
    },
    /// Task requests for the matcher, decoded once here and kept so in the
    /// demand until placed or withdrawn.
    Request {
        tasks: Vec<StoredRequest>,
    },
    Withdraw {
        task_ids: Vec<String>,
    },
    Blacklist {
        agent_ids: Vec<String>,
    },
    /// A task known from the store (launched by an earlier leader): tracked so
    /// that reconciliation asks Mesos about it.
    Track {
        task_id: String,
        agent_id: Option<String>,
        /// The request it was placed from, as the store kept it: what a
        /// placed request gives is restored from it (docs/reducer.md, Track).
        request: Option<Arc<StoredRequest>>,
    },
    Reconcile,
    Suppress,
    Revive,
    SendMessage {
        agent_id: String,
        executor_id: String,
        data: Vec<u8>,
    },
    /// Change the subscribed framework's info without a failover (see
    /// docs/reducer.md, **Roles**); `None` leaves a part as it is.
    UpdateFramework {
        roles: Option<Vec<String>>,
        suppressed_roles: Option<Vec<String>>,
        capabilities: Option<Vec<String>>,
        failover_timeout: Option<f64>,
    },
    /// Maintenance (docs/reducer.md, **Maintenance**).
    InverseOffers(Vec<InverseOffer>),
    RescindInverseOffer {
        inverse_offer_id: String,
    },
    AcceptInverseOffers {
        inverse_offer_ids: Vec<String>,
        refuse_seconds: f64,
    },
    DeclineInverseOffers {
        inverse_offer_ids: Vec<String>,
        refuse_seconds: f64,
    },
    /// Replace the tasks of `group` with `instances` copies of `template`,
    /// a few at a time (docs/reducer.md, **Deployments**).
    Deploy {
        group: String,
        template: StoredRequest,
        instances: u32,
        minimum_health_capacity: f64,
        maximum_over_capacity: f64,
        max_failures: u32,
    },
    /// A deployment from the store, as an earlier leader left it.
    ResumeDeployment {
        group: String,
        deployment: crate::state::Deployment,
    },
    /// A volume a Replace was giving up when the leader changed, from the store.
    ResumeRelease {
        persistence_id: crate::state::Id,
        volume: crate::state::Volume,
    },
    /// Roll back the running deployment of `group`.
    CancelDeployment {
        group: String,
    },
    /// UPDATE_OPERATION_STATUS (docs/reducer.md, **Operation feedback**).
    OperationUpdate(OperationStatus),
    Custom,
}

impl<'a> Message<'a> {
    /// Decode one message; every failure is a [`CoreError::Message`].
    pub fn decode(bytes: &'a [u8]) -> Result<Message<'a>, CoreError> {
        rmp_serde::from_slice(bytes).map_err(|e| CoreError::Message(e.to_string()))
    }
}

// The wire structs of each variant: derived, so field names, defaults and
// unknown-field checks are declared once.
mod wire {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Subscribed {
        pub framework_id: String,
        #[serde(default)]
        pub heartbeat_interval_seconds: Option<f64>,
        #[serde(default)]
        #[allow(dead_code)] // decoded to validate it; the reducer has no use for it
        pub master_id: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Reregistered {
        #[serde(default)]
        #[allow(dead_code)] // decoded to validate it
        pub master_id: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Offers {
        pub offers: Vec<Offer>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Rescind {
        pub offer_id: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Update<'a> {
        #[serde(borrow)]
        pub status: TaskStatus<'a>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct FrameworkMessage {
        #[allow(dead_code)] // decoded to validate it: the message is for user hooks
        pub agent_id: String,
        #[allow(dead_code)]
        pub executor_id: String,
        #[serde(with = "serde_bytes")]
        #[allow(dead_code)]
        pub data: Vec<u8>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Failure {
        pub agent_id: String,
        #[serde(default)]
        pub executor_id: Option<String>,
        #[serde(default)]
        #[allow(dead_code)] // decoded to validate it
        pub status: Option<i64>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ErrorEvent {
        pub message: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Empty {}

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ReconcileTimeout {
        pub round: i64,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Accept {
        pub offer_ids: Vec<String>,
        pub launches: Vec<Launch>,
        #[serde(default = "default_refuse")]
        pub refuse_seconds: f64,
        #[serde(default)]
        pub operations: Vec<Operation>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Decline {
        pub offer_ids: Vec<String>,
        #[serde(default = "default_refuse")]
        pub refuse_seconds: f64,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Kill {
        pub task_id: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Replace {
        pub task_id: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ResumeRelease {
        pub persistence_id: String,
        pub agent_id: String,
        pub role: String,
        pub size: f64,
        #[serde(default)]
        pub container_path: Option<String>,
        #[serde(default)]
        pub principal: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Request<'a> {
        #[serde(borrow)]
        pub tasks: Vec<crate::request::TaskRequest<'a>>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Withdraw {
        pub task_ids: Vec<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Blacklist {
        pub agent_ids: Vec<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Track<'a> {
        pub task_id: String,
        #[serde(default)]
        pub agent_id: Option<String>,
        #[serde(default, borrow)]
        pub request: Option<crate::request::TaskRequest<'a>>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SendMessage {
        pub agent_id: String,
        pub executor_id: String,
        #[serde(with = "serde_bytes")]
        pub data: Vec<u8>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct UpdateFramework {
        #[serde(default)]
        pub roles: Option<Vec<String>>,
        #[serde(default)]
        pub suppressed_roles: Option<Vec<String>>,
        #[serde(default)]
        pub capabilities: Option<Vec<String>>,
        #[serde(default)]
        pub failover_timeout: Option<f64>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct InverseOffers {
        pub inverse_offers: Vec<InverseOffer>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Deploy<'a> {
        pub group: String,
        #[serde(borrow)]
        pub template: crate::request::TaskRequest<'a>,
        /// Any integer: the range is checked with the rest of the deployment.
        pub instances: i64,
        #[serde(default = "one")]
        pub minimum_health_capacity: f64,
        #[serde(default = "one")]
        pub maximum_over_capacity: f64,
        #[serde(default = "three")]
        pub max_failures: i64,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ResumeDeployment<'a> {
        pub group: String,
        #[serde(borrow)]
        pub template: crate::request::TaskRequest<'a>,
        pub instances: i64,
        pub minimum_health_capacity: f64,
        pub maximum_over_capacity: f64,
        pub max_failures: i64,
        #[serde(borrow)]
        pub previous: Option<crate::request::TaskRequest<'a>>,
        pub failures: i64,
        pub phase: crate::state::DeploymentPhase,
    }

    fn one() -> f64 {
        1.0
    }

    fn three() -> i64 {
        3
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RescindInverseOffer {
        pub inverse_offer_id: String,
    }

    /// AcceptInverseOffers and DeclineInverseOffers.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct AnswerInverseOffers {
        pub inverse_offer_ids: Vec<String>,
        #[serde(default = "default_refuse")]
        pub refuse_seconds: f64,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct OperationUpdate {
        pub status: super::OperationStatus,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct CancelDeployment {
        pub group: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct CustomEnvelope {
        #[allow(dead_code)] // decoded to validate it: the body is for user hooks
        pub kind: String,
        #[serde(with = "serde_bytes")]
        #[allow(dead_code)]
        pub body: Vec<u8>,
    }
}

impl<'de> Deserialize<'de> for Message<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(MessageVisitor)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Message<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array whose first item is the message type")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Message<'de>, A::Error> {
        let tag: &str = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("an empty array is no message"))?;
        let rest = de::value::SeqAccessDeserializer::new(seq);
        fn body<'de, T: Deserialize<'de>, S: SeqAccess<'de>>(
            rest: de::value::SeqAccessDeserializer<S>,
        ) -> Result<T, S::Error> {
            T::deserialize(rest)
        }
        Ok(match tag {
            "Subscribed" => {
                let w: wire::Subscribed = body(rest)?;
                Message::Subscribed {
                    framework_id: w.framework_id,
                    heartbeat_interval_seconds: w.heartbeat_interval_seconds,
                }
            }
            "Reregistered" => {
                body::<wire::Reregistered, _>(rest)?;
                Message::Reregistered
            }
            "Offers" => Message::Offers(body::<wire::Offers, _>(rest)?.offers),
            "Rescind" => Message::Rescind {
                offer_id: body::<wire::Rescind, _>(rest)?.offer_id,
            },
            "Update" => Message::Update(body::<wire::Update<'de>, _>(rest)?.status),
            "FrameworkMessage" => {
                body::<wire::FrameworkMessage, _>(rest)?;
                Message::FrameworkMessage
            }
            "Failure" => {
                let w: wire::Failure = body(rest)?;
                Message::Failure {
                    agent_id: w.agent_id,
                    executor_id: w.executor_id,
                }
            }
            "Error" => Message::Error {
                message: body::<wire::ErrorEvent, _>(rest)?.message,
            },
            "ReconcileTimeout" => Message::ReconcileTimeout {
                round: body::<wire::ReconcileTimeout, _>(rest)?.round,
            },
            "Accept" => {
                let w: wire::Accept = body(rest)?;
                for l in &w.launches {
                    let problem = health::problem(
                        &l.task_id,
                        l.health_check.as_ref(),
                        l.kill_policy.as_ref(),
                    );
                    if let Some(problem) = problem {
                        return Err(de::Error::custom(problem));
                    }
                }
                Message::Accept {
                    offer_ids: w.offer_ids,
                    launches: w.launches,
                    refuse_seconds: w.refuse_seconds,
                    operations: w.operations,
                }
            }
            "Decline" => {
                let w: wire::Decline = body(rest)?;
                Message::Decline {
                    offer_ids: w.offer_ids,
                    refuse_seconds: w.refuse_seconds,
                }
            }
            "Kill" => Message::Kill {
                task_id: body::<wire::Kill, _>(rest)?.task_id,
            },
            "Replace" => Message::Replace {
                task_id: body::<wire::Replace, _>(rest)?.task_id,
            },
            "Request" => {
                let w: wire::Request = body(rest)?;
                let tasks = w
                    .tasks
                    .iter()
                    .map(|t| match t.problem() {
                        Some(problem) => Err(de::Error::custom(problem)),
                        None => Ok(StoredRequest::from(t)),
                    })
                    .collect::<Result<_, _>>()?;
                Message::Request { tasks }
            }
            "Withdraw" => Message::Withdraw {
                task_ids: body::<wire::Withdraw, _>(rest)?.task_ids,
            },
            "Blacklist" => Message::Blacklist {
                agent_ids: body::<wire::Blacklist, _>(rest)?.agent_ids,
            },
            "Track" => {
                let w: wire::Track = body(rest)?;
                let request = match w.request {
                    Some(t) => match t.problem() {
                        Some(problem) => return Err(de::Error::custom(problem)),
                        None => Some(Arc::new(StoredRequest::from(&t))),
                    },
                    None => None,
                };
                Message::Track {
                    task_id: w.task_id,
                    agent_id: w.agent_id,
                    request,
                }
            }
            "SendMessage" => {
                let w: wire::SendMessage = body(rest)?;
                Message::SendMessage {
                    agent_id: w.agent_id,
                    executor_id: w.executor_id,
                    data: w.data,
                }
            }
            "UpdateFramework" => {
                let w: wire::UpdateFramework = body(rest)?;
                Message::UpdateFramework {
                    roles: w.roles,
                    suppressed_roles: w.suppressed_roles,
                    capabilities: w.capabilities,
                    failover_timeout: w.failover_timeout,
                }
            }
            "InverseOffers" => {
                Message::InverseOffers(body::<wire::InverseOffers, _>(rest)?.inverse_offers)
            }
            "RescindInverseOffer" => Message::RescindInverseOffer {
                inverse_offer_id: body::<wire::RescindInverseOffer, _>(rest)?.inverse_offer_id,
            },
            "AcceptInverseOffers" => {
                let w: wire::AnswerInverseOffers = body(rest)?;
                Message::AcceptInverseOffers {
                    inverse_offer_ids: w.inverse_offer_ids,
                    refuse_seconds: w.refuse_seconds,
                }
            }
            "DeclineInverseOffers" => {
                let w: wire::AnswerInverseOffers = body(rest)?;
                Message::DeclineInverseOffers {
                    inverse_offer_ids: w.inverse_offer_ids,
                    refuse_seconds: w.refuse_seconds,
                }
            }
            "Deploy" => {
                let w: wire::Deploy = body(rest)?;
                let t = &w.template;
                let problem =
                    health::problem(t.task_id, t.health_check.as_deref(), t.kill_policy.as_ref())
                        .or_else(|| {
                            t.unreachable
                                .and_then(|u| u.invalid(t.task_id, !t.pod.is_empty()))
                        })
                        .or_else(|| {
                            // Its copies would need their members renamed: not built.
                            (!t.pod.is_empty()).then(|| {
                                format!(
                                    "task {:?}: a deployment's template is not a pod",
                                    t.task_id
                                )
                            })
                        })
                        .or_else(|| {
                            crate::reducer::deployment::invalid(
                                w.instances,
                                w.minimum_health_capacity,
                                w.maximum_over_capacity,
                                w.max_failures,
                            )
                        });
                if let Some(problem) = problem {
                    return Err(de::Error::custom(problem));
                }
                Message::Deploy {
                    group: w.group,
                    template: StoredRequest::from(t),
                    // In range: `invalid` checked both.
                    instances: w.instances as u32,
                    minimum_health_capacity: w.minimum_health_capacity,
                    maximum_over_capacity: w.maximum_over_capacity,
                    max_failures: w.max_failures as u32,
                }
            }
            "ResumeRelease" => {
                let w: wire::ResumeRelease = body(rest)?;
                let problem = if w.persistence_id.is_empty() || w.agent_id.is_empty() {
                    Some("a stored release needs a persistence_id and an agent_id".to_owned())
                } else if !(w.size > 0.0 && w.size.is_finite()) {
                    Some(format!(
                        "volume {:?}: a size must be finite and > 0",
                        w.persistence_id
                    ))
                } else if w.role.is_empty() || w.role == "*" {
                    Some(format!(
                        "volume {:?}: a role other than \"*\" reserved it",
                        w.persistence_id
                    ))
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(de::Error::custom(problem));
                }
                Message::ResumeRelease {
                    persistence_id: crate::state::Id::from(w.persistence_id.as_str()),
                    volume: crate::state::Volume {
                        agent_id: crate::state::Id::from(w.agent_id.as_str()),
                        role: w.role,
                        size: w.size,
                        container_path: w.container_path,
                        principal: w.principal,
                    },
                }
            }
            "ResumeDeployment" => {
                let w: wire::ResumeDeployment = body(rest)?;
                let problem = [Some(&w.template), w.previous.as_ref()]
                    .into_iter()
                    .flatten()
                    .find_map(|t| {
                        t.problem().or_else(|| {
                            (!t.pod.is_empty()).then(|| {
                                format!(
                                    "task {:?}: a deployment's template is not a pod",
                                    t.task_id
                                )
                            })
                        })
                    })
                    .or_else(|| {
                        crate::reducer::deployment::invalid(
                            w.instances,
                            w.minimum_health_capacity,
                            w.maximum_over_capacity,
                            w.max_failures,
                        )
                    })
                    .or_else(|| {
                        u32::try_from(w.failures).is_err().then(|| {
                            format!(
                                "a deployment's failures must be from 0 to 2^32-1, not {}",
                                w.failures
                            )
                        })
                    });
                if let Some(problem) = problem {
                    return Err(de::Error::custom(problem));
                }
                Message::ResumeDeployment {
                    group: w.group,
                    deployment: crate::state::Deployment {
                        template: Arc::new(StoredRequest::from(&w.template)),
                        previous: w
                            .previous
                            .as_ref()
                            .map(|p| Arc::new(StoredRequest::from(p))),
                        // In range: checked above.
                        instances: w.instances as u32,
                        minimum_health_capacity: w.minimum_health_capacity,
                        maximum_over_capacity: w.maximum_over_capacity,
                        max_failures: w.max_failures as u32,
                        failures: w.failures as u32,
                        phase: w.phase,
                        killing: Default::default(),
                    },
                }
            }
            "CancelDeployment" => Message::CancelDeployment {
                group: body::<wire::CancelDeployment, _>(rest)?.group,
            },
            "OperationUpdate" => {
                Message::OperationUpdate(body::<wire::OperationUpdate, _>(rest)?.status)
            }
            "CustomEnvelope" => {
                body::<wire::CustomEnvelope, _>(rest)?;
                Message::Custom
            }
            unit => {
                let message = match unit {
                    "Heartbeat" => Message::Heartbeat,
                    "Disconnected" => Message::Disconnected,
                    "ReconcileTick" => Message::ReconcileTick,
                    "Tick" => Message::Tick,
                    "Reconcile" => Message::Reconcile,
                    "Suppress" => Message::Suppress,
                    "Revive" => Message::Revive,
                    other => {
                        return Err(de::Error::custom(format!("unknown message type {other:?}")))
                    }
                };
                body::<wire::Empty, _>(rest)?;
                message
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Rescind<'a> {
        r#type: &'a str,
        offer_id: &'a str,
    }

    fn encode<T: Serialize>(value: &T) -> Vec<u8> {
        rmp_serde::to_vec(value).unwrap()
    }

    #[test]
    fn decodes_the_tag_then_the_fields() {
        let bytes = encode(&Rescind {
            r#type: "Rescind",
            offer_id: "o1",
        });
        assert!(
            matches!(Message::decode(&bytes), Ok(Message::Rescind { offer_id }) if offer_id == "o1")
        );
    }

    #[test]
    fn bad_input_is_a_message_error() {
        #[derive(Serialize)]
        struct Extra<'a> {
            r#type: &'a str,
            offer_id: &'a str,
            surprise: u8,
        }
        #[derive(Serialize)]
        struct TagLast<'a> {
            offer_id: &'a str,
            r#type: &'a str,
        }
        #[derive(Serialize)]
        struct Bare<'a> {
            r#type: &'a str,
        }
        let cases = [
            encode(&Rescind {
                r#type: "Nope",
                offer_id: "o1",
            }),
            encode(&Extra {
                r#type: "Rescind",
                offer_id: "o1",
                surprise: 1,
            }),
            encode(&TagLast {
                offer_id: "o1",
                r#type: "Rescind",
            }),
            encode(&Bare { r#type: "Rescind" }),
            encode(&Bare { r#type: "Update" }),
            encode(&(1, 2, 3)),
            rmp_serde::to_vec_named(&Rescind {
                r#type: "Rescind",
                offer_id: "o1",
            })
            .unwrap(),
            vec![0xc1],
            vec![],
        ];
        for bytes in cases {
            assert!(
                matches!(Message::decode(&bytes), Err(CoreError::Message(_))),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn unit_messages_take_no_fields() {
        #[derive(Serialize)]
        struct Tick<'a> {
            r#type: &'a str,
        }
        assert!(matches!(
            Message::decode(&encode(&Tick { r#type: "Tick" })),
            Ok(Message::Tick)
        ));
        assert!(Message::decode(&encode(&Rescind {
            r#type: "Tick",
            offer_id: "x"
        }))
        .is_err());
    }
}
