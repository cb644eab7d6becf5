//! Effects as `mesos.v1.scheduler.Call` bodies, in either encoding of the v1
//! API, so that the calls that need no hook leave Rust as bytes.
//!
//! The JSON shapes are those of `ark.wire.call` (Mesos's JSON mapping: ids as
//! `{"value": ...}`, enums by name, bytes in base64); the tests check that
//! both agree call by call. The small, frequent calls (ACKNOWLEDGE, DECLINE,
//! RECONCILE ...) are built with the generated prost types. An ACCEPT carries
//! each launch's payload, arbitrary `TaskInfo` fields as JSON, so it is built
//! as JSON and converted by reflection over Ark's `.proto` subset; a payload
//! field outside the subset makes the call go as JSON, which Mesos accepts
//! call by call.

use std::sync::OnceLock;

use base64::Engine;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor};
use serde_bytes::ByteBuf;
use serde_json::{json, Map, Value};

use crate::effects::{Effect, LaunchTask, ReconcileTask};
use crate::messages::Resource;
use crate::protobuf::mesos::v1 as pb;
use crate::protobuf::mesos::v1::scheduler::{call, Call};
use crate::protobuf::DESCRIPTOR_SET;
use crate::state::Id;

pub const PROTOBUF: &str = "application/x-protobuf";
pub const JSON: &str = "application/json";

/// The encoding of a connection's calls and events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    pub fn parse(name: &str) -> Result<Encoding, String> {
        match name {
            "protobuf" => Ok(Encoding::Protobuf),
            "json" => Ok(Encoding::Json),
            other => Err(format!(
                "encoding must be 'protobuf' or 'json', not {other:?}"
            )),
        }
    }
}

/// One call ready for the wire: its type (for logs), body and media type.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedCall {
    pub kind: &'static str,
    pub body: Vec<u8>,
    pub media_type: &'static str,
}

/// The call that carries out `effect`, or an error for effects that are
/// the scheduler's own (`Timer`, `Unreconciled`) and for a launch payload
/// that is not a JSON object.
pub fn encode(
    effect: &Effect,
    framework_id: &str,
    encoding: Encoding,
) -> Result<EncodedCall, String> {
    if encoding == Encoding::Protobuf && !matches!(effect, Effect::Accept { .. }) {
        let call = protobuf_call(effect, framework_id)?;
        return Ok(EncodedCall {
            kind: kind(effect),
            body: call.encode_to_vec(),
            media_type: PROTOBUF,
        });
    }
    let value = json_call(effect, framework_id)?;
    if encoding == Encoding::Protobuf {
        if let Ok(body) = reflect(&value, call_descriptor()) {
            return Ok(EncodedCall {
                kind: kind(effect),
                body,
                media_type: PROTOBUF,
            });
        }
        // A payload field outside the subset: the call goes as JSON.
    }
    Ok(EncodedCall {
        kind: kind(effect),
        body: serde_json::to_vec(&value).expect("a JSON value always serializes"),
        media_type: JSON,
    })
}

/// The `Call.type` name of an effect.
pub fn kind(effect: &Effect) -> &'static str {
    match effect {
        Effect::Accept { .. } => "ACCEPT",
        Effect::Decline { .. } => "DECLINE",
        Effect::Kill { .. } => "KILL",
        Effect::Reconcile { .. } => "RECONCILE",
        Effect::Acknowledge { .. } => "ACKNOWLEDGE",
        Effect::Suppress => "SUPPRESS",
        Effect::Revive => "REVIVE",
        Effect::Message { .. } => "MESSAGE",
        Effect::UpdateFramework { .. } => "UPDATE_FRAMEWORK",
        Effect::AcceptInverseOffers { .. } => "ACCEPT_INVERSE_OFFERS",
        Effect::DeclineInverseOffers { .. } => "DECLINE_INVERSE_OFFERS",
        Effect::Timer { .. } => "Timer",
        Effect::Unreconciled { .. } => "Unreconciled",
    }
}

fn not_a_call(effect: &Effect) -> String {
    match effect {
        Effect::UpdateFramework { .. } => {
            "UPDATE_FRAMEWORK carries the FrameworkInfo, which the driver holds: it sends it".into()
        }
        _ => format!("{} is not a Mesos call", kind(effect)),
    }
}

