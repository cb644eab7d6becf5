//! Offer matching: pending task requests against outstanding offers.
//!
//! Pure and deterministic; specified in `docs/matching.md`, with a plain-Python
//! twin in `ark/matching.py` that the property tests compare against.
//!
//! Agents are taken in agent-id order. Bin-pack places each request on the
//! first agent that fits it; spread on the first that fits after the agent
//! last used for the same request shape, wrapping around. Within one cycle an
//! agent that cannot take a shape never can again (resources only shrink,
//! placement counts only grow), so each shape keeps a skip list of such
//! agents: a cycle costs about O(requests + agents x shapes), not
//! O(requests x agents). GROUP_BY is the exception: an agent it refuses may
//! be welcome once other values catch up, so such refusals are not skipped.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use regex::Regex;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::messages::{Attribute, Offer, Resource};

const EPSILON: f64 = 1e-9;

// The inputs borrow their strings from the msgpack bytes, and the decisions
// borrow them back: with 50,000 requests, owning them was most of a cycle.

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
}

impl<'a> From<&'a Offer> for MatchOffer<'a> {
    fn from(o: &'a Offer) -> Self {
        MatchOffer {
            id: &o.id,
            agent_id: &o.agent_id,
            hostname: &o.hostname,
            resources: o.resources.iter().map(RequestResource::from).collect(),
            attributes: o.attributes.iter().map(AttributeRef::from).collect(),
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
    fn port_count(&self) -> i64 {
        i64::from(self.ports) + self.port_names.len() as i64
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Existing<'a> {
    pub group: &'a str,
    pub agent_id: &'a str,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AgentInfo<'a> {
    pub agent_id: &'a str,
    pub hostname: &'a str,
    #[serde(default, borrow)]
    pub attributes: Vec<AttributeRef<'a>>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct MatchInput<'a> {
    #[serde(borrow)]
    pub offers: Vec<MatchOffer<'a>>,
    #[serde(borrow)]
    pub requests: Vec<TaskRequest<'a>>,
    pub strategy: &'a str,
    #[serde(default, borrow)]
    pub blacklist: Vec<&'a str>,
    #[serde(default, borrow)]
    pub existing: Vec<Existing<'a>>,
    #[serde(default, borrow)]
    pub agents: Vec<AgentInfo<'a>>,
}

/// A launch's resource, as `ark.messages.Resource` (never a set).
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct OutResource<'a> {
    pub name: &'a str,
    pub scalar: Option<f64>,
    pub ranges: Option<&'a [(i64, i64)]>,
    pub set: Option<&'a [&'a str]>,
    pub role: &'a str,
}

/// A launch, as `ark.messages.Launch`. Its resources are the request's
/// scalars plus the ports taken, written out when asked for: a cycle of
/// 50,000 launches then allocates no list of resources per launch.
#[derive(Clone, Debug, PartialEq)]
pub struct OutLaunch<'a> {
    pub task_id: &'a str,
    pub name: &'a str,
    scalars: &'a [RequestResource<'a>],
    ports: Option<Vec<(i64, i64)>>,
    pub payload: &'a [u8],
    /// The port each of the request's `port_names` got, in the request's order.
    pub named_ports: Vec<(&'a str, i64)>,
}

impl OutLaunch<'_> {
    /// The scalars as asked, then one `ports` resource with the ranges taken.
    pub fn resources(&self) -> impl ExactSizeIterator<Item = OutResource<'_>> + '_ {
        let scalars = self.scalars.iter().map(|r| OutResource {
            name: r.name,
            scalar: Some(r.scalar.unwrap_or(0.0)),
            ranges: None,
            set: None,
            role: r.role,
        });
        let ports = self.ports.as_deref().map(|taken| OutResource {
            name: "ports",
            scalar: None,
            ranges: Some(taken),
            set: None,
            role: "*",
        });
        let n = self.scalars.len() + usize::from(ports.is_some());
        Counted(scalars.chain(ports), n)
    }
}

/// An iterator that knows its length (`Chain` does not say it is exact).
struct Counted<I>(I, usize);

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        let item = self.0.next()?;
        self.1 -= 1;
        Some(item)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.1, Some(self.1))
    }
}

impl<I: Iterator> ExactSizeIterator for Counted<I> {}

impl Serialize for OutLaunch<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Resources<'l, 'a>(&'l OutLaunch<'a>);
        impl Serialize for Resources<'_, '_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.resources())
            }
        }
        let mut out = serializer.serialize_struct("OutLaunch", 5)?;
        out.serialize_field("task_id", self.task_id)?;
        out.serialize_field("name", self.name)?;
        out.serialize_field("resources", &Resources(self))?;
        out.serialize_field("payload", serde_bytes::Bytes::new(self.payload))?;
        out.serialize_field("named_ports", &self.named_ports)?;
        out.end()
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Placement<'a> {
    pub agent_id: &'a str,
    pub offer_ids: Vec<&'a str>,
    pub launches: Vec<OutLaunch<'a>>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Pending<'a> {
    pub task_id: &'a str,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct Decisions<'a> {
    pub accepts: Vec<Placement<'a>>,
    pub declines: Vec<&'a str>,
    pub pending: Vec<Pending<'a>>,
}

/// Strings seen in this cycle (attribute texts, hostnames), as small ids.
#[derive(Default)]
struct Interner<'a> {
    ids: HashMap<Cow<'a, str>, u32>,
    texts: Vec<Cow<'a, str>>,
}

