//! Shapes: requests that place alike share one shape, whose constraints,
//! needs and skip lists are worked out once per cycle, not once per request.

use regex::Regex;
use rustc_hash::FxHashMap as HashMap;

use super::constraints::{invalid, Interner, Prepared};
use super::input::Ids;
use super::pattern;
use crate::request::{Constraint, Operator, PodTask, RequestResource, Strategy, TaskRequest};

/// What makes two requests interchangeable for placement: their scalars,
/// ports, constraints, group and pinned agent (borrowed from the input).
#[derive(Clone, Copy)]
struct ShapeRef<'a> {
    resources: &'a [RequestResource<'a>],
    ports: u32,
    port_names: &'a [&'a str],
    strategy: Option<Strategy>,
    constraints: &'a [Constraint<'a>],
    group: &'a str,
    agent_id: Option<&'a str>,
    role: Option<&'a str>,
    /// A pod's members: their resources count, not their ids.
    pod: &'a [PodTask<'a>],
    /// The volume whose count is taken off for this request: its own shape.
    held: Option<&'a str>,
}

fn scalars<'r>(
    resources: &'r [RequestResource<'r>],
) -> impl Iterator<Item = (&'r str, &'r str, u64)> + 'r {
    resources
        .iter()
        .map(|r| (r.name, r.role, r.scalar.unwrap_or(0.0).to_bits()))
}

impl ShapeRef<'_> {
    fn scalars(&self) -> impl Iterator<Item = (&str, &str, u64)> + '_ {
        scalars(self.resources)
    }

    fn same_pod(&self, other: &Self) -> bool {
        self.pod.len() == other.pod.len()
            && self.pod.iter().zip(other.pod).all(|(a, b)| {
                a.resources.len() == b.resources.len()
                    && scalars(&a.resources).eq(scalars(&b.resources))
            })
    }
}

impl PartialEq for ShapeRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.ports == other.ports
            && self.port_names == other.port_names
            && self.strategy == other.strategy
            && self.group == other.group
            && self.agent_id == other.agent_id
            && self.role == other.role
            && self.constraints == other.constraints
            && self.resources.len() == other.resources.len()
            && self.scalars().eq(other.scalars())
            && self.same_pod(other)
            && self.held == other.held
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
        self.role.hash(state);
        self.constraints.hash(state);
        for scalar in self.scalars() {
            scalar.hash(state);
        }
        self.pod.len().hash(state);
        self.held.hash(state);
    }
}

/// A shape's needs, worked out once per cycle.
pub(super) struct Shape {
    pub(super) spread: bool,
    pub(super) invalid: Option<String>,
    pub(super) prepared: Vec<Prepared>,
    pub(super) needs: Vec<(usize, f64)>,
    /// The fields a placement counts by (each once, however many constraints name it).
    pub(super) counted: Vec<usize>,
    pub(super) group_by: bool,
    pub(super) group: u32,
}

/// Agents to skip: each refused index points past itself, with path
/// compression, so a scan steps over a run of them at once.
#[derive(Default)]
pub(super) struct Skips(HashMap<usize, usize>);

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

    pub(super) fn refuse(&mut self, i: usize) {
        self.0.insert(i, i + 1);
    }
}

/// Per shape: agents known unable to take it (skipped), where spread
/// resumes, and the reason given to the first of its requests left pending.
#[derive(Default)]
pub(super) struct ShapeState {
    /// Refused for the rest of the cycle.
    pub(super) skip: Skips,
    /// Refused by GROUP_BY, for as long as `regime` holds.
    pub(super) soft: Skips,
    pub(super) regime: Vec<Option<u32>>,
    pub(super) cursor: usize,
    pub(super) reason: Option<String>,
    /// The placements of its group when a request of this shape last fitted
    /// nowhere: until the group places again, nothing can fit it either.
    pub(super) failed_at: Option<u64>,
}