fn call_descriptor() -> &'static MessageDescriptor {
    static CALL: OnceLock<MessageDescriptor> = OnceLock::new();
    CALL.get_or_init(|| {
        DescriptorPool::decode(DESCRIPTOR_SET)
            .expect("the descriptor set is built from proto/ and always decodes")
            .get_message_by_name("mesos.v1.scheduler.Call")
            .expect("proto/ defines mesos.v1.scheduler.Call")
    })
}

/// A JSON-mapped message as protobuf bytes; an error names an unknown field.
fn reflect(value: &Value, descriptor: &MessageDescriptor) -> Result<Vec<u8>, String> {
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    DynamicMessage::deserialize_with_options(descriptor.clone(), value, &options)
        .map(|message| message.encode_to_vec())
        .map_err(|e| e.to_string())
}

// --- protobuf, typed ----------------------------------------------------------------

fn id<T: From<String>>(value: &str) -> T {
    T::from(value.to_owned())
}

macro_rules! ids {
    ($($t:ident),*) => {$(
        impl From<String> for pb::$t {
            fn from(value: String) -> Self {
                pb::$t { value }
            }
        }
    )*};
}
ids!(FrameworkId, OfferId, AgentId, TaskId, ExecutorId);

fn protobuf_call(effect: &Effect, framework_id: &str) -> Result<Call, String> {
    let mut out = Call {
        framework_id: Some(id(framework_id)),
        ..Default::default()
    };
    let kind = match effect {
        Effect::Decline {
            offer_ids,
            refuse_seconds,
        } => {
            out.decline = Some(call::Decline {
                offer_ids: offer_ids.iter().map(|o| id(o)).collect(),
                filters: Some(pb::Filters {
                    refuse_seconds: Some(*refuse_seconds),
                }),
            });
            call::Type::Decline
        }
        Effect::Kill { task_id, agent_id } => {
            out.kill = Some(call::Kill {
                task_id: id(task_id),
                agent_id: agent_id.as_deref().map(id),
                ..Default::default()
            });
            call::Type::Kill
        }
        Effect::Reconcile { tasks } => {
            out.reconcile = Some(call::Reconcile {
                tasks: tasks
                    .iter()
                    .map(|t| call::reconcile::Task {
                        task_id: id(&t.task_id),
                        agent_id: t.agent_id.as_deref().map(id),
                    })
                    .collect(),
            });
            call::Type::Reconcile
        }
        Effect::Acknowledge {
            agent_id,
            task_id,
            uuid,
        } => {
            out.acknowledge = Some(call::Acknowledge {
                agent_id: id(agent_id),
                task_id: id(task_id),
                uuid: uuid.to_vec(),
            });
            call::Type::Acknowledge
        }
        Effect::Suppress => call::Type::Suppress,
        Effect::Revive => call::Type::Revive,
        Effect::Message {
            agent_id,
            executor_id,
            data,
        } => {
            out.message = Some(call::Message {
                agent_id: id(agent_id),
                executor_id: id(executor_id),
                data: data.to_vec(),
            });
            call::Type::Message
        }
        Effect::AcceptInverseOffers {
            inverse_offer_ids,
            refuse_seconds,
        } => {
            out.accept_inverse_offers = Some(call::AcceptInverseOffers {
                inverse_offer_ids: inverse_offer_ids.iter().map(|o| id(o)).collect(),
                filters: Some(pb::Filters {
                    refuse_seconds: Some(*refuse_seconds),
                }),
            });
            call::Type::AcceptInverseOffers
        }
        Effect::DeclineInverseOffers {
            inverse_offer_ids,
            refuse_seconds,
        } => {
            out.decline_inverse_offers = Some(call::DeclineInverseOffers {
                inverse_offer_ids: inverse_offer_ids.iter().map(|o| id(o)).collect(),
                filters: Some(pb::Filters {
                    refuse_seconds: Some(*refuse_seconds),
                }),
            });
            call::Type::DeclineInverseOffers
        }
        Effect::Accept { .. }
        | Effect::UpdateFramework { .. }
        | Effect::Timer { .. }
        | Effect::Unreconciled { .. } => return Err(not_a_call(effect)),
    };
    out.r#type = Some(kind as i32);
    Ok(out)
}

// --- JSON ---------------------------------------------------------------------------

fn value_id(value: &str) -> Value {
    json!({ "value": value })
}

fn b64(data: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(data))
}

