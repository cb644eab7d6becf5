//! The Mesos v1 scheduler API in its protobuf encoding: the generated types
//! (from `proto/`, at build time) and the lift of an `Event` into the message
//! bytes the loop reads, so that a large OFFERS event goes from the wire to
//! the inbox without one Python object being made.
//!
//! The lift is the protobuf twin of `ark.wire.event` (JSON) and of
//! `ark.protobuf.event` (Python): all three give the same Ark message for the
//! same event, which the tests check.

use serde::Serialize;

use crate::error::CoreError;

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod mesos {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/mesos.v1.rs"));
        pub mod scheduler {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.scheduler.rs"));
        }
    }
}

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod store {
    include!(concat!(env!("OUT_DIR"), "/ark.store.rs"));
}

use mesos::v1 as pb;
use mesos::v1::scheduler::{event, Event};

/// The serialized `FileDescriptorSet` of every `.proto` in `proto/`; Python
/// builds its message classes from it, so both sides share one source.
pub const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

/// Lifts one serialized `mesos.v1.scheduler.Event` into its Ark message:
/// the message's type name (`"Offers"`) and its msgpack. `None` for the events
/// Ark does not model (inverse offers, operation status updates, types newer
/// than this build).
pub fn decode_event(data: &[u8]) -> Result<Option<(&'static str, Vec<u8>)>, CoreError> {
    let event = <Event as prost::Message>::decode(data)
        .map_err(|e| CoreError::Message(format!("event: not a protobuf Event: {e}")))?;
    lift(&event)
}

fn lift(event: &Event) -> Result<Option<(&'static str, Vec<u8>)>, CoreError> {
    let Ok(kind) = event::Type::try_from(event.r#type.unwrap_or(0)) else {
        return Ok(None);
    };
    let lifted = match kind {
        event::Type::Subscribed => {
            let body = present(event.subscribed.as_ref(), "event.subscribed")?;
            let framework_id = id(&body.framework_id.value, "event.subscribed.framework_id")?;
            let master_id = body.master_info.as_ref().map(|m| m.id.as_str());
            let fields = (framework_id, body.heartbeat_interval_seconds, master_id);
            tagged("Subscribed", fields)
        }
        event::Type::Offers => {
            let body = present(event.offers.as_ref(), "event.offers")?;
            let offers = body
                .offers
                .iter()
                .map(offer)
                .collect::<Result<Vec<_>, _>>()?;
            tagged("Offers", (offers,))
        }
        event::Type::Rescind => {
            let body = present(event.rescind.as_ref(), "event.rescind")?;
            tagged(
                "Rescind",
                (id(&body.offer_id.value, "event.rescind.offer_id")?,),
            )
        }
        event::Type::Update => {
            let body = present(event.update.as_ref(), "event.update")?;
            tagged("Update", (status(&body.status)?,))
        }
        event::Type::Message => {
            let body = present(event.message.as_ref(), "event.message")?;
            let agent_id = id(&body.agent_id.value, "event.message.agent_id")?;
            let executor_id = id(&body.executor_id.value, "event.message.executor_id")?;
            let data = serde_bytes::Bytes::new(&body.data);
            tagged("FrameworkMessage", (agent_id, executor_id, data))
        }
        event::Type::Failure => {
            let body = present(event.failure.as_ref(), "event.failure")?;
            let agent = present(body.agent_id.as_ref(), "event.failure.agent_id")?;
            let agent_id = id(&agent.value, "event.failure.agent_id")?;
            let executor_id = body.executor_id.as_ref().map(|e| e.value.as_str());
            tagged("Failure", (agent_id, executor_id, body.status))
        }
        event::Type::Error => {
            let body = present(event.error.as_ref(), "event.error")?;
            tagged("Error", (body.message.as_str(),))
        }
        event::Type::Heartbeat => tagged("Heartbeat", ()),
        event::Type::Unknown
        | event::Type::InverseOffers
        | event::Type::RescindInverseOffer
        | event::Type::UpdateOperationStatus => return Ok(None),
    };
    Ok(Some(lifted))
}

/// A tagged `ark.messages` struct: `[tag, field, ...]` in msgspec's array_like layout.
fn tagged<T: TupleFields>(tag: &'static str, fields: T) -> (&'static str, Vec<u8>) {
    let mut out = Vec::with_capacity(64);
    rmp::encode::write_array_len(&mut out, 1 + T::LEN).expect("writing to a Vec cannot fail");
    rmp::encode::write_str(&mut out, tag).expect("writing to a Vec cannot fail");
    fields.append(&mut out);
    (tag, out)
}

/// A tuple whose fields are written one after another, with no array header.
trait TupleFields {
    const LEN: u32;
    fn append(&self, out: &mut Vec<u8>);
}