impl<'a> Interner<'a> {
    /// Borrowed texts (hostnames, text attributes) are not copied.
    fn intern(&mut self, s: Cow<'a, str>) -> u32 {
        if let Some(&id) = self.ids.get(s.as_ref()) {
            return id;
        }
        let id = self.texts.len() as u32;
        self.ids.insert(s.clone(), id);
        self.texts.push(s);
        id
    }
}

/// An agent's value for a constraint field.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Value {
    Text(u32),
    Scalar(f64),
}

impl Value {
    fn key(self) -> ValueKey {
        match self {
            Value::Text(t) => ValueKey::Text(t),
            Value::Scalar(x) => ValueKey::Scalar(x.to_bits()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ValueKey {
    Text(u32),
    Scalar(u64),
}

struct Agent<'a> {
    id: &'a str,
    offer_ids: Vec<&'a str>,
    /// Free scalars by (name, role) index (see `match_offers`).
    free: Vec<f64>,
    /// Free port ranges of role `*`, sorted, disjoint.
    ports: Vec<(i64, i64)>,
    /// The agent's value for each constraint field (by field id).
    values: Vec<Option<Value>>,
    launches: Vec<OutLaunch<'a>>,
}

impl Agent<'_> {
    fn free_ports(&self) -> i64 {
        self.ports.iter().map(|(lo, hi)| hi - lo + 1).sum()
    }
}

fn values_of<'a>(
    hostname: &'a str,
    attributes: &[AttributeRef<'a>],
    fields: &[&str],
    texts: &mut Interner<'a>,
) -> Vec<Option<Value>> {
    fields
        .iter()
        .map(|field| {
            if *field == "hostname" {
                return Some(Value::Text(texts.intern(Cow::Borrowed(hostname))));
            }
            let a = attributes.iter().find(|a| a.name == *field)?;
            if let Some(text) = a.text {
                return Some(Value::Text(texts.intern(Cow::Borrowed(text))));
            }
            if let Some(x) = a.scalar {
                return Some(Value::Scalar(x));
            }
            rendered(a).map(|text| Value::Text(texts.intern(Cow::Owned(text))))
        })
        .collect()
}

/// A ranges or set attribute as Marathon writes it, so that constraints
/// compare it as text: `[1-2,4-5]` (sorted ranges), `{a,b}` (sorted items).
fn rendered(a: &AttributeRef<'_>) -> Option<String> {
    if let Some(ranges) = &a.ranges {
        let mut sorted = ranges.clone();
        sorted.sort_unstable();
        let items: Vec<String> = sorted.iter().map(|(lo, hi)| format!("{lo}-{hi}")).collect();
        return Some(format!("[{}]", items.join(",")));
    }
    let mut items: Vec<&str> = a.set.clone()?;
    items.sort_unstable();
    Some(format!("{{{}}}", items.join(",")))
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Op {
    Eq,
    Like,
    Unlike,
    Unique,
    MaxPer,
    GroupBy,
}

/// Tasks of each group per `(field, value)`: those already running plus the
/// placements of this cycle.
#[derive(Default)]
struct Counts {
    by_value: HashMap<(u32, usize, ValueKey), u32>,
    /// For each `(group, field)` a GROUP_BY spreads over: how many values
    /// hold each count above 0 (the fewest is the first key).
    spreads: HashMap<(u32, usize), BTreeMap<u32, u32>>,
}

impl Counts {
    fn get(&self, group: u32, field: usize, value: Value) -> u32 {
        self.by_value
            .get(&(group, field, value.key()))
            .copied()
            .unwrap_or(0)
    }

    fn add(&mut self, group: u32, field: usize, value: Value) {
        let count = self
            .by_value
            .entry((group, field, value.key()))
            .or_insert(0);
        *count += 1;
        let now = *count;
        if let Some(spread) = self.spreads.get_mut(&(group, field)) {
            if now > 1 {
                let before = spread.entry(now - 1).or_insert(1);
                *before -= 1;
                if *before == 0 {
                    spread.remove(&(now - 1));
                }
            }
            *spread.entry(now).or_insert(0) += 1;
        }
    }

    /// GROUP_BY (Marathon's rule): a value without a task of the group is
    /// always welcome; one with tasks only once at least `expected` values
    /// have tasks, and only while it holds the fewest.
    fn spreads_to(&self, group: u32, field: usize, value: Value, expected: u32) -> bool {
        let count = self.get(group, field, value);
        if count == 0 {
            return true;
        }
        let Some(spread) = self.spreads.get(&(group, field)) else {
            return false;
        };
        let values: u32 = spread.values().sum();
        values >= expected && spread.keys().next() == Some(&count)
    }

    /// What GROUP_BY's answers hang on besides each value's own count:
    /// whether `expected` values have tasks, and then the fewest tasks.
    /// While it stays the same, a value GROUP_BY refused stays refused.
    fn regime(&self, group: u32, field: usize, expected: u32) -> Option<u32> {
        let spread = self.spreads.get(&(group, field))?;
        let values: u32 = spread.values().sum();
        (values >= expected)
            .then(|| spread.keys().next().copied())
            .flatten()
    }
}

/// A constraint made ready for a cycle: ids instead of strings.
struct Prepared {
    field: usize,
    op: Op,
    /// EQ: the text's id (None: no agent has that text), or the number.
    text: Option<u32>,
    number: Option<f64>,
    pattern: Option<usize>,
    limit: u32,
}

/// Why an agent cannot take a request: the first failing check, in a fixed order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Refusal {
    Blacklisted,
    Pinned,
    Constraint(usize),
    Resource(usize),
    Ports,
}

fn describe(refusal: Refusal, request: &TaskRequest<'_>) -> String {
    match refusal {
        Refusal::Blacklisted => "agent blacklisted".into(),
        Refusal::Pinned => format!("pinned to {}", request.agent_id.unwrap_or("")),
        Refusal::Constraint(i) => {
            let c = &request.constraints[i];
            format!("constraint {} {} {}", c.field, c.operator, c.value)
                .trim_end()
                .to_string()
        }
        Refusal::Resource(i) => {
            let r = &request.resources[i];
            format!("not enough {} (role {})", r.name, r.role)
        }
        Refusal::Ports => "not enough ports".into(),
    }
}

struct Check<'a> {
    request: &'a TaskRequest<'a>,
    prepared: &'a [Prepared],
    /// The request's scalars as (index into `Agent::free`, amount).
    needs: &'a [(usize, f64)],
    group: u32,
    texts: &'a Interner<'a>,
    regexes: &'a [Option<Regex>],
}

fn refusal(
    agent: &Agent,
    check: &Check<'_>,
    blacklisted: bool,
    counts: &Counts,
) -> Option<Refusal> {
    let request = check.request;
    if blacklisted {
        return Some(Refusal::Blacklisted);
    }
    if let Some(pin) = request.agent_id {
        if pin != agent.id {
            return Some(Refusal::Pinned);
        }
    }
    for (i, c) in check.prepared.iter().enumerate() {
        let value = agent.values[c.field];
        let ok = match c.op {
            Op::Eq => match value {
                Some(Value::Text(t)) => c.text == Some(t),
                Some(Value::Scalar(x)) => c.number == Some(x),
                None => false,
            },
            Op::Like | Op::Unlike => {
                let like = match (value, c.pattern.and_then(|p| check.regexes[p].as_ref())) {
                    (Some(Value::Text(t)), Some(p)) => p.is_match(&check.texts.texts[t as usize]),
                    _ => false,
                };
                like == (c.op == Op::Like)
            }
            Op::Unique | Op::MaxPer => {
                value.is_some_and(|v| counts.get(check.group, c.field, v) < c.limit)
            }
            Op::GroupBy => {
                value.is_some_and(|v| counts.spreads_to(check.group, c.field, v, c.limit))
            }
        };
        if !ok {
            return Some(Refusal::Constraint(i));
        }
    }
    for (i, &(index, need)) in check.needs.iter().enumerate() {
        if need - agent.free[index] >= EPSILON {
            return Some(Refusal::Resource(i));
        }
    }
    if request.port_count() > agent.free_ports() {
        return Some(Refusal::Ports);
    }
    None
}

/// The checks that make a request unplaceable on every agent, before any agent is looked at.
fn invalid(
    request: &TaskRequest<'_>,
    patterns: &[Option<usize>],
    regexes: &[Option<Regex>],
) -> Option<String> {
    if let Some(other) = request
        .strategy
        .filter(|s| !matches!(*s, "binpack" | "spread"))
    {
        return Some(format!("unknown strategy {other:?}: binpack or spread"));
    }
    for (c, pattern) in request.constraints.iter().zip(patterns) {
        let compiled = pattern.and_then(|p| regexes[p].as_ref());
        match c.operator {
            "EQ" | "UNIQUE" => {}
            "LIKE" | "UNLIKE" if compiled.is_none() => {
                return Some(format!("invalid regex {:?}", c.value));
            }
            "LIKE" | "UNLIKE" => {}
            "MAX_PER" if c.value.parse::<u32>().is_err() => {
                return Some(format!("MAX_PER needs a count, got {:?}", c.value));
            }
            "MAX_PER" => {}
            "GROUP_BY" if !c.value.is_empty() && c.value.parse::<u32>().is_err() => {
                return Some(format!(
                    "GROUP_BY needs a count or nothing, got {:?}",
                    c.value
                ));
            }
            "GROUP_BY" => {}
            other => return Some(format!("unknown constraint operator {other:?}")),
        }
    }
    for r in &request.resources {
        match r.scalar {
            Some(x) if x >= 0.0 && x.is_finite() => {}
            _ => return Some(format!("resource {} must be a finite scalar >= 0", r.name)),
        }
    }
    for (i, name) in request.port_names.iter().enumerate() {
        if !port_name_ok(name) {
            return Some(format!(
                "invalid port name {name:?}: 1 to 63 of a-z, 0-9 and -"
            ));
        }
        if request.port_names[..i].contains(name) {
            return Some(format!("port name {name:?} given twice"));
        }
    }
    None
}

/// Marathon's and IANA's service-name alphabet, as a DNS label is long.
fn port_name_ok(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What makes two requests interchangeable for placement: their scalars,
/// ports, constraints, group and pinned agent (borrowed from the input).
#[derive(Clone, Copy)]
struct ShapeRef<'a> {
    resources: &'a [RequestResource<'a>],
    ports: u32,
    port_names: &'a [&'a str],
    strategy: Option<&'a str>,
    constraints: &'a [Constraint<'a>],
    group: &'a str,
    agent_id: Option<&'a str>,
}

