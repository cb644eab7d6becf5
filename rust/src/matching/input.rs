//! A cycle's input: offers, requests and what is already placed, borrowed.

use rustc_hash::FxHashMap as HashMap;
use serde::Deserialize;

use crate::messages::{Attribute, Offer, Resource, Unavailability};
use crate::request::{RequestResource, Strategy, TaskRequest};

impl<'a> From<&'a Resource> for RequestResource<'a> {
    fn from(r: &'a Resource) -> Self {
        RequestResource {
            name: &r.name,
            scalar: r.scalar,
            ranges: r.ranges.clone(),
            set: r
                .set
                .as_ref()
                .map(|s| s.iter().map(String::as_str).collect()),
            role: &r.role,
            ..Default::default()
        }
    }
}

/// An offer, as `ark.messages.Offer` with its strings borrowed: a cycle
/// copies none of them.
#[derive(Clone, Debug, Deserialize)]
pub struct MatchOffer<'a> {
    pub id: &'a str,
    pub agent_id: &'a str,
    pub hostname: &'a str,
    #[serde(default, borrow)]
    pub resources: Vec<RequestResource<'a>>,
    #[serde(default, borrow)]
    pub attributes: Vec<AttributeRef<'a>>,
    /// The role the offer is allocated to.
    #[serde(default, borrow)]
    pub role: Option<&'a str>,
    /// Read so that an offer decodes whole; the matcher places on it all the
    /// same (keeping off agents in maintenance is the core's drain policy).
    #[serde(default)]
    pub unavailability: Option<Unavailability>,
}

impl<'a> From<&'a Offer> for MatchOffer<'a> {
    fn from(o: &'a Offer) -> Self {
        MatchOffer {
            id: &o.id,
            agent_id: &o.agent_id,
            hostname: &o.hostname,
            resources: o.resources.iter().map(RequestResource::from).collect(),
            attributes: o.attributes.iter().map(AttributeRef::from).collect(),
            role: o.role.as_deref(),
            unavailability: o.unavailability,
        }
    }
}

/// An agent attribute, as `ark.messages.Attribute`, borrowed.
#[derive(Clone, Debug, Deserialize)]
pub struct AttributeRef<'a> {
    pub name: &'a str,
    #[serde(default, borrow)]
    pub text: Option<&'a str>,
    #[serde(default)]
    pub scalar: Option<f64>,
    #[serde(default)]
    pub ranges: Option<Vec<(i64, i64)>>,
    #[serde(default, borrow)]
    pub set: Option<Vec<&'a str>>,
}

impl<'a> From<&'a Attribute> for AttributeRef<'a> {
    fn from(a: &'a Attribute) -> Self {
        AttributeRef {
            name: &a.name,
            text: a.text.as_deref(),
            scalar: a.scalar,
            ranges: a.ranges.clone(),
            set: a
                .set
                .as_ref()
                .map(|s| s.iter().map(String::as_str).collect()),
        }
    }
}

/// A task of `group` already running on `agent_id`, or the volume `volume`
/// (a persistence id) of one of its requests held there: it counts for the
/// group's UNIQUE, MAX_PER and GROUP_BY, a volume for every request but its own.
#[derive(Clone, Debug, Deserialize)]
pub struct Existing<'a> {
    pub group: &'a str,
    pub agent_id: &'a str,
    #[serde(default)]
    pub volume: Option<&'a str>,
}

/// Hostname and attributes of an agent with existing tasks but no offer now.
#[derive(Clone, Debug, Deserialize)]
pub struct AgentInfo<'a> {
    pub agent_id: &'a str,
    pub hostname: &'a str,
    #[serde(default, borrow)]
    pub attributes: Vec<AttributeRef<'a>>,
}

/// One cycle's input, as `ark.matching`'s `_Input`.
#[derive(Clone, Debug, Deserialize)]
pub struct MatchInput<'a> {
    #[serde(borrow)]
    pub offers: Vec<MatchOffer<'a>>,
    #[serde(borrow)]
    pub requests: Vec<TaskRequest<'a>>,
    pub strategy: Strategy,
    #[serde(default, borrow)]
    pub blacklist: Vec<&'a str>,
    #[serde(default, borrow)]
    pub existing: Vec<Existing<'a>>,
    #[serde(default, borrow)]
    pub agents: Vec<AgentInfo<'a>>,
}

/// What a cycle's requests name, each as a small id: the fields their
/// constraints name, their groups, and the scalars they need by (name,
/// role). Each agent's free amounts are a vector over these scalars;
/// offered scalars nobody asks for do not matter.
pub(super) struct Ids<'a> {
    pub(super) fields: Vec<&'a str>,
    pub(super) groups: HashMap<&'a str, u32>,
    pub(super) scalars: HashMap<(&'a str, &'a str), usize>,
    /// The (name, role) of each scalar id.
    pub(super) scalar_keys: Vec<(&'a str, &'a str)>,
}

impl<'a> Ids<'a> {
    pub(super) fn of(requests: &'a [TaskRequest<'a>]) -> Self {
        let mut fields: Vec<&str> = Vec::new();
        let mut groups: HashMap<&str, u32> = HashMap::default();
        for r in requests {
            let next = groups.len() as u32;
            groups.entry(r.group).or_insert(next);
            for c in &r.constraints {
                if !fields.contains(&c.field) {
                    fields.push(c.field);
                }
            }
        }
        let mut scalars: HashMap<(&str, &str), usize> = HashMap::default();
        let mut scalar_keys = Vec::new();
        for r in requests {
            for res in r.all_resources() {
                let next = scalars.len();
                scalars.entry((res.name, res.role)).or_insert_with(|| {
                    scalar_keys.push((res.name, res.role));
                    next
                });
            }
        }
        Ids {
            fields,
            groups,
            scalars,
            scalar_keys,
        }
    }

    /// The id of a field that a constraint names.
    pub(super) fn field(&self, name: &str) -> usize {
        self.fields.iter().position(|f| *f == name).unwrap_or(0)
    }
}
