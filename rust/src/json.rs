//! The Mesos v1 scheduler API in its JSON encoding: the lift of an `Event`
//! into the message bytes the loop reads, the Rust twin of `ark.wire.event`
//! (same messages, same rules; the tests check they agree).
//!
//! The event is parsed into borrowed shapes (strings point into the record
//! unless they hold escapes), then written as `inbox_message`s.

use std::borrow::Cow;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::CoreError;
use crate::inbox_message::{
    tagged, Attribute, InverseOffer, Offer, Resource, Status, Unavailability, Value,
};
use crate::protobuf::mesos::v1::{task_status, TaskState};

/// Lifts one JSON `mesos.v1.scheduler.Event` into its Ark message: the
/// message's type name and its msgpack; `None` for the events Ark ignores.
pub fn decode_event(data: &[u8]) -> Result<Option<(&'static str, Vec<u8>)>, CoreError> {
    let event: Event<'_> = parse(data, "event")?;
    lift(&event)
}

/// `data` as a `T`; an error names the field, under `where_`.
fn parse<'a, T: Deserialize<'a>>(data: &'a [u8], where_: &str) -> Result<T, CoreError> {
    let de = &mut serde_json::Deserializer::from_slice(data);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            malformed(format!("{where_}: not JSON: {inner}"))
        } else if path == "." {
            malformed(format!("{where_}: {inner}"))
        } else {
            malformed(format!("{where_}.{path}: {inner}"))
        }
    })
}

/// The bodies stay unparsed until the type says which one counts: a body
/// of another type is ignored, as `ark.wire.event` ignores it.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    subscribed: Option<&'a RawValue>,
    #[serde(borrow)]
    offers: Option<&'a RawValue>,
    #[serde(borrow)]
    rescind: Option<&'a RawValue>,
    #[serde(borrow)]
    update: Option<&'a RawValue>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    #[serde(borrow)]
    failure: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
    #[serde(borrow)]
    inverse_offers: Option<&'a RawValue>,
    #[serde(borrow)]
    rescind_inverse_offer: Option<&'a RawValue>,
}

/// The body named `name`, parsed; `None` if absent or null.
fn body<'a, T: Deserialize<'a>>(
    raw: Option<&'a RawValue>,
    name: &str,
) -> Result<Option<T>, CoreError> {
    raw.map(|r| parse::<Obj<T>>(r.get().as_bytes(), &format!("event.{name}")).map(|o| o.0))
        .transpose()
}

/// A `T` read only from a JSON object: serde's derived structs also take
/// arrays, which would let `[]` pass for a message whose fields are all
/// optional where `ark.wire` (and Mesos) want an object.
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Only<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Only<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Only(std::marker::PhantomData))
            .map(Obj)
    }
}

#[derive(Deserialize)]
struct Id<'a> {
    #[serde(borrow)]
    value: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Subscribed<'a> {
    #[serde(borrow)]
    framework_id: Id<'a>,
    heartbeat_interval_seconds: Option<f64>,
    #[serde(borrow)]
    master_info: Option<Obj<MasterInfo<'a>>>,
}

#[derive(Deserialize)]
struct MasterInfo<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct Offers<'a> {
    #[serde(default, borrow)]
    offers: Vec<JsonOffer<'a>>,
}

#[derive(Deserialize)]
struct JsonOffer<'a> {
    #[serde(borrow)]
    id: Id<'a>,
    #[serde(borrow)]
    agent_id: Id<'a>,
    #[serde(borrow)]
    hostname: Cow<'a, str>,
    #[serde(borrow)]
    resources: Option<Vec<JsonValue<'a>>>,
    #[serde(borrow)]
    attributes: Option<Vec<JsonValue<'a>>>,
    #[serde(borrow)]
    allocation_info: Option<Obj<Allocation<'a>>>,
    unavailability: Option<Obj<JsonUnavailability>>,
}

#[derive(Deserialize)]
struct JsonUnavailability {
    start: Obj<Nanoseconds>,
    duration: Option<Obj<Nanoseconds>>,
}

/// A `TimeInfo` or a `DurationInfo`.
#[derive(Deserialize)]
struct Nanoseconds {
    nanoseconds: i64,
}

impl JsonUnavailability {
    fn lift(&self) -> Unavailability {
        let duration = self.duration.as_ref().map(|d| d.0.nanoseconds);
        Unavailability::from_nanoseconds(self.start.0.nanoseconds, duration)
    }
}