impl ShapeRef<'_> {
    fn scalars(&self) -> impl Iterator<Item = (&str, &str, u64)> + '_ {
        self.resources
            .iter()
            .map(|r| (r.name, r.role, r.scalar.unwrap_or(0.0).to_bits()))
    }
}

impl PartialEq for ShapeRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.ports == other.ports
            && self.port_names == other.port_names
            && self.strategy == other.strategy
            && self.group == other.group
            && self.agent_id == other.agent_id
            && self.constraints == other.constraints
            && self.resources.len() == other.resources.len()
            && self.scalars().eq(other.scalars())
    }
}

impl Eq for ShapeRef<'_> {}

impl std::hash::Hash for ShapeRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.ports.hash(state);
        self.port_names.hash(state);
        self.strategy.hash(state);
        self.group.hash(state);
        self.agent_id.hash(state);
        self.constraints.hash(state);
        for scalar in self.scalars() {
            scalar.hash(state);
        }
    }
}

/// A shape's needs, worked out once per cycle.
struct Shape {
    spread: bool,
    invalid: Option<String>,
    prepared: Vec<Prepared>,
    needs: Vec<(usize, f64)>,
    /// The fields a placement counts by (each once, however many constraints name it).
    counted: Vec<usize>,
    group_by: bool,
    group: u32,
}

