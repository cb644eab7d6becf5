//! One matching cycle, step by step: give what the requests name small ids,
//! build the agents from the offers, seed the placement counts with the
//! tasks already running, then take each request in order: find its shape,
//! scan the agents for the first that takes it, and place it there or say
//! why none does.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::constraints::{values_of, Counts, Interner, Value};
use super::decisions::{Decisions, Pending, Placement};
use super::input::{Ids, MatchInput, MatchOffer};
use super::placement::{merge, place, Agent};
use super::refusal::{refusal, summary, Check, Refusal};
use super::shapes::{ShapeState, Shapes};
use crate::request::{Operator, Strategy};

/// One matching cycle.
pub fn match_offers<'a>(input: &'a MatchInput<'a>) -> Decisions<'a> {
    let spread_by_default = input.strategy == Strategy::Spread;
    let ids = Ids::of(&input.requests);
    let mut texts = Interner::default();
    let mut agents = build_agents(&input.offers, &ids, &mut texts);
    let blacklist: HashSet<&str> = input.blacklist.iter().copied().collect();
    let (mut counts, held) = seed_counts(input, &ids, &agents, &mut texts);

    let mut shapes = Shapes::default();
    let mut out = Decisions::default();
    // Placements made in this cycle, per group.
    let mut placements: Vec<u64> = vec![0; ids.groups.len()];
    for request in &input.requests {
        // A request's own volume does not count against it: its count is
        // taken off while the request is matched.
        let own: &[Held] = match (&request.volume, ids.groups.get(request.group)) {
            (Some(v), Some(&group)) => held
                .get(&(v.persistence_id.as_str(), group))
                .map_or(&[], Vec::as_slice),
            _ => &[],
        };
        let pid = request.volume.as_deref().map(|v| v.persistence_id.as_str());
        let index = shapes.index_of(
            request,
            &ids,
            &texts,
            spread_by_default,
            pid.filter(|_| !own.is_empty()),
        );
        let shape = &shapes.shapes[index];
        if let Some(reason) = &shape.invalid {
            out.pending.push(Pending {
                task_id: request.task_id,
                reason: reason.clone(),
            });
            continue;
        }
        for h in own {
            counts.remove_held(h.group, h.field, h.value);
        }
        let check = Check {
            request,
            prepared: &shape.prepared,
            needs: &shape.needs,
            scalar_keys: &ids.scalar_keys,
            group: shape.group,
            texts: &texts,
            regexes: &shapes.regexes,
        };
        let state = &mut shapes.states[index];
        let placed_in_group = placements[shape.group as usize];
        let start = if shape.spread { state.cursor } else { 0 };
        // A shape that fitted nowhere fits nowhere until its group places
        // again (only then can GROUP_BY change its mind): skip the scan.
        let hopeless = state.failed_at == Some(placed_in_group);
        if shape.group_by {
            let regime = shape
                .prepared
                .iter()
                .filter(|c| c.op == Operator::GroupBy)
                .map(|c| counts.regime(shape.group, c.field, c.limit))
                .collect();
            state.enter(regime);
        }
        let chosen = if hopeless {
            None
        } else {
            scan(&agents, state, &check, &blacklist, &counts, start)
        };
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
            for h in own {
                counts.add_held(h.group, h.field, h.value);
            }
            continue;
        };
        state.cursor = i + 1;
        placements[shape.group as usize] += 1;
        let agent = &mut agents[i];
        let launch = place(agent, request, check.needs);
        // A task placed on its volume takes the volume's count on the fields it counts by.
        for h in own {
            if !shape.counted.contains(&h.field) || h.agent_id != agent.id {
                counts.add_held(h.group, h.field, h.value);
            }
        }
        for &field in &shape.counted {
            if let Some(v) = agent.values[field] {
                counts.add(check.group, field, v);
            }
        }
        agent.launches.push(launch);
    }
    decide(agents, out)
}

