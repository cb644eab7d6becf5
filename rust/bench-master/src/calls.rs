//! A scheduler `Call` decoded from either encoding into the little the
//! master accounts for: ids, uuids, launches. Protobuf through the prost
//! types of `ark_core`, JSON through serde; a body that is neither, or a
//! call type the harness does not take, is an error the master answers 400.

use ark_core::protobuf::mesos::v1 as pb;
use ark_core::protobuf::mesos::v1::scheduler::{call, Call as PbCall};
use base64::Engine as _;
use serde::Deserialize;

use crate::events::Encoding;

/// The calls the harness takes, with what it checks of each.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Subscribe {
        framework_id: Option<String>,
    },
    Teardown,
    Accept {
        offer_ids: Vec<String>,
        launches: Vec<Launch>,
    },
    Decline {
        offer_ids: Vec<String>,
    },
    Revive,
    Suppress,
    Kill {
        task_id: String,
    },
    Acknowledge {
        task_id: String,
        uuid: Vec<u8>,
    },
    /// Explicit for the tasks named, implicit when none are.
    Reconcile {
        task_ids: Vec<String>,
    },
    Message,
}

/// One task of an ACCEPT's LAUNCH operations.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub task_id: String,
    pub agent_id: String,
}

impl Call {
    /// The Mesos name of the call's type (`"ACKNOWLEDGE"`), for `calls_by_type`.
    pub fn name(&self) -> &'static str {
        match self {
            Call::Subscribe { .. } => "SUBSCRIBE",
            Call::Teardown => "TEARDOWN",
            Call::Accept { .. } => "ACCEPT",
            Call::Decline { .. } => "DECLINE",
            Call::Revive => "REVIVE",
            Call::Suppress => "SUPPRESS",
            Call::Kill { .. } => "KILL",
            Call::Acknowledge { .. } => "ACKNOWLEDGE",
            Call::Reconcile { .. } => "RECONCILE",
            Call::Message => "MESSAGE",
        }
    }
}

/// Decodes a call's body in `encoding`.
pub fn decode(body: &[u8], encoding: Encoding) -> Result<Call, String> {
    match encoding {
        Encoding::Protobuf => from_protobuf(body),
        Encoding::Json => from_json(body),
    }
}

fn from_protobuf(body: &[u8]) -> Result<Call, String> {
    let c = <PbCall as prost::Message>::decode(body).map_err(|e| format!("not a Call: {e}"))?;
    let kind = c.r#type.unwrap_or(0);
    let Ok(kind) = call::Type::try_from(kind) else {
        return Err(format!("unknown call type {kind}"));
    };
    let missing = |field: &str| format!("{} without its '{field}'", kind.as_str_name());
    Ok(match kind {
        call::Type::Subscribe => {
            let s = c.subscribe.ok_or_else(|| missing("subscribe"))?;
            let framework_id = c
                .framework_id
                .map(|f| f.value)
                .or(s.framework_info.id.map(|f| f.value));
            Call::Subscribe { framework_id }
        }
        call::Type::Teardown => Call::Teardown,
        call::Type::Accept => {
            let a = c.accept.ok_or_else(|| missing("accept"))?;
            let mut launches = Vec::new();
            for operation in a.operations {
                if operation.r#type != Some(pb::offer::operation::Type::Launch as i32) {
                    return Err("ACCEPT: only LAUNCH operations are taken".into());
                }
                let launch = operation.launch.ok_or_else(|| missing("launch"))?;
                launches.extend(launch.task_infos.into_iter().map(|t| Launch {
                    task_id: t.task_id.value,
                    agent_id: t.agent_id.value,
                }));
            }
            Call::Accept {
                offer_ids: a.offer_ids.into_iter().map(|o| o.value).collect(),
                launches,
            }
        }
        call::Type::Decline => Call::Decline {
            offer_ids: c
                .decline
                .ok_or_else(|| missing("decline"))?
                .offer_ids
                .into_iter()
                .map(|o| o.value)
                .collect(),
        },
        call::Type::Revive => Call::Revive,
        call::Type::Suppress => Call::Suppress,
        call::Type::Kill => Call::Kill {
            task_id: c.kill.ok_or_else(|| missing("kill"))?.task_id.value,
        },
        call::Type::Acknowledge => {
            let a = c.acknowledge.ok_or_else(|| missing("acknowledge"))?;
            Call::Acknowledge {
                task_id: a.task_id.value,
                uuid: a.uuid,
            }
        }
        call::Type::Reconcile => Call::Reconcile {
            task_ids: c
                .reconcile
                .ok_or_else(|| missing("reconcile"))?
                .tasks
                .into_iter()
                .map(|t| t.task_id.value)
                .collect(),
        },
        call::Type::Message => Call::Message,
        other => return Err(format!("{} is not taken here", other.as_str_name())),
    })
}

