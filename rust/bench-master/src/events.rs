//! The events the harness sends, encoded in the stream's encoding: protobuf
//! through `ark_core`'s prost types, JSON in the protobuf JSON mapping that
//! Mesos speaks (enums by name, bytes in base64).

use ark_core::protobuf::mesos::v1 as pb;
use ark_core::protobuf::mesos::v1::scheduler::{event, Event as PbEvent};
use base64::Engine as _;
use prost::Message as _;
use serde_json::{json, Value};

/// The two encodings of the v1 scheduler API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// The encoding of a media type (parameters ignored), if it is one of the two.
    pub fn of_media_type(media_type: &str) -> Option<Encoding> {
        match media_type.split(';').next().unwrap_or("").trim() {
            "application/x-protobuf" => Some(Encoding::Protobuf),
            "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::Protobuf => "protobuf",
            Encoding::Json => "json",
        }
    }
}

/// A task status update, as the harness makes them.
#[derive(Debug, Clone)]
pub struct Status<'a> {
    pub task_id: &'a str,
    pub agent_id: Option<&'a str>,
    pub state: pb::TaskState,
    pub source: pb::task_status::Source,
    pub reason: Option<pb::task_status::Reason>,
    /// Updates from agents carry one and must be acknowledged; the master's carry none.
    pub uuid: Option<[u8; 16]>,
    pub timestamp: f64,
}

/// One offer of a whole agent's resources.
#[derive(Debug, Clone)]
pub struct OfferSpec {
    pub id: String,
    pub framework_id: String,
    pub agent: usize,
    pub cpus: f64,
    pub mem: f64,
    pub disk: f64,
    /// How many ports, from 31000 up.
    pub ports: u64,
}

