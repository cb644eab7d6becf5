//! The messages the loop accepts, decoded from the msgpack that
//! `ark.messages` (msgspec) writes: a map whose first key is `"type"`.
//!
//! Decoding reads the tag, then hands the rest of the map straight to the
//! variant's struct, so nothing is buffered on the way.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskStatus {
    pub task_id: String,
    pub state: TaskState,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub executor_id: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub source: Option<Source>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, with = "serde_bytes")]
    pub uuid: Option<Vec<u8>>,
    #[serde(default)]
    pub timestamp: Option<f64>,
    #[serde(default)]
    pub healthy: Option<bool>,
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
}

fn default_refuse() -> f64 {
    5.0
}

/// One message of the loop; the variants and their fields mirror `ark.messages`.
#[derive(Clone, Debug)]
pub enum Message {
    Subscribed {
        framework_id: String,
        heartbeat_interval_seconds: Option<f64>,
    },
    Reregistered,
    Offers(Vec<Offer>),
    Rescind {
        offer_id: String,
    },
    Update(TaskStatus),
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
        round: u32,
    },
    Tick,
    Accept {
        offer_ids: Vec<String>,
        launches: Vec<Launch>,
        refuse_seconds: f64,
    },
    Decline {
        offer_ids: Vec<String>,
        refuse_seconds: f64,
    },
    Kill {
        task_id: String,
    },
    Reconcile,
    Suppress,
    Revive,
    SendMessage {
        agent_id: String,
        executor_id: String,
        data: Vec<u8>,
    },
    Custom,
}

impl Message {
    /// Decode one message; every failure is a [`CoreError::Message`].
    pub fn decode(bytes: &[u8]) -> Result<Message, CoreError> {
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
    pub struct Update {
        pub status: TaskStatus,
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
        pub round: u32,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Accept {
        pub offer_ids: Vec<String>,
        pub launches: Vec<Launch>,
        #[serde(default = "default_refuse")]
        pub refuse_seconds: f64,
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
    pub struct SendMessage {
        pub agent_id: String,
        pub executor_id: String,
        #[serde(with = "serde_bytes")]
        pub data: Vec<u8>,
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

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MessageVisitor)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Message;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map whose first key is \"type\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Message, A::Error> {
        let key: &str = map
            .next_key()?
            .ok_or_else(|| de::Error::missing_field("type"))?;
        if key != "type" {
            return Err(de::Error::custom(format!(
                "the first key must be \"type\", not {key:?}"
            )));
        }
        let tag: &str = map.next_value()?;
        let rest = de::value::MapAccessDeserializer::new(map);
        fn body<'de, T: Deserialize<'de>, M: MapAccess<'de>>(
            rest: de::value::MapAccessDeserializer<M>,
        ) -> Result<T, M::Error> {
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
            "Update" => Message::Update(body::<wire::Update, _>(rest)?.status),
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
                Message::Accept {
                    offer_ids: w.offer_ids,
                    launches: w.launches,
                    refuse_seconds: w.refuse_seconds,
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
            "SendMessage" => {
                let w: wire::SendMessage = body(rest)?;
                Message::SendMessage {
                    agent_id: w.agent_id,
                    executor_id: w.executor_id,
                    data: w.data,
                }
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
                        return Err(de::Error::custom(format!(
                            "unknown message type {other:?}"
                        )))
                    }
                };
                body::<wire::Empty, _>(rest)?;
                message
            }
        })
    }
}
