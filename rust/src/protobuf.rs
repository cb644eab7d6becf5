//! The Mesos v1 scheduler API in its protobuf encoding: the generated types
//! (from `proto/`, at build time) and the lift of an `Event` into the message
//! bytes the loop reads, so that a large OFFERS event goes from the wire to
//! the inbox without one Python object being made.
//!
//! The lift is the protobuf twin of `ark.wire.event` (JSON) and of
//! `ark.protobuf.event` (Python): all three give the same Ark message for the
//! same event, which the tests check.

use crate::error::CoreError;
use crate::inbox_message::{
    tagged, Attribute, InverseOffer, Offer, Resource, Status, Unavailability, Value,
};

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod mesos {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/mesos.v1.rs"));
        pub mod scheduler {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.scheduler.rs"));
        }
    }
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
        event::Type::InverseOffers => {
            let body = present(event.inverse_offers.as_ref(), "event.inverse_offers")?;
            let where_ = "event.inverse_offers.inverse_offers";
            let inverse_offers = body
                .inverse_offers
                .iter()
                .map(|i| {
                    let agent = present(i.agent_id.as_ref(), &format!("{where_}.agent_id"))?;
                    Ok(InverseOffer(
                        id(&i.id.value, &format!("{where_}.id"))?,
                        id(&agent.value, &format!("{where_}.agent_id"))?,
                        unavailability(&i.unavailability),
                    ))
                })
                .collect::<Result<Vec<_>, CoreError>>()?;
            tagged("InverseOffers", (inverse_offers,))
        }
        event::Type::RescindInverseOffer => {
            let where_ = "event.rescind_inverse_offer";
            let body = present(event.rescind_inverse_offer.as_ref(), where_)?;
            let inverse_offer_id = id(
                &body.inverse_offer_id.value,
                &format!("{where_}.inverse_offer_id"),
            )?;
            tagged("RescindInverseOffer", (inverse_offer_id,))
        }
        event::Type::Unknown | event::Type::UpdateOperationStatus => return Ok(None),
    };
    Ok(Some(lifted))
}

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
        o.allocation_info.as_ref().and_then(|a| a.role.as_deref()),
        o.unavailability.as_ref().map(unavailability),
    ))
}

fn unavailability(u: &pb::Unavailability) -> Unavailability {
    let duration = u.duration.as_ref().map(|d| d.nanoseconds);
    Unavailability::from_nanoseconds(u.start.nanoseconds, duration)
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
    let value = value(
        r.r#type,
        r.scalar.as_ref(),
        r.ranges.as_ref(),
        r.set.as_ref(),
        None,
        &where_,
    )?;
    Resource::new(&r.name, value, role).ok_or_else(|| unknown_type(r.r#type, &where_))
}

fn attribute(a: &pb::Attribute) -> Result<Attribute<'_>, CoreError> {
    let where_ = format!("attribute '{}'", a.name);
    let value = value(
        a.r#type,
        a.scalar.as_ref(),
        a.ranges.as_ref(),
        a.set.as_ref(),
        Some(a.text.as_ref()),
        &where_,
    )?;
    Ok(Attribute::new(&a.name, value))
}

/// The value its `type` names; `text` is `None` where no text is allowed.
fn value<'a>(
    kind: i32,
    scalar: Option<&pb::value::Scalar>,
    ranges: Option<&pb::value::Ranges>,
    set: Option<&'a pb::value::Set>,
    text: Option<Option<&'a pb::value::Text>>,
    where_: &str,
) -> Result<Value<'a>, CoreError> {
    match (pb::value::Type::try_from(kind), text) {
        (Ok(pb::value::Type::Scalar), _) => Ok(Value::Scalar(
            present(scalar, &format!("{where_}.scalar"))?.value,
        )),
        (Ok(pb::value::Type::Ranges), _) => present(ranges, &format!("{where_}.ranges"))?
            .range
            .iter()
            .map(|r| match (i64::try_from(r.begin), i64::try_from(r.end)) {
                (Ok(lo), Ok(hi)) => Ok((lo, hi)),
                _ => Err(malformed(format!("{where_}.ranges.range: beyond 2^63"))),
            })
            .collect::<Result<_, _>>()
            .map(Value::Ranges),
        (Ok(pb::value::Type::Set), _) => {
            let items = &present(set, &format!("{where_}.set"))?.item;
            Ok(Value::Set(items.iter().map(String::as_str).collect()))
        }
        (Ok(pb::value::Type::Text), Some(text)) => Ok(Value::Text(
            &present(text, &format!("{where_}.text"))?.value,
        )),
        _ => Err(unknown_type(kind, where_)),
    }
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
        // Not `id()`: a master answers a launch with an empty task id by a
        // TASK_ERROR whose `task_id {value: ""}` is present and empty, and
        // proto2's required string cannot tell that from a missing one. The
        // master always sets it, and the JSON lift reads "" as given too.
        &s.task_id.value,
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

fn present<'a, T>(value: Option<&'a T>, where_: &str) -> Result<&'a T, CoreError> {
    value.ok_or_else(|| malformed(format!("{where_}: missing")))
}

/// An id is a required string: protobuf cannot tell it missing from empty,
/// and Mesos sends an empty one only as a TASK_ERROR's task id (see `status`).
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
    fn a_task_error_for_an_empty_task_id_lifts_with_that_id() {
        // Mesos's answer to a launch whose TaskID is "" (validation.cpp).
        let e = Event {
            r#type: Some(event::Type::Update as i32),
            update: Some(event::Update {
                status: pb::TaskStatus {
                    task_id: pb::TaskId { value: "".into() },
                    state: pb::TaskState::TaskError as i32,
                    ..Default::default()
                },
            }),
            ..Default::default()
        };
        let (tag, bytes) = decode_event(&e.encode_to_vec()).unwrap().unwrap();
        assert_eq!(tag, "Update");
        let Message::Update(status) = Message::decode(&bytes).unwrap() else {
            panic!("not Update");
        };
        assert_eq!(status.task_id, "");
    }

    #[test]
    fn events_ark_does_not_model_lift_to_nothing() {
        for kind in [event::Type::UpdateOperationStatus as i32, 99] {
            let e = Event {
                r#type: Some(kind),
                ..Default::default()
            };
            assert_eq!(decode_event(&e.encode_to_vec()).unwrap(), None);
        }
    }
}