#[derive(Deserialize, Default)]
struct InverseOffers<'a> {
    #[serde(default, borrow)]
    inverse_offers: Vec<Obj<JsonInverseOffer<'a>>>,
}

#[derive(Deserialize)]
struct JsonInverseOffer<'a> {
    #[serde(borrow)]
    id: Id<'a>,
    #[serde(borrow)]
    agent_id: Option<Id<'a>>,
    unavailability: Option<Obj<JsonUnavailability>>,
}

#[derive(Deserialize)]
struct RescindInverseOffer<'a> {
    #[serde(borrow)]
    inverse_offer_id: Id<'a>,
}

/// A resource or an attribute: a name, a typed value, and a resource's role.
#[derive(Deserialize)]
struct JsonValue<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    scalar: Option<Obj<Scalar>>,
    ranges: Option<Obj<Ranges>>,
    #[serde(borrow)]
    set: Option<Obj<Set<'a>>>,
    #[serde(borrow)]
    text: Option<Obj<Text<'a>>>,
    #[serde(borrow)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow)]
    allocation_info: Option<Obj<Allocation<'a>>>,
}

#[derive(Deserialize)]
struct Scalar {
    value: Option<f64>,
}

#[derive(Deserialize)]
struct Ranges {
    #[serde(default)]
    range: Vec<Range>,
}

#[derive(Deserialize)]
struct Range {
    begin: i64,
    end: i64,
}

#[derive(Deserialize)]
struct Set<'a> {
    #[serde(default, borrow)]
    item: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Text<'a> {
    #[serde(borrow)]
    value: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Allocation<'a> {
    #[serde(borrow)]
    role: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Rescind<'a> {
    #[serde(borrow)]
    offer_id: Id<'a>,
}

#[derive(Deserialize)]
struct Update<'a> {
    #[serde(borrow)]
    status: JsonStatus<'a>,
}

#[derive(Deserialize)]
struct JsonStatus<'a> {
    #[serde(borrow)]
    task_id: Id<'a>,
    #[serde(borrow)]
    state: Cow<'a, str>,
    #[serde(borrow)]
    agent_id: Option<Id<'a>>,
    #[serde(borrow)]
    executor_id: Option<Id<'a>>,
    #[serde(borrow)]
    reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uuid: Option<Cow<'a, str>>,
    timestamp: Option<f64>,
    healthy: Option<bool>,
}

#[derive(Deserialize)]
struct FrameworkMessage<'a> {
    #[serde(borrow)]
    agent_id: Id<'a>,
    #[serde(borrow)]
    executor_id: Id<'a>,
    #[serde(borrow)]
    data: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Failure<'a> {
    #[serde(borrow)]
    agent_id: Option<Id<'a>>,
    #[serde(borrow)]
    executor_id: Option<Id<'a>>,
    status: Option<i64>,
}

#[derive(Deserialize)]
struct ErrorBody<'a> {
    #[serde(borrow)]
    message: Cow<'a, str>,
}