/// Agents to skip: each refused index points past itself, with path
/// compression, so a scan steps over a run of them at once.
#[derive(Default)]
struct Skips(HashMap<usize, usize>);

impl Skips {
    /// The first agent at or after `i` not skipped (may be `n`).
    fn next(&mut self, i: usize) -> usize {
        let mut j = i;
        while let Some(&k) = self.0.get(&j) {
            j = k;
        }
        // Path compression: everything on the way now points at the answer.
        let mut k = i;
        while k != j {
            let next = self.0[&k];
            self.0.insert(k, j);
            k = next;
        }
        j
    }

    fn refuse(&mut self, i: usize) {
        self.0.insert(i, i + 1);
    }
}

/// Per shape: agents known unable to take it (skipped), where spread
/// resumes, and the reason given to the first of its requests left pending.
#[derive(Default)]
struct ShapeState {
    /// Refused for the rest of the cycle.
    skip: Skips,
    /// Refused by GROUP_BY, for as long as `regime` holds.
    soft: Skips,
    regime: Vec<Option<u32>>,
    cursor: usize,
    reason: Option<String>,
    /// The placements of its group when a request of this shape last fitted
    /// nowhere: until the group places again, nothing can fit it either.
    failed_at: Option<u64>,
}

impl ShapeState {
    /// The first agent at or after `i` not known to refuse this shape (may be `n`).
    fn next(&mut self, i: usize) -> usize {
        let mut j = i;
        loop {
            let k = self.soft.next(self.skip.next(j));
            if k == j {
                return j;
            }
            j = k;
        }
    }

    /// GROUP_BY's refusals hold while its regime does: forget them when it moves.
    fn enter(&mut self, regime: Vec<Option<u32>>) {
        if regime != self.regime {
            self.soft = Skips::default();
            self.regime = regime;
        }
    }
}

