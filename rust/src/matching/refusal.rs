//! Refusals: why an agent cannot take a request, checked in the order
//! docs/matching.md gives, and the reason a pending request is given.

use std::collections::BTreeMap;

use regex::Regex;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::constraints::{Counts, Interner, Prepared, Value};
use super::placement::Agent;
use crate::request::{Operator, TaskRequest};

const EPSILON: f64 = 1e-9;

/// Why an agent cannot take a request: the first failing check, in a fixed order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Refusal {
    Blacklisted,
    Pinned,
    Role,
    Constraint(usize),
    /// A UNIQUE or MAX_PER whose count takes in a held volume of the group.
    Held(usize),
    Resource(usize),
    Ports,
}

fn describe(refusal: Refusal, check: &Check<'_>) -> String {
    let request = check.request;
    match refusal {
        Refusal::Blacklisted => "agent blacklisted".into(),
        Refusal::Pinned => format!("pinned to {}", request.agent_id.unwrap_or("")),
        Refusal::Role => format!("not offered to role {}", request.role.unwrap_or("")),
        Refusal::Constraint(i) => {
            let c = &request.constraints[i];
            format!("constraint {} {} {}", c.field, c.operator, c.value)
                .trim_end()
                .to_string()
        }
        Refusal::Held(i) => {
            let c = &request.constraints[i];
            let text = format!("constraint {} {} {}", c.field, c.operator, c.value);
            format!("{} (a volume of the group is held there)", text.trim_end())
        }
        Refusal::Resource(i) => {
            let (name, role) = check.scalar_keys[check.needs[i].0];
            format!("not enough {name} (role {role})")
        }
        Refusal::Ports => "not enough ports".into(),
    }
}

/// A request as a scan checks it: what its shape worked out once.
pub(super) struct Check<'a> {
    pub(super) request: &'a TaskRequest<'a>,
    pub(super) prepared: &'a [Prepared],
    /// The request's scalars as (index into `Agent::free`, amount), summed
    /// per index.
    pub(super) needs: &'a [(usize, f64)],
    /// The (name, role) of each index.
    pub(super) scalar_keys: &'a [(&'a str, &'a str)],
    pub(super) group: u32,
    pub(super) texts: &'a Interner<'a>,
    pub(super) regexes: &'a [Option<Regex>],
}

pub(super) fn refusal(
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
    if request.role.is_some() && request.role != agent.role {
        return Some(Refusal::Role);
    }
    for (i, c) in check.prepared.iter().enumerate() {
        let value = agent.values[c.field];
        let ok = match c.op {
            Operator::Eq => match value {
                Some(Value::Text(t)) => c.text == Some(t),
                Some(Value::Scalar(x)) => c.number == Some(x),
                None => false,
            },
            Operator::Like | Operator::Unlike => {
                let like = match (value, c.pattern.and_then(|p| check.regexes[p].as_ref())) {
                    (Some(Value::Text(t)), Some(p)) => p.is_match(&check.texts.texts[t as usize]),
                    _ => false,
                };
                like == (c.op == Operator::Like)
            }
            Operator::Unique | Operator::MaxPer => {
                value.is_some_and(|v| counts.get(check.group, c.field, v) < c.limit)
            }
            Operator::GroupBy => {
                value.is_some_and(|v| counts.spreads_to(check.group, c.field, v, c.limit))
            }
        };
        if !ok {
            let held = matches!(c.op, Operator::Unique | Operator::MaxPer)
                && value.is_some_and(|v| counts.holds(check.group, c.field, v));
            return Some(if held {
                Refusal::Held(i)
            } else {
                Refusal::Constraint(i)
            });
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

/// Why a request fits nowhere: each agent's first refusal, counted, sorted.
pub(super) fn summary(
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
        *why.entry(describe(r, check)).or_insert(0) += k;
    }
    why.into_iter()
        .map(|(w, k)| format!("{w} on {k} agent{}", if k == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join("; ")
}