impl ShapeState {
    /// The first agent at or after `i` not known to refuse this shape (may be `n`).
    pub(super) fn next(&mut self, i: usize) -> usize {
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
    pub(super) fn enter(&mut self, regime: Vec<Option<u32>>) {
        if regime != self.regime {
            self.soft = Skips::default();
            self.regime = regime;
        }
    }
}

/// A cycle's shapes, each worked out on first sight, and the regular
/// expressions of their constraints, each compiled once.
#[derive(Default)]
pub(super) struct Shapes<'a> {
    index: HashMap<ShapeRef<'a>, usize>,
    pub(super) shapes: Vec<Shape>,
    pub(super) states: Vec<ShapeState>,
    regex_ids: HashMap<&'a str, usize>,
    pub(super) regexes: Vec<Option<Regex>>,
}

impl<'a> Shapes<'a> {
    /// The index of the request's shape in `shapes` and `states`.
    pub(super) fn index_of(
        &mut self,
        request: &'a TaskRequest<'a>,
        ids: &Ids<'a>,
        texts: &Interner<'_>,
        spread_by_default: bool,
        held: Option<&'a str>,
    ) -> usize {
        let shape = ShapeRef {
            resources: &request.resources,
            ports: request.ports,
            port_names: &request.port_names,
            strategy: request.strategy,
            constraints: &request.constraints,
            group: request.group,
            agent_id: request.agent_id,
            role: request.role,
            pod: &request.pod,
            held,
        };
        if let Some(&index) = self.index.get(&shape) {
            return index;
        }
        let prepared = self.prepare(request, ids, texts, spread_by_default);
        self.shapes.push(prepared);
        self.states.push(ShapeState::default());
        self.index.insert(shape, self.shapes.len() - 1);
        self.shapes.len() - 1
    }

    /// What a request of a new shape needs: its constraints with ids for
    /// strings, its scalars by index, the fields it counts by.
    fn prepare(
        &mut self,
        request: &'a TaskRequest<'a>,
        ids: &Ids<'a>,
        texts: &Interner<'_>,
        spread_by_default: bool,
    ) -> Shape {
        let patterns: Vec<Option<usize>> = request
            .constraints
            .iter()
            .map(|c| {
                matches!(c.operator, Operator::Like | Operator::Unlike).then(|| {
                    *self.regex_ids.entry(c.value).or_insert_with(|| {
                        self.regexes.push(pattern::compile(c.value));
                        self.regexes.len() - 1
                    })
                })
            })
            .collect();
        let invalid = invalid(request, &patterns, &self.regexes);
        let prepared: Vec<Prepared> = request
            .constraints
            .iter()
            .zip(patterns)
            .map(|(c, pattern)| Prepared {
                field: ids.field(c.field),
                op: c.operator,
                text: texts.ids.get(c.value).copied(),
                number: c.value.parse::<f64>().ok(),
                pattern,
                limit: if c.operator == Operator::Unique {
                    1
                } else {
                    c.value.parse::<u32>().unwrap_or(0)
                },
            })
            .collect();
        // A pod's needs are its members' and its executor's, summed per
        // (name, role), in order of first appearance.
        let mut needs: Vec<(usize, f64)> = Vec::new();
        for r in request.all_resources() {
            let index = ids.scalars[&(r.name, r.role)];
            let x = r.scalar.unwrap_or(0.0);
            match needs.iter_mut().find(|(i, _)| *i == index) {
                Some(need) => need.1 += x,
                None => needs.push((index, x)),
            }
        }
        let mut counted: Vec<usize> = prepared
            .iter()
            .filter(|c| c.op.counts())
            .map(|c| c.field)
            .collect();
        counted.sort_unstable();
        counted.dedup();
        Shape {
            group_by: prepared.iter().any(|c| c.op == Operator::GroupBy),
            spread: request
                .strategy
                .map_or(spread_by_default, |s| s == Strategy::Spread),
            invalid,
            prepared,
            needs,
            counted,
            group: ids.groups[request.group],
        }
    }
}