/// The JSON mapping of the call, as `ark.wire.call` builds it.
pub fn json_call(effect: &Effect, framework_id: &str) -> Result<Value, String> {
    let mut out = Map::new();
    out.insert("framework_id".into(), value_id(framework_id));
    out.insert("type".into(), Value::from(kind(effect)));
    match effect {
        Effect::Accept {
            offer_ids,
            agent_id,
            launches,
            refuse_seconds,
            role,
        } => {
            let operations = operations(launches, agent_id, framework_id, role.as_deref())?;
            out.insert(
                "accept".into(),
                json!({
                    "offer_ids": offer_ids.iter().map(|o| value_id(o)).collect::<Vec<_>>(),
                    "operations": operations,
                    "filters": {"refuse_seconds": refuse_seconds},
                }),
            );
        }
        Effect::Decline {
            offer_ids,
            refuse_seconds,
        } => {
            out.insert(
                "decline".into(),
                json!({
                    "offer_ids": offer_ids.iter().map(|o| value_id(o)).collect::<Vec<_>>(),
                    "filters": {"refuse_seconds": refuse_seconds},
                }),
            );
        }
        Effect::Kill { task_id, agent_id } => {
            let mut kill = Map::new();
            kill.insert("task_id".into(), value_id(task_id));
            if let Some(agent_id) = agent_id {
                kill.insert("agent_id".into(), value_id(agent_id));
            }
            out.insert("kill".into(), Value::Object(kill));
        }
        Effect::Reconcile { tasks } => {
            let tasks: Vec<Value> = tasks.iter().map(reconcile_task).collect();
            out.insert("reconcile".into(), json!({ "tasks": tasks }));
        }
        Effect::Acknowledge {
            agent_id,
            task_id,
            uuid,
        } => {
            out.insert(
                "acknowledge".into(),
                json!({
                    "agent_id": value_id(agent_id),
                    "task_id": value_id(task_id),
                    "uuid": b64(uuid.as_slice()),
                }),
            );
        }
        Effect::Suppress | Effect::Revive => {}
        Effect::Message {
            agent_id,
            executor_id,
            data,
        } => {
            out.insert(
                "message".into(),
                json!({
                    "agent_id": value_id(agent_id),
                    "executor_id": value_id(executor_id),
                    "data": b64(data),
                }),
            );
        }
        Effect::AcceptInverseOffers {
            inverse_offer_ids,
            refuse_seconds,
        }
        | Effect::DeclineInverseOffers {
            inverse_offer_ids,
            refuse_seconds,
        } => {
            let key = if matches!(effect, Effect::AcceptInverseOffers { .. }) {
                "accept_inverse_offers"
            } else {
                "decline_inverse_offers"
            };
            out.insert(
                key.into(),
                json!({
                    "inverse_offer_ids": inverse_offer_ids.iter().map(|o| value_id(o)).collect::<Vec<_>>(),
                    "filters": {"refuse_seconds": refuse_seconds},
                }),
            );
        }
        Effect::UpdateFramework { .. } | Effect::Timer { .. } | Effect::Unreconciled { .. } => {
            return Err(not_a_call(effect))
        }
    }
    Ok(Value::Object(out))
}

fn reconcile_task(task: &ReconcileTask) -> Value {
    // pymesos's reconcileTasks drops agent_id; without it a master can only
    // answer TASK_LOST/UNKNOWN, so it is always sent when known.
    let mut out = Map::new();
    out.insert("task_id".into(), value_id(&task.task_id));
    if let Some(agent_id) = &task.agent_id {
        out.insert("agent_id".into(), value_id(agent_id));
    }
    Value::Object(out)
}

