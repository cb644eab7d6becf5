//! Constraint evaluation: an agent's values for the fields constraints name,
//! the operators, the placement counts of each group, and the checks that
//! make a request invalid before any agent is looked at.

use std::borrow::Cow;
use std::collections::BTreeMap;

use regex::Regex;
use rustc_hash::FxHashMap as HashMap;

use super::input::AttributeRef;
use crate::request::{Operator, TaskRequest};

/// Strings seen in this cycle (attribute texts, hostnames), as small ids.
#[derive(Default)]
pub(super) struct Interner<'a> {
    pub(super) ids: HashMap<Cow<'a, str>, u32>,
    pub(super) texts: Vec<Cow<'a, str>>,
}

impl<'a> Interner<'a> {
    /// Borrowed texts (hostnames, text attributes) are not copied.
    pub(super) fn intern(&mut self, s: Cow<'a, str>) -> u32 {
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
pub(super) enum Value {
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

pub(super) fn values_of<'a>(
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

/// Tasks of each group per `(field, value)`: those already running plus the
/// placements of this cycle.
#[derive(Default)]
pub(super) struct Counts {
    by_value: HashMap<(u32, usize, ValueKey), u32>,
    /// For each `(group, field)` a GROUP_BY spreads over: how many values
    /// hold each count above 0 (the fewest is the first key).
    pub(super) spreads: HashMap<(u32, usize), BTreeMap<u32, u32>>,
    /// Of `by_value`, the held volumes': a refusal they take part in says so.
    held: HashMap<(u32, usize, ValueKey), u32>,
}

impl Counts {
    pub(super) fn get(&self, group: u32, field: usize, value: Value) -> u32 {
        self.by_value
            .get(&(group, field, value.key()))
            .copied()
            .unwrap_or(0)
    }

    pub(super) fn add(&mut self, group: u32, field: usize, value: Value) {
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

    /// Whether a held volume counts at the value.
    pub(super) fn holds(&self, group: u32, field: usize, value: Value) -> bool {
        self.held
            .get(&(group, field, value.key()))
            .is_some_and(|&k| k > 0)
    }

    /// `add` for a held volume.
    pub(super) fn add_held(&mut self, group: u32, field: usize, value: Value) {
        self.add(group, field, value);
        *self.held.entry((group, field, value.key())).or_insert(0) += 1;
    }

    /// Undoes one `add_held`.
    pub(super) fn remove_held(&mut self, group: u32, field: usize, value: Value) {
        self.remove(group, field, value);
        if let Some(k) = self.held.get_mut(&(group, field, value.key())) {
            *k = k.saturating_sub(1);
        }
    }

    /// Undoes one `add`.
    pub(super) fn remove(&mut self, group: u32, field: usize, value: Value) {
        let Some(count) = self.by_value.get_mut(&(group, field, value.key())) else {
            return;
        };
        *count -= 1;
        let now = *count;
        if let Some(spread) = self.spreads.get_mut(&(group, field)) {
            let was = spread.entry(now + 1).or_insert(1);
            *was -= 1;
            if *was == 0 {
                spread.remove(&(now + 1));
            }
            if now > 0 {
                *spread.entry(now).or_insert(0) += 1;
            }
        }
    }

    /// GROUP_BY (Marathon's rule): a value without a task of the group is
    /// always welcome; one with tasks only once at least `expected` values
    /// have tasks, and only while it holds the fewest.
    pub(super) fn spreads_to(&self, group: u32, field: usize, value: Value, expected: u32) -> bool {
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
    pub(super) fn regime(&self, group: u32, field: usize, expected: u32) -> Option<u32> {
        let spread = self.spreads.get(&(group, field))?;
        let values: u32 = spread.values().sum();
        (values >= expected)
            .then(|| spread.keys().next().copied())
            .flatten()
    }
}

/// A constraint made ready for a cycle: ids instead of strings.
pub(super) struct Prepared {
    pub(super) field: usize,
    pub(super) op: Operator,
    /// EQ: the text's id (None: no agent has that text), or the number.
    pub(super) text: Option<u32>,
    pub(super) number: Option<f64>,
    pub(super) pattern: Option<usize>,
    pub(super) limit: u32,
}

/// The checks that make a request unplaceable on every agent, before any agent is looked at.
pub(super) fn invalid(
    request: &TaskRequest<'_>,
    patterns: &[Option<usize>],
    regexes: &[Option<Regex>],
) -> Option<String> {
    for (c, pattern) in request.constraints.iter().zip(patterns) {
        let compiled = pattern.and_then(|p| regexes[p].as_ref());
        match c.operator {
            Operator::Eq | Operator::Unique => {}
            Operator::Like | Operator::Unlike if compiled.is_none() => {
                return Some(format!("invalid regex {:?}", c.value));
            }
            Operator::Like | Operator::Unlike => {}
            Operator::MaxPer if c.value.parse::<u32>().is_err() => {
                return Some(format!("MAX_PER needs a count, got {:?}", c.value));
            }
            Operator::MaxPer => {}
            Operator::GroupBy if !c.value.is_empty() && c.value.parse::<u32>().is_err() => {
                return Some(format!(
                    "GROUP_BY needs a count or nothing, got {:?}",
                    c.value
                ));
            }
            Operator::GroupBy => {}
        }
    }
    for r in request.all_resources() {
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
    if !request.pod.is_empty() && request.port_count() > 0 {
        return Some("a pod takes no ports".into());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Attribute;

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
}
