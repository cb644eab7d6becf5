//! Task requests: what a framework asks the matcher to place.
//!
//! Their own module because both ends use them: `messages` decodes them from
//! a `Request`, and `matching` places them. The strings are borrowed from the
//! msgpack bytes: with 50,000 requests, owning them was most of a cycle.

use serde::{Deserialize, Serialize};

/// A placement constraint, as `ark.matching.Constraint` (see docs/matching.md).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
pub struct Constraint<'a> {
    pub field: &'a str,
    pub operator: &'a str,
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
    /// `binpack` or `spread` for this request; None: the cycle's.
    #[serde(default, borrow)]
    pub strategy: Option<&'a str>,
}

impl TaskRequest<'_> {
    /// How many ports the request takes: `ports` plus one per name.
    pub fn port_count(&self) -> i64 {
        i64::from(self.ports) + self.port_names.len() as i64
    }
}