/// The plain launches in one LAUNCH, then one LAUNCH_GROUP per pod, as
/// `ark.wire` builds them.
fn operations(
    launches: &[LaunchTask],
    agent_id: &str,
    framework_id: &str,
    role: Option<&str>,
) -> Result<Vec<Value>, String> {
    let plain = launches
        .iter()
        .filter(|t| t.pod.is_empty())
        .map(|t| task_info(t, agent_id, role))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    if !plain.is_empty() {
        out.push(json!({"type": "LAUNCH", "launch": {"task_infos": plain}}));
    }
    for pod in launches.iter().filter(|t| !t.pod.is_empty()) {
        let tasks = pod
            .pod
            .iter()
            .map(|member| {
                let launch = LaunchTask {
                    task_id: member.task_id.clone(),
                    agent_id: Id::from(agent_id),
                    name: member.name.clone(),
                    resources: member.resources.clone(),
                    payload: ByteBuf::from(member.payload.clone()),
                    named_ports: vec![],
                    health_check: member.health_check.clone(),
                    kill_policy: member.kill_policy,
                    pod: vec![],
                };
                task_info(&launch, agent_id, role)
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(json!({
            "type": "LAUNCH_GROUP",
            "launch_group": {
                "executor": executor_info(pod, framework_id, role)?,
                "task_group": {"tasks": tasks},
            },
        }));
    }
    Ok(out)
}

/// A pod's `ExecutorInfo`: the default executor named by the pod's id, its
/// payload's fields plus Ark's own, as `ark.wire.executor_info` builds it.
fn executor_info(
    pod: &LaunchTask,
    framework_id: &str,
    role: Option<&str>,
) -> Result<Value, String> {
    let mut info = payload(pod)?;
    info.insert("type".into(), Value::from("DEFAULT"));
    info.insert("executor_id".into(), value_id(&pod.task_id));
    info.insert("framework_id".into(), value_id(framework_id));
    info.insert(
        "resources".into(),
        pod.resources.iter().map(|r| resource(r, role)).collect(),
    );
    if !pod.name.is_empty() {
        info.insert("name".into(), Value::from(pod.name.as_str()));
    }
    Ok(Value::Object(info))
}

/// A launch's payload: the JSON object of its other fields.
fn payload(task: &LaunchTask) -> Result<Map<String, Value>, String> {
    if task.payload.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&task.payload) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!(
            "task {:?}: payload must be a JSON object (TaskInfo fields)",
            task.task_id
        )),
        Err(e) => Err(format!("task {:?}: payload is not JSON: {e}", task.task_id)),
    }
}

/// One launch's `TaskInfo`: its payload's fields plus Ark's own, as
/// `ark.wire.task_info` builds it (named ports included); its resources
/// carry `allocation_info` when the offers are allocated to a `role`.
fn task_info(task: &LaunchTask, agent_id: &str, role: Option<&str>) -> Result<Value, String> {
    let mut info = payload(task)?;
    let name = if task.name.is_empty() {
        &task.task_id
    } else {
        &task.name
    };
    info.insert("name".into(), Value::from(name.as_str()));
    info.insert("task_id".into(), value_id(&task.task_id));
    info.insert("agent_id".into(), value_id(agent_id));
    info.insert(
        "resources".into(),
        task.resources.iter().map(|r| resource(r, role)).collect(),
    );
    if !task.named_ports.is_empty() {
        add_named_ports(&mut info, &task.named_ports, name);
    }
    if let Some(check) = &task.health_check {
        info.insert("health_check".into(), check.to_json());
    }
    if let Some(policy) = &task.kill_policy {
        info.insert("kill_policy".into(), policy.to_json());
    }
    Ok(Value::Object(info))
}

/// Named ports go where a task and service discovery look for them, unless
/// the payload set them itself: `discovery.ports`, and `PORT_<NAME>` (upper
/// case, `-` as `_`, as Marathon names them) in the command's environment.
fn add_named_ports(info: &mut Map<String, Value>, ports: &[(String, i64)], name: &str) {
    let discovery_ports: Vec<Value> = ports
        .iter()
        .map(|(n, p)| json!({"number": p, "name": n, "protocol": "tcp"}))
        .collect();
    info.entry("discovery").or_insert_with(
        || json!({"visibility": "FRAMEWORK", "name": name, "ports": {"ports": discovery_ports}}),
    );
    let Some(Value::Object(command)) = info.get_mut("command") else {
        return;
    };
    let env = command
        .entry("environment")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(env) = env else { return };
    let variables = env
        .entry("variables")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(variables) = variables else {
        return;
    };
    let known: Vec<Value> = variables
        .iter()
        .filter_map(|v| v.get("name").cloned())
        .collect();
    for (n, p) in ports {
        let key = format!("PORT_{}", n.to_uppercase().replace('-', "_"));
        if !known.iter().any(|k| k.as_str() == Some(key.as_str())) {
            variables.push(json!({"name": key, "value": p.to_string()}));
        }
    }
}

