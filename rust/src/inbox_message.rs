//! Ark messages written as the inbox reads them, straight from the parts of
//! a decoded Mesos event: msgspec's `array_like` msgpack, each struct the
//! array of its fields in the order of its `ark.messages` twin, a tagged one
//! with its type name first. The event lifts (`protobuf`, `json`) build these
//! from borrowed strings, so nothing is copied on the way but the output.

use serde::Serialize;

/// A tagged `ark.messages` struct, `[tag, field, ...]`, with its tag.
pub fn tagged<T: TupleFields>(tag: &'static str, fields: T) -> (&'static str, Vec<u8>) {
    let mut out = Vec::with_capacity(64);
    rmp::encode::write_array_len(&mut out, 1 + T::LEN).expect("writing to a Vec cannot fail");
    rmp::encode::write_str(&mut out, tag).expect("writing to a Vec cannot fail");
    fields.append(&mut out);
    (tag, out)
}

/// A tuple whose fields are written one after another, with no array header.
pub trait TupleFields {
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

/// `ark.messages.Offer`: id, agent id, hostname, resources, attributes,
/// allocation role, unavailability.
#[derive(Serialize)]
pub struct Offer<'a>(
    pub &'a str,
    pub &'a str,
    pub &'a str,
    pub Vec<Resource<'a>>,
    pub Vec<Attribute<'a>>,
    pub Option<&'a str>,
    pub Option<Unavailability>,
);

/// `ark.messages.Unavailability`: start and duration, in seconds.
#[derive(Serialize)]
pub struct Unavailability(pub f64, pub Option<f64>);

impl Unavailability {
    /// From Mesos's `TimeInfo` and `DurationInfo` nanoseconds.
    pub fn from_nanoseconds(start: i64, duration: Option<i64>) -> Self {
        Unavailability(start as f64 / 1e9, duration.map(|d| d as f64 / 1e9))
    }
}

/// `ark.messages.InverseOffer`: id, agent id, unavailability.
#[derive(Serialize)]
pub struct InverseOffer<'a>(pub &'a str, pub &'a str, pub Unavailability);

/// `ark.messages.Resource`: name, scalar, ranges, set, role.
#[derive(Serialize)]
pub struct Resource<'a>(
    pub &'a str,
    pub Option<f64>,
    pub Option<Vec<(i64, i64)>>,
    pub Option<Vec<&'a str>>,
    pub &'a str,
);

/// `ark.messages.Attribute`: name, text, scalar, ranges, set.
#[derive(Serialize)]
pub struct Attribute<'a>(
    pub &'a str,
    pub Option<&'a str>,
    pub Option<f64>,
    pub Option<Vec<(i64, i64)>>,
    pub Option<Vec<&'a str>>,
);

/// `ark.messages.TaskStatus`: task id, state, agent id, executor id, reason,
/// source, message, uuid, timestamp, healthy.
#[derive(Serialize)]
pub struct Status<'a>(
    pub &'a str,
    pub &'a str,
    pub Option<&'a str>,
    pub Option<&'a str>,
    pub Option<&'a str>,
    pub Option<&'a str>,
    pub Option<&'a str>,
    pub Option<&'a serde_bytes::Bytes>,
    pub Option<f64>,
    pub Option<bool>,
);

/// One value of a resource or attribute, by its Mesos `Value.Type`.
pub enum Value<'a> {
    Scalar(f64),
    Ranges(Vec<(i64, i64)>),
    Set(Vec<&'a str>),
    Text(&'a str),
}

impl<'a> Resource<'a> {
    /// `None` for a text value, which a resource cannot have.
    pub fn new(name: &'a str, value: Value<'a>, role: &'a str) -> Option<Self> {
        Some(match value {
            Value::Scalar(x) => Resource(name, Some(x), None, None, role),
            Value::Ranges(r) => Resource(name, None, Some(r), None, role),
            Value::Set(s) => Resource(name, None, None, Some(s), role),
            Value::Text(_) => return None,
        })
    }
}

impl<'a> Attribute<'a> {
    pub fn new(name: &'a str, value: Value<'a>) -> Self {
        match value {
            Value::Text(t) => Attribute(name, Some(t), None, None, None),
            Value::Scalar(x) => Attribute(name, None, Some(x), None, None),
            Value::Ranges(r) => Attribute(name, None, None, Some(r), None),
            Value::Set(s) => Attribute(name, None, None, None, Some(s)),
        }
    }
}