macro_rules! tuple_fields {
    ($len:literal $(, $name:ident)*) => {
        impl<$($name: Serialize),*> TupleFields for ($($name,)*) {
            const LEN: u32 = $len;
            #[allow(non_snake_case, unused_variables)]
            fn append(&self, out: &mut Vec<u8>) {
                let ($($name,)*) = self;
                $(rmp_serde::encode::write(out, $name).expect("plain data always encodes");)*
            }
        }
    };
}

tuple_fields!(0);
tuple_fields!(1, A);
tuple_fields!(3, A, B, C);

// The shapes of `ark.messages`, borrowed from the decoded event: msgspec's
// array_like layout is each struct as the array of its fields in order.

#[derive(Serialize)]
struct Offer<'a>(
    &'a str,
    &'a str,
    &'a str,
    Vec<Resource<'a>>,
    Vec<Attribute<'a>>,
);

#[derive(Serialize)]
struct Resource<'a>(
    &'a str,
    Option<f64>,
    Option<Vec<(i64, i64)>>,
    Option<&'a [String]>,
    &'a str,
);

#[derive(Serialize)]
struct Attribute<'a>(
    &'a str,
    Option<&'a str>,
    Option<f64>,
    Option<Vec<(i64, i64)>>,
    Option<&'a [String]>,
);

#[derive(Serialize)]
struct Status<'a>(
    &'a str,
    &'static str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'a str>,
    Option<&'a serde_bytes::Bytes>,
    Option<f64>,
    Option<bool>,
);

fn offer(o: &pb::Offer) -> Result<Offer<'_>, CoreError> {
    let where_ = "event.offers.offers";
    Ok(Offer(
        id(&o.id.value, &format!("{where_}.id"))?,
        id(&o.agent_id.value, &format!("{where_}.agent_id"))?,
        &o.hostname,
        o.resources.iter().map(resource).collect::<Result<_, _>>()?,
        o.attributes
            .iter()
            .map(attribute)
            .collect::<Result<_, _>>()?,
    ))
}

// `role` is deprecated in Mesos for `allocation_info`, but masters from before
// reservation refinement send only it.
#[allow(deprecated)]
fn resource(r: &pb::Resource) -> Result<Resource<'_>, CoreError> {
    let where_ = format!("resource '{}'", r.name);
    let role = r
        .role
        .as_deref()
        .or_else(|| r.allocation_info.as_ref().and_then(|a| a.role.as_deref()))
        .unwrap_or("*");
    let (scalar, ranges, set) = match pb::value::Type::try_from(r.r#type) {
        Ok(pb::value::Type::Scalar) => (Some(scalar(r.scalar.as_ref(), &where_)?), None, None),
        Ok(pb::value::Type::Ranges) => (None, Some(ranges(r.ranges.as_ref(), &where_)?), None),
        Ok(pb::value::Type::Set) => (None, None, Some(set(r.set.as_ref(), &where_)?)),
        _ => return Err(unknown_type(r.r#type, &where_)),
    };
    Ok(Resource(&r.name, scalar, ranges, set, role))
}

fn attribute(a: &pb::Attribute) -> Result<Attribute<'_>, CoreError> {
    let where_ = format!("attribute '{}'", a.name);
    let (mut text, mut scalar_, mut ranges_, mut set_) = (None, None, None, None);
    match pb::value::Type::try_from(a.r#type) {
        Ok(pb::value::Type::Text) => {
            text = Some(
                present(a.text.as_ref(), &format!("{where_}.text"))?
                    .value
                    .as_str(),
            )
        }
        Ok(pb::value::Type::Scalar) => scalar_ = Some(scalar(a.scalar.as_ref(), &where_)?),
        Ok(pb::value::Type::Ranges) => ranges_ = Some(ranges(a.ranges.as_ref(), &where_)?),
        Ok(pb::value::Type::Set) => set_ = Some(set(a.set.as_ref(), &where_)?),
        Err(_) => return Err(unknown_type(a.r#type, &where_)),
    }
    Ok(Attribute(&a.name, text, scalar_, ranges_, set_))
}

fn status(s: &pb::TaskStatus) -> Result<Status<'_>, CoreError> {
    let state = pb::TaskState::try_from(s.state)
        .map_err(|_| malformed(format!("status.state: unknown task state {}", s.state)))?;
    // A reason or source newer than this build is dropped rather than the
    // whole update: the state is what the loop must not miss.
    let reason = s
        .reason
        .and_then(|r| pb::task_status::Reason::try_from(r).ok())
        .map(|r| r.as_str_name());
    let source = s
        .source
        .and_then(|r| pb::task_status::Source::try_from(r).ok())
        .map(|r| r.as_str_name());
    Ok(Status(
        id(&s.task_id.value, "status.task_id")?,
        state.as_str_name(),
        s.agent_id.as_ref().map(|a| a.value.as_str()),
        s.executor_id.as_ref().map(|e| e.value.as_str()),
        reason,
        source,
        s.message.as_deref(),
        s.uuid.as_deref().map(serde_bytes::Bytes::new),
        s.timestamp,
        s.healthy,
    ))
}

fn scalar(value: Option<&pb::value::Scalar>, where_: &str) -> Result<f64, CoreError> {
    Ok(present(value, &format!("{where_}.scalar"))?.value)
}

fn ranges(value: Option<&pb::value::Ranges>, where_: &str) -> Result<Vec<(i64, i64)>, CoreError> {
    present(value, &format!("{where_}.ranges"))?
        .range
        .iter()
        .map(|r| match (i64::try_from(r.begin), i64::try_from(r.end)) {
            (Ok(lo), Ok(hi)) => Ok((lo, hi)),
            _ => Err(malformed(format!("{where_}.ranges.range: beyond 2^63"))),
        })
        .collect()
}

fn set<'a>(value: Option<&'a pb::value::Set>, where_: &str) -> Result<&'a [String], CoreError> {
    Ok(&present(value, &format!("{where_}.set"))?.item)
}