/// One matching cycle.
pub fn match_offers<'a>(input: &'a MatchInput<'a>) -> Result<Decisions<'a>, String> {
    let spread_by_default = match input.strategy {
        "binpack" => false,
        "spread" => true,
        other => return Err(format!("unknown strategy {other:?}: binpack or spread")),
    };
    // Every field a constraint names, and every group, as small ids.
    let mut fields: Vec<&str> = Vec::new();
    let mut groups: HashMap<&str, u32> = HashMap::default();
    for r in &input.requests {
        let next = groups.len() as u32;
        groups.entry(r.group).or_insert(next);
        for c in &r.constraints {
            if !fields.contains(&c.field) {
                fields.push(c.field);
            }
        }
    }
    // The scalars requests need, by (name, role): each agent's free amounts
    // are a vector over these; offered scalars nobody asks for do not matter.
    let mut scalar_keys: HashMap<(&str, &str), usize> = HashMap::default();
    for r in &input.requests {
        for res in &r.resources {
            let next = scalar_keys.len();
            scalar_keys.entry((res.name, res.role)).or_insert(next);
        }
    }
    let mut texts = Interner::default();
    // Agents from offers, in agent-id order, offers of one agent combined.
    let mut by_id: BTreeMap<&str, Agent> = BTreeMap::new();
    for offer in &input.offers {
        let agent = by_id.entry(offer.agent_id).or_insert_with(|| Agent {
            id: offer.agent_id,
            values: values_of(offer.hostname, &offer.attributes, &fields, &mut texts),
            offer_ids: Vec::new(),
            free: vec![0.0; scalar_keys.len()],
            ports: Vec::new(),
            launches: Vec::new(),
        });
        agent.offer_ids.push(offer.id);
        for r in &offer.resources {
            if let (Some(x), Some(&index)) = (r.scalar, scalar_keys.get(&(r.name, r.role))) {
                agent.free[index] += x;
            }
            if r.name == "ports" && r.role == "*" {
                agent.ports.extend(r.ranges.iter().flatten().copied());
            }
        }
    }
    let mut agents: Vec<Agent> = by_id.into_values().collect();
    for agent in &mut agents {
        agent.offer_ids.sort();
        agent.ports = merge(std::mem::take(&mut agent.ports));
    }
    let blacklist: HashSet<&str> = input.blacklist.iter().copied().collect();
    // Placement counts of existing tasks, by (group, field, value), for the
    // fields a UNIQUE, MAX_PER or GROUP_BY of that group counts by.
    let mut counted: HashSet<(u32, usize)> = HashSet::default();
    let mut counts = Counts::default();
    for r in &input.requests {
        for c in &r.constraints {
            if matches!(c.operator, "UNIQUE" | "MAX_PER" | "GROUP_BY") {
                let field = fields.iter().position(|f| *f == c.field).unwrap_or(0);
                counted.insert((groups[r.group], field));
                if c.operator == "GROUP_BY" {
                    counts.spreads.entry((groups[r.group], field)).or_default();
                }
            }
        }
    }
    let absent: Vec<(&str, Vec<Option<Value>>)> = input
        .agents
        .iter()
        .map(|a| {
            let values = values_of(a.hostname, &a.attributes, &fields, &mut texts);
            (a.agent_id, values)
        })
        .collect();
    let mut known: HashMap<&str, &[Option<Value>]> = HashMap::default();
    for (id, values) in &absent {
        known.insert(id, values);
    }
    for a in &agents {
        known.insert(a.id, &a.values);
    }
    for e in &input.existing {
        let (Some(&group), Some(values)) = (groups.get(e.group), known.get(e.agent_id)) else {
            continue;
        };
        for (field, value) in values.iter().enumerate() {
            if let (true, Some(v)) = (counted.contains(&(group, field)), value) {
                counts.add(group, field, *v);
            }
        }
    }
    drop(known);

    let mut shape_index: HashMap<ShapeRef<'_>, usize> = HashMap::default();
    let mut shapes: Vec<Shape> = Vec::new();
    let mut states: Vec<ShapeState> = Vec::new();
    let mut regex_ids: HashMap<&str, usize> = HashMap::default();
    let mut regexes: Vec<Option<Regex>> = Vec::new();
    let mut out = Decisions::default();
    // Placements made in this cycle, per group.
    let mut placements: Vec<u64> = vec![0; groups.len()];
    let n = agents.len();
    for request in &input.requests {
        let shape = ShapeRef {
            resources: &request.resources,
            ports: request.ports,
            port_names: &request.port_names,
            strategy: request.strategy,
            constraints: &request.constraints,
            group: request.group,
            agent_id: request.agent_id,
        };
        // What a request needs is worked out once per shape, not per request.
        let index = *shape_index.entry(shape).or_insert_with(|| {
            let patterns: Vec<Option<usize>> = request
                .constraints
                .iter()
                .map(|c| {
                    (c.operator == "LIKE" || c.operator == "UNLIKE").then(|| {
                        *regex_ids.entry(c.value).or_insert_with(|| {
                            regexes.push(Regex::new(&format!("^(?:{})$", c.value)).ok());
                            regexes.len() - 1
                        })
                    })
                })
                .collect();
            let invalid = invalid(request, &patterns, &regexes);
            let prepared: Vec<Prepared> = request
                .constraints
                .iter()
                .zip(patterns)
                .map(|(c, pattern)| Prepared {
                    field: fields.iter().position(|f| *f == c.field).unwrap_or(0),
                    op: match c.operator {
                        "EQ" => Op::Eq,
                        "LIKE" => Op::Like,
                        "UNLIKE" => Op::Unlike,
                        "UNIQUE" => Op::Unique,
                        "GROUP_BY" => Op::GroupBy,
                        _ => Op::MaxPer,
                    },
                    text: texts.ids.get(c.value).copied(),
                    number: c.value.parse::<f64>().ok(),
                    pattern,
                    limit: if c.operator == "UNIQUE" {
                        1
                    } else {
                        c.value.parse::<u32>().unwrap_or(0)
                    },
                })
                .collect();
            let needs = request
                .resources
                .iter()
                .map(|r| (scalar_keys[&(r.name, r.role)], r.scalar.unwrap_or(0.0)))
                .collect();
            let mut counted: Vec<usize> = prepared
                .iter()
                .filter(|c| matches!(c.op, Op::Unique | Op::MaxPer | Op::GroupBy))
                .map(|c| c.field)
                .collect();
            counted.sort_unstable();
            counted.dedup();
            shapes.push(Shape {
                group_by: prepared.iter().any(|c| c.op == Op::GroupBy),
                spread: request
                    .strategy
                    .map_or(spread_by_default, |s| s == "spread"),
                invalid,
                prepared,
                needs,
                counted,
                group: groups[request.group],
            });
            states.push(ShapeState::default());
            shapes.len() - 1
        });
        let data = &shapes[index];
        if let Some(reason) = &data.invalid {
            out.pending.push(Pending {
                task_id: request.task_id,
                reason: reason.clone(),
            });
            continue;
        }
        let check = Check {
            request,
            prepared: &data.prepared,
            needs: &data.needs,
            group: data.group,
            texts: &texts,
            regexes: &regexes,
        };
        let state = &mut states[index];
        let placed_in_group = placements[data.group as usize];
        let start = if data.spread { state.cursor } else { 0 };
        let mut chosen = None;
        // A shape that fitted nowhere fits nowhere until its group places
        // again (only then can GROUP_BY change its mind): skip the scan.
        let hopeless = state.failed_at == Some(placed_in_group);
        if data.group_by {
            let regime = data
                .prepared
                .iter()
                .filter(|c| c.op == Op::GroupBy)
                .map(|c| counts.regime(data.group, c.field, c.limit))
                .collect();
            state.enter(regime);
        }
        // Scan [start, n) then [0, start), skipping agents known to refuse.
        for (lo, hi) in [(start, n), (0, start)] {
            if hopeless {
                break;
            }
            let mut i = state.next(lo);
            while i < hi {
                let agent = &agents[i];
                let banned = blacklist.contains(agent.id);
                match refusal(agent, &check, banned, &counts) {
                    None => {
                        chosen = Some(i);
                        break;
                    }
                    // GROUP_BY may take this agent later, once the others catch up.
                    Some(Refusal::Constraint(c)) if check.prepared[c].op == Op::GroupBy => {
                        state.soft.refuse(i)
                    }
                    Some(_) => state.skip.refuse(i),
                }
                i = state.next(i + 1);
            }
            if chosen.is_some() {
                break;
            }
        }
        let Some(i) = chosen else {
            state.failed_at = Some(placed_in_group);
            // The first pending request of a shape explains it for the rest of
            // the cycle: agents only fill up, so none can take the others either.
            let reason = state
                .reason
                .get_or_insert_with(|| summary(&agents, &check, &blacklist, &counts))
                .clone();
            out.pending.push(Pending {
                task_id: request.task_id,
                reason,
            });
            continue;
        };
        state.cursor = i + 1;
        placements[data.group as usize] += 1;
        let agent = &mut agents[i];
        let launch = place(agent, request, check.needs);
        for &field in &data.counted {
            if let Some(v) = agent.values[field] {
                counts.add(check.group, field, v);
            }
        }
        agent.launches.push(launch);
    }
    for agent in agents {
        if agent.launches.is_empty() {
            out.declines.extend(agent.offer_ids);
        } else {
            out.accepts.push(Placement {
                agent_id: agent.id,
                offer_ids: agent.offer_ids,
                launches: agent.launches,
            });
        }
    }
    out.declines.sort();
    Ok(out)
}