fn lift(event: &Event<'_>) -> Result<Option<(&'static str, Vec<u8>)>, CoreError> {
    let lifted = match event.kind.as_ref() {
        "SUBSCRIBED" => {
            let body: Option<Subscribed<'_>> = body(event.subscribed, "subscribed")?;
            let body = present(body.as_ref(), "event.subscribed")?;
            let master_id = body.master_info.as_ref().and_then(|m| m.0.id.as_deref());
            let fields = (
                body.framework_id.value.as_ref(),
                body.heartbeat_interval_seconds,
                master_id,
            );
            tagged("Subscribed", fields)
        }
        "OFFERS" => {
            let body: Option<Offers<'_>> = body(event.offers, "offers")?;
            let body = body.unwrap_or_default();
            let offers = body
                .offers
                .iter()
                .map(offer)
                .collect::<Result<Vec<_>, _>>()?;
            tagged("Offers", (offers,))
        }
        "RESCIND" => {
            let body: Option<Rescind<'_>> = body(event.rescind, "rescind")?;
            let body = present(body.as_ref(), "event.rescind")?;
            tagged("Rescind", (body.offer_id.value.as_ref(),))
        }
        "UPDATE" => {
            let body: Option<Update<'_>> = body(event.update, "update")?;
            let body = present(body.as_ref(), "event.update")?;
            let uuid = bytes(body.status.uuid.as_deref(), "status.uuid")?;
            let status = status(&body.status, uuid.as_deref())?;
            tagged("Update", (status,))
        }
        "MESSAGE" => {
            let body: Option<FrameworkMessage<'_>> = body(event.message, "message")?;
            let body = present(body.as_ref(), "event.message")?;
            let data = bytes(Some(&body.data), "event.message.data")?.unwrap_or_default();
            let fields = (
                body.agent_id.value.as_ref(),
                body.executor_id.value.as_ref(),
                serde_bytes::Bytes::new(&data),
            );
            tagged("FrameworkMessage", fields)
        }
        "FAILURE" => {
            let body: Option<Failure<'_>> = body(event.failure, "failure")?;
            let body = present(body.as_ref(), "event.failure")?;
            let agent = present(body.agent_id.as_ref(), "event.failure.agent_id")?;
            let executor_id = body.executor_id.as_ref().map(|e| e.value.as_ref());
            tagged("Failure", (agent.value.as_ref(), executor_id, body.status))
        }
        "ERROR" => {
            let body: Option<ErrorBody<'_>> = body(event.error, "error")?;
            let body = present(body.as_ref(), "event.error")?;
            tagged("Error", (body.message.as_ref(),))
        }
        "HEARTBEAT" => tagged("Heartbeat", ()),
        "INVERSE_OFFERS" => {
            let body: Option<InverseOffers<'_>> = body(event.inverse_offers, "inverse_offers")?;
            let body = body.unwrap_or_default();
            let where_ = "event.inverse_offers.inverse_offers";
            let inverse_offers = body
                .inverse_offers
                .iter()
                .map(|Obj(i)| {
                    let agent = present(i.agent_id.as_ref(), &format!("{where_}.agent_id"))?;
                    let unavailability = present(
                        i.unavailability.as_ref(),
                        &format!("{where_}.unavailability"),
                    )?;
                    Ok(InverseOffer(
                        &i.id.value,
                        &agent.value,
                        unavailability.0.lift(),
                    ))
                })
                .collect::<Result<Vec<_>, CoreError>>()?;
            tagged("InverseOffers", (inverse_offers,))
        }
        "RESCIND_INVERSE_OFFER" => {
            let body: Option<RescindInverseOffer<'_>> =
                body(event.rescind_inverse_offer, "rescind_inverse_offer")?;
            let body = present(body.as_ref(), "event.rescind_inverse_offer")?;
            tagged(
                "RescindInverseOffer",
                (body.inverse_offer_id.value.as_ref(),),
            )
        }
        // UPDATE_OPERATION_STATUS, newer.
        _ => return Ok(None),
    };
    Ok(Some(lifted))
}

fn offer<'a>(o: &'a JsonOffer<'a>) -> Result<Offer<'a>, CoreError> {
    let resources = o.resources.as_deref().unwrap_or_default();
    let attributes = o.attributes.as_deref().unwrap_or_default();
    Ok(Offer(
        &o.id.value,
        &o.agent_id.value,
        &o.hostname,
        resources.iter().map(resource).collect::<Result<_, _>>()?,
        attributes.iter().map(attribute).collect::<Result<_, _>>()?,
        o.allocation_info.as_ref().and_then(|a| a.0.role.as_deref()),
        o.unavailability.as_ref().map(|u| u.0.lift()),
    ))
}

fn resource<'a>(r: &'a JsonValue<'a>) -> Result<Resource<'a>, CoreError> {
    let where_ = format!("resource '{}'", r.name);
    let role = r
        .role
        .as_deref()
        .or_else(|| r.allocation_info.as_ref().and_then(|a| a.0.role.as_deref()))
        .unwrap_or("*");
    let role = if role.is_empty() { "*" } else { role };
    match value(r, &where_)? {
        Value::Text(_) => Err(unknown_type(r.kind.as_deref(), &where_)),
        v => Ok(Resource::new(&r.name, v, role).expect("not text")),
    }
}

fn attribute<'a>(a: &'a JsonValue<'a>) -> Result<Attribute<'a>, CoreError> {
    let where_ = format!("attribute '{}'", a.name);
    if a.kind.as_deref() == Some("TEXT") {
        let text = &present(a.text.as_ref(), &format!("{where_}.text"))?.0;
        return Ok(Attribute::new(&a.name, Value::Text(&text.value)));
    }
    Ok(Attribute::new(&a.name, value(a, &where_)?))
}

