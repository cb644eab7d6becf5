//! Task requests: what a framework asks the matcher to place.
//!
//! Their own module because both ends use them: `messages` decodes them from
//! a `Request`, and `matching` places them. The strings are borrowed from the
//! msgpack bytes: with 50,000 requests, owning them was most of a cycle.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How requests are placed: on the first agent that takes them, or after
/// the agent last chosen for their shape (docs/matching.md, Placement).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    #[default]
    Binpack,
    Spread,
}

/// A constraint's operator, as `ark.messages.Operator`; any other is a
/// decoding error, never a request that reaches the matcher.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    Eq,
    Like,
    Unlike,
    Unique,
    MaxPer,
    GroupBy,
}

impl Operator {
    /// UNIQUE, MAX_PER and GROUP_BY count the tasks of a group per value.
    pub fn counts(self) -> bool {
        matches!(
            self,
            Operator::Unique | Operator::MaxPer | Operator::GroupBy
        )
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::Eq => "EQ",
            Operator::Like => "LIKE",
            Operator::Unlike => "UNLIKE",
            Operator::Unique => "UNIQUE",
            Operator::MaxPer => "MAX_PER",
            Operator::GroupBy => "GROUP_BY",
        })
    }
}

/// A placement constraint, as `ark.matching.Constraint` (see docs/matching.md).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
pub struct Constraint<'a> {
    pub field: &'a str,
    pub operator: Operator,
    #[serde(default)]
    pub value: &'a str,
}

/// A request's resource, as `ark.messages.Resource` (only scalars count here).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct RequestResource<'a> {
    pub name: &'a str,
    #[serde(default)]
    pub scalar: Option<f64>,
    #[serde(default)]
    pub ranges: Option<Vec<(i64, i64)>>,
    #[serde(default, borrow)]
    pub set: Option<Vec<&'a str>>,
    #[serde(default = "any_role")]
    pub role: &'a str,
}

fn any_role() -> &'static str {
    "*"
}

/// A task request, as `ark.matching.TaskRequest`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TaskRequest<'a> {
    pub task_id: &'a str,
    #[serde(default, borrow)]
    pub resources: Vec<RequestResource<'a>>,
    #[serde(default)]
    pub ports: u32,
    #[serde(default, borrow)]
    pub constraints: Vec<Constraint<'a>>,
    #[serde(default)]
    pub group: &'a str,
    #[serde(default)]
    pub agent_id: Option<&'a str>,
    #[serde(default)]
    pub name: &'a str,
    #[serde(default, with = "serde_bytes")]
    pub payload: &'a [u8],
    /// Ports wanted by name, on top of `ports`: each gets its own.
    #[serde(default, borrow)]
    pub port_names: Vec<&'a str>,
    /// This request's strategy; None: the cycle's.
    #[serde(default)]
    pub strategy: Option<Strategy>,
}

impl TaskRequest<'_> {
    /// How many ports the request takes: `ports` plus one per name.
    pub fn port_count(&self) -> i64 {
        i64::from(self.ports) + self.port_names.len() as i64
    }
}