/// Take the request's resources from the agent; the launch that holds them.
fn place<'a>(
    agent: &mut Agent<'a>,
    request: &'a TaskRequest<'a>,
    needs: &[(usize, f64)],
) -> OutLaunch<'a> {
    for &(index, need) in needs {
        agent.free[index] -= need;
    }
    let mut named_ports = Vec::new();
    let mut ports = None;
    if request.port_count() > 0 {
        let mut want = request.port_count();
        let mut taken = Vec::new();
        let mut rest = Vec::new();
        for (lo, hi) in std::mem::take(&mut agent.ports) {
            if want == 0 {
                rest.push((lo, hi));
                continue;
            }
            let len = hi - lo + 1;
            if len <= want {
                taken.push((lo, hi));
                want -= len;
            } else {
                taken.push((lo, lo + want - 1));
                rest.push((lo + want, hi));
                want = 0;
            }
        }
        agent.ports = rest;
        // The names take the lowest ports, in order.
        let lowest = taken.iter().flat_map(|&(lo, hi)| lo..=hi);
        named_ports = request.port_names.iter().copied().zip(lowest).collect();
        ports = Some(taken);
    }
    OutLaunch {
        task_id: request.task_id,
        name: request.name,
        scalars: &request.resources,
        ports,
        payload: request.payload,
        named_ports,
    }
}