// The JSON form of the same calls: only the fields read, unknown ones ignored.

#[derive(Deserialize)]
struct Id {
    value: String,
}

#[derive(Deserialize)]
struct JsonCall {
    #[serde(rename = "type")]
    kind: String,
    framework_id: Option<Id>,
    subscribe: Option<JsonSubscribe>,
    accept: Option<JsonAccept>,
    decline: Option<JsonOfferIds>,
    kill: Option<JsonTask>,
    acknowledge: Option<JsonAcknowledge>,
    reconcile: Option<JsonReconcile>,
}

#[derive(Deserialize)]
struct JsonSubscribe {
    framework_info: JsonFrameworkInfo,
}

#[derive(Deserialize)]
struct JsonFrameworkInfo {
    id: Option<Id>,
}

#[derive(Deserialize)]
struct JsonAccept {
    offer_ids: Vec<Id>,
    #[serde(default)]
    operations: Vec<JsonOperation>,
}

#[derive(Deserialize)]
struct JsonOperation {
    #[serde(rename = "type")]
    kind: String,
    launch: Option<JsonLaunch>,
}

#[derive(Deserialize)]
struct JsonLaunch {
    task_infos: Vec<JsonTaskInfo>,
}

#[derive(Deserialize)]
struct JsonTaskInfo {
    task_id: Id,
    agent_id: Id,
}

#[derive(Deserialize)]
struct JsonOfferIds {
    offer_ids: Vec<Id>,
}

#[derive(Deserialize)]
struct JsonTask {
    task_id: Id,
}

#[derive(Deserialize)]
struct JsonAcknowledge {
    task_id: Id,
    uuid: String,
}

#[derive(Deserialize)]
struct JsonReconcile {
    #[serde(default)]
    tasks: Vec<JsonTask>,
}