fn resource(r: &Resource, allocated_to: Option<&str>) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), Value::from(r.name.as_str()));
    if let Some(scalar) = r.scalar {
        out.insert("type".into(), Value::from("SCALAR"));
        out.insert("scalar".into(), json!({ "value": scalar }));
    } else if let Some(ranges) = &r.ranges {
        let range: Vec<Value> = ranges
            .iter()
            .map(|(lo, hi)| json!({"begin": lo, "end": hi}))
            .collect();
        out.insert("type".into(), Value::from("RANGES"));
        out.insert("ranges".into(), json!({ "range": range }));
    } else if let Some(set) = &r.set {
        out.insert("type".into(), Value::from("SET"));
        out.insert("set".into(), json!({ "item": set }));
    }
    if r.role != "*" {
        // Pre-reservation-refinement shape, which every v1 master still reads.
        out.insert("role".into(), Value::from(r.role.as_str()));
    }
    if let Some(role) = allocated_to {
        // A MULTI_ROLE framework says which of its roles' allocation a
        // resource comes from; it must be the offer's (Mesos's accept()).
        out.insert("allocation_info".into(), json!({ "role": role }));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::PodTask;
    use serde_bytes::ByteArray;

    fn launch(payload: &str) -> LaunchTask {
        LaunchTask {
            task_id: "t1".into(),
            agent_id: "a1".into(),
            name: String::new(),
            resources: vec![Resource {
                name: "cpus".into(),
                scalar: Some(0.5),
                ranges: None,
                set: None,
                role: "*".into(),
            }],
            payload: ByteBuf::from(payload.as_bytes().to_vec()),
            named_ports: vec![],
            health_check: None,
            kill_policy: None,
            pod: vec![],
        }
    }

    fn accept(payload: &str) -> Effect {
        Effect::Accept {
            offer_ids: vec!["o1".into()],
            agent_id: "a1".into(),
            launches: vec![launch(payload)],
            refuse_seconds: 5.0,
            role: None,
        }
    }

    fn decode(body: &[u8]) -> Call {
        Call::decode(body).unwrap()
    }

    #[test]
    fn acknowledge_as_protobuf_and_json() {
        let effect = Effect::Acknowledge {
            agent_id: "a1".into(),
            task_id: "t1".into(),
            uuid: ByteArray::new([7; 16]),
        };
        let pb = encode(&effect, "f1", Encoding::Protobuf).unwrap();
        assert_eq!(pb.media_type, PROTOBUF);
        let call = decode(&pb.body);
        assert_eq!(call.r#type, Some(call::Type::Acknowledge as i32));
        assert_eq!(call.framework_id.unwrap().value, "f1");
        assert_eq!(call.acknowledge.unwrap().uuid, vec![7; 16]);
        let js = encode(&effect, "f1", Encoding::Json).unwrap();
        let value: Value = serde_json::from_slice(&js.body).unwrap();
        assert_eq!(value["acknowledge"]["uuid"], "BwcHBwcHBwcHBwcHBwcHBw==");
    }

    #[test]
    fn accept_carries_the_payload_in_protobuf() {
        let effect = accept(r#"{"command":{"value":"sleep 1","shell":true}}"#);
        let pb = encode(&effect, "f1", Encoding::Protobuf).unwrap();
        assert_eq!(pb.media_type, PROTOBUF);
        let call = decode(&pb.body);
        let accept = call.accept.unwrap();
        let task = &accept.operations[0].launch.as_ref().unwrap().task_infos[0];
        assert_eq!(task.name, "t1");
        assert_eq!(task.task_id.value, "t1");
        assert_eq!(
            task.command.as_ref().unwrap().value.as_deref(),
            Some("sleep 1")
        );
        assert_eq!(task.resources[0].scalar.as_ref().unwrap().value, 0.5);
    }

    #[test]
    fn a_payload_field_outside_the_subset_goes_as_json() {
        let effect = accept(r#"{"command":{"value":"x"},"not_in_mesos":1}"#);
        let out = encode(&effect, "f1", Encoding::Protobuf).unwrap();
        assert_eq!(out.media_type, JSON);
        let value: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(
            value["accept"]["operations"][0]["launch"]["task_infos"][0]["not_in_mesos"],
            1
        );
    }

    #[test]
    fn a_payload_that_is_not_an_object_is_an_error() {
        let err = encode(&accept("[1]"), "f1", Encoding::Json).unwrap_err();
        assert!(err.contains("JSON object"), "{err}");
        let err = encode(&accept("{"), "f1", Encoding::Protobuf).unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
    }

    #[test]
    fn an_accept_answers_in_the_role_of_its_offers() {
        let mut effect = accept("{}");
        if let Effect::Accept { role, .. } = &mut effect {
            *role = Some("eng/web".into());
        }
        let pb = encode(&effect, "f1", Encoding::Protobuf).unwrap();
        let accept = decode(&pb.body).accept.unwrap();
        let task = &accept.operations[0].launch.as_ref().unwrap().task_infos[0];
        let allocation = task.resources[0].allocation_info.as_ref().unwrap();
        assert_eq!(allocation.role.as_deref(), Some("eng/web"));
        let js = encode(&effect, "f1", Encoding::Json).unwrap();
        let value: Value = serde_json::from_slice(&js.body).unwrap();
        let resource = &value["accept"]["operations"][0]["launch"]["task_infos"][0]["resources"][0];
        assert_eq!(resource["allocation_info"], json!({"role": "eng/web"}));
    }

    #[test]
    fn a_pod_goes_as_one_launch_group_in_protobuf() {
        let mut pod = launch(r#"{"labels":{"labels":[{"key":"k","value":"v"}]}}"#);
        pod.task_id = "web".into();
        pod.pod = vec![PodTask {
            task_id: "web.app".into(),
            resources: pod.resources.clone(),
            name: "app".into(),
            payload: br#"{"command":{"value":"sleep 1"}}"#.to_vec(),
            health_check: Some(crate::health::HealthCheck {
                kind: crate::health::CheckType::Tcp,
                command: None,
                port: Some(8080),
                path: None,
                scheme: None,
                delay_seconds: 0.0,
                interval_seconds: 1.0,
                timeout_seconds: 1.0,
                consecutive_failures: 2,
                grace_period_seconds: 0.0,
            }),
            kill_policy: Some(crate::health::KillPolicy {
                grace_period_seconds: 4.0,
            }),
        }];
        let effect = Effect::Accept {
            offer_ids: vec!["o1".into()],
            agent_id: "a1".into(),
            launches: vec![pod, launch(r#"{"command":{"value":"x"}}"#)],
            refuse_seconds: 5.0,
            role: Some("web".into()),
        };
        let out = encode(&effect, "f1", Encoding::Protobuf).unwrap();
        assert_eq!(out.media_type, PROTOBUF);
        let accept = decode(&out.body).accept.unwrap();
        // The plain task's LAUNCH first, then the pod's LAUNCH_GROUP.
        assert_eq!(
            accept.operations[0].launch.as_ref().unwrap().task_infos[0]
                .task_id
                .value,
            "t1"
        );
        let operation = &accept.operations[1];
        assert_eq!(
            operation.r#type,
            Some(pb::offer::operation::Type::LaunchGroup as i32)
        );
        let group = operation.launch_group.as_ref().unwrap();
        assert_eq!(
            group.executor.r#type,
            Some(pb::executor_info::Type::Default as i32)
        );
        assert_eq!(group.executor.executor_id.value, "web");
        assert_eq!(group.executor.framework_id.as_ref().unwrap().value, "f1");
        assert_eq!(group.executor.labels.as_ref().unwrap().labels[0].key, "k");
        // The executor's and the members' resources answer in the offers' role.
        let allocation = group.executor.resources[0].allocation_info.as_ref();
        assert_eq!(allocation.unwrap().role.as_deref(), Some("web"));
        let task = &group.task_group.tasks[0];
        assert_eq!(
            (task.task_id.value.as_str(), task.name.as_str()),
            ("web.app", "app")
        );
        assert_eq!(task.agent_id.value, "a1");
        assert_eq!(
            task.command.as_ref().unwrap().value.as_deref(),
            Some("sleep 1")
        );
        let allocation = task.resources[0].allocation_info.as_ref();
        assert_eq!(allocation.unwrap().role.as_deref(), Some("web"));
        // A member's check and kill policy go into its own TaskInfo.
        let check = task.health_check.as_ref().unwrap();
        assert_eq!(check.tcp.as_ref().unwrap().port, 8080);
        assert!(task.kill_policy.is_some());
    }

    #[test]
    fn scheduler_effects_are_not_calls() {
        let timer = Effect::Timer {
            round: 1,
            seconds: 1.0,
        };
        assert!(encode(&timer, "f", Encoding::Protobuf).is_err());
        assert!(encode(&timer, "f", Encoding::Json).is_err());
    }

    #[test]
    fn named_ports_reach_discovery_and_the_environment() {
        let mut task = launch(r#"{"command":{"value":"x"}}"#);
        task.named_ports = vec![("http-api".into(), 31000)];
        let info = task_info(&task, "a1", None).unwrap();
        assert_eq!(info["discovery"]["ports"]["ports"][0]["number"], 31000);
        assert_eq!(
            info["command"]["environment"]["variables"][0],
            json!({"name": "PORT_HTTP_API", "value": "31000"})
        );
    }
}