/// An event the harness sends.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    Subscribed {
        framework_id: &'a str,
        heartbeat_seconds: f64,
    },
    Heartbeat,
    Error(&'a str),
    Update(Status<'a>),
    Offers(&'a [OfferSpec]),
}

/// The event's bytes in `encoding` (one RecordIO record's payload).
pub fn encode(event: &Event<'_>, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => to_protobuf(event).encode_to_vec(),
        Encoding::Json => to_json(event).to_string().into_bytes(),
    }
}

fn to_protobuf(event: &Event<'_>) -> PbEvent {
    let mut e = PbEvent::default();
    match event {
        Event::Subscribed {
            framework_id,
            heartbeat_seconds,
        } => {
            e.r#type = Some(event::Type::Subscribed as i32);
            e.subscribed = Some(event::Subscribed {
                framework_id: pb::FrameworkId {
                    value: (*framework_id).to_owned(),
                },
                heartbeat_interval_seconds: Some(*heartbeat_seconds),
                master_info: None,
            });
        }
        Event::Heartbeat => e.r#type = Some(event::Type::Heartbeat as i32),
        Event::Error(message) => {
            e.r#type = Some(event::Type::Error as i32);
            e.error = Some(event::Error {
                message: (*message).to_owned(),
            });
        }
        Event::Update(s) => {
            e.r#type = Some(event::Type::Update as i32);
            e.update = Some(event::Update {
                status: pb::TaskStatus {
                    task_id: pb::TaskId {
                        value: s.task_id.to_owned(),
                    },
                    state: s.state as i32,
                    agent_id: s.agent_id.map(|a| pb::AgentId {
                        value: a.to_owned(),
                    }),
                    timestamp: Some(s.timestamp),
                    source: Some(s.source as i32),
                    reason: s.reason.map(|r| r as i32),
                    uuid: s.uuid.map(|u| u.to_vec()),
                    ..pb::TaskStatus::default()
                },
            });
        }
        Event::Offers(offers) => {
            e.r#type = Some(event::Type::Offers as i32);
            e.offers = Some(event::Offers {
                offers: offers.iter().map(offer_protobuf).collect(),
            });
        }
    }
    e
}

fn scalar(name: &str, value: f64) -> pb::Resource {
    pb::Resource {
        name: name.to_owned(),
        r#type: pb::value::Type::Scalar as i32,
        scalar: Some(pb::value::Scalar { value }),
        ..pb::Resource::default()
    }
}

fn offer_protobuf(o: &OfferSpec) -> pb::Offer {
    let mut resources = vec![
        scalar("cpus", o.cpus),
        scalar("mem", o.mem),
        scalar("disk", o.disk),
    ];
    if o.ports > 0 {
        resources.push(pb::Resource {
            name: "ports".into(),
            r#type: pb::value::Type::Ranges as i32,
            ranges: Some(pb::value::Ranges {
                range: vec![pb::value::Range {
                    begin: 31000,
                    end: 31000 + o.ports - 1,
                }],
            }),
            ..pb::Resource::default()
        });
    }
    pb::Offer {
        id: pb::OfferId {
            value: o.id.clone(),
        },
        framework_id: pb::FrameworkId {
            value: o.framework_id.clone(),
        },
        agent_id: pb::AgentId {
            value: format!("agent-{}", o.agent),
        },
        hostname: format!("host-{}", o.agent),
        resources,
        attributes: vec![pb::Attribute {
            name: "rack".into(),
            r#type: pb::value::Type::Text as i32,
            text: Some(pb::value::Text {
                value: format!("r{}", o.agent % 20),
            }),
            ..pb::Attribute::default()
        }],
        ..pb::Offer::default()
    }
}

fn to_json(event: &Event<'_>) -> Value {
    match event {
        Event::Subscribed {
            framework_id,
            heartbeat_seconds,
        } => json!({
            "type": "SUBSCRIBED",
            "subscribed": {
                "framework_id": {"value": framework_id},
                "heartbeat_interval_seconds": heartbeat_seconds,
            },
        }),
        Event::Heartbeat => json!({"type": "HEARTBEAT"}),
        Event::Error(message) => json!({"type": "ERROR", "error": {"message": message}}),
        Event::Update(s) => {
            let mut status = json!({
                "task_id": {"value": s.task_id},
                "state": s.state.as_str_name(),
                "timestamp": s.timestamp,
                "source": s.source.as_str_name(),
            });
            if let Some(agent_id) = s.agent_id {
                status["agent_id"] = json!({"value": agent_id});
            }
            if let Some(reason) = s.reason {
                status["reason"] = reason.as_str_name().into();
            }
            if let Some(uuid) = s.uuid {
                status["uuid"] = base64::engine::general_purpose::STANDARD
                    .encode(uuid)
                    .into();
            }
            json!({"type": "UPDATE", "update": {"status": status}})
        }
        Event::Offers(offers) => json!({
            "type": "OFFERS",
            "offers": {"offers": offers.iter().map(offer_json).collect::<Vec<_>>()},
        }),
    }
}

fn offer_json(o: &OfferSpec) -> Value {
    let scalar = |name: &str, value: f64| json!({"name": name, "type": "SCALAR", "scalar": {"value": value}});
    let mut resources = vec![
        scalar("cpus", o.cpus),
        scalar("mem", o.mem),
        scalar("disk", o.disk),
    ];
    if o.ports > 0 {
        resources.push(json!({
            "name": "ports",
            "type": "RANGES",
            "ranges": {"range": [{"begin": 31000, "end": 31000 + o.ports - 1}]},
        }));
    }
    json!({
        "id": {"value": o.id},
        "framework_id": {"value": o.framework_id},
        "agent_id": {"value": format!("agent-{}", o.agent)},
        "hostname": format!("host-{}", o.agent),
        "resources": resources,
        "attributes": [
            {"name": "rack", "type": "TEXT", "text": {"value": format!("r{}", o.agent % 20)}},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update() -> Status<'static> {
        Status {
            task_id: "storm-1",
            agent_id: Some("agent-1"),
            state: pb::TaskState::TaskRunning,
            source: pb::task_status::Source::Executor,
            reason: None,
            uuid: Some([7; 16]),
            timestamp: 1.5,
        }
    }

    // Ark's own decoders are the judge: what the harness sends must lift to
    // the Ark message a real master's event would.
    #[test]
    fn an_update_lifts_the_same_in_both_encodings() {
        let event = Event::Update(update());
        let pb = ark_core::protobuf::decode_event(&encode(&event, Encoding::Protobuf)).unwrap();
        let json = ark_core::json::decode_event(&encode(&event, Encoding::Json)).unwrap();
        assert_eq!(pb, json);
        assert_eq!(pb.unwrap().0, "Update");
    }

    #[test]
    fn offers_lift_the_same_in_both_encodings() {
        let offers = [OfferSpec {
            id: "offer-1".into(),
            framework_id: "fw".into(),
            agent: 21,
            cpus: 4.0,
            mem: 1024.0,
            disk: 10.0,
            ports: 10,
        }];
        let event = Event::Offers(&offers);
        let pb = ark_core::protobuf::decode_event(&encode(&event, Encoding::Protobuf)).unwrap();
        let json = ark_core::json::decode_event(&encode(&event, Encoding::Json)).unwrap();
        assert_eq!(pb, json);
        assert_eq!(pb.unwrap().0, "Offers");
    }

    #[test]
    fn subscribed_error_and_heartbeat_lift() {
        for (event, kind) in [
            (
                Event::Subscribed {
                    framework_id: "fw",
                    heartbeat_seconds: 15.0,
                },
                "Subscribed",
            ),
            (Event::Error("Framework failed over"), "Error"),
            (Event::Heartbeat, "Heartbeat"),
        ] {
            for encoding in [Encoding::Protobuf, Encoding::Json] {
                let bytes = encode(&event, encoding);
                let lifted = match encoding {
                    Encoding::Protobuf => ark_core::protobuf::decode_event(&bytes),
                    Encoding::Json => ark_core::json::decode_event(&bytes),
                };
                assert_eq!(lifted.unwrap().unwrap().0, kind);
            }
        }
    }

    #[test]
    fn media_types() {
        assert_eq!(
            Encoding::of_media_type("application/json; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(
            Encoding::of_media_type("application/x-protobuf"),
            Some(Encoding::Protobuf)
        );
        assert_eq!(Encoding::of_media_type("text/plain"), None);
    }
}