fn value<'a>(v: &'a JsonValue<'a>, where_: &str) -> Result<Value<'a>, CoreError> {
    match v.kind.as_deref() {
        Some("SCALAR") => {
            let scalar = &present(v.scalar.as_ref(), &format!("{where_}.scalar"))?.0;
            let x = scalar
                .value
                .ok_or_else(|| malformed(format!("{where_}.scalar.value: missing")))?;
            Ok(Value::Scalar(x))
        }
        Some("RANGES") => {
            let ranges = &present(v.ranges.as_ref(), &format!("{where_}.ranges"))?.0;
            Ok(Value::Ranges(
                ranges.range.iter().map(|r| (r.begin, r.end)).collect(),
            ))
        }
        Some("SET") => {
            let set = &present(v.set.as_ref(), &format!("{where_}.set"))?.0;
            Ok(Value::Set(set.item.iter().map(|i| i.as_ref()).collect()))
        }
        kind => Err(unknown_type(kind, where_)),
    }
}

fn status<'a>(s: &'a JsonStatus<'a>, uuid: Option<&'a [u8]>) -> Result<Status<'a>, CoreError> {
    if TaskState::from_str_name(&s.state).is_none() {
        return Err(malformed(format!(
            "status.state: unknown task state '{}'",
            s.state
        )));
    }
    if let Some(source) = s.source.as_deref() {
        if task_status::Source::from_str_name(source).is_none() {
            return Err(malformed(format!(
                "status.source: unknown source '{source}'"
            )));
        }
    }
    Ok(Status(
        &s.task_id.value,
        &s.state,
        s.agent_id.as_ref().map(|a| a.value.as_ref()),
        s.executor_id.as_ref().map(|e| e.value.as_ref()),
        s.reason.as_deref(),
        s.source.as_deref(),
        s.message.as_deref(),
        uuid.map(serde_bytes::Bytes::new),
        s.timestamp,
        s.healthy,
    ))
}

/// Standard base64 with padding, as Python's `b64decode(validate=True)`
/// reads it (which lets the unused bits of the last character be anything).
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

fn bytes(text: Option<&str>, where_: &str) -> Result<Option<Vec<u8>>, CoreError> {
    text.map(|t| {
        BASE64
            .decode(t)
            .map_err(|_| malformed(format!("{where_}: not base64")))
    })
    .transpose()
}

fn present<'a, T>(value: Option<&'a T>, where_: &str) -> Result<&'a T, CoreError> {
    value.ok_or_else(|| malformed(format!("{where_}: missing")))
}

fn unknown_type(kind: Option<&str>, where_: &str) -> CoreError {
    malformed(format!("{where_}.type: unknown value type {kind:?}"))
}

fn malformed(text: String) -> CoreError {
    CoreError::Message(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Message;

    #[test]
    fn an_update_lifts_with_its_uuid_decoded() {
        let event = br#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"t\"1"},
            "state":"TASK_RUNNING","uuid":"AAEC","source":"SOURCE_AGENT"}}}"#;
        let (tag, bytes) = decode_event(event).unwrap().unwrap();
        assert_eq!(tag, "Update");
        let Message::Update(status) = Message::decode(&bytes).unwrap() else {
            panic!("not an update");
        };
        assert_eq!(status.task_id, "t\"1");
        assert_eq!(status.uuid, Some(&[0u8, 1, 2][..]));
    }

    #[test]
    fn errors_name_the_field() {
        let cases: [(&[u8], &str); 4] = [
            (b"not json", "event: not JSON"),
            (br#"{"type":"OFFERS","offers":{"offers":[{"id":{"value":"o"}}]}}"#, "agent_id"),
            (br#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":"NOPE"}}}"#,
             "unknown task state 'NOPE'"),
            (br#"{"type":"MESSAGE","message":{"agent_id":{"value":"a"},
                "executor_id":{"value":"e"},"data":"%%%"}}"#, "event.message.data: not base64"),
        ];
        for (event, expected) in cases {
            let err = decode_event(event).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} lacks {expected}");
        }
    }

    #[test]
    fn unknown_event_types_lift_to_nothing() {
        assert_eq!(
            decode_event(br#"{"type":"UPDATE_OPERATION_STATUS"}"#).unwrap(),
            None
        );
    }
}