/// Why a request fits nowhere: each agent's first refusal, counted, sorted.
fn summary(
    agents: &[Agent],
    check: &Check<'_>,
    blacklist: &HashSet<&str>,
    counts: &Counts,
) -> String {
    if agents.is_empty() {
        return "no offers".into();
    }
    let mut by_refusal: HashMap<Refusal, usize> = HashMap::default();
    for agent in agents {
        let banned = blacklist.contains(agent.id);
        if let Some(r) = refusal(agent, check, banned, counts) {
            *by_refusal.entry(r).or_insert(0) += 1;
        }
    }
    // Two refusals may read the same (two equal constraints): their counts add up.
    let mut why: BTreeMap<String, usize> = BTreeMap::new();
    for (r, k) in by_refusal {
        *why.entry(describe(r, check.request)).or_insert(0) += k;
    }
    why.into_iter()
        .map(|(w, k)| format!("{w} on {k} agent{}", if k == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Sort ranges and merge the overlapping or touching ones.
fn merge(mut ranges: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    ranges.retain(|(lo, hi)| lo <= hi);
    ranges.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1 + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Resource;

    fn offer(id: &str, agent: &str, cpus: f64, attrs: &[(&str, &str)]) -> Offer {
        let scalar = |name: &str, x: f64| Resource {
            name: name.into(),
            scalar: Some(x),
            ranges: None,
            set: None,
            role: "*".into(),
        };
        let ports = Resource {
            ranges: Some(vec![(31000, 31009)]),
            scalar: None,
            ..scalar("ports", 0.0)
        };
        Offer {
            id: id.into(),
            agent_id: agent.into(),
            hostname: format!("h-{agent}"),
            resources: vec![scalar("cpus", cpus), ports],
            attributes: attrs
                .iter()
                .map(|(k, v)| Attribute {
                    name: (*k).into(),
                    text: Some((*v).into()),
                    scalar: None,
                    ranges: None,
                    set: None,
                })
                .collect(),
        }
    }

    fn request<'a>(id: &'a str, cpus: f64, constraints: Vec<Constraint<'a>>) -> TaskRequest<'a> {
        TaskRequest {
            task_id: id,
            resources: vec![RequestResource {
                name: "cpus",
                scalar: Some(cpus),
                ranges: None,
                set: None,
                role: "*",
            }],
            ports: 0,
            constraints,
            group: "g",
            agent_id: None,
            name: "",
            payload: b"",
            port_names: vec![],
            strategy: None,
        }
    }

    fn input<'a>(
        offers: Vec<Offer>,
        requests: Vec<TaskRequest<'a>>,
        strategy: &'a str,
    ) -> MatchInput<'a> {
        // The input borrows its offers; a test's few may live for the run.
        let offers: &'static [Offer] = Box::leak(offers.into_boxed_slice());
        MatchInput {
            offers: offers.iter().map(MatchOffer::from).collect(),
            requests,
            strategy,
            blacklist: vec![],
            existing: vec![],
            agents: vec![],
        }
    }

    fn placed(d: &Decisions<'_>) -> Vec<(String, Vec<String>)> {
        d.accepts
            .iter()
            .map(|p| {
                (
                    p.agent_id.to_string(),
                    p.launches.iter().map(|l| l.task_id.to_string()).collect(),
                )
            })
            .collect()
    }

    const IDS: [&str; 3] = ["t0", "t1", "t2"];

    #[test]
    fn binpack_fills_the_first_agent_and_spread_rotates() {
        let offers = || vec![offer("o1", "a1", 4.0, &[]), offer("o2", "a2", 4.0, &[])];
        let reqs = || IDS.iter().map(|id| request(id, 1.0, vec![])).collect();
        let d_in = input(offers(), reqs(), "binpack");
        let d = match_offers(&d_in).unwrap();
        assert_eq!(
            placed(&d),
            vec![("a1".into(), vec!["t0".into(), "t1".into(), "t2".into()])]
        );
        assert_eq!(d.declines, vec!["o2"]);
        let s_in = input(offers(), reqs(), "spread");
        let d = match_offers(&s_in).unwrap();
        assert_eq!(
            placed(&d),
            vec![
                ("a1".into(), vec!["t0".into(), "t2".into()]),
                ("a2".into(), vec!["t1".into()])
            ]
        );
    }

    #[test]
    fn unique_hostname_leaves_the_rest_pending_with_the_reason() {
        let unique = Constraint {
            field: "hostname",
            operator: "UNIQUE",
            value: "",
        };
        let offers = vec![offer("o1", "a1", 4.0, &[]), offer("o2", "a2", 4.0, &[])];
        let reqs = IDS
            .iter()
            .map(|id| request(id, 1.0, vec![unique.clone()]))
            .collect();
        let i = input(offers, reqs, "binpack");
        let d = match_offers(&i).unwrap();
        assert_eq!(d.accepts.len(), 2);
        assert_eq!(
            d.pending,
            vec![Pending {
                task_id: "t2",
                reason: "constraint hostname UNIQUE on 2 agents".into()
            }]
        );
    }

    #[test]
    fn attributes_like_and_ports() {
        let like = Constraint {
            field: "rack",
            operator: "LIKE",
            value: "r[12]",
        };
        let offers = vec![
            offer("o1", "a1", 4.0, &[("rack", "r3")]),
            offer("o2", "a2", 4.0, &[("rack", "r2")]),
        ];
        let mut r = request("t0", 1.0, vec![like]);
        r.ports = 3;
        let i = input(offers, vec![r], "binpack");
        let d = match_offers(&i).unwrap();
        assert_eq!(d.accepts[0].agent_id, "a2");
        assert_eq!(
            d.accepts[0].launches[0].resources().nth(1).unwrap().ranges,
            Some(&[(31000, 31002)][..])
        );
    }

    #[test]
    fn group_by_evens_out_racks_and_waits_for_the_expected_count() {
        let offers: Vec<Offer> = (0..6)
            .map(|i| {
                let rack = format!("r{}", i % 3);
                offer(&format!("o{i}"), &format!("a{i}"), 8.0, &[("rack", &rack)])
            })
            .collect();
        let group_by = Constraint {
            field: "rack",
            operator: "GROUP_BY",
            value: "3",
        };
        let ids: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
        let reqs = ids
            .iter()
            .map(|id| request(id, 1.0, vec![group_by.clone()]))
            .collect();
        let i = input(offers, reqs, "binpack");
        let d = match_offers(&i).unwrap();
        // Bin-pack takes a0 (r0), a1 (r1), a2 (r2), then a0 whenever r0 is
        // among the fewest: r0 3, r1 2, r2 2.
        assert_eq!(
            placed(&d),
            vec![
                ("a0".into(), vec!["t0".into(), "t3".into(), "t6".into()]),
                ("a1".into(), vec!["t1".into(), "t4".into()]),
                ("a2".into(), vec!["t2".into(), "t5".into()]),
            ]
        );
    }

    #[test]
    fn named_ports_and_a_request_s_own_strategy() {
        let offers = vec![offer("o1", "a1", 4.0, &[]), offer("o2", "a2", 4.0, &[])];
        let mut reqs: Vec<TaskRequest<'_>> =
            IDS.iter().map(|id| request(id, 1.0, vec![])).collect();
        reqs[0].port_names = vec!["http", "admin"];
        reqs[0].ports = 1;
        for r in &mut reqs {
            r.strategy = Some("spread");
        }
        let i = input(offers, reqs, "binpack");
        let d = match_offers(&i).unwrap();
        // t0's ports make it a shape of its own: t1 starts spreading from a1.
        assert_eq!(
            placed(&d),
            vec![
                ("a1".into(), vec!["t0".into(), "t1".into()]),
                ("a2".into(), vec!["t2".into()])
            ]
        );
        let t0 = &d.accepts[0].launches[0];
        assert_eq!(t0.named_ports, vec![("http", 31000), ("admin", 31001)]);
        assert_eq!(
            t0.resources().nth(1).unwrap().ranges,
            Some(&[(31000, 31002)][..])
        );
    }

    #[test]
    fn ranges_and_sets_read_as_marathon_writes_them() {
        let attribute = |ranges: Option<Vec<(i64, i64)>>, set: Option<Vec<&str>>| Attribute {
            name: "a".into(),
            text: None,
            scalar: None,
            ranges,
            set: set.map(|s| s.into_iter().map(String::from).collect()),
        };
        let ranges = attribute(Some(vec![(4, 5), (1, 2)]), None);
        assert_eq!(rendered(&(&ranges).into()).as_deref(), Some("[1-2,4-5]"));
        let set = attribute(None, Some(vec!["b", "a"]));
        assert_eq!(rendered(&(&set).into()).as_deref(), Some("{a,b}"));
        assert_eq!(
            rendered(&(&attribute(None, Some(vec![]))).into()).as_deref(),
            Some("{}")
        );
        assert_eq!(rendered(&(&attribute(None, None)).into()), None);
    }

    #[test]
    fn bad_requests_are_pending_not_errors() {
        let bad = Constraint {
            field: "rack",
            operator: "LIKE",
            value: "(",
        };
        let i = input(
            vec![offer("o1", "a1", 1.0, &[])],
            vec![request("t", 1.0, vec![bad])],
            "spread",
        );
        let d = match_offers(&i).unwrap();
        assert_eq!(d.pending[0].reason, "invalid regex \"(\"");
        assert!(match_offers(&input(vec![], vec![], "best")).is_err());
    }
}