fn present<'a, T>(value: Option<&'a T>, where_: &str) -> Result<&'a T, CoreError> {
    value.ok_or_else(|| malformed(format!("{where_}: missing")))
}

/// An id is a required string: protobuf cannot tell it missing from empty,
/// and Mesos never sends an empty one.
fn id<'a>(value: &'a str, where_: &str) -> Result<&'a str, CoreError> {
    if value.is_empty() {
        Err(malformed(format!("{where_}.value: missing")))
    } else {
        Ok(value)
    }
}

fn unknown_type(value: i32, where_: &str) -> CoreError {
    let name = pb::value::Type::try_from(value)
        .map_or_else(|_| value.to_string(), |t| t.as_str_name().to_owned());
    malformed(format!("{where_}.type: unknown value type {name}"))
}

fn malformed(text: String) -> CoreError {
    CoreError::Message(text)
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::messages::Message;

    fn offers_event() -> Event {
        let resource = pb::Resource {
            name: "cpus".into(),
            r#type: pb::value::Type::Scalar as i32,
            scalar: Some(pb::value::Scalar { value: 2.5 }),
            allocation_info: Some(pb::resource::AllocationInfo {
                role: Some("web".into()),
            }),
            ..Default::default()
        };
        let ports = pb::Resource {
            name: "ports".into(),
            r#type: pb::value::Type::Ranges as i32,
            ranges: Some(pb::value::Ranges {
                range: vec![pb::value::Range {
                    begin: 31000,
                    end: 31009,
                }],
            }),
            ..Default::default()
        };
        let rack = pb::Attribute {
            name: "rack".into(),
            r#type: pb::value::Type::Text as i32,
            text: Some(pb::value::Text { value: "r1".into() }),
            ..Default::default()
        };
        Event {
            r#type: Some(event::Type::Offers as i32),
            offers: Some(event::Offers {
                offers: vec![pb::Offer {
                    id: pb::OfferId { value: "o1".into() },
                    framework_id: pb::FrameworkId { value: "f".into() },
                    agent_id: pb::AgentId { value: "a1".into() },
                    hostname: "host1".into(),
                    resources: vec![resource, ports],
                    attributes: vec![rack],
                    ..Default::default()
                }],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn an_offers_event_lifts_to_the_loops_offers() {
        let (tag, bytes) = decode_event(&offers_event().encode_to_vec())
            .unwrap()
            .unwrap();
        assert_eq!(tag, "Offers");
        let Message::Offers(offers) = Message::decode(&bytes).unwrap() else {
            panic!("not Offers");
        };
        assert_eq!(offers[0].id, "o1");
        assert_eq!(offers[0].resources[0].role, "web");
        assert_eq!(offers[0].resources[0].scalar, Some(2.5));
        assert_eq!(offers[0].resources[1].ranges, Some(vec![(31000, 31009)]));
        assert_eq!(offers[0].resources[1].role, "*");
        assert_eq!(offers[0].attributes[0].text.as_deref(), Some("r1"));
    }

    #[test]
    fn bad_bytes_and_missing_fields_are_named_errors() {
        let err = decode_event(b"\xff\xff\xff").unwrap_err();
        assert!(err.to_string().contains("not a protobuf Event"), "{err}");
        let empty = Event {
            r#type: Some(event::Type::Update as i32),
            ..Default::default()
        };
        let err = decode_event(&empty.encode_to_vec()).unwrap_err();
        assert!(err.to_string().contains("event.update: missing"), "{err}");
        let mut bad = offers_event();
        bad.offers.as_mut().unwrap().offers[0].resources[0].scalar = None;
        let err = decode_event(&bad.encode_to_vec()).unwrap_err();
        assert!(
            err.to_string().contains("resource 'cpus'.scalar: missing"),
            "{err}"
        );
    }

    #[test]
    fn events_ark_does_not_model_lift_to_nothing() {
        for kind in [event::Type::InverseOffers as i32, 99] {
            let e = Event {
                r#type: Some(kind),
                ..Default::default()
            };
            assert_eq!(decode_event(&e.encode_to_vec()).unwrap(), None);
        }
    }
}