/// Agents from offers, in (agent id, role) order, the offers of one agent
/// allocated to one role combined: Mesos refuses to aggregate offers of two
/// roles in one ACCEPT.
fn build_agents<'a>(
    offers: &'a [MatchOffer<'a>],
    ids: &Ids<'a>,
    texts: &mut Interner<'a>,
) -> Vec<Agent<'a>> {
    let mut by_id: BTreeMap<(&str, Option<&str>), Agent> = BTreeMap::new();
    for offer in offers {
        let unit = (offer.agent_id, offer.role);
        let agent = by_id.entry(unit).or_insert_with(|| Agent {
            id: offer.agent_id,
            role: offer.role,
            values: values_of(offer.hostname, &offer.attributes, &ids.fields, texts),
            offer_ids: Vec::new(),
            free: vec![0.0; ids.scalars.len()],
            ports: Vec::new(),
            launches: Vec::new(),
        });
        agent.offer_ids.push(offer.id);
        for r in &offer.resources {
            if let (Some(x), Some(&index)) = (r.scalar, ids.scalars.get(&(r.name, r.role))) {
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
    agents
}

/// One count a held volume adds (see `seed_counts`).
struct Held<'a> {
    group: u32,
    field: usize,
    value: Value,
    agent_id: &'a str,
}

/// Placement counts of existing tasks, by (group, field, value), for the
/// fields a UNIQUE, MAX_PER or GROUP_BY of that group counts by, and what
/// each held volume adds to them, by (persistence id, group). An existing task's
/// agent is read from its offer, or else from `input.agents`.
fn seed_counts<'a>(
    input: &'a MatchInput<'a>,
    ids: &Ids<'a>,
    agents: &[Agent<'a>],
    texts: &mut Interner<'a>,
) -> (Counts, HashMap<(&'a str, u32), Vec<Held<'a>>>) {
    let groups = &ids.groups;
    let mut counted: HashSet<(u32, usize)> = HashSet::default();
    let mut counts = Counts::default();
    for r in &input.requests {
        for c in &r.constraints {
            if c.operator.counts() {
                let field = ids.field(c.field);
                counted.insert((groups[r.group], field));
                if c.operator == Operator::GroupBy {
                    counts.spreads.entry((groups[r.group], field)).or_default();
                }
            }
        }
    }
    let absent: Vec<(&str, Vec<Option<Value>>)> = input
        .agents
        .iter()
        .map(|a| {
            let values = values_of(a.hostname, &a.attributes, &ids.fields, texts);
            (a.agent_id, values)
        })
        .collect();
    let mut known: HashMap<&str, &[Option<Value>]> = HashMap::default();
    for (id, values) in &absent {
        known.insert(id, values);
    }
    for a in agents {
        known.insert(a.id, &a.values);
    }
    let mut held: HashMap<(&str, u32), Vec<Held>> = HashMap::default();
    for e in &input.existing {
        let (Some(&group), Some(values)) = (groups.get(e.group), known.get(e.agent_id)) else {
            continue;
        };
        for (field, value) in values.iter().enumerate() {
            if let (true, Some(v)) = (counted.contains(&(group, field)), value) {
                if e.volume.is_some() {
                    counts.add_held(group, field, *v);
                } else {
                    counts.add(group, field, *v);
                }
                if let Some(volume) = e.volume {
                    held.entry((volume, group)).or_default().push(Held {
                        group,
                        field,
                        value: *v,
                        agent_id: e.agent_id,
                    });
                }
            }
        }
    }
    (counts, held)
}

/// The first agent from `start` on, wrapping around, that takes the
/// request; each that refuses it goes on one of the shape's skip lists.
fn scan(
    agents: &[Agent],
    state: &mut ShapeState,
    check: &Check<'_>,
    blacklist: &HashSet<&str>,
    counts: &Counts,
    start: usize,
) -> Option<usize> {
    // Scan [start, n) then [0, start), skipping agents known to refuse.
    for (lo, hi) in [(start, agents.len()), (0, start)] {
        let mut i = state.next(lo);
        while i < hi {
            let agent = &agents[i];
            let banned = blacklist.contains(agent.id);
            match refusal(agent, check, banned, counts) {
                None => return Some(i),
                // GROUP_BY may take this agent later, once the others catch up.
                Some(Refusal::Constraint(c)) if check.prepared[c].op == Operator::GroupBy => {
                    state.soft.refuse(i)
                }
                Some(_) => state.skip.refuse(i),
            }
            i = state.next(i + 1);
        }
    }
    None
}

/// The cycle's decisions: each agent given launches is accepted, every
/// other's offers declined.
fn decide<'a>(agents: Vec<Agent<'a>>, mut out: Decisions<'a>) -> Decisions<'a> {
    for agent in agents {
        if agent.launches.is_empty() {
            out.declines.extend(agent.offer_ids);
        } else {
            out.accepts.push(Placement {
                agent_id: agent.id,
                offer_ids: agent.offer_ids,
                launches: agent.launches,
                role: agent.role,
            });
        }
    }
    out.declines.sort();
    out
}