fn from_json(body: &[u8]) -> Result<Call, String> {
    let c: JsonCall = serde_json::from_slice(body).map_err(|e| format!("not a Call: {e}"))?;
    let kind = c.kind.as_str();
    let missing = |field: &str| format!("{kind} without its '{field}'");
    let ids = |ids: Vec<Id>| ids.into_iter().map(|i| i.value).collect();
    Ok(match kind {
        "SUBSCRIBE" => {
            let s = c.subscribe.ok_or_else(|| missing("subscribe"))?;
            let framework_id = c.framework_id.or(s.framework_info.id).map(|f| f.value);
            Call::Subscribe { framework_id }
        }
        "TEARDOWN" => Call::Teardown,
        "ACCEPT" => {
            let a = c.accept.ok_or_else(|| missing("accept"))?;
            let mut launches = Vec::new();
            for operation in a.operations {
                if operation.kind != "LAUNCH" {
                    return Err("ACCEPT: only LAUNCH operations are taken".into());
                }
                let launch = operation.launch.ok_or_else(|| missing("launch"))?;
                launches.extend(launch.task_infos.into_iter().map(|t| Launch {
                    task_id: t.task_id.value,
                    agent_id: t.agent_id.value,
                }));
            }
            Call::Accept {
                offer_ids: ids(a.offer_ids),
                launches,
            }
        }
        "DECLINE" => Call::Decline {
            offer_ids: ids(c.decline.ok_or_else(|| missing("decline"))?.offer_ids),
        },
        "REVIVE" => Call::Revive,
        "SUPPRESS" => Call::Suppress,
        "KILL" => Call::Kill {
            task_id: c.kill.ok_or_else(|| missing("kill"))?.task_id.value,
        },
        "ACKNOWLEDGE" => {
            let a = c.acknowledge.ok_or_else(|| missing("acknowledge"))?;
            let uuid = base64::engine::general_purpose::STANDARD
                .decode(&a.uuid)
                .map_err(|e| format!("ACKNOWLEDGE: uuid is not base64: {e}"))?;
            Call::Acknowledge {
                task_id: a.task_id.value,
                uuid,
            }
        }
        "RECONCILE" => Call::Reconcile {
            task_ids: c
                .reconcile
                .map(|r| r.tasks.into_iter().map(|t| t.task_id.value).collect())
                .unwrap_or_default(),
        },
        "MESSAGE" => Call::Message,
        other => return Err(format!("{other} is not taken here")),
    })
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    fn id<T: Default>(set: impl FnOnce(&mut T)) -> T {
        let mut t = T::default();
        set(&mut t);
        t
    }

    #[test]
    fn an_acknowledge_decodes_the_same_from_both_encodings() {
        let json = br#"{"framework_id":{"value":"f"},"type":"ACKNOWLEDGE",
            "acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t-1"},"uuid":"AAEC"}}"#;
        let pb_call = PbCall {
            r#type: Some(call::Type::Acknowledge as i32),
            acknowledge: Some(call::Acknowledge {
                agent_id: id(|a: &mut pb::AgentId| a.value = "a".into()),
                task_id: id(|t: &mut pb::TaskId| t.value = "t-1".into()),
                uuid: vec![0, 1, 2],
            }),
            ..PbCall::default()
        };
        let expected = Call::Acknowledge {
            task_id: "t-1".into(),
            uuid: vec![0, 1, 2],
        };
        assert_eq!(decode(json, Encoding::Json), Ok(expected.clone()));
        assert_eq!(
            decode(&pb_call.encode_to_vec(), Encoding::Protobuf),
            Ok(expected)
        );
    }

    #[test]
    fn an_accept_lists_its_launches() {
        let json = br#"{"type":"ACCEPT","accept":{"offer_ids":[{"value":"o-1"}],
            "operations":[{"type":"LAUNCH","launch":{"task_infos":[
              {"name":"t","task_id":{"value":"t-1"},"agent_id":{"value":"a-1"},"resources":[]},
              {"name":"t","task_id":{"value":"t-2"},"agent_id":{"value":"a-1"}}]}}],
            "filters":{"refuse_seconds":5.0}}}"#;
        let Ok(Call::Accept {
            offer_ids,
            launches,
        }) = decode(json, Encoding::Json)
        else {
            panic!("not an accept");
        };
        assert_eq!(offer_ids, vec!["o-1".to_owned()]);
        assert_eq!(launches.len(), 2);
        assert_eq!(launches[1].task_id, "t-2");
    }

    #[test]
    fn subscribe_takes_the_framework_id_from_either_place() {
        let json = br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":
            {"user":"u","name":"n","id":{"value":"fw-1"}}}}"#;
        assert_eq!(
            decode(json, Encoding::Json),
            Ok(Call::Subscribe {
                framework_id: Some("fw-1".into())
            })
        );
        let json =
            br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}"#;
        assert_eq!(
            decode(json, Encoding::Json),
            Ok(Call::Subscribe { framework_id: None })
        );
    }

    #[test]
    fn implicit_reconcile_names_no_task() {
        assert_eq!(
            decode(
                br#"{"type":"RECONCILE","reconcile":{"tasks":[]}}"#,
                Encoding::Json
            ),
            Ok(Call::Reconcile { task_ids: vec![] })
        );
        let pb_call = PbCall {
            r#type: Some(call::Type::Reconcile as i32),
            reconcile: Some(call::Reconcile { tasks: vec![] }),
            ..PbCall::default()
        };
        assert_eq!(
            decode(&pb_call.encode_to_vec(), Encoding::Protobuf),
            Ok(Call::Reconcile { task_ids: vec![] })
        );
    }

    #[test]
    fn garbage_and_untaken_calls_are_errors() {
        assert!(decode(b"{", Encoding::Json).is_err());
        assert!(decode(b"\xff\xff\xff", Encoding::Protobuf).is_err());
        assert!(decode(br#"{"type":"SHUTDOWN"}"#, Encoding::Json).is_err());
        assert!(decode(br#"{"type":"ACKNOWLEDGE"}"#, Encoding::Json).is_err());
        let bad_uuid = br#"{"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},
            "task_id":{"value":"t"},"uuid":"!!"}}"#;
        assert!(decode(bad_uuid, Encoding::Json).is_err());
        let request = PbCall {
            r#type: Some(call::Type::Request as i32),
            ..PbCall::default()
        };
        assert!(decode(&request.encode_to_vec(), Encoding::Protobuf).is_err());
    }
}
